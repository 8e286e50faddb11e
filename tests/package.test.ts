// The published package: what `npm pack` puts in it (exactly: the bundle, its declarations, the
// docs, README, CHANGELOG, LICENSE; no sources, tests or maps), publint and @arethetypeswrong/cli
// on the packed tarball, and the tarball installed into a fresh app, where the `tapwire` bin and
// both entry points work. The tarball's size is printed and held under a budget.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUN, freePort, NODE, ROOT } from './support/index.js';
import { installApp, type Packed, pack, readJson, removeTemporaries } from './support/package.js';

const BIN = (name: string) => join(ROOT, 'node_modules/.bin', name);
const pkg = readJson<{ version: string; bin: Record<string, string>; engines: Record<string, string> }>(
  join(ROOT, 'package.json'),
);

// Well above today's ~570 kB (the sidecar's bundled undici is half of it), low enough that a
// dependency bundled by mistake or a source map fails the test.
const SIZE_BUDGET = 1_000_000;

let packed: Packed;
let app: string;

beforeAll(() => {
  packed = pack();
  process.stdout.write(
    `tapwire ${pkg.version}: ${packed.tarball.split('/').pop()} ${packed.size} bytes packed, ` +
      `${packed.unpackedSize} unpacked, ${packed.files.length} files\n`,
  );
  app = installApp(packed.tarball, { name: 'hygiene-app', private: true, type: 'module' });
}, 240_000);
afterAll(removeTemporaries);

describe('npm pack', () => {
  it('contains the bundle, its declarations, the docs, README, CHANGELOG and LICENSE, nothing else', () => {
    const docs = readdirSync(join(ROOT, 'docs'))
      .filter((f) => f.endsWith('.md'))
      .map((f) => `docs/${f}`);
    const fixed = [
      'package.json',
      'README.md',
      'CHANGELOG.md',
      'LICENSE',
      ...docs,
      'dist/package.json',
      // The entry points and their declarations: only the ones they reach (scripts/build.mjs).
      'dist/index.js',
      'dist/index.d.ts',
      'dist/register.js',
      'dist/register.d.ts',
      // Bun's file of the preload: `tapwire/register` on Bun (package.json's `bun` condition), and
      // what register.js imports there (register-bun.ts).
      'dist/register-bun.js',
      'dist/agent/attributes.d.ts',
      'dist/agent/current.d.ts',
      'dist/agent/log/app.d.ts',
      'dist/config/index.d.ts',
      'dist/config/load.d.ts',
      'dist/config/parse.d.ts',
      'dist/config/profiles.d.ts',
      'dist/config/variables.d.ts',
      // The bin, the service `tapwire demo` runs, the AI stand-in bench/ starts.
      'dist/cli/main.js',
      'dist/cli/demo-app.js',
      'dist/cli/standin.js',
    ];
    const paths = packed.files.map((f) => f.path);
    // Chunk names carry content hashes; what matters is that they are bundle chunks and nothing else.
    const chunks = paths.filter((p) => p.startsWith('dist/chunks/'));
    for (const chunk of chunks) expect(chunk).toMatch(/^dist\/chunks\/[\w-]+\.js$/);
    expect(chunks.length).toBeGreaterThan(0);
    expect(paths.filter((p) => !p.startsWith('dist/chunks/')).sort()).toEqual(fixed.sort());
  });

  it(`is under ${SIZE_BUDGET} bytes`, () => {
    expect(packed.size).toBeLessThan(SIZE_BUDGET);
  });
});

describe('linters on the packed tarball', () => {
  it('publint --strict: all good', () => {
    // publint colours its verdict when the run has a terminal or FORCE_COLOR (CI's run had);
    // the words are what is checked.
    const r = spawnSync(BIN('publint'), ['--strict', packed.tarball], { encoding: 'utf8' });
    process.stdout.write(r.stdout);
    const last = stripVTControlCharacters(r.stdout).trim().split('\n').at(-1);
    expect([r.status, last, stripVTControlCharacters(r.stderr)]).toEqual([0, 'All good!', '']);
  });

  it('@arethetypeswrong/cli: both entry points resolve to ESM with types (esm-only profile)', () => {
    // ESM only, by design: CommonJS apps load tapwire with require() through require(esm) (Node
    // 22.12+, Bun; checked below), which TypeScript's node16 CommonJS mode does not model, so the
    // node10 and node16-from-CJS resolutions are not checked.
    const table = spawnSync(BIN('attw'), [packed.tarball, '--profile', 'esm-only', '--format', 'ascii'], {
      encoding: 'utf8',
    });
    process.stdout.write(table.stdout);
    expect(table.status).toBe(0);
    const r = spawnSync(BIN('attw'), [packed.tarball, '--profile', 'esm-only', '--format', 'json'], {
      encoding: 'utf8',
    });
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout) as {
      analysis: {
        entrypoints: Record<string, { resolutions: Record<string, { resolution?: { fileName: string } }> }>;
      };
      problems: Record<string, { entrypoint: string; kind: string; resolutionKind: string }[]>;
    };
    // The JSON lists problems of every resolution; the profile's exit code ignored the two above.
    const checked = Object.values(report.problems)
      .flat()
      .filter((p) => p.resolutionKind !== 'node10' && p.resolutionKind !== 'node16-cjs');
    expect(checked).toEqual([]);
    const resolved = (entry: string, mode: string) =>
      report.analysis.entrypoints[entry]?.resolutions[mode]?.resolution?.fileName;
    expect(resolved('.', 'node16-esm')).toBe('/node_modules/tapwire/dist/index.d.ts');
    expect(resolved('./register', 'node16-esm')).toBe('/node_modules/tapwire/dist/register.d.ts');
    expect(resolved('.', 'bundler')).toBe('/node_modules/tapwire/dist/index.d.ts');
    expect(resolved('./register', 'bundler')).toBe('/node_modules/tapwire/dist/register.d.ts');
  });
});

describe('installed from the tarball', () => {
  const run = (cmd: string, args: string[], env: Record<string, string> = {}) => {
    const r = spawnSync(cmd, args, {
      cwd: app,
      encoding: 'utf8',
      env: { PATH: process.env.PATH, TMPDIR: process.env.TMPDIR, HOME: process.env.HOME, ...env },
      timeout: 30_000,
    });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };

  it('installs the bin as node_modules/.bin/tapwire, which prints the version', () => {
    expect(pkg.bin).toEqual({ tapwire: './dist/cli/main.js' });
    // Through its `#!/usr/bin/env node` line, with the project's Node first on PATH.
    expect(run(join(app, 'node_modules/.bin/tapwire'), ['--version'])).toEqual({
      code: 0,
      stdout: `${pkg.version}\n`,
      stderr: '',
    });
  });

  it('npx tapwire config prints the configuration of the app it runs in', () => {
    const r = run('npx', ['--no-install', 'tapwire', 'config']);
    expect([r.code, r.stderr]).toEqual([0, '']);
    expect(r.stdout).toMatch(/\nOTEL_SERVICE_NAME +hygiene-app +package\.json\n/);
  });

  it.each([
    ['node', NODE],
    ['bun', BUN],
  ])('%s: import and require of both entry points', (_runtime, runtime) => {
    const script = [
      "const { createRequire } = await import('node:module');",
      "const esm = await import('tapwire');",
      'const cjs = createRequire(process.cwd() + "/x.cjs")("tapwire");',
      "await import('tapwire/register');",
      'const agent = esm.currentAgent();',
      'console.log([typeof esm.logger.info, cjs.logger === esm.logger, typeof agent?.stop].join(" "));',
      'agent?.stop();',
    ].join('\n');
    const args = runtime === NODE ? ['--input-type=module', '-e', script] : ['-e', script];
    // The test profile (warn) keeps the agent's start-up lines out; no endpoint, no port taken.
    const r = run(runtime, args, { TAPWIRE_ENV: 'test', OTEL_METRICS_EXPORTER: 'none' });
    expect([r.code, r.stdout, r.stderr]).toEqual([0, 'function true function\n', '']);
  });

  // package.json's exports give Bun its own file for `tapwire/register` (only Bun's code, one module:
  // register-bun.ts says what it saves) and Node register.js. The app's own request and /metrics
  // show the agent it starts (deferred: the Bun.serve call trips it) counting.
  it.each([
    ['node', NODE, '--import', 'dist/register.js'],
    ['bun', BUN, '--preload', 'dist/register-bun.js'],
  ])('%s: the preload tapwire/register is %s', async (_runtime, runtime, flag, file) => {
    const port = await freePort();
    const script = [
      "const { createServer } = await import('node:http');",
      "const server = createServer((_req, res) => res.end('ok'));",
      'await new Promise((r) => server.listen(0, "127.0.0.1", r));',
      "await (await fetch('http://127.0.0.1:' + server.address().port + '/')).text();",
      `const page = await (await fetch('http://127.0.0.1:${port}/metrics')).text();`,
      "const count = page.split('\\n').find((l) => l.startsWith('http_server_request_duration_seconds_count'));",
      // Node lists no ES module in require.cache; Bun lists every module it loaded.
      "const cache = typeof require === 'undefined' ? {} : require.cache;",
      "const loaded = Object.keys(cache).filter((f) => f.includes('/node_modules/tapwire/dist/') && !f.includes('/chunks/'));",
      'console.log(JSON.stringify({ count: count?.split(" ").pop(), loaded: loaded.map((f) => f.split("/node_modules/tapwire/")[1]) }));',
      'server.close();',
    ].join('\n');
    writeFileSync(join(app, 'resolve-check.mjs'), script);
    const r = run(runtime, [flag, 'tapwire/register', 'resolve-check.mjs'], {
      OTEL_EXPORTER_PROMETHEUS_PORT: String(port),
      TAPWIRE_ENV: 'test',
    });
    expect([r.code, r.stderr]).toEqual([0, '']);
    const out = JSON.parse(r.stdout) as { count: string; loaded: string[] };
    expect(out.count).toBe('1');
    expect(out.loaded).toEqual(runtime === BUN ? [file] : []);
  });

  it('declares runtime dependencies only for what the bundle leaves out (pino for the types, pino-pretty)', () => {
    const manifest = readJson<{ dependencies: Record<string, string> }>(
      join(app, 'node_modules/tapwire/package.json'),
    );
    expect(Object.keys(manifest.dependencies).sort()).toEqual(['pino', 'pino-pretty']);
    expect(readFileSync(join(app, 'node_modules/tapwire/dist/agent/log/app.d.ts'), 'utf8')).toContain(
      "from 'pino'",
    );
  });
});
