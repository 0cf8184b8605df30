// The fuzz harness's shared shape: each part (random guests, specs, DAP
// sequences, lifecycle) runs a number of seeded cases and reports what it
// found; `npm run fuzz` prints one table for all of them, and the short
// seeded runs in `npm test` assert that nothing was found.

export interface PartOptions {
  /** Cases to run (a part may define a case as a sequence or a cycle). */
  runs: number;
  seed: number;
  /** A progress or finding line for the user; no newline. */
  log: (line: string) => void;
  /** Where a part may write reproducers and measurements. */
  workDir: string;
}

/** One case that went wrong, with what replays it. */
export interface Finding {
  /** The case number within the run: `Rng.forCase(seed, index)` regenerates it. */
  index: number;
  /** What went wrong, in one line (crash, hang, unanswered request, stack trace on stderr, …). */
  what: string;
  /** A file that reproduces it, when the part wrote one. */
  reproducer?: string;
}

export interface PartResult {
  part: string;
  runs: number;
  findings: Finding[];
  /** Figures for the table and docs/reliability.md: name → value with its unit. */
  figures: Record<string, string>;
}

export interface FuzzPart {
  name: string;
  /** The default count for `npm run fuzz` (the targets). */
  defaultRuns: number;
  run(opts: PartOptions): Promise<PartResult>;
}

/** The results as a plain-text table. */
export function formatTable(results: readonly PartResult[]): string {
  const rows = results.map((r) => [r.part, String(r.runs), String(r.findings.length), Object.entries(r.figures).map(([k, v]) => `${k} ${v}`).join(', ')]);
  const header = ['part', 'runs', 'findings', 'figures'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** The nearest-rank percentile of some samples (p in 0..100); NaN when there are none. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}
