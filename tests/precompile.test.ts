// `tapwire precompile` (cli/precompile.ts) and the preload starting from what it writes
// (register.ts): on a copy of dist/, so that every other test runs the package as it installs.
// BUN_JSC_verboseDiskCache=1 makes Bun say, per file, whether it ran from bytecode.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  BUN,
  hit,
  jsonLines,
  NODE,
  parseMetrics,
  ROOT,
  type Runtime,
  startApp,
  stopAll,
  sum,
  value,
} from './support/index.js';

let dir: string;
let dist: string;
const revision = spawnSync(BUN, ['-e', 'process.stdout.write(Bun.revision)'], { encoding: 'utf8' }).stdout;
const tree = () => join(dist, 'bun', revision);
const precompile = (runtime: string, ...args: string[]) =>
  spawnSync(runtime, [join(dist, 'cli/main.js'), 'precompile', ...args], { encoding: 'utf8', cwd: dir });

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tapwire-precompile-test-'));
  dist = join(dir, 'dist');
  cpSync(join(ROOT, 'dist'), dist, {
    recursive: true,
    filter: (src) => !src.startsWith(join(ROOT, 'dist/bun')),
  });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(stopAll);

/** An app under the copy's preload: 8 requests in (the readiness probe, 3 to /, 2 that fetch /status/201 from it), 2 out, then /metrics. */
async function measured(runtime: Runtime) {
  const app = await startApp({
    runtime,
    file: 'http-app.mjs',
    register: join(dist, 'register.js'),
    env: { BUN_JSC_verboseDiskCache: '1' },
  });
  expect(await hit(app.url('/'), 3)).toEqual([200, 200, 200]);
  expect(await hit(app.url(`/fetch?url=${encodeURIComponent(app.url('/status/201'))}`), 2)).toEqual([
    200, 200,
  ]);
  const samples = parseMetrics(await app.metrics());
  return {
    server: sum(samples, 'http_server_request_duration_seconds_count'),
    created: sum(samples, 'http_server_request_duration_seconds_count', { http_response_status_code: '201' }),
    client: sum(samples, 'http_client_request_duration_seconds_count', { http_response_status_code: '201' }),
    // Bun's own lines about its disk cache, and everything else the app wrote to stderr.
    hits: app
      .stderr()
      .split('\n')
      .filter((l) => l === '[Disk Cache] Cache hit for sourceCode').length,
    stderr: app
      .stderr()
      .split('\n')
      .filter((l) => l !== '' && !l.startsWith('[Disk Cache]')),
  };
}

describe('tapwire precompile', () => {
  it('refuses to run on Node (exit 1, says to use Bun) and rejects an unknown option (exit 2)', () => {
    const node = precompile(NODE);
    expect([node.status, node.stdout]).toEqual([1, '']);
    expect(node.stderr).toContain('run it with the Bun that runs the app');
    const bad = precompile(BUN, '--fast');
    expect([bad.status, bad.stderr.split('\n')[0]]).toEqual([
      2,
      'tapwire precompile: unknown option "--fast"',
    ]);
    expect(existsSync(join(dist, 'bun'))).toBe(false);
  });

  it('in a package it may not write to: one plain line, exit 1, nothing written', () => {
    // A read-only copy of the package. The suite runs as root, whom file modes do not stop: there
    // the command runs as nobody (setpriv, util-linux).
    const ro = mkdtempSync(join(tmpdir(), 'tapwire-precompile-ro-'));
    const copy = join(ro, 'dist');
    try {
      cpSync(dist, copy, { recursive: true, filter: (src) => !src.startsWith(join(dist, 'bun')) });
      expect(spawnSync('chmod', ['-R', 'a-w,a+rX', ro]).status).toBe(0);
      const command = [BUN, join(copy, 'cli/main.js'), 'precompile'];
      const asUser =
        process.getuid?.() === 0 ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'] : [];
      const [bin, ...args] = [...asUser, ...command];
      const r = spawnSync(bin!, args, {
        encoding: 'utf8',
        cwd: ro,
        env: { PATH: process.env.PATH, TMPDIR: process.env.TMPDIR },
      });
      expect([r.status, r.stdout, r.stderr]).toEqual([
        1,
        '',
        `tapwire precompile: ${copy}/ is not writable here (EACCES): run it where the package is installed, as its owner\n`,
      ]);
      expect(existsSync(join(copy, 'bun'))).toBe(false);
    } finally {
      spawnSync('chmod', ['-R', 'u+w', ro]);
      rmSync(ro, { recursive: true, force: true });
    }
  });

  it("writes the agent's files with their bytecode, for this Bun's revision", () => {
    const r = precompile(BUN);
    const agentFiles = readdirSync(join(dist, 'chunks')).filter((f) => !f.startsWith('cli-')).length;
    expect([r.status, r.stderr]).toEqual([0, '']);
    expect(r.stdout).toMatch(
      new RegExp(`^tapwire precompile: ${agentFiles + 1} files compiled for Bun [\\d.]+ \\(`),
    );
    expect(readdirSync(join(dist, 'bun'))).toEqual([revision]);
    const written = readdirSync(join(tree(), 'chunks'));
    expect(written.filter((f) => f.endsWith('.js')).length).toBe(agentFiles);
    expect(written.filter((f) => f.endsWith('.js.jsc')).length).toBe(agentFiles);
  });

  it('Bun starts from the bytecode and measures the same', async () => {
    const m = await measured('bun');
    // The start module and the three chunks it loads, at least; each one read from bytecode.
    expect(m.hits).toBeGreaterThanOrEqual(4);
    expect([m.server, m.created, m.client, m.stderr]).toEqual([8, 2, 2, []]);
  });

  it('Node is not concerned: it starts from the ES modules', async () => {
    const m = await measured('node');
    expect([m.server, m.created, m.client, m.hits, m.stderr]).toEqual([8, 2, 2, 0, []]);
  });

  // The fixture imports `tapwire` from tests/fixtures/node_modules (this repository's dist/), the
  // preload is the copy's: two copies of the package in one process, as when an app's own tapwire
  // and a preload installed elsewhere meet (on Node too). The log records are counted once, where /metrics reads them.
  for (const runtime of ['bun', 'node'] as const) {
    it(`${runtime}: the app's \`tapwire\` logger and the preload of another copy count the same records`, async () => {
      const app = await startApp({
        runtime,
        file: 'logger-app.mjs',
        register: join(dist, 'register.js'),
        env: { TAPWIRE_ENV: 'staging' },
      });
      const s = parseMetrics(await app.metrics());
      expect(
        ['debug', 'info', 'warn', 'error'].map((level) => value(s, 'tapwire_log_records_total', { level })),
      ).toEqual([undefined, 1, 1, 1]);
    });
  }

  it('a tree of another Bun build is passed by in silence', async () => {
    renameSync(tree(), join(dist, 'bun', 'another-revision'));
    try {
      const m = await measured('bun');
      expect([m.server, m.created, m.client, m.hits, m.stderr]).toEqual([8, 2, 2, 0, []]);
    } finally {
      renameSync(join(dist, 'bun', 'another-revision'), tree());
    }
  });

  it('a broken tree is said once (TAPWIRE_ERR_PRECOMPILED) and the preload starts from the plain bundle', async () => {
    // A chunk the tree's start module requires.
    const chunk = /require\("\.\/(chunks\/chunk-\w+\.js)"\)/.exec(
      readFileSync(join(tree(), 'start.js'), 'utf8'),
    )![1]!;
    rmSync(join(tree(), chunk));
    const m = await measured('bun');
    expect([m.server, m.created, m.client]).toEqual([8, 2, 2]);
    const lines = jsonLines(m.stderr.join('\n'));
    expect(lines.map((l) => [l.code, l.level, l.dir])).toEqual([
      ['TAPWIRE_ERR_PRECOMPILED', 'error', `${tree()}/`],
    ]);
    expect(m.stderr).toHaveLength(1);
  });

  it('--remove deletes every tree; running again writes it afresh', () => {
    expect(precompile(BUN, '--remove').status).toBe(0);
    expect(existsSync(join(dist, 'bun'))).toBe(false);
    expect(precompile(BUN).status).toBe(0);
    expect(readdirSync(join(dist, 'bun'))).toEqual([revision]);
  });
});
