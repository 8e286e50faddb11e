// The deferred start (agent/defer.ts, agent/defer-bun.ts): the preload loads the agent when the process first
// does something it measures, or when its event loop first turns. Each app here does that thing in
// its first synchronous run, before any turn, and then reads its own /metrics: the call that
// started the agent is counted exactly once, as it was when the agent started with the preload.
// The apps live in a folder of their own whose node_modules holds only what they import (no
// Hono: the plain wires, without the module hook that Hono's presence adds; the rest of the suite
// runs beside Hono).
import { spawn, spawnSync } from 'node:child_process';
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  agentEnv,
  BUN,
  DIST_REGISTER,
  freePort,
  jsonLines,
  NODE,
  parseMetrics,
  ROOT,
  runChannelsLate,
  value,
} from './support/index.js';

let app: string;
let target: Server;
let targetPort: number;

beforeAll(async () => {
  app = mkdtempSync(join(tmpdir(), 'tapwire-deferred-'));
  // pg declared: on Bun only declared packages are patched as they load, and waited for.
  writeFileSync(
    join(app, 'package.json'),
    '{ "name": "deferred-app", "private": true, "type": "module", "dependencies": { "pg": "*" } }\n',
  );
  mkdirSync(join(app, 'node_modules', '@opentelemetry'), { recursive: true });
  symlinkSync(
    join(ROOT, 'node_modules', '@opentelemetry', 'api'),
    join(app, 'node_modules', '@opentelemetry', 'api'),
  );
  symlinkSync(join(ROOT, 'node_modules', 'pg'), join(app, 'node_modules', 'pg'));
  // Not declared: Fastify publishes on a diagnostics channel, which needs no declaration.
  symlinkSync(join(ROOT, 'node_modules', 'fastify'), join(app, 'node_modules', 'fastify'));
  symlinkSync(ROOT, join(app, 'node_modules', 'tapwire'));
  target = createServer((_req, res) => res.end('ok'));
  targetPort = await new Promise<number>((resolve) =>
    target.listen(0, '127.0.0.1', () => resolve((target.address() as { port: number }).port)),
  );
});

afterAll(async () => {
  await new Promise((resolve) => target.close(resolve));
  rmSync(app, { recursive: true, force: true });
});

/**
 * Runs `body` (an ES module) under the preload; `then` (an expression awaited after a turn) ends it.
 * The app then prints its own /metrics and exits. Returns that page and the agent's lines.
 */
async function runApp(
  runtime: 'node' | 'bun',
  name: string,
  body: string,
  metricsPort: number,
): Promise<{ page: string; lines: Record<string, unknown>[]; stderr: string; code: number | null }> {
  const file = join(app, `${name}-${runtime}.mjs`);
  writeFileSync(
    file,
    [
      body,
      // After the app's own work: its /metrics, read from inside (tapwire's own traffic, not counted).
      'await new Promise((r) => setTimeout(r, 50));',
      `const page = await (await fetch('http://127.0.0.1:${metricsPort}/metrics')).text();`,
      "process.stdout.write(page + '\\n');",
      'process.exit(0);',
    ].join('\n'),
  );
  return runFile(runtime, file, metricsPort);
}

/** Runs `file` under the preload, at debug level; its stdout is `page`. Asynchronous: the targets answer from this process. */
async function runFile(
  runtime: 'node' | 'bun',
  file: string,
  metricsPort: number,
): Promise<{ page: string; lines: Record<string, unknown>[]; stderr: string; code: number | null }> {
  const child = spawn(
    runtime === 'node' ? NODE : BUN,
    [runtime === 'node' ? '--import' : '--preload', DIST_REGISTER, file],
    {
      cwd: app,
      env: agentEnv(metricsPort, { LOG_LEVEL: 'debug' }),
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  return { page: stdout, lines: jsonLines(stderr), stderr, code };
}

function trigger(lines: Record<string, unknown>[]): unknown {
  const started = lines.filter((l) => l.code === 'TAPWIRE_STARTED');
  expect(started).toHaveLength(1);
  return started[0]!.trigger;
}

/** The value of the sample whose line starts with `prefix` and has every label in `labels`. */
function sample(page: string, prefix: string, labels: string[]): number | undefined {
  const line = page
    .split('\n')
    .find((l) => l.startsWith(prefix) && labels.every((label) => l.includes(label)));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('node: a deferred start counts what started it', () => {
  it('an outbound node:http request made before the first turn', async () => {
    const port = await freePort();
    const r = await runApp(
      'node',
      'http-client',
      [
        "import http from 'node:http';",
        `await new Promise((resolve, reject) => http.get('http://127.0.0.1:${targetPort}/x', (res) => { res.resume(); res.on('end', resolve); }).on('error', reject));`,
      ].join('\n'),
      port,
    );
    expect(r.code, r.stderr).toBe(0);
    expect(trigger(r.lines)).toBe('channel http.client.request.created');
    expect(
      sample(r.page, 'http_client_request_duration_seconds_count{', [
        `server_port="${targetPort}"`,
        'status_code="200"',
      ]),
    ).toBe(1);
  });

  it('a fetch() made before the first turn', async () => {
    const port = await freePort();
    const r = await runApp(
      'node',
      'fetch',
      `await (await fetch('http://127.0.0.1:${targetPort}/y')).text();\nawait (await fetch('http://127.0.0.1:${targetPort}/z')).text();`,
      port,
    );
    expect(r.code, r.stderr).toBe(0);
    expect(trigger(r.lines)).toBe('channel undici:request:create');
    expect(
      sample(r.page, 'http_client_request_duration_seconds_count{', [
        `server_port="${targetPort}"`,
        'status_code="200"',
      ]),
    ).toBe(2);
  });

  it('node:sqlite statements run before the first turn', async () => {
    const port = await freePort();
    const r = await runApp(
      'node',
      'sqlite',
      [
        "import { DatabaseSync } from 'node:sqlite';",
        "const db = new DatabaseSync(':memory:');",
        "db.exec('CREATE TABLE jobs (id INTEGER)');",
        "const insert = db.prepare('INSERT INTO jobs (id) VALUES (?)');",
        'insert.run(1);',
        'insert.run(2);',
      ].join('\n'),
      port,
    );
    expect(r.code, r.stderr).toBe(0);
    expect(trigger(r.lines)).toBe('node:sqlite');
    const count = (operation: string) =>
      sample(r.page, 'db_client_operation_duration_seconds_count{', [
        'db_system_name="sqlite"',
        `db_operation_name="${operation}"`,
      ]);
    expect(count('CREATE')).toBe(1);
    expect(count('INSERT')).toBe(2);
  });

  it("the app's own @opentelemetry/api counter, made and added to before the first turn", async () => {
    const port = await freePort();
    const r = await runApp(
      'node',
      'otel-api',
      [
        "import { metrics } from '@opentelemetry/api';",
        "const jobs = metrics.getMeter('deferred-app').createCounter('jobs_done');",
        'jobs.add(3);',
      ].join('\n'),
      port,
    );
    expect(r.code, r.stderr).toBe(0);
    expect(trigger(r.lines)).toBe('@opentelemetry/api');
    expect(sample(r.page, 'jobs_done_total ', [])).toBe(3);
  });

  it('the app listening on the metrics port before the first turn: the app gets it', async () => {
    const port = await freePort();
    const r = await runApp(
      'node',
      'own-port',
      [
        "import http from 'node:http';",
        "const server = http.createServer((req, res) => res.end('app metrics\\n'));",
        `await new Promise((resolve) => server.listen(${port}, '127.0.0.1', resolve));`,
      ].join('\n'),
      port,
    );
    expect(r.code, r.stderr).toBe(0);
    expect(trigger(r.lines)).toBe('channel tracing:net.server.listen:asyncStart');
    // The app's own page, not tapwire's: tapwire gave the port up and said so.
    expect(r.page.trim()).toBe('app metrics');
    expect(r.lines.map((l) => l.code)).toContain('TAPWIRE_METRICS_PORT_YIELDED');
  });

  it('a package loaded, and tapwire itself imported', async () => {
    const port = await freePort();
    const pg = await runApp('node', 'package', "import pg from 'pg';\nvoid pg;", port);
    expect(pg.code, pg.stderr).toBe(0);
    expect(trigger(pg.lines)).toBe('module pg');
    const own = await runApp('node', 'logger', "import { logger } from 'tapwire';\nvoid logger;", port);
    expect(own.code, own.stderr).toBe(0);
    expect(trigger(own.lines)).toBe('tapwire imported');
  });

  it.each(['node', 'bun'] as const)(
    '%s: a script that never turns its loop loads nothing of the agent',
    async (runtime) => {
      const file = join(app, 'compute.mjs');
      writeFileSync(
        file,
        'let s = 0;\nfor (let i = 0; i < 1000; i++) s += i;\nprocess.stdout.write(String(s));\n',
      );
      const child = spawn(
        runtime === 'node' ? NODE : BUN,
        [runtime === 'node' ? '--import' : '--preload', DIST_REGISTER, file],
        {
          cwd: app,
          env: agentEnv(await freePort(), { LOG_LEVEL: 'debug' }),
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
      });
      child.stderr.on('data', (d: Buffer) => {
        err += d.toString();
      });
      expect(await new Promise((resolve) => child.on('exit', resolve))).toBe(0);
      expect(out).toBe('499500');
      expect(err).toBe('');
    },
  );
});

describe('bun: a deferred start counts what started it', () => {
  const clientCount = (page: string) =>
    sample(page, 'http_client_request_duration_seconds_count{', [
      `server_port="${targetPort}"`,
      'status_code="200"',
    ]);

  it('fetch() before the first turn', async () => {
    const r = await runApp(
      'bun',
      'fetch',
      `await (await fetch('http://127.0.0.1:${targetPort}/y')).text();\nawait (await fetch('http://127.0.0.1:${targetPort}/z')).text();`,
      await freePort(),
    );
    expect(r.code, r.stderr).toBe(0);
    expect(trigger(r.lines)).toBe('fetch');
    expect(clientCount(r.page)).toBe(2);
  });

  it('a node:http request before the first turn', async () => {
    const r = await runApp(
      'bun',
      'http-client',
      [
        "import http from 'node:http';",
        `await new Promise((resolve, reject) => http.get('http://127.0.0.1:${targetPort}/x', (res) => { res.resume(); res.on('end', resolve); }).on('error', reject));`,
      ].join('\n'),
      await freePort(),
    );
    expect(r.code, r.stderr).toBe(0);
    expect(trigger(r.lines)).toBe('builtin node:http');
    expect(clientCount(r.page)).toBe(1);
  });

  // Bun's runtime plugins see a require() of `node:http` but not one of `http` (Bun 1.4.5): that one
  // is seen by the wire on Module.prototype.require. Before it, a CommonJS app's request made in its
  // first tick went unmeasured (the agent started at the first turn, after the request's messages).
  it.each(['http', 'https', 'node:http'])(
    "a CommonJS app's require('%s') and a node:http request in its first tick",
    async (id) => {
      const metricsPort = await freePort();
      const file = join(app, `require-${id.replace(':', '-')}.cjs`);
      writeFileSync(
        file,
        [
          `require(${JSON.stringify(id)});`,
          "const http = require('node:http');",
          `http.get('http://127.0.0.1:${targetPort}/r', (res) => {`,
          '  res.resume();',
          "  res.on('end', async () => {",
          `    const page = await (await fetch('http://127.0.0.1:${metricsPort}/metrics')).text();`,
          '    process.stdout.write(page);',
          '    process.exit(0);',
          '  });',
          '});',
        ].join('\n'),
      );
      const r = await runFile('bun', file, metricsPort);
      expect(r.code, r.stderr).toBe(0);
      // A required `node:http` is seen by the plugin too: either names the same built-in.
      expect(trigger(r.lines)).toBe(id === 'node:http' ? 'builtin node:http' : `builtin ${id}`);
      expect(clientCount(r.page)).toBe(1);
    },
  );

  it('Bun.serve before the first turn: its first request', async () => {
    const r = await runApp(
      'bun',
      'serve',
      [
        "const server = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: () => new Response('hi') });",
        "await (await fetch('http://127.0.0.1:' + server.port + '/hello')).text();",
      ].join('\n'),
      await freePort(),
    );
    expect(r.code, r.stderr).toBe(0);
    expect(trigger(r.lines)).toBe('Bun.serve');
    expect(
      sample(r.page, 'http_server_request_duration_seconds_count{', [
        'http_request_method="GET"',
        'http_response_status_code="200"',
      ]),
    ).toBe(1);
  });

  it('bun:sqlite statements before the first turn', async () => {
    const r = await runApp(
      'bun',
      'sqlite',
      [
        "import { Database } from 'bun:sqlite';",
        "const db = new Database(':memory:');",
        "db.run('CREATE TABLE jobs (id INTEGER)');",
        "const insert = db.prepare('INSERT INTO jobs (id) VALUES (?)');",
        'insert.run(1);',
        'insert.run(2);',
      ].join('\n'),
      await freePort(),
    );
    expect(r.code, r.stderr).toBe(0);
    expect(trigger(r.lines)).toBe('builtin bun:sqlite');
    const count = (operation: string) =>
      sample(r.page, 'db_client_operation_duration_seconds_count{', [
        'db_system_name="sqlite"',
        `db_operation_name="${operation}"`,
      ]);
    expect(count('CREATE')).toBe(1);
    expect(count('INSERT')).toBe(2);
  });

  it("the app's own @opentelemetry/api counter before the first turn", async () => {
    const r = await runApp(
      'bun',
      'otel-api',
      [
        "import { metrics } from '@opentelemetry/api';",
        "metrics.getMeter('deferred-app').createCounter('jobs_done').add(3);",
      ].join('\n'),
      await freePort(),
    );
    expect(r.code, r.stderr).toBe(0);
    expect(trigger(r.lines)).toBe('@opentelemetry/api');
    expect(sample(r.page, 'jobs_done_total ', [])).toBe(3);
  });

  it('the app serving the metrics port before the first turn: the app gets it', async () => {
    const port = await freePort();
    const r = await runApp(
      'bun',
      'own-port',
      `Bun.serve({ port: ${port}, hostname: '127.0.0.1', fetch: () => new Response('app metrics\\n') });`,
      port,
    );
    expect(r.code, r.stderr).toBe(0);
    expect(trigger(r.lines)).toBe('Bun.serve');
    expect(r.page.trim()).toBe('app metrics');
    expect(r.lines.map((l) => l.code)).toContain('TAPWIRE_METRICS_PORT_YIELDED');
  });

  it('a declared package, patched as it loads, and tapwire itself imported', async () => {
    const port = await freePort();
    const pg = await runApp(
      'bun',
      'package',
      "import pg from 'pg';\nconst { originalOf } = { originalOf: (f) => f[Symbol.for('tapwire.original')] };\nprocess.stderr.write(JSON.stringify({ code: 'PG', patched: typeof originalOf(pg.Client.prototype.query) === 'function' }) + '\\n');",
      port,
    );
    expect(pg.code, pg.stderr).toBe(0);
    expect(trigger(pg.lines)).toBe('module pg');
    expect(pg.lines.find((l) => l.code === 'PG')?.patched).toBe(true);
    // tapwire's logger takes node:diagnostics_channel as it loads, before it asks for the agent.
    const own = await runApp('bun', 'logger', "import { logger } from 'tapwire';\nvoid logger;", port);
    expect(own.code, own.stderr).toBe(0);
    expect(trigger(own.lines)).toBe('builtin node:diagnostics_channel');
  });
});

// What the deferred start does when the agent cannot be there: the app's package loads as without
// tapwire (on Bun, the runtime plugin that waited for it hands its file over itself).

// On Bun the agent's diagnostics-channel subscriptions wait until the app takes a module through
// which something publishes on them (core/channels.ts): an app on Bun.serve alone never loads
// node:diagnostics_channel for tapwire (1.4-3.5 ms and ~1 MB on Bun 1.4.5). What the app takes
// later is measured from its first message. Here the agent starts at Bun.serve (a deferred start);
// tests/db-redis.test.ts has ioredis taken after a start with the preload.
describe('bun: diagnostics channels wait for the module that publishes', () => {
  const series = (page: string) => parseMetrics(page);

  it.each([
    ['import', '/a', 3],
    ['builtin', '/b', 2],
  ] as const)(
    'node:http taken after the start (%s): its client requests, each counted',
    async (how, _path, n) => {
      const r = runChannelsLate(app, how, await freePort());
      expect(trigger(r.lines)).toBe('Bun.serve');
      expect(r.before).not.toContain('node:diagnostics_channel');
      expect(r.after).toContain('node:diagnostics_channel');
      const samples = series(r.page);
      const client = samples.filter((s) => s.name === 'http_client_request_duration_seconds_count');
      expect(
        client.map((s) => [s.labels.http_request_method, s.labels.http_response_status_code, s.value]),
      ).toEqual([['GET', '200', n]]);
      expect(
        samples
          .filter((s) => s.name === 'http_server_request_duration_seconds_count')
          .reduce((a, s) => a + s.value, 0),
      ).toBe(n);
    },
  );

  it("Fastify loaded after the start: its route's template on each request", async () => {
    const r = runChannelsLate(app, 'fastify', await freePort());
    expect(trigger(r.lines)).toBe('Bun.serve');
    expect(r.before).not.toContain('node:diagnostics_channel');
    expect(
      value(parseMetrics(r.page), 'http_server_request_duration_seconds_count', {
        http_request_method: 'GET',
        http_response_status_code: '200',
        http_route: '/users/:id',
        url_scheme: 'http',
      }),
    ).toBe(2);
  });
});
describe.each(['node', 'bun'] as const)('%s: no agent to start', (runtime) => {
  const bin = runtime === 'node' ? NODE : BUN;
  const flag = runtime === 'node' ? '--import' : '--preload';

  it('agent code that fails to load, or the agent off: the package still loads, unpatched; a failure is said once', async () => {
    // A copy of the package whose chunks throw as they load: the agent's code cannot load.
    const dist = mkdtempSync(join(tmpdir(), 'tapwire-broken-dist-'));
    try {
      cpSync(join(ROOT, 'dist'), dist, { recursive: true });
      for (const f of readdirSync(join(dist, 'chunks'))) {
        const file = join(dist, 'chunks', f);
        writeFileSync(file, `throw new Error('sabotaged chunk');\n${readFileSync(file, 'utf8')}`);
      }
      writeFileSync(
        join(app, 'broken-import.mjs'),
        "import pg from 'pg';\nconsole.log(JSON.stringify({ client: typeof pg.Client, pool: typeof pg.Pool }));\n",
      );
      writeFileSync(
        join(app, 'broken-require.cjs'),
        "const pg = require('pg');\nconsole.log(JSON.stringify({ client: typeof pg.Client, pool: typeof pg.Pool }));\n",
      );
      for (const file of ['broken-import.mjs', 'broken-require.cjs']) {
        const r = spawnSync(bin, [flag, join(dist, 'register.js'), file], {
          cwd: app,
          env: agentEnv(await freePort()),
          encoding: 'utf8',
        });
        expect(r.status, `${file}: ${r.stderr}`).toBe(0);
        expect(JSON.parse(r.stdout), file).toEqual({ client: 'function', pool: 'function' });
        const own = jsonLines(r.stderr).filter((l) => l.component === 'tapwire');
        expect(
          own.map((l) => l.code),
          r.stderr,
        ).toEqual(['TAPWIRE_ERR_START']);
      }
      // The agent off: its code loads, and hands nothing over; the file goes unpatched too.
      const off = spawnSync(bin, [flag, DIST_REGISTER, 'broken-import.mjs'], {
        cwd: app,
        env: agentEnv(await freePort(), { OTEL_SDK_DISABLED: 'true' }),
        encoding: 'utf8',
      });
      expect(off.status, off.stderr).toBe(0);
      expect(JSON.parse(off.stdout)).toEqual({ client: 'function', pool: 'function' });
      expect(jsonLines(off.stderr).filter((l) => l.component === 'tapwire')).toEqual([]);
    } finally {
      rmSync(dist, { recursive: true, force: true });
    }
  });
});
