// Redis clients under the preload against a real redis-server started here (temp dir, free port,
// no persistence): ioredis and node-redis on Node (ESM and CommonJS) and Bun, Bun's built-in
// RedisClient on Bun. Exact counts per operation and error type from /metrics, the complete set
// of Redis series (so no key or value can hide in a label), the app's results and errors compared
// with a run without the preload, and the slow-operation log with TAPWIRE_DB_SLOW_MS=0.
//
// What each library lets us see (tests/fixtures/redis-scenario.mjs runs the same operations):
// - ioredis publishes a batch only for MULTI; a plain pipeline is measured per command (its SET,
//   GET and INCR show up as SET/GET/INCR). Its QUIT is a command of its own.
// - node-redis publishes pipelines (execAsPipeline) as one batch (PIPELINE) and MULTI as one
//   batch; QUIT/close() publishes nothing.
// - Bun's RedisClient is measured per command method (agent/db/redis/bun.ts).
// Connection refused:
// - ioredis rejects the command ("Connection is closed.") before it publishes anything (its
//   tracing wraps only commands written to a writable stream), so nothing is recorded.
// - node-redis: connect() fails with ECONNREFUSED (a connection attempt, not an operation); the
//   command that follows is rejected by the library with ClientClosedError and recorded so.
// - Bun's RedisClient rejects the command itself with code ERR_REDIS_CONNECTION_CLOSED.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  agentEnv,
  BUN,
  DIST_REGISTER,
  freePort,
  jsonLines,
  parseMetrics,
  promtoolCheckMetrics,
  ROOT,
  type Runtime,
  runChannelsLate,
  startApp,
  stopAll,
} from './support/index.js';

let dir = '';
let redisPort = 0;
let redis: ChildProcess | undefined;

/** Sends PING over a fresh connection; true when the server answers +PONG. */
function ping(port: number): Promise<boolean> {
  return new Promise((resolvePing) => {
    const socket = connect(port, '127.0.0.1');
    let got = '';
    socket.setTimeout(1000, () => socket.destroy());
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (d) => {
      got += d.toString();
      if (got.includes('\r\n')) socket.end();
    });
    socket.on('close', () => resolvePing(got.startsWith('+PONG')));
    socket.on('error', () => {});
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tapwire-redis-'));
  redisPort = await freePort();
  redis = spawn(
    '/usr/bin/redis-server',
    ['--port', String(redisPort), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  for (let i = 0; i < 300; i++) {
    if (await ping(redisPort)) return;
    if (redis.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('redis-server did not start');
}, 60_000);

afterEach(async () => {
  await stopAll();
});

afterAll(async () => {
  await stopAll();
  if (redis !== undefined && redis.exitCode === null) {
    redis.kill('SIGTERM');
    await once(redis, 'exit');
  }
  rmSync(dir, { recursive: true, force: true });
});

type Client = 'ioredis' | 'node-redis' | 'bun';

/** [db_operation_name, error_type ('' when none), count] against the server, database index 2. */
const COMMON: Array<[string, string, number]> = [
  ['HSET', '', 1],
  ['HGETALL', '', 1],
  ['LPUSH', '', 1],
  ['GET', 'WRONGTYPE', 1],
  ['DEL', '', 1],
];
const EXPECTED: Record<Client, Array<[string, string, number]>> = {
  // The pipeline's SET, GET, INCR are measured one by one (no batch event for plain pipelines).
  ioredis: [['SET', '', 4], ['GET', '', 3], ['INCR', '', 1], ['MULTI', '', 1], ['QUIT', '', 1], ...COMMON],
  'node-redis': [['SET', '', 3], ['GET', '', 2], ['PIPELINE', '', 1], ['MULTI', '', 1], ...COMMON],
  bun: [['SET', '', 3], ['GET', '', 2], ...COMMON],
};
/** error_type of the GET against a port nothing listens on (database index 0), if recorded. */
const REFUSED: Record<Client, string | undefined> = {
  ioredis: undefined,
  'node-redis': 'ClientClosedError',
  bun: 'ERR_REDIS_CONNECTION_CLOSED',
};

const CASES: Array<[Runtime, string, Client]> = [
  ['node', 'redis-app.mjs', 'ioredis'],
  ['node', 'redis-app.cjs', 'ioredis'],
  ['node', 'redis-app.mjs', 'node-redis'],
  ['node', 'redis-app.cjs', 'node-redis'],
  ['bun', 'redis-app.mjs', 'ioredis'],
  ['bun', 'redis-app.mjs', 'node-redis'],
  ['bun', 'redis-app.mjs', 'bun'],
  ['bun', 'redis-app.cjs', 'bun'],
];

/** Every Redis series as `label=value,…` (sorted) -> count. */
function redisSeries(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of parseMetrics(text)) {
    if (s.name !== 'db_client_operation_duration_seconds_count' || s.labels.db_system_name !== 'redis')
      continue;
    const key = Object.keys(s.labels)
      .sort()
      .map((k) => `${k}=${s.labels[k]}`)
      .join(',');
    out[key] = s.value;
  }
  return out;
}

function key(labels: Record<string, string>): string {
  return Object.keys(labels)
    .filter((k) => labels[k] !== '')
    .sort()
    .map((k) => `${k}=${labels[k]}`)
    .join(',');
}

async function body(url: string): Promise<unknown> {
  const res = await fetch(url);
  const text = await res.text();
  expect(res.status, text).toBe(200);
  return JSON.parse(text);
}

describe.each(CASES)('Redis under the preload (%s, %s, %s)', (runtime, file, client) => {
  it('counts each command and batch exactly, with all labels; errors typed and unchanged; slow log sanitised', async () => {
    const refusedPort = String(await freePort());
    const env = { CLIENT: client, REDIS_PORT: String(redisPort), REFUSED_PORT: refusedPort };
    const bare = await startApp({ runtime, file, preload: false, env });
    const bareRun = await body(bare.url('/run'));
    const bareRefused = await body(bare.url('/refused'));
    await bare.stop();

    const app = await startApp({ runtime, file, env: { ...env, TAPWIRE_DB_SLOW_MS: '0' } });
    const run = (await body(app.url('/run'))) as { wrongtype: Record<string, unknown> };
    const refused = (await body(app.url('/refused'))) as { error?: Record<string, unknown> };
    // The app sees exactly what it saw without the preload: results, error class, name, message, code.
    expect(run).toEqual(bareRun);
    expect(refused).toEqual(bareRefused);
    expect(run.wrongtype.message).toBe('WRONGTYPE Operation against a key holding the wrong kind of value');
    expect(refused.error).toBeDefined();

    const text = await app.metrics();
    const server = { db_system_name: 'redis', server_address: '127.0.0.1', server_port: String(redisPort) };
    const want: Record<string, number> = {};
    for (const [op, errorType, n] of EXPECTED[client]) {
      want[key({ ...server, db_namespace: '2', db_operation_name: op, error_type: errorType })] = n;
    }
    const refusedType = REFUSED[client];
    if (refusedType !== undefined) {
      const labels = { ...server, server_port: refusedPort, db_namespace: '0' };
      want[key({ ...labels, db_operation_name: 'GET', error_type: refusedType })] = 1;
    }
    // The complete set: exact counts, exact label sets, nothing else (no key or value anywhere).
    expect(redisSeries(text)).toEqual(want);
    expect(promtoolCheckMetrics(text)).toEqual({ status: 0, output: '' });

    // TAPWIRE_DB_SLOW_MS=0: one warn line per measured operation, command name and `?`s only.
    const slow = jsonLines(app.stderr()).filter((l) => l.code === 'TAPWIRE_DB_SLOW');
    const total = Object.values(want).reduce((a, b) => a + b, 0);
    expect(slow).toHaveLength(total);
    const perOp: Record<string, number> = {};
    for (const line of slow) {
      expect(line).toMatchObject({ level: 'warn', 'db.system.name': 'redis' });
      const op = line['db.operation.name'] as string;
      const statement = line['db.query.text'] as string;
      expect(statement).toMatch(/^[A-Z]+( \?)*$/);
      expect(statement.split(' ')[0]).toBe(op);
      expect(typeof line.duration_ms).toBe('number');
      const k = `${op}${line['error.type'] === undefined ? '' : `{${line['error.type']}}`}`;
      perOp[k] = (perOp[k] ?? 0) + 1;
    }
    const wantPerOp: Record<string, number> = {};
    for (const [op, errorType, n] of EXPECTED[client]) {
      const k = `${op}${errorType === '' ? '' : `{${errorType}}`}`;
      wantPerOp[k] = (wantPerOp[k] ?? 0) + n;
    }
    if (refusedType !== undefined)
      wantPerOp[`GET{${refusedType}}`] = (wantPerOp[`GET{${refusedType}}`] ?? 0) + 1;
    expect(perOp).toEqual(wantPerOp);
    // Spot checks of the statement shapes: arguments counted, never shown.
    const statements = new Set(slow.map((l) => l['db.query.text']));
    expect(statements).toContain('SET ? ?');
    expect(statements).toContain('HSET ? ? ?');
    expect(statements).toContain('DEL ? ? ? ? ? ? ?');
    // Nothing tapwire wrote carries the values the app stored.
    expect(app.stderr()).not.toContain('wrong kind of value');
  }, 60_000);
});

it('operations faster than TAPWIRE_DB_SLOW_MS are not logged as slow', async () => {
  const app = await startApp({
    runtime: 'node',
    file: 'redis-app.mjs',
    env: {
      CLIENT: 'ioredis',
      REDIS_PORT: String(redisPort),
      REFUSED_PORT: String(await freePort()),
      TAPWIRE_DB_SLOW_MS: '60000',
    },
  });
  await body(app.url('/run'));
  const text = await app.metrics();
  expect(Object.keys(redisSeries(text)).length).toBeGreaterThan(0);
  expect(app.stderr()).not.toContain('TAPWIRE_DB_SLOW');
}, 60_000);

/** Every db_client_operation_duration_seconds_count series and the overflow counter, as `labels -> count`. */
function dbCounts(text: string): { series: Record<string, number>; overflow: number } {
  const series: Record<string, number> = {};
  let overflow = 0;
  for (const s of parseMetrics(text)) {
    if (s.name === 'tapwire_cardinality_overflow_total') overflow += s.value;
    if (s.name === 'db_client_operation_duration_seconds_count') series[key(s.labels)] = s.value;
  }
  return { series, overflow };
}

// An app that makes a client per request: every client has the same settings, so all of them are
// one label set. Regression: Bun's RedisClient got a target object per client, the series cache is
// keyed by target identity, and past 2,000 clients every operation went to the overflow series.
describe.each([
  ['node', 'ioredis'],
  ['bun', 'ioredis'],
  ['bun', 'bun'],
] as const)('5,000 short-lived clients (%s, %s)', (runtime, driver) => {
  it('are one series with the exact count and no overflow', async () => {
    const app = await startApp({
      runtime,
      file: 'db-many-clients.mjs',
      env: { DRIVER: driver, REDIS_PORT: String(redisPort) },
    });
    const res = await fetch(app.url('/run?n=5000&c=20'));
    expect(await res.text()).toBe('done');
    const server = { db_system_name: 'redis', server_address: '127.0.0.1', server_port: String(redisPort) };
    expect(dbCounts(await app.metrics())).toEqual({
      series: { [key({ ...server, db_namespace: '0', db_operation_name: 'GET' })]: 5000 },
      overflow: 0,
    });
  }, 120_000);
});

// A command the app does not await fails: its rejection must stay unhandled, so the app's own
// 'unhandledRejection' handler sees it, as without tapwire. Regression: the Bun client hook attached
// its own rejection handler to the promise it handed back, which marked the rejection handled.
it("bun RedisClient: a failed command the app did not await still reaches the app's unhandledRejection", async () => {
  const env = { REDIS_PORT: String(redisPort) };
  const bare = await startApp({
    runtime: 'bun',
    file: 'redis-unhandled.mjs',
    preload: false,
    env,
    ready: false,
  });
  expect((await bare.exited).code).toBe(0);
  const app = await startApp({ runtime: 'bun', file: 'redis-unhandled.mjs', env, ready: false });
  expect((await app.exited).code).toBe(0);
  const seen = [
    { name: 'RedisError', code: 'ERR_REDIS_SERVER_ERROR', message: 'ERR' },
    { name: 'RedisError', code: 'ERR_REDIS_SERVER_ERROR', message: 'WRONGTYPE' },
  ];
  expect(JSON.parse(bare.stdout())).toEqual(seen);
  expect(JSON.parse(app.stdout())).toEqual(seen);
}, 60_000);

// A Bun process's agent starts at the first command or client, when nothing else started it before
// (agent/defer-bun.ts): those commands are counted, on the server the client was made for.
it('bun RedisClient: commands before the first turn start the agent and are counted, per client', async () => {
  const metricsPort = await freePort();
  const file = join(dir, 'redis-deferred.mjs');
  writeFileSync(
    file,
    [
      "import { redis, RedisClient } from 'bun';",
      `const client = new RedisClient('redis://127.0.0.1:${redisPort}/3');`,
      "await client.set('deferred:a', '1');",
      "await client.get('deferred:a');",
      "await redis.set('deferred:b', '2');",
      'await new Promise((r) => setTimeout(r, 50));',
      `const page = await (await fetch('http://127.0.0.1:${metricsPort}/metrics')).text();`,
      "process.stdout.write(page + '\\n');",
      'process.exit(0);',
    ].join('\n'),
  );
  const child = spawn(BUN, ['--preload', DIST_REGISTER, file], {
    cwd: dir,
    env: agentEnv(metricsPort, { LOG_LEVEL: 'debug', REDIS_URL: `redis://127.0.0.1:${redisPort}/4` }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const [code] = (await once(child, 'exit')) as [number | null];
  expect(code, err).toBe(0);
  const started = jsonLines(err).filter((l) => l.code === 'TAPWIRE_STARTED');
  expect(started.map((l) => l.trigger)).toEqual(['RedisClient']);
  const count = (operation: string, namespace: string) =>
    parseMetrics(out).find(
      (m) =>
        m.name === 'db_client_operation_duration_seconds_count' &&
        m.labels.db_operation_name === operation &&
        m.labels.db_namespace === namespace &&
        m.labels.server_port === String(redisPort),
    )?.value;
  expect(count('SET', '3')).toBe(1);
  expect(count('GET', '3')).toBe(1);
  expect(count('SET', '4')).toBe(1);
});

// The command methods' wrappers (agent/bun-redis-wires.ts) are laid once: the deferred start's are
// kept when the agent starts and measures through them, and every method keeps the name and length
// it has without tapwire; with the agent off they are taken off at the start, leaving the originals.
it('bun RedisClient: one set of wrappers from the preload to the agent, names and lengths as without tapwire', async () => {
  const file = join(dir, 'redis-wires.mjs');
  writeFileSync(
    file,
    [
      "import { spawnSync } from 'node:child_process';",
      "import { types } from 'node:util';",
      'const proto = Bun.RedisClient.prototype;',
      'const shape = () => Object.fromEntries(Object.getOwnPropertyNames(proto).flatMap((n) => {',
      '  const d = Object.getOwnPropertyDescriptor(proto, n);',
      "  return typeof d.value === 'function' ? [[n, [d.value.name, d.value.length]]] : [];",
      '}));',
      'const methods = () => Object.getOwnPropertyNames(proto).filter((n) => n !== "constructor" && typeof Object.getOwnPropertyDescriptor(proto, n).value === "function");',
      '// A method is the original while it is not a Proxy (the wrappers are Proxies of the originals).',
      'const native = () => methods().filter((n) => !types.isProxy(proto[n])).length;',
      'const before = { shape: shape(), native: native(), get: proto.get };',
      'await new Promise((r) => setTimeout(r, 20));',
      'const after = { shape: shape(), native: native(), same: proto.get === before.get };',
      'process.stdout.write(JSON.stringify({ before: { shape: before.shape, native: before.native }, after }));',
    ].join('\n'),
  );
  const run = async (preload: boolean, env: Record<string, string> = {}) => {
    const app = await startApp({
      runtime: 'bun',
      file,
      cwd: dir,
      preload,
      ready: false,
      env: { LOG_LEVEL: 'debug', ...env },
    });
    const { code } = await app.exited;
    expect(code, app.stderr()).toBe(0);
    return {
      ...JSON.parse(app.stdout()),
      started: jsonLines(app.stderr()).filter((l) => l.code === 'TAPWIRE_STARTED'),
    };
  };
  const bare = await run(false);
  const all = Object.keys(bare.before.shape).length - 1; // less the constructor
  expect(all).toBeGreaterThan(150);
  expect(bare.before.native).toBe(all);

  // Deferred, then started at the first turn: the same wrappers before and after.
  const agent = await run(true);
  expect(agent.started.map((l: { trigger: string }) => l.trigger)).toEqual(['first turn']);
  expect(agent.before.shape).toEqual(bare.before.shape);
  expect(agent.after.shape).toEqual(bare.before.shape);
  expect(agent.before.native).toBe(0);
  expect(agent.after).toMatchObject({ native: 0, same: true });

  // The agent off: its start hands the methods back.
  const off = await run(true, { OTEL_SDK_DISABLED: 'true' });
  expect(off.before.native).toBe(0);
  expect(off.after).toMatchObject({ native: all, same: false });
  expect(off.after.shape).toEqual(bare.before.shape);
});

// On Bun the agent's diagnostics-channel subscriptions wait until the app takes a module that can
// publish on them (core/channels.ts). ioredis takes node:diagnostics_channel through
// process.getBuiltinModule() as it loads: an app on Bun.serve that imports it later has each of its
// commands counted. The app folder declares undici, so the agent starts with the preload (not
// deferred; tests/deferred-start.test.ts has the deferred start).
it('bun: ioredis imported after the start of a Bun.serve app: each command counted', async () => {
  const app = mkdtempSync(join(dir, 'late-'));
  writeFileSync(
    join(app, 'package.json'),
    '{ "name": "late-app", "private": true, "dependencies": { "undici": "*" } }\n',
  );
  symlinkSync(join(ROOT, 'node_modules'), join(app, 'node_modules'));
  const r = runChannelsLate(app, 'ioredis', await freePort(), { REDIS_PORT: String(redisPort) });
  expect(r.lines.find((l) => l.code === 'TAPWIRE_STARTED')?.trigger).toBeUndefined();
  expect(r.before).not.toContain('node:diagnostics_channel');
  expect(r.after).toContain('node:diagnostics_channel');
  const server = { db_system_name: 'redis', server_address: '127.0.0.1', server_port: String(redisPort) };
  expect(redisSeries(r.page)).toEqual({
    [key({ ...server, db_namespace: '3', db_operation_name: 'SET' })]: 1,
    [key({ ...server, db_namespace: '3', db_operation_name: 'GET' })]: 2,
  });
}, 60_000);
