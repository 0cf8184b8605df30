// Text from a spec (keys, values, paths) echoed in a diagnostic: a terminal must never receive its raw bytes
// (an unknown key holding ESC[2J cleared the screen) and a line of binary garbage must not become a 7.5 KB
// message. Values are quoted and cut where they are echoed (quoteText); every message is made safe again where
// it leaves vmspec (safeMessage, in formatDiagnostic and the language server), whatever check produced it.

/**
 * Characters that are not printable text: C0 controls and DEL, C1 controls, line and paragraph separators, the
 * bidirectional overrides and isolates ("Trojan Source"), the BOM and zero-width characters, and lone surrogates.
 */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** The escape a reader can type back: \n, \t, \r, \e, else \xNN or \u{NNNN}. */
function escapeChar(c: string): string {
  switch (c) {
    case '\n': return '\\n';
    case '\t': return '\\t';
    case '\r': return '\\r';
    case '\u001b': return '\\e';
    default: {
      const n = c.charCodeAt(0);
      return n <= 0xff ? `\\x${n.toString(16).padStart(2, '0')}` : `\\u{${n.toString(16)}}`;
    }
  }
}

/** `s` with every unsafe character escaped, cut to about `max` characters with an ellipsis (never inside an escape). */
export function escapeText(s: string, max = 80): string {
  let out = '';
  let i = 0;
  for (; i < s.length && out.length < max; i++) {
    const c = s[i]!;
    UNSAFE.lastIndex = 0;
    const code = c.charCodeAt(0);
    // A valid surrogate pair is printable: keep both halves together.
    if (code >= 0xd800 && code <= 0xdbff && i + 1 < s.length && /[\udc00-\udfff]/.test(s[i + 1]!)) {
      out += c + s[i + 1]!;
      i++;
      continue;
    }
    out += UNSAFE.test(c) ? escapeChar(c) : c;
  }
  return i < s.length ? `${out}…` : out;
}

/** A value from the spec for a message: escaped, cut, in double quotes. */
export function quoteText(s: string, max = 60): string {
  return `"${escapeText(s, max)}"`;
}

/** The longest message any diagnostic carries; longer ones are cut (a message is one line a person reads). */
export const MAX_MESSAGE = 400;

/** A whole message made safe for a terminal or an editor: one line, no control characters, at most MAX_MESSAGE. */
export function safeMessage(message: string): string {
  UNSAFE.lastIndex = 0;
  if (message.length <= MAX_MESSAGE && !UNSAFE.test(message)) return message;
  return escapeText(message, MAX_MESSAGE);
}
