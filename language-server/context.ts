// Where the cursor is in YAML terms, read from the text's indentation rather than from the parse, because
// completion happens in half-typed lines that do not parse. Block style is understood fully; flow style only
// for `key: [a, b, |]` lists.

import type { SpecPath } from '../vmspec/types';

export interface Span { line: number; start: number; end: number }

export type CursorContext =
  /** Typing a key in the mapping at `parent`; `present` holds its keys already written. */
  | { kind: 'key'; parent: SpecPath; present: Set<string>; replace: Span }
  /** Typing the value at `path` (a key's value, or a list item when the last step is a number). */
  | { kind: 'value'; path: SpecPath; present: Set<string>; replace: Span; needsSpace: boolean };

interface LineInfo {
  indent: number;
  dash: boolean;
  /** Column where the content after any `- ` starts. */
  col: number;
  key?: string;
  rest: string;
}

const KEY_RE = /^([^\s:#'"{}[\],-][^:#]*?|-[^\s:#][^:#]*?)\s*:(?:\s+(.*))?$/;

function lineInfo(text: string | undefined): LineInfo | undefined {
  if (text === undefined || /^\s*(#.*)?$/.test(text)) return undefined;
  const m = /^( *)(- +)?(.*)$/.exec(text);
  if (!m) return undefined;
  const indent = m[1]!.length;
  const dash = m[2] !== undefined;
  const col = indent + (m[2]?.length ?? 0);
  const km = KEY_RE.exec(m[3]!);
  return km ? { indent, dash, col, key: km[1]!, rest: (km[2] ?? '').replace(/\s+#.*$/, '').trim() } : { indent, dash, col, rest: m[3]! };
}

/**
 * The path of the mapping or sequence that holds content starting at column `col` on line `line`.
 * `fromDash` means that content is a sequence item, whose `-` may sit at its parent key's own indentation.
 */
function containerPath(lines: readonly string[], line: number, col: number, fromDash: boolean): SpecPath {
  const path: (string | number)[] = [];
  let target = col;
  let allowEqual = fromDash;
  for (let i = line - 1; i >= 0 && target > 0 || (i >= 0 && allowEqual); i--) {
    const info = lineInfo(lines[i]);
    if (!info) continue;
    if (info.dash && info.col === target && info.indent < target) {
      // A sibling key on the first line of the same sequence item.
      path.unshift(0);
      target = info.indent;
      allowEqual = true;
      continue;
    }
    const start = info.dash ? info.indent : info.col;
    if (info.key !== undefined && !info.dash && (info.col < target || (allowEqual && info.col === target)) && (info.rest === '' || /^[&!]/.test(info.rest))) {
      path.unshift(info.key);
      target = info.col;
      allowEqual = false;
      continue;
    }
    if (start < target) break; // less indented but not a block key: malformed; give what we have
  }
  return path;
}

/** Keys written at column `col` in the block around `line` (the same mapping). */
function siblingKeys(lines: readonly string[], line: number, col: number): Set<string> {
  const keys = new Set<string>();
  for (let i = line - 1; i >= 0; i--) {
    const info = lineInfo(lines[i]);
    if (!info) continue;
    if (info.col === col && info.key !== undefined) keys.add(info.key);
    if (info.dash && info.col === col) break; // the first line of this sequence item
    if ((info.dash ? info.indent : info.col) < col) break;
  }
  for (let i = line + 1; i < lines.length; i++) {
    const info = lineInfo(lines[i]);
    if (!info) continue;
    if ((info.dash ? info.indent : info.col) < col) break;
    if (info.dash && info.col === col) break; // the next sequence item
    if (info.col === col && info.key !== undefined) keys.add(info.key);
  }
  return keys;
}

/** Items already written in the block sequence whose dashes are at column `indent`. */
function siblingItems(lines: readonly string[], line: number, indent: number): Set<string> {
  const items = new Set<string>();
  for (const dir of [-1, 1]) {
    for (let i = line + dir; i >= 0 && i < lines.length; i += dir) {
      const info = lineInfo(lines[i]);
      if (!info) continue;
      if (!info.dash || info.indent !== indent) break;
      items.add(info.rest.trim());
    }
  }
  return items;
}

export function cursorContext(lines: readonly string[], line: number, character: number): CursorContext | undefined {
  const before = (lines[line] ?? '').slice(0, character);
  const word = /[\w.-]*$/.exec(before)![0];
  const replace: Span = { line, start: character - word.length, end: character };

  // `key: [a, b, wo|`: a flow list item.
  let m = /^( *)(- +)?([\w-]+):\s*\[([^\]]*?)([\w-]*)$/.exec(before);
  if (m) {
    const col = m[1]!.length + (m[2]?.length ?? 0);
    const parent = m[2] ? [...containerPath(lines, line, m[1]!.length, true), 0] : containerPath(lines, line, col, false);
    const present = new Set(m[4]!.split(',').map((s) => s.trim()).filter((s) => s !== ''));
    return { kind: 'value', path: [...parent, m[3]!, 0], present, replace, needsSpace: false };
  }
  // `- { name: r, wo|` or `serial: { wo|`: a key (or `{ kind: wo|`, a value) in a flow mapping on this line.
  m = /^( *)(- +)?(?:([\w-]+):\s*)?\{([^{}]*)$/.exec(before);
  if (m) {
    const col = m[1]!.length + (m[2]?.length ?? 0);
    const base = m[2] ? [...containerPath(lines, line, m[1]!.length, true), 0] : containerPath(lines, line, col, false);
    const mapPath = m[3] ? [...base, m[3]] : base;
    const inner = m[4]!;
    const last = inner.slice(inner.lastIndexOf(',') + 1);
    const kv = /^\s*([\w-]+)\s*:\s*([\w-]*)$/.exec(last);
    if (kv) return { kind: 'value', path: [...mapPath, kv[1]!], present: new Set(), replace, needsSpace: false };
    if (/^\s*[\w-]*$/.test(last)) {
      const present = new Set(inner.split(',').map((x) => x.split(':')[0]!.trim()).filter((k) => k !== '' && k !== word));
      return { kind: 'key', parent: mapPath, present, replace };
    }
    return undefined;
  }
  // `key: wo|`: a scalar value.
  m = /^( *)(- +)?([^\s:#'"{}[\],][^:#]*?)\s*:(\s*)([^\s#[{]*)$/.exec(before);
  if (m) {
    const col = m[1]!.length + (m[2]?.length ?? 0);
    const parent = m[2] ? [...containerPath(lines, line, m[1]!.length, true), 0] : containerPath(lines, line, col, false);
    return { kind: 'value', path: [...parent, m[3]!], present: new Set(), replace, needsSpace: m[4] === '' };
  }
  // `- wo|`: a sequence item, either a scalar or the first key of a mapping.
  m = /^( *)(- +)([\w-]*)$/.exec(before);
  if (m) {
    const indent = m[1]!.length;
    const container = containerPath(lines, line, indent, true);
    return {
      kind: 'value',
      path: [...container, 0],
      present: siblingItems(lines, line, indent),
      replace,
      needsSpace: false,
    };
  }
  // `  wo|`: a key.
  m = /^( *)([\w-]*)$/.exec(before);
  if (m) {
    const col = m[1]!.length;
    return { kind: 'key', parent: containerPath(lines, line, col, false), present: siblingKeys(lines, line, col), replace };
  }
  return undefined;
}

/** For a `- |` item that starts a mapping: the keys already written below it in the same item. */
export function itemKeysBelow(lines: readonly string[], line: number, col: number): Set<string> {
  return siblingKeys(lines, line, col);
}
