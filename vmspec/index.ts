// The public face of vmspec/: the one definition of a .vmspec (schema, types, parser, units) for every other part.

export * from './types';
export * from './schema';
export * from './units';
export { type ParseOptions, type SpecParseResult, checkAgainstSchema, parseSpec } from './parse';
export { SpecSourceMap, formatPath } from './source-map';
export { didYouMean } from './did-you-mean';
export { formatDiagnostic, loadSpecFile } from './load';
export { platformOf, serialIrqOf, isProtocolFormat, PROTOCOL_FORMATS, type Platform } from './platform';
