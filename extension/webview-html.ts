// The HTML of vmscope's webviews (the address translation picture and the exit timeline). Pure (no vscode import),
// unit-tested: the views only set webview.html. Theme colours come from VS Code's CSS variables, the CSP allows
// nothing remote, and every value from the adapter is escaped.

import { formatSize } from '../vmspec/units';

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/**
 * Distinct theme-aware colours for up to eight exit reasons (VS Code's chart colours), as classes c0..c7: the CSP
 * allows the page's own style element only, not style attributes.
 */
const COLOUR_VARS = ['--vscode-charts-blue', '--vscode-charts-orange', '--vscode-charts-green', '--vscode-charts-red', '--vscode-charts-purple', '--vscode-charts-yellow', '--vscode-charts-foreground', '--vscode-charts-lines'];

const STYLE = `
body { font-family: var(--vscode-font-family); font-size: var(--vscode-font-size); color: var(--vscode-foreground); padding: 6px 10px; }
.mono { font-family: var(--vscode-editor-font-family); }
.muted { color: var(--vscode-descriptionForeground); }
.box { border: 1px solid var(--vscode-panel-border, var(--vscode-widget-border, #8884)); border-radius: 4px; padding: 6px 8px; margin: 0; background: var(--vscode-editorWidget-background); }
.box h3 { margin: 0 0 4px; font-size: 1em; }
.box.fail { border: 2px solid var(--vscode-errorForeground); }
.box.leaf { border-color: var(--vscode-focusBorder); }
.arrow { text-align: center; color: var(--vscode-descriptionForeground); line-height: 1.2; margin: 2px 0; }
table.kv td { padding: 0 8px 0 0; vertical-align: top; }
.flag { display: inline-block; padding: 0 4px; margin: 1px; border-radius: 3px; font-size: 0.85em; font-family: var(--vscode-editor-font-family); }
.flag.on { background: var(--vscode-badge-background); color: var(--vscode-badge-foreground); }
.flag.off { color: var(--vscode-disabledForeground, var(--vscode-descriptionForeground)); text-decoration: line-through; }
.error { color: var(--vscode-errorForeground); font-weight: 600; }
.bar rect { shape-rendering: crispEdges; }
.legend span { display: inline-block; margin-right: 10px; }
.legend i { display: inline-block; width: 10px; height: 10px; margin-right: 4px; vertical-align: middle; }
${COLOUR_VARS.map((v, i) => `.c${i} { fill: var(${v}); background: var(${v}); }`).join('\n')}
`;

/** A whole page with a strict CSP: no scripts, styles from this page only, images as data: URIs at most. */
export function page(title: string, body: string, cspSource: string, nonce: string): string {
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src ${cspSource} data:; style-src 'nonce-${nonce}';">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>${escapeHtml(title)}</title>
<style nonce="${nonce}">${STYLE}</style>
</head><body>${body}</body></html>`;
}

/** The `translate` response of the adapter (debug-adapter/translation.ts translationJson). */
export interface TranslationJson {
  gva: string;
  mode: string;
  levels: Array<{
    level: number;
    name: string;
    tableGpa: string;
    index: number;
    entryGpa: string;
    entry: string;
    flags: Record<string, boolean | undefined>;
    leaf: boolean;
    pageSize?: number;
  }>;
  gpa?: string;
  pageSize?: number;
  effective?: { write: boolean; user: boolean; execute: boolean };
  fault?: { kind: string; level?: number; name?: string; text: string };
  host?: { hva: string; present: boolean; hpa?: string; pageSize?: number; note?: string };
  /** The backend's own walk: KVM_TRANSLATE, or Unicorn's MMU under emulation (`by`). */
  kvmTranslate?: { valid: boolean; gpa: string; by?: string };
}

const FLAG_NAMES: Array<[string, string]> = [
  ['present', 'P'],
  ['write', 'RW'],
  ['user', 'US'],
  ['pwt', 'PWT'],
  ['pcd', 'PCD'],
  ['accessed', 'A'],
  ['dirty', 'D'],
  ['pageSize', 'PS'],
  ['global', 'G'],
  ['nx', 'NX'],
];

function flags(f: Record<string, boolean | undefined>): string {
  return FLAG_NAMES.filter(([k]) => f[k] !== undefined)
    .map(([k, label]) => `<span class="flag ${f[k] ? 'on' : 'off'}" title="${k}">${label}</span>`)
    .join('');
}

/** The GVA → GPA → HPA walk as boxes, one per level, the failing one outlined. */
export function translationBody(expression: string, vcpu: number, t: TranslationJson): string {
  const out: string[] = [];
  out.push(`<div class="muted">vCPU ${vcpu} · <span class="mono">${escapeHtml(expression)}</span> · ${escapeHtml(t.mode)} paging</div>`);
  out.push(`<div class="box"><h3>GVA <span class="mono">${escapeHtml(t.gva)}</span></h3></div>`);
  for (const l of t.levels) {
    const failed = t.fault?.level === l.level;
    out.push('<div class="arrow">↓</div>');
    out.push(
      `<div class="box${failed ? ' fail' : ''}${l.leaf ? ' leaf' : ''}" data-level="${l.level}"><h3>${escapeHtml(l.name)} <span class="muted">(level ${l.level})</span></h3>` +
        `<table class="kv mono"><tr><td>table</td><td>${escapeHtml(l.tableGpa)}</td></tr>` +
        `<tr><td>index</td><td>${l.index}</td></tr>` +
        `<tr><td>entry at</td><td>${escapeHtml(l.entryGpa)}</td></tr>` +
        `<tr><td>entry</td><td>${escapeHtml(l.entry)}</td></tr></table>` +
        `<div>${flags(l.flags)}</div>` +
        (l.leaf ? `<div class="muted">maps a ${l.pageSize !== undefined ? formatSize(l.pageSize) : ''} page</div>` : '') +
        (failed ? `<div class="error">${escapeHtml(t.fault!.text)}</div>` : '') +
        '</div>',
    );
  }
  if (t.fault && !t.levels.some((l) => l.level === t.fault!.level)) {
    out.push('<div class="arrow">↓</div>');
    out.push(`<div class="box fail"><div class="error">${escapeHtml(t.fault.text)}</div></div>`);
  }
  if (t.gpa !== undefined) {
    const eff = t.effective ? ` · ${t.effective.write ? 'writable' : 'read-only'}, ${t.effective.user ? 'user' : 'supervisor'}, ${t.effective.execute ? 'executable' : 'no-execute'}` : '';
    out.push('<div class="arrow">↓</div>');
    out.push(`<div class="box leaf"><h3>GPA <span class="mono">${escapeHtml(t.gpa)}</span></h3><div class="muted">${t.pageSize !== undefined ? formatSize(t.pageSize) : ''} page${eff}</div></div>`);
  }
  if (t.host) {
    out.push('<div class="arrow">↓ vmscope\'s mapping of guest memory</div>');
    const hpa = t.host.hpa !== undefined ? `HPA <span class="mono">${escapeHtml(t.host.hpa)}</span>` : 'HPA unknown';
    out.push(
      `<div class="box"><h3>HVA <span class="mono">${escapeHtml(t.host.hva)}</span> → ${hpa}</h3>` +
        `<div class="muted">${t.host.present ? 'host page present' : 'host page not present (never touched)'}${t.host.pageSize ? ` · ${formatSize(t.host.pageSize)} host page` : ''}</div>` +
        (t.host.note ? `<div class="muted">${escapeHtml(t.host.note)}</div>` : '') +
        '</div>',
    );
  }
  if (t.kvmTranslate) {
    out.push(`<p class="muted">${escapeHtml(t.kvmTranslate.by ?? 'KVM_TRANSLATE')}: ${t.kvmTranslate.valid ? `GPA <span class="mono">${escapeHtml(t.kvmTranslate.gpa)}</span>` : 'not mapped'}</p>`);
  }
  return out.join('\n');
}

/** One exit from the adapter's `exitTrace` response. */
export interface TraceExit {
  time: number;
  vcpu: number;
  reason: string;
}

export interface Timeline {
  reasons: string[];
  bucketMs: number;
  start: number;
  /** counts[bucket][reason index] */
  counts: number[][];
}

/** Exits per reason over time, in at most `buckets` equal time slices. */
export function timeline(exits: readonly TraceExit[], buckets = 60): Timeline {
  if (exits.length === 0) return { reasons: [], bucketMs: 0, start: 0, counts: [] };
  const byCount = new Map<string, number>();
  let start = Infinity;
  let end = -Infinity;
  for (const e of exits) {
    byCount.set(e.reason, (byCount.get(e.reason) ?? 0) + 1);
    start = Math.min(start, e.time);
    end = Math.max(end, e.time);
  }
  const reasons = [...byCount.keys()].sort((a, b) => byCount.get(b)! - byCount.get(a)! || a.localeCompare(b));
  const span = Math.max(end - start, 1e-3);
  const n = Math.max(1, Math.min(buckets, exits.length));
  const bucketMs = span / n;
  const counts = Array.from({ length: n }, () => new Array<number>(reasons.length).fill(0));
  for (const e of exits) {
    const b = Math.min(n - 1, Math.floor((e.time - start) / bucketMs));
    counts[b]![reasons.indexOf(e.reason)]!++;
  }
  return { reasons, bucketMs, start, counts };
}


/** A stacked bar chart of the timeline as inline SVG, with a legend and the totals. */
export function timelineBody(t: Timeline, totals: Record<string, number>, traced: number): string {
  const totalLine = Object.entries(totals)
    .sort((a, b) => b[1] - a[1])
    .map(([r, n]) => `${escapeHtml(r)} ${n}`)
    .join(' · ');
  if (t.counts.length === 0) return `<p class="muted">No exits traced yet.</p><p class="muted">All exits: ${totalLine || 'none'}</p>`;
  const w = 600;
  const h = 140;
  const max = Math.max(1, ...t.counts.map((c) => c.reduce((a, b) => a + b, 0)));
  const bw = w / t.counts.length;
  const rects: string[] = [];
  t.counts.forEach((c, i) => {
    let y = h;
    c.forEach((n, r) => {
      if (n === 0) return;
      const bh = (n / max) * (h - 4);
      y -= bh;
      rects.push(
        `<rect x="${(i * bw).toFixed(1)}" y="${y.toFixed(1)}" width="${Math.max(bw - 1, 1).toFixed(1)}" height="${bh.toFixed(1)}" class="c${r % COLOUR_VARS.length}"><title>${escapeHtml(t.reasons[r]!)}: ${n} at ${(t.start + i * t.bucketMs).toFixed(1)} ms</title></rect>`,
      );
    });
  });
  const legend = t.reasons.map((r, i) => `<span><i class="c${i % COLOUR_VARS.length}"></i>${escapeHtml(r)}</span>`).join('');
  return (
    `<div class="legend">${legend}</div>` +
    `<svg class="bar" viewBox="0 0 ${w} ${h}" width="100%" height="${h}" preserveAspectRatio="none" role="img" aria-label="exits over time">${rects.join('')}</svg>` +
    `<div class="muted">${traced} traced exits over ${(t.bucketMs * t.counts.length).toFixed(1)} ms, ${t.bucketMs.toFixed(2)} ms per bar, peak ${max} per bar</div>` +
    `<p class="muted">All exits: ${totalLine}</p>`
  );
}
