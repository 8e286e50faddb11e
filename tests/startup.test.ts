// What the preload loads at start, counted rather than timed: every process under NODE_OPTIONS pays
// for each built-in and each file the agent loads before the app runs (bench/startup.mjs has the
// times). Node lists the built-ins a process has loaded in process.moduleLoadList.
import { spawn, spawnSync } from 'node:child_process';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { INSTRUMENTATIONS } from '../agent/instrumentations.js';
import {
  agentEnv,
  BUN,
  DIST_REGISTER,
  FIXTURES,
  freePort,
  jsonLines,
  NODE,
  ROOT,
  startApp,
  stopAll,
} from './support/index.js';

/**
 * The built-ins a Node process has loaded 300 ms after its -e script ran, and its stderr.
 * `inherited`: the preload comes through NODE_OPTIONS, from a shell that has it too (as under npm
 * start), rather than on the command line.
 */
async function nodeLoads(
  preload: boolean,
  port?: number,
  cwd?: string,
  inherited = false,
): Promise<{ loaded: string[]; stderr: string }> {
  port ??= await freePort();
  // Read 300 ms in: a follower starts without waiting for its holder's answer (it comes within a
  // millisecond or two), and what following loads counts too.
  const script = 'setTimeout(() => process.stdout.write(JSON.stringify(process.moduleLoadList)), 300)';
  const [cmd, ...args] = inherited
    ? ['sh', '-c', '"$0" -e "$1"; exit $?', NODE, script]
    : [NODE, ...(preload ? ['--import', DIST_REGISTER] : []), '-e', script];
  const r = spawnSync(cmd!, args, {
    encoding: 'utf8',
    cwd,
    env: agentEnv(port, {
      ...(inherited ? { NODE_OPTIONS: `--import ${DIST_REGISTER}` } : {}),
      LOG_LEVEL: 'debug',
    }),
  });
  expect(r.status).toBe(0);
  return {
    loaded: (JSON.parse(r.stdout) as string[]).map((m) => m.replace(/^NativeModule /, '')),
    stderr: r.stderr,
  };
}

describe('node: built-ins loaded at start', () => {
  it('the agent runs (it holds /metrics) without the built-ins it does not use yet', async () => {
    const { loaded, stderr } = await nodeLoads(true);
    expect(stderr).toContain('TAPWIRE_METRICS_LISTENING');
    // undici: Node's fetch, Headers and Response load it on first read of the global (it was read
    // for the Bun endpoint's Response). fs/promises, streams' readers, parseArgs, readline and
    // worker_threads: what building the ESM facade of fs, util and module reads.
    for (const name of [
      'internal/deps/undici/undici',
      'internal/fs/promises',
      'internal/fs/streams',
      'internal/util/parse_args/parse_args',
      'internal/readline/interface',
      'worker_threads',
      // node:v8 (heap statistics, read at the first collection) and the stream machinery it loads.
      'v8',
      'internal/heap_utils',
      // node:http: the endpoint holds its port with node:net and takes node:http at its first connection.
      'http',
      '_http_server',
      // node:dns: the port is bound at once (net.BoundSocket), not listened on through a lookup of its host.
      'dns',
    ]) {
      expect(loaded, name).not.toContain(name);
    }
  });

  // The app's own listen on the metrics port is heard on net.Server#listen's channel (Node >= 22.3),
  // not by wrapping it: a process that serves no /metrics (OTLP only, or metrics off) loads no node:net.
  it('without a /metrics endpoint, the agent loads no node:net', () => {
    const r = spawnSync(
      NODE,
      // The list is taken before process.stdout is read: a piped stdout is a net.Socket.
      [
        '--import',
        DIST_REGISTER,
        '-e',
        'const l = [...process.moduleLoadList]; process.stdout.write(JSON.stringify(l))',
      ],
      {
        encoding: 'utf8',
        env: {
          PATH: process.env.PATH,
          TMPDIR: process.env.TMPDIR,
          OTEL_METRICS_EXPORTER: 'none',
          TAPWIRE_ENV: 'test',
        },
      },
    );
    expect(r.status, r.stderr).toBe(0);
    const loaded = (JSON.parse(r.stdout) as string[]).map((m) => m.replace(/^NativeModule /, ''));
    expect(loaded).toContain('diagnostics_channel'); // the agent ran
    for (const name of ['net', 'stream', 'cluster']) expect(loaded, name).not.toContain(name);
  });

  // Reading the `performance` global loads node:perf_hooks (~1.4 ms and ~1.1 MB on Node 24): the
  // agent's end-of-process check (has it recorded anything?) read the wall clock through it.
  it('a process that measures nothing loads no node:perf_hooks, to its end', () => {
    const r = spawnSync(
      NODE,
      [
        '--import',
        DIST_REGISTER,
        '-e',
        "process.on('exit', () => require('node:fs').writeSync(1, JSON.stringify(process.moduleLoadList)))",
      ],
      { encoding: 'utf8', env: { PATH: process.env.PATH, TMPDIR: process.env.TMPDIR, TAPWIRE_ENV: 'test' } },
    );
    expect(r.status, r.stderr).toBe(0);
    const loaded = (JSON.parse(r.stdout) as string[]).map((m) => m.replace(/^NativeModule /, ''));
    expect(loaded).toContain('diagnostics_channel'); // the agent ran
    // Node's own start loads the performance binding and internal/perf/utils; perf_hooks is more.
    expect(
      loaded.filter((m) => m.includes('perf') && !/^Internal Binding performance$|perf\/utils$/.test(m)),
    ).toEqual([]);
  });

  it('a child beside its holder follows it without a listen of its own: no node:cluster, no node:dns', async () => {
    // A listen loads node:cluster (and child_process), and with a host node:dns: ~4 ms of CPU that
    // every child and worker paid before it found the port held. The port is bound at once
    // (net.BoundSocket), so a taken one is known before any of that is loaded (agent/endpoint.ts).
    const holder = await startApp({ runtime: 'node', file: join(FIXTURES, 'processes', 'server.mjs') });
    try {
      const { loaded, stderr } = await nodeLoads(true, holder.metricsPort, FIXTURES, true);
      expect(stderr).toContain('TAPWIRE_METRICS_FOLLOWING');
      for (const name of ['cluster', 'child_process', 'dns']) expect(loaded, name).not.toContain(name);
    } finally {
      await stopAll();
    }
  });

  it('a process started apart from the holder (the preload on its own command line) follows it the same way', async () => {
    const holder = await startApp({ runtime: 'node', file: join(FIXTURES, 'processes', 'server.mjs') });
    try {
      const { loaded, stderr } = await nodeLoads(true, holder.metricsPort, FIXTURES);
      expect(stderr).toContain('TAPWIRE_METRICS_FOLLOWING');
      expect(stderr).not.toContain('TAPWIRE_ERR_METRICS_PORT');
      for (const name of ['cluster', 'child_process', 'dns']) expect(loaded, name).not.toContain(name);
    } finally {
      await stopAll();
    }
  });
});

describe("V8's compile cache", () => {
  /** Runs `-e script` under the preload with TMPDIR and cwd in fresh folders; its stdout and what each folder holds after. */
  async function run(runtime: 'node' | 'bun', script: string, env: Record<string, string> = {}) {
    const root = mkdtempSync(join(tmpdir(), 'tapwire-cc-'));
    const tmp = join(root, 'tmp');
    const app = join(root, 'app');
    mkdirSync(tmp);
    mkdirSync(app);
    writeFileSync(join(app, 'package.json'), '{"name":"cc-app"}');
    try {
      const port = await freePort();
      const r = spawnSync(
        runtime === 'node' ? NODE : BUN,
        [runtime === 'node' ? '--import' : '--preload', DIST_REGISTER, '-e', script],
        {
          cwd: app,
          encoding: 'utf8',
          env: {
            PATH: process.env.PATH,
            TMPDIR: tmp,
            OTEL_EXPORTER_PROMETHEUS_PORT: String(port),
            TAPWIRE_ENV: 'test',
            ...env,
          },
        },
      );
      expect(r.status, r.stderr).toBe(0);
      return { stdout: r.stdout, tmp: readdirSync(tmp), app: readdirSync(app), tmpPath: tmp };
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }
  const dir = "process.stdout.write(String(require('node:module').getCompileCacheDir()))";

  it('node: is on, in the temporary directory, and writes nothing into the app folder', async () => {
    const r = await run('node', dir);
    expect(r.stdout.startsWith(join(r.tmpPath, 'node-compile-cache'))).toBe(true);
    expect(r.tmp).toEqual(['node-compile-cache']);
    expect(r.app).toEqual(['package.json']);
  });

  it('node: NODE_DISABLE_COMPILE_CACHE=1 keeps it off', async () => {
    const r = await run('node', dir, { NODE_DISABLE_COMPILE_CACHE: '1' });
    expect(r.stdout).toBe('undefined');
    expect(r.tmp).toEqual([]);
  });

  it('bun: is left alone (no folder is created)', async () => {
    const r = await run('bun', '0');
    expect(r.tmp).toEqual([]);
    expect(r.app).toEqual(['package.json']);
  });
});

describe('bun: the packages an app declares', () => {
  // Each was required at start (express ~57 ms, mysql2 ~30, pg ~10 on Bun 1.4.5) so that its hook
  // was in before the app imported it; now it is patched as the app loads it (agent/load.ts).
  it('are not loaded at start, and are patched when the app loads them (ESM and CommonJS)', async () => {
    const app = mkdtempSync(join(tmpdir(), 'tapwire-bun-deps-'));
    try {
      writeFileSync(
        join(app, 'package.json'),
        JSON.stringify({ name: 'deps-app', dependencies: { pg: '*', mysql2: '*', express: '*' } }),
      );
      symlinkSync(join(ROOT, 'node_modules'), join(app, 'node_modules'));
      // [pg's query wrapped by tapwire, the same pg for import and require, mysql2 and express usable]
      const report =
        "JSON.stringify([typeof pg.Client.prototype.query[Symbol.for('tapwire.original')], req('pg') === pg, typeof mysql.createPool, typeof express])";
      writeFileSync(
        join(app, 'esm.mjs'),
        "import pg from 'pg';\nimport mysql from 'mysql2';\nimport express from 'express';\n" +
          "import { createRequire } from 'node:module';\nconst req = createRequire(import.meta.url);\n" +
          `console.log(${report});\n`,
      );
      writeFileSync(
        join(app, 'cjs.cjs'),
        "const pg = require('pg');\nconst mysql = require('mysql2');\nconst express = require('express');\n" +
          `const req = require;\nimport('pg').then((m) => console.log(${report}, m.default === pg));\n`,
      );
      const run = async (...args: string[]) => {
        const port = await freePort();
        const r = spawnSync(BUN, ['--preload', DIST_REGISTER, ...args], {
          cwd: app,
          encoding: 'utf8',
          env: {
            PATH: process.env.PATH,
            TMPDIR: process.env.TMPDIR,
            OTEL_EXPORTER_PROMETHEUS_PORT: String(port),
            TAPWIRE_ENV: 'test',
          },
        });
        expect(r.status, r.stderr).toBe(0);
        return r.stdout.trim();
      };
      const loaded =
        'Object.keys(require.cache).filter((f) => /[\\\\/]node_modules[\\\\/](pg|mysql2|express)[\\\\/]/.test(f)).length';
      expect(await run('-e', `process.stdout.write(String(${loaded}))`)).toBe('0');
      expect(await run('esm.mjs')).toBe('["function",true,"function","function"]');
      expect(await run('cjs.cjs')).toBe('["function",true,"function","function"] true');
    } finally {
      rmSync(app, { recursive: true, force: true });
    }
  });
});

describe('the bundle', () => {
  // Every file of the start graph is a module the preload loads in every process, at a cost of its
  // own; scripts/build.mjs keeps the graph in one chunk beside the part `import 'tapwire'` shares.
  it('starts the agent from 3 files at most', () => {
    const dist = join(ROOT, 'dist');
    const graph = new Set<string>();
    const visit = (file: string): void => {
      if (graph.has(file)) return;
      graph.add(file);
      const text = readFileSync(join(dist, file), 'utf8');
      const statics = text.matchAll(/^(?:import|export)\b[^;]*?["'](\.[^"']+)["'];?$/gm);
      const starts = text.matchAll(/import\(["'](\.\/chunks\/[^"']+)["']\)/g);
      for (const m of [...statics, ...starts]) visit(join(dirname(file), m[1]!));
    };
    visit('register.js');
    // register.js, the chunk with start() (no facade re-exporting it: scripts/build.mjs,
    // skipFacade) and the configuration's chunk, which `import 'tapwire'` shares. (On Bun,
    // register.js imports dist/register-bun.js, Bun's file of the preload, by a name esbuild
    // leaves to the runtime: not reached from here.)
    expect([...graph].filter((f) => f.startsWith('chunks/')).length, [...graph].join(' ')).toBeGreaterThan(0);
    expect(graph.size, [...graph].join(' ')).toBeLessThanOrEqual(3);
  });

  // `tapwire/register` on Bun (package.json's `bun` condition): one file that imports nothing until
  // the agent starts, and then the same chunk with start() as register.js.
  it("bun: the preload's own file imports nothing, and names register.js's start chunk", () => {
    const dist = join(ROOT, 'dist');
    const bun = readFileSync(join(dist, 'register-bun.js'), 'utf8');
    expect(bun.match(/^(?:import|export)\b.*$/gm)).toBeNull();
    const start = /import\("\.\/(chunks\/[\w-]+\.js)"\)/.exec(
      readFileSync(join(dist, 'register.js'), 'utf8'),
    )?.[1];
    expect(start).toBeDefined();
    expect(bun).toContain(`"./${start}"`);
  });

  // One character outside ASCII, even in a comment, makes Node decode the whole file into a
  // two-byte string (twice the memory, the slow path); scripts/build.mjs escapes them.
  it('is ASCII only', () => {
    const dist = join(ROOT, 'dist');
    const files = readdirSync(dist, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.js'));
    expect(files.length).toBeGreaterThan(10);
    const offending = files.filter((f) => /[\u0080-\uffff]/.test(readFileSync(join(dist, f), 'latin1')));
    expect(offending).toEqual([]);
  });

  // Node's compile cache keeps only what V8 compiled with the file, and V8 compiles a function when
  // it is first called, unless it is written in parentheses: scripts/build.mjs (eagerStart) writes
  // the top-level functions start runs that way, so no process compiles them again. V8 says which
  // functions it compiled lazily (--log-function-events, which also keeps the cache out).
  it('node: the functions start runs are compiled with their files (none of them lazily)', async () => {
    const app = mkdtempSync(join(tmpdir(), 'tapwire-eager-'));
    try {
      writeFileSync(join(app, 'package.json'), '{ "name": "eager-app", "private": true }\n');
      const probe = join(app, 'start-probe.cjs');
      copyFileSync(join(ROOT, 'scripts/start-probe.cjs'), probe);
      const log = join(app, 'v8.log');
      const r = spawnSync(
        NODE,
        [
          '--log-function-events',
          '--no-logfile-per-isolate',
          `--logfile=${log}`,
          '--import',
          DIST_REGISTER,
          // The build's probe app (scripts/build.mjs): the loop turns until the agent's start and its
          // first-turn work have run.
          probe,
        ],
        { cwd: app, encoding: 'utf8', env: agentEnv(await freePort(), { TAPWIRE_ENV: 'production' }) },
      );
      expect(r.status, r.stderr).toBe(0);
      const scripts = new Map<string, string>();
      const lazy: string[] = [];
      const events = readFileSync(log, 'utf8').split('\n');
      for (const line of events) {
        const f = line.split(',');
        if (f[0] === 'script-details' && f[2]?.includes('/dist/')) scripts.set(f[1]!, new URL(f[2]).pathname);
      }
      expect([...scripts.values()].some((s) => s.includes('/chunks/'))).toBe(true);
      for (const line of events) {
        const f = line.split(',');
        const file = scripts.get(f[2]!);
        if (f[0] !== 'function' || f[1] !== 'interpreter' || file === undefined) continue;
        // A top-level declaration starts a line: `function name(` / `async function name(`.
        const text = readFileSync(file, 'utf8');
        const at = Number(f[3]);
        const head = text.slice(text.lastIndexOf('\n', at - 1) + 1, at);
        if (/^(?:async )?function\*? ?[\w$]+$/.test(head)) lazy.push(`${head} (${file})`);
      }
      expect(lazy).toEqual([]);
      const chunks = readdirSync(join(ROOT, 'dist/chunks')).map((n) =>
        readFileSync(join(ROOT, 'dist/chunks', n), 'utf8'),
      );
      expect(chunks.some((t) => t.includes('\nvar start = (async function start('))).toBe(true);
      expect(chunks.some((t) => t.includes('\nvar loadConfig = (function loadConfig('))).toBe(true);
    } finally {
      rmSync(app, { recursive: true, force: true });
    }
  });

  // JavaScriptCore compiles a code block once a loop in it has turned ~500 times; a loop at a chunk's
  // top level made that block the whole 240 kB chunk, compiled in every Bun process (10 ms of CPU,
  // Bun 1.4.5). JSC says what it compiles when BUN_JSC_reportBaselineCompileTimes is set.
  it("bun: no chunk's top-level code is compiled at start (no hot loop at a module's top level)", async () => {
    const app = mkdtempSync(join(tmpdir(), 'tapwire-jsc-'));
    try {
      writeFileSync(join(app, 'package.json'), '{ "name": "jsc-app", "private": true }\n');
      // A turn of the loop, which starts the agent (agent/defer-bun.ts).
      const r = spawnSync(BUN, ['--preload', DIST_REGISTER, '-e', 'setTimeout(() => {}, 1)'], {
        cwd: app,
        encoding: 'utf8',
        env: agentEnv(await freePort(), {
          TAPWIRE_ENV: 'production',
          BUN_JSC_reportBaselineCompileTimes: '1',
        }),
      });
      expect(r.status, r.stderr).toBe(0);
      const compiled = r.stderr.split('\n').filter((l) => l.startsWith('Optimized '));
      // The report is there (the agent's own small functions tier up at start), so its absence below means something.
      expect(compiled.length).toBeGreaterThan(0);
      expect(compiled.filter((l) => l.includes('LLIntModule') && l.includes('/dist/'))).toEqual([]);
    } finally {
      rmSync(app, { recursive: true, force: true });
    }
  });

  // Bun transpiles every file it loads unless the file says it is Bun-ready JavaScript already.
  it("the agent's files carry Bun's `// @bun` pragma (the CLI's do not: they start with a shebang)", () => {
    const dist = join(ROOT, 'dist');
    const files = readdirSync(dist, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.js'));
    // dist/bun/ is not the build's: `tapwire precompile` writes it, with pragmas of its own (tests/precompile.test.ts).
    const agent = files.filter((f) => !/(^|[\\/])cli[-\\/]/.test(f) && !/^bun[\\/]/.test(f));
    expect(agent).toContain('register.js');
    const without = agent.filter((f) => !readFileSync(join(dist, f), 'utf8').startsWith('// @bun\n'));
    expect(without).toEqual([]);
    expect(readFileSync(join(dist, 'cli/main.js'), 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
  });
});

describe('the AI measurement', () => {
  // dist/chunks/ai.js (recorder, stream and usage readers, price table) is a bundle entry loaded at
  // the first provider call (core/entries.ts): a process that calls none never loads it.
  for (const runtime of ['node', 'bun'] as const) {
    it(`${runtime}: loads at the first provider call, not at start, and measures that call`, async () => {
      const port = await freePort();
      const r = spawnSync(
        runtime === 'node' ? NODE : BUN,
        [runtime === 'node' ? '--import' : '--preload', DIST_REGISTER, join(FIXTURES, 'ai-on-demand.cjs')],
        {
          encoding: 'utf8',
          env: agentEnv(port, { TAPWIRE_AI_ENDPOINTS: '127.0.0.1=openai' }),
        },
      );
      expect(r.status, r.stderr).toBe(0);
      // What the process wrote, should it fail. (It failed once on Node in a full run: its stand-in's
      // port of 0 was given the metrics port, which the fixture now refuses.)
      expect(JSON.parse(r.stdout), `${r.stdout}\n${r.stderr}`).toMatchObject({
        before: false,
        after: true,
        count: '1',
      });
    });
  }
});

describe("the holder's merge and serializer", () => {
  // dist/chunks/holder.js (siblings' pushes merged, the page written) is a bundle entry loaded at
  // the first scrape or push (core/entries.ts): a process nobody scrapes never loads it; nor the
  // follower's pusher and spool (dist/chunks/follower.js), which a holder needs at its first scrape.
  for (const runtime of ['node', 'bun'] as const) {
    it(`${runtime}: load at the first scrape, not at start, and that scrape is whole`, async () => {
      const port = await freePort();
      const r = spawnSync(
        runtime === 'node' ? NODE : BUN,
        [
          runtime === 'node' ? '--import' : '--preload',
          DIST_REGISTER,
          join(FIXTURES, 'holder-on-demand.cjs'),
        ],
        {
          encoding: 'utf8',
          env: agentEnv(port),
        },
      );
      expect(r.status, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toEqual({
        before: false,
        held: false,
        after: true,
        info: 1,
        follower: [false, true],
      });
    });
  }
});

describe('the reading of SQL statements', () => {
  // dist/chunks/sql.js (core/db/sql.ts and its lexer) is a bundle entry loaded at the first
  // statement a database hook sees (core/entries.ts): a process that runs none never loads it.
  for (const runtime of ['node', 'bun'] as const) {
    it(`${runtime}: loads at the first statement, not at start, and that statement is measured`, async () => {
      const port = await freePort();
      const r = spawnSync(
        runtime === 'node' ? NODE : BUN,
        [runtime === 'node' ? '--import' : '--preload', DIST_REGISTER, join(FIXTURES, 'sql-on-demand.cjs')],
        { encoding: 'utf8', env: agentEnv(port) },
      );
      expect(r.status, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toEqual({ before: false, after: true, count: '3' });
    });
  }
});

describe('bun: a declared package loaded through the plugin', () => {
  /** Runs `file` in `app` on Bun, bare and under the preload; both stdouts. */
  async function both(app: string, file: string) {
    const out: string[] = [];
    for (const preload of [false, true]) {
      const port = await freePort();
      const r = spawnSync(BUN, [...(preload ? ['--preload', DIST_REGISTER] : []), file], {
        cwd: app,
        encoding: 'utf8',
        env: {
          PATH: process.env.PATH,
          TMPDIR: process.env.TMPDIR,
          OTEL_EXPORTER_PROMETHEUS_PORT: String(port),
          TAPWIRE_ENV: 'test',
        },
      });
      expect(r.status, r.stderr).toBe(0);
      out.push(r.stdout.trim());
    }
    return out;
  }

  it("has the same namespace for an import as Bun's own (express, koa)", async () => {
    const app = mkdtempSync(join(tmpdir(), 'tapwire-bun-ns-'));
    try {
      writeFileSync(
        join(app, 'package.json'),
        JSON.stringify({ name: 'ns-app', dependencies: { express: '*', koa: '*' } }),
      );
      symlinkSync(join(ROOT, 'node_modules'), join(app, 'node_modules'));
      writeFileSync(
        join(app, 'ns.mjs'),
        "import * as e from 'express';\nimport * as k from 'koa';\nconsole.log(JSON.stringify([Object.keys(e).sort(), Object.keys(k).sort(), typeof e.default, typeof k.default]));\n",
      );
      const [bare, under] = await both(app, 'ns.mjs');
      expect(under).toBe(bare);
    } finally {
      rmSync(app, { recursive: true, force: true });
    }
  });

  it('that is an ES module is handed to Bun as it is', async () => {
    const app = mkdtempSync(join(tmpdir(), 'tapwire-bun-esm-pkg-'));
    try {
      writeFileSync(
        join(app, 'package.json'),
        JSON.stringify({ name: 'esm-pkg-app', dependencies: { pg: '*' } }),
      );
      const pkg = join(app, 'node_modules', 'pg');
      mkdirSync(join(pkg, 'lib'), { recursive: true });
      writeFileSync(
        join(pkg, 'package.json'),
        JSON.stringify({ name: 'pg', type: 'module', main: 'lib/index.js' }),
      );
      writeFileSync(join(pkg, 'lib', 'index.js'), 'export class Client {}\nexport default { Client };\n');
      writeFileSync(
        join(app, 'app.mjs'),
        "import pg, { Client } from 'pg';\nconsole.log(typeof pg.Client, typeof Client);\n",
      );
      expect(await both(app, 'app.mjs')).toEqual(['function function', 'function function']);
    } finally {
      rmSync(app, { recursive: true, force: true });
    }
  });
});

/** A preload recording the built-ins a Bun process takes; they are written to $TAKEN at exit. */
function builtinsTrace(dir: string): string {
  const trace = join(dir, 'trace.mjs');
  writeFileSync(
    trace,
    'const taken = new Set();\nconst get = process.getBuiltinModule;\n' +
      'process.getBuiltinModule = function (id) { taken.add(id); return get.call(this, id); };\n' +
      "process.on('exit', () => require('node:fs').writeFileSync(process.env.TAKEN, JSON.stringify([...taken].sort())));\n",
  );
  return trace;
}

describe('bun: built-ins taken at start', () => {
  // Bun's node:util, node:net, node:http, node:perf_hooks and node:async_hooks are JavaScript
  // layers that cost memory and milliseconds to load (util ~5 MB and ~2.5 ms, net ~9 ms, http ~17 ms,
  // perf_hooks ~3.5 ms, async_hooks 1 to 12 ms on Bun 1.4.5); a process that does not use them does
  // not get them from tapwire (the runtime metrics take perf_hooks on the app's first turn of the
  // event loop, which `-e 0` never has).
  // node:fs too: Bun builds it on first use (~1.5 ms); the app's package.json is read through Bun.mmap.
  // And node:diagnostics_channel (1.4-3.5 ms): the subscriptions wait for a module that publishes
  // (core/channels.ts; tests/deferred-start.test.ts has what is taken later).
  it('are not node:util, node:net, node:http, node:perf_hooks, node:async_hooks, node:fs or node:diagnostics_channel', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tapwire-bun-builtins-'));
    try {
      const trace = builtinsTrace(dir);
      writeFileSync(join(dir, 'package.json'), '{"name":"builtins-app"}');
      const port = await freePort();
      // The service is named from that package.json all the same. The agent started as
      // `currentAgent()` starts it (its start waits otherwise: agent/defer.ts).
      const script =
        "globalThis[Symbol.for('tapwire.startNow')]('test'); process.stdout.write(globalThis[Symbol.for('tapwire.agent')].config.serviceName)";
      const r = spawnSync(BUN, ['--preload', trace, '--preload', DIST_REGISTER, '-e', script], {
        cwd: dir,
        encoding: 'utf8',
        env: {
          PATH: process.env.PATH,
          TMPDIR: process.env.TMPDIR,
          OTEL_EXPORTER_PROMETHEUS_PORT: String(port),
          TAPWIRE_ENV: 'test',
          TAKEN: join(dir, 'taken.json'),
        },
      });
      expect(r.status, r.stderr).toBe(0);
      const taken = JSON.parse(readFileSync(join(dir, 'taken.json'), 'utf8')) as string[];
      expect(r.stdout).toBe('builtins-app');
      expect(taken).toContain('node:module'); // the trace sees what tapwire takes
      for (const id of [
        'node:util',
        'node:net',
        'node:http',
        'node:perf_hooks',
        'node:async_hooks',
        'node:fs',
        'node:diagnostics_channel',
      ]) {
        expect(taken, id).not.toContain(id);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  // A process beside the holder of the port talks to it over Bun's own socket (Bun.connect), not
  // node:net (~6 ms to load, ~4 ms more per connection on Bun 1.4.5).
  it('a process beside its holder follows it without node:net', async () => {
    const holder = await startApp({
      runtime: 'bun',
      file: 'http-app.mjs',
      env: { OTEL_SERVICE_NAME: 'follow-test' },
    });
    const dir = mkdtempSync(join(tmpdir(), 'tapwire-bun-follower-'));
    try {
      const trace = builtinsTrace(dir);
      const r = spawnSync(
        BUN,
        ['--preload', trace, '--preload', DIST_REGISTER, '-e', 'setTimeout(() => {}, 300)'],
        {
          cwd: dir,
          encoding: 'utf8',
          env: agentEnv(holder.metricsPort, {
            OTEL_SERVICE_NAME: 'follow-test',
            LOG_LEVEL: 'debug',
            TAKEN: join(dir, 'taken.json'),
          }),
        },
      );
      expect(r.status, r.stderr).toBe(0);
      const following = `${r.stdout}\n${r.stderr}`
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { code?: string; holder_pid?: number })
        .find((l) => l.code === 'TAPWIRE_METRICS_FOLLOWING');
      expect(following?.holder_pid, r.stderr).toBe(holder.child.pid);
      const taken = JSON.parse(readFileSync(join(dir, 'taken.json'), 'utf8')) as string[];
      expect(taken).toContain('node:module');
      expect(taken).not.toContain('node:net');
    } finally {
      await holder.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('where the start went (TAPWIRE_STARTED, at debug level)', () => {
  // The phases without tapwire's own lines, and those lines (log_ms): together the whole start.
  const PHASES = ['load_ms', 'config_ms', 'setup_ms', 'hooks_ms', 'endpoint_ms', 'log_ms'];

  it.each([
    ['node', NODE, '--import'],
    ['bun', BUN, '--preload'],
  ] as const)(
    '%s: one line with each phase, the phases adding up to the total',
    async (runtime, bin, flag) => {
      const port = await freePort();
      // A script whose event loop turns once: on Node the agent starts then (agent/defer.ts).
      const run = (level: string | undefined, script = 'setTimeout(() => {}, 1)') =>
        spawnSync(bin, [flag, DIST_REGISTER, '-e', script], {
          encoding: 'utf8',
          env: agentEnv(port, level === undefined ? {} : { LOG_LEVEL: level }),
        });
      const r = run('debug');
      expect(r.status).toBe(0);
      const lines = jsonLines(r.stderr).filter((l) => l.code === 'TAPWIRE_STARTED');
      expect(lines).toHaveLength(1);
      const line = lines[0]!;
      expect(line.trigger).toBe('first turn');
      expect(line.level).toBe('debug');
      for (const key of ['runtime_ms', ...PHASES, 'total_ms']) {
        expect(typeof line[key], key).toBe('number');
        expect(line[key] as number, key).toBeGreaterThanOrEqual(0);
      }
      // Each figure is rounded to 0.1 ms.
      const sum = PHASES.reduce((a, k) => a + (line[k] as number), 0);
      expect(Math.abs(sum - (line.total_ms as number))).toBeLessThanOrEqual(0.3);
      // One figure per instrumentation of this runtime, all of them within hooks_ms.
      const hooks = line.hooks as Record<string, number>;
      expect(Object.keys(hooks).sort()).toEqual(
        INSTRUMENTATIONS.filter((i) => i.runtimes.includes(runtime))
          .map((i) => i.name)
          .sort(),
      );
      const hooksSum = Object.values(hooks).reduce((a, b) => a + b, 0);
      expect(hooksSum).toBeLessThanOrEqual(
        (line.hooks_ms as number) + 0.05 * Object.keys(hooks).length + 0.1,
      );
      expect(typeof line.precompiled).toBe(runtime === 'bun' ? 'boolean' : 'undefined');

      // Not said, nor timed, at the test profile's level.
      const quiet = run(undefined);
      expect(quiet.status).toBe(0);
      expect(quiet.stderr).not.toContain('TAPWIRE_STARTED');

      // `-e 0` never turns its loop: the agent never loads (nothing said at all).
      const e0 = run('debug', '0');
      expect(e0.status).toBe(0);
      expect(jsonLines(e0.stderr).map((l) => l.code)).toEqual([]);
    },
  );
});

describe('when /metrics opens', () => {
  // The port is tried at the first turn of the event loop, which `-e 0` never reaches (above). On
  // Bun, whose loop may accept the app's first connection before it runs that timer, the app's
  // first listen opens it at once: here the app listens and then keeps its loop from turning for
  // 3 s, and the metrics port accepts a connection meanwhile (the kernel queues it; it is answered
  // when the loop turns). Without that, it was refused.
  it("bun: the app's first listen opens it, before the loop turns", async () => {
    const port = await freePort();
    const metricsPort = await freePort();
    const script = [
      `const server = Bun.serve({ port: ${port}, hostname: '127.0.0.1', fetch: () => new Response('ok') });`,
      `process.stdout.write('listening\\n');`,
      'const until = Date.now() + 3000;',
      'while (Date.now() < until);',
      'server.stop(true);',
    ].join('\n');
    const child = spawn(BUN, ['--preload', DIST_REGISTER, '-e', script], {
      env: agentEnv(metricsPort),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => d.toString().includes('listening') && resolve());
      child.on('exit', () => reject(new Error('exited before listening')));
    });
    const connected = await new Promise<string>((resolve) => {
      const socket = connect(metricsPort, '127.0.0.1');
      socket.on('connect', () => {
        socket.destroy();
        resolve('connected');
      });
      socket.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
    });
    expect(connected).toBe('connected');
    expect(await exited).toBe(0);
  });
});
