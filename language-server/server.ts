// Placeholder for the .vmspec language server (see the language-server issue):
// it starts, says so on stderr, and exits, so the bundle and packaging exist.
process.stderr.write('vmscope language server: not implemented yet\n');
process.exitCode = 1;
