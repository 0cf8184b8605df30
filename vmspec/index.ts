// The public face of vmspec/: the one definition of a .vmspec (schema, types, parser, units) for every other part.

export * from './types';
export * from './schema';
export * from './units';
export { type ParseOptions, type SpecParseResult, SpecSourceMap, checkAgainstSchema, didYouMean, formatPath, parseSpec } from './parse';
export { formatDiagnostic, loadSpecFile } from './load';
