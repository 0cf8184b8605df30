import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { adapterRuntime, DEFAULT_SETTINGS, resolveLaunch } from './launch-config';

const settings = { ...DEFAULT_SETTINGS, breakOnExit: ['io'], symbols: ['build/extra.elf'] };

test('F5 with no launch.json debugs the active spec, with the settings as defaults', () => {
  const r = resolveLaunch({}, { activeFile: '/w/hello/hello.vmspec', folder: '/w', settings });
  assert.equal(r.kind, 'launch');
  if (r.kind !== 'launch') return;
  assert.deepEqual(r.config, {
    type: 'vmscope',
    request: 'launch',
    name: 'Debug hello.vmspec',
    spec: '/w/hello/hello.vmspec',
    stopOnEntry: true,
    breakOnExit: ['io'],
    serialConsole: true,
    traceBufferSize: 4096,
    symbols: ['/w/build/extra.elf'],
  });
});

test('no spec open: one spec in the workspace is used, several are offered, none is an error', () => {
  const one = resolveLaunch({}, { activeFile: '/w/a.c', folder: '/w', workspaceSpecs: ['/w/x.vmspec'], settings });
  assert.equal(one.kind === 'launch' && one.config.spec, '/w/x.vmspec');
  const two = resolveLaunch({}, { activeFile: '/w/a.c', folder: '/w', workspaceSpecs: ['/w/x.vmspec', '/w/y.vmspec.yaml'], settings });
  assert.deepEqual(two, { kind: 'pick', specs: ['/w/x.vmspec', '/w/y.vmspec.yaml'] });
  const none = resolveLaunch({}, { activeFile: undefined, folder: '/w', workspaceSpecs: [], settings });
  assert.equal(none.kind, 'error');
});

test('a launch.json entry keeps its own values; relative specs resolve against the folder', () => {
  const r = resolveLaunch(
    { type: 'vmscope', request: 'launch', name: 'mine', spec: 'vm/a.vmspec', stopOnEntry: false, breakOnExit: [], serialConsole: false, symbols: ['/abs/s.elf'] },
    { folder: '/w', settings },
  );
  assert.equal(r.kind, 'launch');
  if (r.kind !== 'launch') return;
  assert.equal(r.config.spec, '/w/vm/a.vmspec');
  assert.equal(r.config.stopOnEntry, false);
  assert.deepEqual(r.config.breakOnExit, []);
  assert.equal(r.config.serialConsole, false);
  assert.deepEqual(r.config.symbols, ['/w/build/extra.elf', '/abs/s.elf']);
});

test('an unsubstituted variable or a non-spec file is an error that says so', () => {
  const v = resolveLaunch({ type: 'vmscope', request: 'launch', name: 'x', spec: '${file}' }, { settings });
  assert.equal(v.kind, 'error');
  assert.match(v.kind === 'error' ? v.message : '', /could not substitute/);
  const c = resolveLaunch({ type: 'vmscope', request: 'launch', name: 'x', spec: '/w/main.c' }, { settings });
  assert.match(c.kind === 'error' ? c.message : '', /not a \.vmspec file/);
});

test('the adapter runs under plain Node: a setting, this process outside Electron, or node on PATH', () => {
  assert.deepEqual(adapterRuntime({ setting: '/opt/node', electron: '30', execPath: '/x', findOnPath: () => undefined }), { path: '/opt/node' });
  assert.deepEqual(adapterRuntime({ setting: undefined, electron: undefined, execPath: '/usr/bin/node', findOnPath: () => '/y' }), { path: '/usr/bin/node' });
  assert.deepEqual(adapterRuntime({ setting: undefined, electron: '30', execPath: '/code', findOnPath: () => '/usr/local/bin/node' }), { path: '/usr/local/bin/node' });
  const none = adapterRuntime({ setting: undefined, electron: '30', execPath: '/code', findOnPath: () => undefined });
  assert.match('error' in none ? none.error : '', /vmscope\.nodePath/);
});

test('gdbServer: a port or [host:]port passes through; a malformed one is an error; Restricted Mode refuses it', () => {
  const base = { type: 'vmscope', request: 'launch', name: 'x', spec: '/w/a.vmspec' };
  for (const gdbServer of [1234, 0, '127.0.0.1:1234', '[::1]:9']) {
    const r = resolveLaunch({ ...base, gdbServer }, { settings, trusted: true });
    assert.equal(r.kind === 'launch' && r.config.gdbServer, gdbServer);
  }
  const bad = resolveLaunch({ ...base, gdbServer: 'host:port' }, { settings, trusted: true });
  assert.match(bad.kind === 'error' ? bad.message : '', /"gdbServer" is "host:port": give \[host:\]port/);
  const untrusted = resolveLaunch({ ...base, gdbServer: 1234 }, { settings, trusted: false });
  assert.match(untrusted.kind === 'error' ? untrusted.message : '', /refused in Restricted Mode/);
  // Without the attribute, trust is not this function's concern (the extension refuses every launch there).
  assert.equal(resolveLaunch(base, { settings, trusted: false }).kind, 'launch');
});
