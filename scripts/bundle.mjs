// Bundles vmscope's entry points into dist/ with esbuild. The native addon
// stays outside the bundle (node-gyp-build finds it from the package root).
import * as esbuild from 'esbuild';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: true,
  logLevel: 'warning',
  define: { VMSCOPE_VERSION: JSON.stringify(pkg.version) },
  external: ['vscode'],
};

// iced-x86 loads its WebAssembly from next to the script that requires it:
// in the bundle, that is dist/.
mkdirSync('dist', { recursive: true });
copyFileSync('node_modules/iced-x86/iced_x86_bg.wasm', 'dist/iced_x86_bg.wasm');

await Promise.all([
  esbuild.build({ ...common, entryPoints: { cli: 'cli/main.ts' }, outdir: 'dist', banner: { js: '#!/usr/bin/env node' } }),
  esbuild.build({ ...common, entryPoints: { 'debug-adapter': 'debug-adapter/main.ts' }, outdir: 'dist' }),
  esbuild.build({ ...common, entryPoints: { 'language-server': 'language-server/server.ts' }, outdir: 'dist' }),
  esbuild.build({ ...common, entryPoints: { extension: 'extension/extension.ts' }, outdir: 'dist' }),
  esbuild.build({ ...common, entryPoints: { 'vcpu-worker': 'vmm/vcpu-worker.ts' }, outdir: 'dist' }),
]);
