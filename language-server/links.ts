// Document links: the boot image path opens the file it names.

import type { DocumentLink } from 'vscode-languageserver/node';
import { pathToFileURL } from 'node:url';
import type { ParsedDocument } from './documents';

export function documentLinks(doc: ParsedDocument): DocumentLink[] {
  const spec = doc.result.spec;
  const range = doc.result.ranges.valueRange(['boot', 'image']);
  if (!spec || !range || !spec.boot.image) return [];
  return [{ range, target: pathToFileURL(spec.boot.image).href, tooltip: 'Open the boot image' }];
}
