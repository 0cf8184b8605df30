// Log messages with `{expr}` placeholders, for logpoints and exit logpoints.

/** Replaces `{expr}` in a log message with the expression's value; `{{` and `}}` escape braces. */
export function interpolate(message: string, evaluate: (expr: string) => string): string {
  return message.replace(/\{\{|\}\}|\{([^{}]+)\}/g, (whole, expr: string | undefined) => {
    if (whole === '{{') return '{';
    if (whole === '}}') return '}';
    try {
      return evaluate(expr!);
    } catch (e) {
      return `<${e instanceof Error ? e.message : String(e)}>`;
    }
  });
}
