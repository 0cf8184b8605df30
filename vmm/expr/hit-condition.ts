// Hit conditions, shared by breakpoints and exit breakpoints.

/** `N` (>= N), `==N`, `>N`, `>=N`, `<N`, `<=N`, `%N` (every Nth). */
export function parseHitCondition(text: string): (hits: number) => boolean {
  const m = /^\s*(==|=|>=|<=|>|<|%)?\s*(\d+)\s*$/.exec(text);
  if (!m) throw new Error(`hit condition "${text}" is not understood: use N, ==N, >N, >=N, <N, <=N or %N`);
  const n = Number(m[2]);
  switch (m[1]) {
    case '==':
    case '=':
      return (h) => h === n;
    case '>':
      return (h) => h > n;
    case '<':
      return (h) => h < n;
    case '<=':
      return (h) => h <= n;
    case '%':
      if (n === 0) throw new Error('hit condition %0 never matches');
      return (h) => h % n === 0;
    default:
      return (h) => h >= n;
  }
}
