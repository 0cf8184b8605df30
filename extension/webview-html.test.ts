import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { escapeHtml, page, timeline, timelineBody, translationBody, type TranslationJson } from './webview-html';

const walk: TranslationJson = {
  gva: '0xffff800000001000',
  mode: '4-level',
  levels: [
    { level: 4, name: 'PML4E', tableGpa: '0x1000', index: 256, entryGpa: '0x1800', entry: '0x2003', flags: { present: true, write: true, user: false, accessed: false }, leaf: false },
    { level: 3, name: 'PDPTE', tableGpa: '0x2000', index: 0, entryGpa: '0x2000', entry: '0x0', flags: { present: false, write: false, user: false }, leaf: false },
  ],
  fault: { kind: 'not-present', level: 3, name: 'PDPTE', text: 'the PDPTE <is> not present' },
};

test('the translation picture has one box per level and outlines the failing one, with escaped text', () => {
  const html = translationBody('buf + 8', 0, walk);
  assert.equal((html.match(/data-level=/g) ?? []).length, 2);
  assert.match(html, /class="box fail" data-level="3"/);
  assert.doesNotMatch(html, /class="box fail" data-level="4"/);
  assert.match(html, /the PDPTE &lt;is&gt; not present/);
  assert.match(html, /<span class="flag on" title="present">P<\/span>/);
  assert.doesNotMatch(html, /GPA <span/); // no GPA when the walk fails
});

test('a complete walk ends at the GPA and the host page', () => {
  const ok: TranslationJson = {
    ...walk,
    levels: [{ ...walk.levels[0]!, leaf: true, pageSize: 2 * 1024 * 1024 }],
    fault: undefined,
    gpa: '0x201000',
    pageSize: 2 * 1024 * 1024,
    effective: { write: true, user: false, execute: true },
    host: { hva: '0x7f0000201000', present: true, hpa: '0x12345000', pageSize: 4096 },
  } as TranslationJson;
  const html = translationBody('rip', 1, ok);
  assert.match(html, /maps a 2 MiB page/);
  assert.match(html, /GPA <span class="mono">0x201000<\/span>/);
  assert.match(html, /HPA <span class="mono">0x12345000<\/span>/);
  assert.match(html, /writable, supervisor, executable/);
});

test('pages carry a CSP with no remote sources and the nonce on styles', () => {
  const html = page('t', '<p>x</p>', 'vscode-webview://abc', 'N0NCE');
  assert.match(html, /default-src 'none'/);
  assert.match(html, /style-src 'nonce-N0NCE'/);
  assert.doesNotMatch(html, /https?:/);
  assert.match(html, /\.c0 \{ fill: var\(--vscode-charts-blue\)/);
  assert.equal(escapeHtml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
});

test('the timeline bins exits per reason over time, most frequent reason first', () => {
  const exits = [
    ...Array.from({ length: 30 }, (_, i) => ({ time: i, vcpu: 0, reason: 'io' })),
    { time: 29, vcpu: 0, reason: 'hlt' },
  ];
  const t = timeline(exits, 3);
  assert.deepEqual(t.reasons, ['io', 'hlt']);
  assert.equal(t.counts.length, 3);
  assert.deepEqual(t.counts.map((c) => c[0]), [10, 10, 10]);
  assert.deepEqual(t.counts.map((c) => c[1]), [0, 0, 1]);
  const html = timelineBody(t, { io: 30, hlt: 1 }, 31);
  assert.equal((html.match(/<rect /g) ?? []).length, 4);
  assert.match(html, /All exits: io 30 · hlt 1/);
  assert.match(timelineBody(timeline([]), {}, 0), /No exits traced yet/);
  // The CSP allows the page's style element only: colours are classes, never style attributes.
  assert.doesNotMatch(html, /style=/);
  assert.match(html, /<rect [^>]*class="c0"/);
});
