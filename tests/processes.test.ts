// One host, several processes, one /metrics: the shapes services are started in. A launcher above
// the app (npm start, npx under NODE_OPTIONS), node:cluster workers (2 and 4, ESM and CommonJS), a
// PM2 cluster, Bun processes sharing a port (reusePort), an app spawning short children. Each time
// the one endpoint shows every request exactly once, per-process series carry `tapwire_process`,
// and no process but the holder writes a line above debug. A worker killed mid-traffic and
// replaced never makes a counter go backwards.
import { spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { connect, createServer } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  agentEnv,
  BUN,
  DIST_REGISTER,
  FIXTURES,
  find,
  freePort,
  hit,
  jsonLines,
  NODE,
  parseMetrics,
  ROOT,
  type Runtime,
  type Sample,
  scrape,
  startApp,
  stopAll,
  sum,
  value,
} from './support/index.js';

const DIR = join(FIXTURES, 'processes');
const COUNT = 'http_server_request_duration_seconds_count';
const BIN = join(ROOT, 'node_modules/.bin');

afterEach(stopAll);

/** Scrapes until `done` holds for the samples (pushes arrive every second), or fails with the last page. */
async function until(metricsPort: number, done: (s: Sample[]) => boolean, what: string): Promise<Sample[]> {
  let last = '';
  for (let i = 0; i < 100; i++) {
    try {
      last = await scrape(metricsPort);
      const s = parseMetrics(last);
      if (done(s)) return s;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what} never held; last /metrics:\n${last}`);
}

/** The per-process slots the endpoint shows (tapwire_agent_info{tapwire_process}). */
function slots(s: Sample[]): string[] {
  return s
    .filter((x) => x.name === 'tapwire_agent_info')
    .map((x) => x.labels.tapwire_process!)
    .sort();
}

/** Lines above debug from processes other than `holderPid`. */
function loudSiblings(stderr: string, holderPid: number | undefined): Record<string, unknown>[] {
  return jsonLines(stderr).filter(
    (l) => l.component === 'tapwire' && l.pid !== holderPid && l.level !== 'debug',
  );
}

const TRAFFIC = 20;

/** `runtime` running `code` (`-e`) under the preload: spawn's command and arguments. */
function preloaded(runtime: Runtime, code: string): [string, string[]] {
  return runtime === 'node'
    ? [NODE, ['--import', DIST_REGISTER, '-e', code]]
    : [BUN, ['--preload', DIST_REGISTER, '-e', code]];
}

/** Two SQLite statements (CREATE and INSERT on table t) in the runtime's own driver. */
function twoStatements(runtime: Runtime): string {
  return runtime === 'bun'
    ? "const { Database } = require('bun:sqlite'); const db = new Database(':memory:'); db.run('CREATE TABLE t (x)'); db.query('INSERT INTO t VALUES (1)').run();"
    : "const { DatabaseSync } = require('node:sqlite'); const db = new DatabaseSync(':memory:'); db.exec('CREATE TABLE t (x)'); db.prepare('INSERT INTO t VALUES (1)').run();";
}

/** `runtime` with twoStatements() under the preload that ends when its stdin ends: a holder to stop. */
function stoppable(runtime: Runtime, env: Record<string, string | undefined>) {
  const child = spawn(
    ...preloaded(
      runtime,
      `${twoStatements(runtime)} process.stdin.on('end', () => process.exit(0)); process.stdin.resume();`,
    ),
    { cwd: FIXTURES, env, stdio: ['pipe', 'ignore', 'ignore'] },
  );
  const ended = new Promise((resolve) => child.on('exit', resolve));
  return { child, ended };
}

/**
 * `runtime` with twoStatements() under the preload that, given a line on stdin, blocks in
 * execFileSync until the file `flag` exists, then inserts once more and lives on.
 */
function blockable(runtime: Runtime, env: Record<string, string | undefined>, flag: string) {
  const insert =
    runtime === 'bun'
      ? "db.query('INSERT INTO t VALUES (2)').run();"
      : "db.prepare('INSERT INTO t VALUES (2)').run();";
  const child = spawn(
    ...preloaded(
      runtime,
      `${twoStatements(runtime)} process.stdin.once('data', () => {
        require('node:child_process').execFileSync('sh', ['-c', 'while [ ! -e "$0" ]; do sleep 0.1; done', ${JSON.stringify(flag)}]);
        ${insert}
      });`,
    ),
    { cwd: FIXTURES, env, stdio: ['pipe', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr!.on('data', (c) => {
    stderr += c;
  });
  return { child, stderr: () => stderr };
}

const DB_COUNT = 'db_client_operation_duration_seconds_count';
/** The SQLite statements of one operation on table t that /metrics counts. */
const statements = (s: Sample[], op: string) =>
  value(s, DB_COUNT, { db_system_name: 'sqlite', db_operation_name: op, db_collection_name: 't' });

/** The environment of a process whose children inherit the preload (both runtimes' variables), /metrics on `port`. */
function inheriting(port: number, extra: Record<string, string>): Record<string, string | undefined> {
  return {
    PATH: process.env.PATH,
    TMPDIR: process.env.TMPDIR,
    NODE_OPTIONS: `--import=${DIST_REGISTER}`,
    BUN_OPTIONS: `--preload ${DIST_REGISTER}`,
    OTEL_EXPORTER_PROMETHEUS_PORT: String(port),
    OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1',
    ...extra,
  };
}

describe.each([
  ['cluster-app.mjs', 2],
  ['cluster-app.cjs', 2],
  ['cluster-app.mjs', 4],
  ['cluster-app.cjs', 4],
] as const)('node:cluster (%s, %i workers)', (file, workers) => {
  it('one endpoint shows every request once, runtime series per process, one process says it listens', async () => {
    const app = await startApp({
      runtime: 'node',
      file: join(DIR, file),
      env: { WORKERS: String(workers), TAPWIRE_ENV: 'development', LOG_LEVEL: 'info' },
    });
    // startApp's readiness GET / is one more request.
    expect(await hit(app.url('/'), TRAFFIC)).toEqual(Array(TRAFFIC).fill(200));
    const s = await until(
      app.metricsPort,
      (x) => sum(x, COUNT) === TRAFFIC + 1 && slots(x).length === workers + 1,
      `${TRAFFIC + 1} requests from ${workers} workers`,
    );
    expect(
      value(s, COUNT, { http_request_method: 'GET', http_response_status_code: '200', url_scheme: 'http' }),
    ).toBe(TRAFFIC + 1);
    expect(slots(s)).toEqual(Array.from({ length: workers + 1 }, (_, i) => String(i)));
    // Event-loop delay is per process; request counts are one series.
    expect(s.filter((x) => x.name === 'nodejs_eventloop_delay_p99_seconds').length).toBe(workers + 1);
    expect(s.filter((x) => x.name === COUNT).length).toBe(1);
    // One line at info level, from the holder; the others follow in silence. The holder is the first
    // to bind the port at its agent's start: the primary, whose start waits for its first turn, in
    // nearly every run, but a worker when the loaded machine held the primary back longer than a
    // worker's whole start (seen once in a CI run of the whole suite: the page above the same).
    const lines = jsonLines(app.stderr()).filter((l) => l.component === 'tapwire');
    expect(lines.map((l) => l.code)).toEqual(['TAPWIRE_METRICS_LISTENING']);
    const holder = lines[0]!.pid as number;
    if (holder !== app.child.pid) {
      const status = readFileSync(`/proc/${holder}/status`, 'utf8');
      expect(
        Number(/^PPid:\s*(\d+)$/m.exec(status)?.[1]),
        'the holder is the primary or one of its workers',
      ).toBe(app.child.pid);
    }
  });
});

it("node:cluster: the workers' own metrics (@opentelemetry/api, prom-client) summed on the one endpoint", async () => {
  const app = await startApp({
    runtime: 'node',
    file: join(DIR, 'cluster-metrics.mjs'),
    env: { WORKERS: '2' },
  });
  for (let i = 0; i < 6; i++) await fetch(app.url('/order?kind=book')).then((r) => r.text());
  const s = await until(
    app.metricsPort,
    (x) => sum(x, 'shop_orders_total') === 6 && sum(x, 'legacy_orders_total') === 6 && slots(x).length === 3,
    "6 orders from the workers' own metrics",
  );
  expect(value(s, 'shop_orders_total', { kind: 'book' })).toBe(6);
  expect(value(s, 'legacy_orders_total', { kind: 'book' })).toBe(6);
  expect(value(s, 'legacy_latency_seconds_count', {})).toBe(6);
  expect(value(s, 'shop_checkout_duration_seconds_count', { kind: 'book' })).toBe(6);
  // A gauge stays per process: one series for each worker (the primary has no such metric).
  expect(
    find(s, 'shop_stock')
      .map((x) => x.labels.tapwire_process)
      .sort(),
  ).toEqual(['1', '2']);
  expect(sum(s, 'shop_stock')).toBe(42 * 2 - 6);
});

it('node:cluster: a worker killed mid-traffic and replaced never makes a counter go backwards', async () => {
  const app = await startApp({
    runtime: 'node',
    file: join(DIR, 'cluster-app.mjs'),
    env: { WORKERS: '2', REFORK: '1' },
  });
  const counters = (s: Sample[]) =>
    s.filter((x) => x.name.endsWith('_total') || x.name.endsWith('_count') || x.name.endsWith('_bucket'));
  const keyOf = (x: Sample) => `${x.name}${JSON.stringify(x.labels)}`;
  const seen = new Map<string, number>();
  const monotonic = (s: Sample[]) => {
    for (const x of counters(s)) {
      if (x.labels.tapwire_process !== undefined) continue; // per-process: a replaced process starts over
      const before = seen.get(keyOf(x));
      expect(x.value, `${keyOf(x)} went from ${before} to ${x.value}`).toBeGreaterThanOrEqual(before ?? 0);
      seen.set(keyOf(x), x.value);
    }
  };
  await hit(app.url('/'), 10);
  monotonic(await until(app.metricsPort, (s) => sum(s, COUNT) === 11, '11 requests'));
  const victim = Number(await (await fetch(app.url('/pid'))).text());
  process.kill(victim, 'SIGKILL');
  for (let round = 0; round < 10; round++) {
    // A request may meet the dying worker: a connection node:cluster's primary handed to it as it
    // was killed is never answered (one clean-clone run hung here until the test's timeout).
    await hit(app.url('/'), 5, { signal: AbortSignal.timeout(3000) }).catch(() => []);
    monotonic(parseMetrics(await scrape(app.metricsPort)));
    await new Promise((r) => setTimeout(r, 300));
  }
  // Once the killed worker is forgotten, three processes remain (the primary and two workers, the
  // replacement in a slot of its own); the counts went on from where they were.
  const s = await until(
    app.metricsPort,
    (x) => slots(x).length === 3 && sum(x, COUNT) >= 12,
    'the killed worker forgotten, its replacement counted',
  );
  monotonic(s);
  expect(slots(s)).toContain('0');
});

describe('launchers under NODE_OPTIONS', () => {
  let dir = '';
  afterAll(() => {
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  function appDir(): string {
    dir = mkdtempSync(join(tmpdir(), 'tapwire-launch-'));
    cpSync(join(DIR, 'server.mjs'), join(dir, 'server.mjs'));
    chmodSync(join(dir, 'server.mjs'), 0o755);
    cpSync(join(DIR, 'package.json'), join(dir, 'package.json'));
    // A local bin, as a dependency's would be: `npx serve-app` runs it.
    mkdirSync(join(dir, 'node_modules/.bin'), { recursive: true });
    symlinkSync('../../server.mjs', join(dir, 'node_modules/.bin/serve-app'));
    return dir;
  }

  it.each([
    ['npm start', ['npm', 'start']],
    ['npx', ['npx', 'serve-app']],
  ])(
    '%s: the app behind the launcher is on the endpoint',
    async (_name, command) => {
      const cwd = appDir();
      const port = await freePort();
      const metricsPort = await freePort();
      const child = spawn(command[0]!, command.slice(1), {
        cwd,
        env: {
          PATH: `${BIN}:${process.env.PATH}`,
          TMPDIR: process.env.TMPDIR,
          HOME: process.env.HOME,
          PORT: String(port),
          OTEL_EXPORTER_PROMETHEUS_PORT: String(metricsPort),
          OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1',
          NODE_OPTIONS: `--import=${DIST_REGISTER}`,
          TAPWIRE_ENV: 'test',
          npm_config_update_notifier: 'false',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
      });
      let stderr = '';
      child.stderr!.on('data', (d) => {
        stderr += d;
      });
      try {
        let up = false;
        for (let i = 0; i < 150 && !up; i++) {
          up = await fetch(`http://127.0.0.1:${port}/`).then(
            () => true,
            () => false,
          );
          if (!up) await new Promise((r) => setTimeout(r, 100));
        }
        expect(up, stderr).toBe(true);
        await hit(`http://127.0.0.1:${port}/`, 3);
        const s = await until(metricsPort, (x) => sum(x, COUNT) === 4, '4 requests behind the launcher');
        expect(sum(s, COUNT)).toBe(4);
        expect(slots(s)).toEqual(['0', '1']);
        expect(stderr).toBe('');
      } finally {
        process.kill(-child.pid!, 'SIGKILL');
      }
    },
    60_000,
  );
});

it('PM2 cluster mode (pm2 start -i 2): one endpoint with both workers', async () => {
  const home = mkdtempSync(join(tmpdir(), 'tapwire-pm2-'));
  const port = await freePort();
  const metricsPort = await freePort();
  const env = {
    PATH: `${BIN}:${process.env.PATH}`,
    TMPDIR: process.env.TMPDIR,
    HOME: process.env.HOME,
    PM2_HOME: home,
    PORT: String(port),
    OTEL_EXPORTER_PROMETHEUS_PORT: String(metricsPort),
    OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1',
    NODE_OPTIONS: `--import=${DIST_REGISTER}`,
    TAPWIRE_ENV: 'test',
  };
  const pm2 = (...args: string[]) => spawnSync(join(BIN, 'pm2'), args, { env, encoding: 'utf8' });
  try {
    const started = pm2('start', join(DIR, 'server.mjs'), '-i', '2', '--no-autorestart');
    expect(started.status, started.stderr).toBe(0);
    let up = false;
    for (let i = 0; i < 150 && !up; i++) {
      up = await fetch(`http://127.0.0.1:${port}/`).then(
        () => true,
        () => false,
      );
      if (!up) await new Promise((r) => setTimeout(r, 100));
    }
    await hit(`http://127.0.0.1:${port}/`, TRAFFIC - 1);
    const s = await until(
      metricsPort,
      (x) => sum(x, COUNT) === TRAFFIC && slots(x).length >= 3,
      'both PM2 workers',
    );
    expect(sum(s, COUNT)).toBe(TRAFFIC);
  } finally {
    pm2('kill');
    rmSync(home, { recursive: true, force: true });
  }
}, 90_000);

it('Bun: three processes serving one port with reusePort are one endpoint', async () => {
  const port = await freePort();
  const metricsPort = await freePort();
  const env = { PORT: String(port), OTEL_EXPORTER_PROMETHEUS_PORT: String(metricsPort), TAPWIRE_ENV: 'test' };
  const procs = [];
  for (let i = 0; i < 3; i++) {
    procs.push(
      spawn(BUN, ['--preload', DIST_REGISTER, join(DIR, 'reuse-port.mjs')], {
        env: {
          PATH: process.env.PATH,
          TMPDIR: process.env.TMPDIR,
          HOME: process.env.HOME,
          ...env,
          OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1',
        },
        stdio: ['ignore', 'ignore', 'pipe'],
      }),
    );
  }
  let stderr = '';
  for (const p of procs) p.stderr!.on('data', (d) => (stderr += d));
  try {
    let up = false;
    for (let i = 0; i < 100 && !up; i++) {
      up = await fetch(`http://127.0.0.1:${port}/`).then(
        () => true,
        () => false,
      );
      if (!up) await new Promise((r) => setTimeout(r, 100));
    }
    await hit(`http://127.0.0.1:${port}/`, TRAFFIC - 1);
    const s = await until(
      metricsPort,
      (x) => sum(x, COUNT) === TRAFFIC && slots(x).length === 3,
      'three Bun processes',
    );
    expect(sum(s, COUNT)).toBe(TRAFFIC);
    expect(stderr).toBe('');
  } finally {
    for (const p of procs) p.kill('SIGKILL');
  }
});

/** One raw connection: writes `text`, ends, and resolves with what came back once it closed. */
function raw(port: number, text: string, localAddress?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: localAddress ?? '127.0.0.1', port, localAddress });
    let got = '';
    socket.setEncoding('latin1').on('data', (d: string) => (got += d));
    socket.on('error', reject);
    socket.on('close', () => resolve(got));
    socket.end(text);
  });
}

/** One raw connection that writes `text` and is gone, as a process that exits right after writing. */
function gone(port: number, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.on('error', reject);
    socket.write(text, () => {
      socket.destroy();
      resolve();
    });
  });
}

/** An OTLP JSON push of one counter, as a sibling of `service` (instance `instance`) sends it. */
function push(service: string, instance: string, count: number, token: string | undefined): string {
  const body = JSON.stringify({
    resourceMetrics: [
      {
        resource: {
          attributes: [
            { key: 'service.name', value: { stringValue: service } },
            { key: 'service.instance.id', value: { stringValue: instance } },
          ],
        },
        scopeMetrics: [
          {
            scope: { name: 'pushed' },
            metrics: [
              {
                name: 'pushed_total',
                sum: {
                  aggregationTemporality: 2,
                  isMonotonic: true,
                  dataPoints: [{ asInt: String(count), startTimeUnixNano: '1', timeUnixNano: '2' }],
                },
              },
            ],
          },
        ],
      },
    ],
  });
  return (
    `POST /v1/metrics HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n` +
    `${token === undefined ? '' : `x-tapwire-token: ${token}\r\n`}x-tapwire-final: 1\r\n` +
    `content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
  );
}

const question = (token: string | undefined): string =>
  `GET /tapwire HTTP/1.1\r\nhost: x\r\n${token === undefined ? '' : `x-tapwire-token: ${token}\r\n`}\r\n`;

// Pushes are taken from this host only. A push whose connection has closed before the holder read
// it has no address on Bun; it is taken when it carries the token of a question asked from loopback
// on that connection, and refused without one. On Node the address is still known then.
describe.each(['node', 'bun'] as Runtime[])(
  'pushes to a holder listening on every address (%s)',
  (runtime) => {
    it('are taken from loopback, by token once the sibling has gone, and never from another address', async () => {
      const other = Object.values(networkInterfaces())
        .flat()
        .find((i) => i?.family === 'IPv4' && !i.internal)?.address;
      expect(other, 'this test needs an address of this machine that is not loopback').toBeDefined();
      const app = await startApp({
        runtime,
        file: 'http-app.mjs',
        env: { OTEL_EXPORTER_PROMETHEUS_HOST: '0.0.0.0' },
      });
      await until(app.metricsPort, (x) => slots(x).join() === '0', 'the endpoint');
      const { service } = JSON.parse(
        await (await fetch(`http://127.0.0.1:${app.metricsPort}/tapwire`)).text(),
      ) as { service: string };

      // From another address of this machine: refused, whatever token it carries.
      const remote = await raw(
        app.metricsPort,
        question('t-remote') + push(service, 'r', 100, 't-remote'),
        other,
      );
      expect(remote).toMatch(/^HTTP\/1\.1 200[\s\S]*HTTP\/1\.1 403 /);

      // The holder's loop blocked: each connection's question and push are read after it closed.
      const dir = mkdtempSync(join(tmpdir(), 'tapwire-block-'));
      const started = join(dir, 'started');
      const blocked = fetch(
        app.url(
          `/block?started=${encodeURIComponent(started)}&until=${encodeURIComponent(join(dir, 'until'))}`,
        ),
      ).then((r) => r.text());
      blocked.catch(() => {}); // awaited below; a failure before that must not go unhandled
      for (let i = 0; i < 200 && !existsSync(started); i++) await new Promise((r) => setTimeout(r, 50));
      expect(existsSync(started)).toBe(true);
      // Every connection written and closed while the loop is blocked (the kernel holds them).
      await gone(app.metricsPort, question('t-a') + push(service, 'a', 3, 't-a'));
      await gone(app.metricsPort, question(undefined) + push(service, 'b', 5, 't-forged'));
      await gone(app.metricsPort, question('t-c') + push(service, 'c', 7, undefined));
      writeFileSync(join(dir, 'until'), '');
      expect(await blocked).toBe('unblocked');
      // Node still knows each connection's address: 3 + 5 + 7. Bun takes only the token's push.
      const want = runtime === 'node' ? 15 : 3;
      const s = await until(app.metricsPort, (x) => sum(x, 'pushed_total') >= want, 'the pushes');
      expect(sum(s, 'pushed_total')).toBe(want);
      rmSync(dir, { recursive: true, force: true });
    }, 60_000);
  },
);

describe.each(['node', 'bun'] as Runtime[])('an app spawning 20 short children (%s)', (runtime) => {
  it("counts every child's request once and the children write nothing on stderr", async () => {
    const options =
      runtime === 'node'
        ? { NODE_OPTIONS: `--import=${DIST_REGISTER}` }
        : { BUN_OPTIONS: `--preload ${DIST_REGISTER}` };
    const app = await startApp({
      runtime,
      file: join(DIR, 'children.mjs'),
      preload: false,
      env: { ...options, CHILDREN: '20', TAPWIRE_ENV: 'development', LOG_LEVEL: 'info' },
    });
    const res = await fetch(app.url('/run'));
    expect(JSON.parse(await res.text())).toEqual({ stderr: '' });
    // 20 requests from the children (and the readiness GET /, and /run itself once it is answered).
    const s = await until(
      app.metricsPort,
      (x) => sum(x, 'http_client_request_duration_seconds_count') === 20,
      "the children's 20 requests",
    );
    expect(sum(s, 'http_client_request_duration_seconds_count')).toBe(20);
    // The app's own counter: the 10 children that end naturally collect it once more before they
    // exit; the 10 that call process.exit() within their first second have it only as of a
    // periodic push, which they never reach (docs/instrumentation.md says so).
    expect(value(s, 'cli_runs_total', {})).toBe(10);
    expect(
      value(s, COUNT, { http_request_method: 'GET', http_response_status_code: '200', url_scheme: 'http' }),
    ).toBe(22);
    // Gone children leave no per-process series behind once forgotten (three push intervals of
    // silence); their counts stay.
    const later = await until(app.metricsPort, (x) => slots(x).join() === '0', 'the gone children forgotten');
    expect(sum(later, 'http_client_request_duration_seconds_count')).toBe(20);
    expect(loudSiblings(app.stderr(), app.child.pid)).toEqual([]);
  }, 60_000);
});

// Regression: a parent blocked in spawnSync answers none of its children who holds the port; each
// child waited 300 ms at start for the answer, then warned (TAPWIRE_ERR_METRICS_PORT) on stderr.
describe.each(['node', 'bun'] as Runtime[])(
  'children run one after another with spawnSync (%s)',
  (runtime) => {
    it.each(['0', 'wait'])(
      'start without the answer of their blocked parent and say nothing (-e %s)',
      async (work) => {
        const port = await freePort();
        const r = spawnSync(runtime === 'node' ? NODE : BUN, [join(DIR, 'sync-children.mjs')], {
          env: {
            PATH: process.env.PATH,
            TMPDIR: process.env.TMPDIR,
            ...(runtime === 'node'
              ? { NODE_OPTIONS: `--import=${DIST_REGISTER}` }
              : { BUN_OPTIONS: `--preload ${DIST_REGISTER}` }),
            OTEL_EXPORTER_PROMETHEUS_PORT: String(port),
            OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1',
            TAPWIRE_ENV: 'development',
            LOG_LEVEL: 'info',
            CHILDREN: '3',
            // A child that lives past the 300 ms its holder has to answer: silence is said at debug only.
            ...(work === 'wait' ? { WORK: 'wait' } : {}),
          },
          cwd: FIXTURES,
          encoding: 'utf8',
          timeout: 30_000,
        });
        expect(r.status, r.stderr).toBe(0);
        expect(JSON.parse(r.stdout)).toEqual({ stderr: '', codes: [0, 0, 0] });
      },
    );
  },
);

// A parent blocked in spawnSync: a Bun parent holds the port (it takes it during its start), a Node
// parent does not yet (it takes it at the first turn of its event loop). Each child here records
// two SQLite statements. With `sqlite` it exits before its event loop turns, so before it connects
// (it follows at the first turn) or tries the port: its last push goes to the spool
// (exporters/spool.ts), which the parent reads once its loop runs. With `sqlite-wait` it lives past
// its first turn: under a Bun parent it connects and pushes behind the unanswered question; under a
// Node parent it finds the port free, holds it until it ends, and hands its counts on through the
// spool. (Before the spool, such a child waited up to 50 ms at start for the answer, then pushed
// nothing.) Regression (Bun parent): by the time the holder read the push the child had gone,
// Bun.serve gave no address for it (requestIP() null) and the holder refused it as not local: 0 of 8.
describe.each([
  ['node', 'node', 'sqlite'],
  ['node', 'bun', 'sqlite'],
  ['bun', 'bun', 'sqlite'],
  ['bun', 'node', 'sqlite'],
  ['node', 'node', 'sqlite-wait'],
  ['node', 'bun', 'sqlite-wait'],
  ['bun', 'node', 'sqlite-wait'],
] as [Runtime, Runtime, string][])(
  'children of a %s parent blocked in spawnSync (%s, %s)',
  (parentRuntime, child, work) => {
    it('are counted exactly, though they end before the parent answered them', async () => {
      const port = await freePort();
      const parent = spawn(parentRuntime === 'node' ? NODE : BUN, [join(DIR, 'sync-children.mjs')], {
        env: inheriting(port, {
          TAPWIRE_ENV: 'development',
          LOG_LEVEL: 'info',
          CHILDREN: '4',
          CHILD_BIN: child === 'node' ? NODE : BUN,
          WORK: work,
          HOLD: '1',
        }),
        cwd: FIXTURES,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      parent.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      parent.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      try {
        const db = 'db_client_operation_duration_seconds_count';
        const s = await until(port, (x) => stdout.includes('\n') && sum(x, db) === 8, 'the children counted');
        expect(JSON.parse(stdout)).toEqual({ stderr: '', codes: [0, 0, 0, 0] });
        for (const op of ['CREATE', 'INSERT']) {
          expect(
            value(s, db, { db_system_name: 'sqlite', db_operation_name: op, db_collection_name: 't' }),
          ).toBe(4);
        }
        // Gone at once (each push was its last), their counts kept.
        expect(slots(s)).toEqual(['0']);
        expect(loudSiblings(stderr, parent.pid)).toEqual([]);
      } finally {
        parent.kill('SIGKILL');
      }
    });
  },
);

it.each(['node', 'bun'] as Runtime[])(
  '-e 0 beside a holder of the port exits at once, says nothing and leaves nothing in the holder (%s)',
  async (runtime) => {
    const holder = await startApp({ runtime: 'node', file: join(DIR, 'server.mjs') });
    const r = spawnSync(
      runtime === 'node' ? NODE : BUN,
      [runtime === 'node' ? '--import' : '--preload', DIST_REGISTER, '-e', '0'],
      {
        env: {
          PATH: process.env.PATH,
          TMPDIR: process.env.TMPDIR,
          OTEL_EXPORTER_PROMETHEUS_PORT: String(holder.metricsPort),
          OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1',
          TAPWIRE_ENV: 'development',
          LOG_LEVEL: 'info',
        },
        cwd: FIXTURES, // the same service (package.json name) as the holder
        encoding: 'utf8',
        timeout: 10_000,
      },
    );
    expect([r.status, r.stderr]).toEqual([0, '']);
    // It recorded nothing, so it pushed nothing: no series of its own (runtime, agent info) appear
    // in the holder, not even for the three push intervals a gone process is kept. (A push it made
    // reached the holder before it exited; the holder had it read well within this wait.)
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(slots(parseMetrics(await scrape(holder.metricsPort)))).toEqual(['0']);
  },
);

// A process started alone that records and ends before its event loop turns (a synchronous CLI):
// on Node it never tried the port. Beside a holder of its service its last push goes to the spool
// and the holder counts it; where nothing listens on the port it writes nothing (nobody would read
// it, and a later holder must not take it for its own).
it.each(['node', 'bun'] as Runtime[])(
  'a process alone that records and ends at once: counted beside a holder, no spool file without one (%s)',
  async (runtime) => {
    const tmp = mkdtempSync(join(tmpdir(), 'tapwire-alone-'));
    const run = (env: Record<string, string | undefined>) =>
      spawnSync(...preloaded(runtime, twoStatements(runtime)), {
        cwd: FIXTURES,
        env: { ...env, TMPDIR: tmp, LOG_LEVEL: 'info' },
        encoding: 'utf8',
        timeout: 20_000,
      });
    try {
      const free = await freePort();
      const r = run(agentEnv(free));
      expect(r.status, r.stderr).toBe(0);
      expect(existsSync(join(tmp, `tapwire-${process.getuid?.()}`, String(free)))).toBe(false);
      const { holder, metricsPort, env } = await idleHolder({ TMPDIR: tmp });
      try {
        const beside = run(env);
        expect([beside.status, beside.stderr]).toEqual([0, '']);
        const s = await until(metricsPort, (x) => sum(x, DB_COUNT) === 2, "the process's two statements");
        expect(statements(s, 'INSERT')).toBe(1);
        expect(slots(s)).toEqual(['0']);
      } finally {
        holder.kill('SIGKILL');
      }
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  },
);

// A process with a tapwire process above it (here a parent under the same NODE_OPTIONS and
// BUN_OPTIONS) opens its endpoint at the first turn of its event loop: a child that ends before it
// (`-e 0`) never connects, one that lives on does. The port is held by a plain TCP server that
// counts the connections (and answers none, like a parent blocked in spawnSync would).
it.each(['node', 'bun'] as Runtime[])(
  'children of a tapwire parent connect only once their event loop turns (%s)',
  async (child) => {
    let connections = 0;
    const counter = createServer((socket) => {
      connections++;
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => counter.listen(0, '127.0.0.1', resolve));
    const port = (counter.address() as { port: number }).port;
    try {
      const code = `const { spawnSync } = require('node:child_process');
        const run = (code) => spawnSync(${JSON.stringify(child === 'node' ? NODE : BUN)}, ['-e', code]).status;
        process.stdout.write(JSON.stringify([run('0'), run('0'), run('0'), run('setTimeout(() => {}, 200)')]));`;
      const r = spawnSync(NODE, ['-e', code], {
        env: inheriting(port, { TAPWIRE_ENV: 'test', LOG_LEVEL: 'silent' }),
        cwd: FIXTURES,
        encoding: 'utf8',
        timeout: 30_000,
      });
      expect([r.status, r.stdout, r.stderr]).toEqual([0, '[0,0,0,0]', '']);
      // The child that lived on. The parent never turned its event loop, so it never tried the
      // port either (a Node process tries it at its first turn).
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(connections).toBe(1);
    } finally {
      counter.close();
    }
  },
);

/**
 * A launcher-like holder of a free metrics port that serves no HTTP, in the fixtures' folder (the
 * same service), serving once this returns; `env` is what a follower of it needs.
 */
async function idleHolder(extra: Record<string, string> = {}) {
  const metricsPort = await freePort();
  const env = agentEnv(metricsPort, extra);
  const holder = spawn(NODE, ['--import', DIST_REGISTER, '-e', 'setInterval(() => {}, 1000)'], {
    cwd: FIXTURES,
    env,
    stdio: 'ignore',
  });
  try {
    await until(metricsPort, (x) => slots(x).join() === '0', 'the holder serving');
  } catch (error) {
    holder.kill('SIGKILL');
    throw error;
  }
  return { holder, metricsPort, env };
}

// Regression: a follower starts without waiting for its holder's answer, so the app's own start can
// keep the event loop busy past the 300 ms the answer is given. The answer was there, unread, when
// the timeout fired first (timers run before reads in a loop turn): the follower called its holder
// foreign, warned, and pushed nothing (seen as a node:cluster worker missing on a loaded machine).
it.each(['node', 'bun'] as Runtime[])(
  'a follower whose app blocks its event loop for 600 ms at start still follows (%s)',
  async (runtime) => {
    const { holder, metricsPort, env } = await idleHolder();
    try {
      const sqlite =
        runtime === 'bun'
          ? "const { Database } = require('bun:sqlite'); new Database(':memory:').run('CREATE TABLE t (x)');"
          : "const { DatabaseSync } = require('node:sqlite'); new DatabaseSync(':memory:').exec('CREATE TABLE t (x)');";
      const r = spawnSync(
        runtime === 'node' ? NODE : BUN,
        [
          runtime === 'node' ? '--import' : '--preload',
          DIST_REGISTER,
          '-e',
          `const t = Date.now(); while (Date.now() - t < 600); ${sqlite} setTimeout(() => {}, 300);`,
        ],
        { cwd: FIXTURES, env: { ...env, LOG_LEVEL: 'info' }, encoding: 'utf8', timeout: 20_000 },
      );
      expect([r.status, r.stderr]).toEqual([0, '']);
      const s = await until(
        metricsPort,
        (x) => sum(x, 'db_client_operation_duration_seconds_count') === 1,
        "the follower's CREATE",
      );
      expect(
        value(s, 'db_client_operation_duration_seconds_count', {
          db_system_name: 'sqlite',
          db_operation_name: 'CREATE',
          db_collection_name: 't',
        }),
      ).toBe(1);
    } finally {
      holder.kill('SIGKILL');
    }
  },
);

// A follower's last push (in 'exit') carries tapwire's own instruments as they are then, read anew:
// it once carried those of its last periodic push, so what a process counted in its last second
// (here three log records, after two pushes) was lost to the holder's totals.
it.each(['node', 'bun'] as Runtime[])(
  "a follower's last push carries its counts as they are when it exits, not as of its last push (%s)",
  async (runtime) => {
    const { holder, metricsPort, env } = await idleHolder();
    try {
      const code =
        "const { logger } = await import('tapwire'); setTimeout(() => { for (let i = 0; i < 3; i++) logger.info('late'); process.exit(0); }, 2500);";
      const r = spawnSync(
        runtime === 'node' ? NODE : BUN,
        runtime === 'node'
          ? ['--import', DIST_REGISTER, '--input-type=module', '-e', code]
          : ['--preload', DIST_REGISTER, '-e', code],
        { cwd: FIXTURES, env: { ...env, LOG_LEVEL: 'info' }, encoding: 'utf8', timeout: 20_000 },
      );
      expect([r.status, r.stderr]).toEqual([0, '']);
      expect(r.stdout.trim().split('\n')).toHaveLength(3);
      const s = await until(
        metricsPort,
        (x) => x.some((y) => y.name === 'tapwire_log_records_total'),
        "the follower's log records",
      );
      expect(value(s, 'tapwire_log_records_total', { level: 'info' })).toBe(3);
    } finally {
      holder.kill('SIGKILL');
    }
  },
);

it('the holder goes away: the process that followed it takes the port over with its own counts', async () => {
  const { holder, metricsPort, env } = await idleHolder();
  try {
    const app = await startApp({ runtime: 'node', file: join(DIR, 'server.mjs'), env });
    await hit(app.url('/'), 4); // and the readiness GET /
    let s = await until(metricsPort, (x) => sum(x, COUNT) === 5, "the follower's 5 requests");
    expect(slots(s)).toEqual(['0', '1']);
    holder.kill('SIGKILL');
    s = await until(metricsPort, (x) => slots(x).join() === '0' && sum(x, COUNT) === 5, 'the takeover');
    expect(slots(s)).toEqual(['0']);
    await hit(app.url('/'), 2);
    s = parseMetrics(await scrape(metricsPort));
    expect(sum(s, COUNT)).toBe(7);
    expect(app.stderr()).toBe('');
  } finally {
    holder.kill('SIGKILL');
  }
});

// A holder that ends (its 'exit': process.exit(), a stop, its loop running empty) hands its counts
// on through the spool: the process that takes the port over serves them, so no counter goes back.
// (One killed by a signal cannot: the test above.)
it.each(['node', 'bun'] as Runtime[])(
  'a holder that ends hands its counts to the process that takes the port over (%s)',
  async (runtime) => {
    const metricsPort = await freePort();
    const env = agentEnv(metricsPort);
    const { child: holder, ended } = stoppable(runtime, env);
    try {
      await until(metricsPort, (x) => sum(x, DB_COUNT) === 2, "the holder's two statements");
      const app = await startApp({ runtime: 'node', file: join(DIR, 'server.mjs'), env });
      await hit(app.url('/'), 4); // and the readiness GET /
      let s = await until(metricsPort, (x) => sum(x, COUNT) === 5, "the follower's 5 requests");
      expect(slots(s)).toEqual(['0', '1']);
      holder.stdin!.end();
      expect(await ended).toBe(0);
      s = await until(
        metricsPort,
        (x) => slots(x).join() === '0' && sum(x, COUNT) === 5 && sum(x, DB_COUNT) === 2,
        "the takeover, with the holder's counts",
      );
      for (const op of ['CREATE', 'INSERT']) expect(statements(s, op)).toBe(1);
      await hit(app.url('/'), 2);
      expect(sum(parseMetrics(await scrape(metricsPort)), COUNT)).toBe(7);
      expect(app.stderr()).toBe('');
    } finally {
      holder.kill('SIGKILL');
    }
  },
);

// A sibling silent for three push intervals is taken for gone and its counts kept in the sums; one
// that was only blocked (here in execFileSync, until the test lets it go) reports again with its
// cumulative counts, which must then replace what it was retired with, not add to it.
it.each(['node', 'bun'] as Runtime[])(
  'a follower blocked past its time, retired and back, is counted once (%s)',
  async (runtime) => {
    const { holder, metricsPort, env } = await idleHolder();
    const dir = mkdtempSync(join(tmpdir(), 'tapwire-blocked-'));
    const flag = join(dir, 'go');
    const follower = blockable(runtime, env, flag);
    try {
      await until(
        metricsPort,
        (x) => sum(x, DB_COUNT) === 2 && slots(x).join() === '0,1',
        "the follower's two statements",
      );
      follower.child.stdin!.write('block\n');
      // Silent past three pushes: retired, its two statements kept.
      let s = await until(metricsPort, (x) => slots(x).join() === '0', 'the blocked follower retired');
      expect(sum(s, DB_COUNT)).toBe(2);
      writeFileSync(flag, '');
      s = await until(
        metricsPort,
        (x) => slots(x).join() === '0,1' && sum(x, DB_COUNT) >= 3,
        'the follower back',
      );
      // A few more pushes: nothing counts twice.
      await new Promise((r) => setTimeout(r, 2500));
      s = parseMetrics(await scrape(metricsPort));
      expect(slots(s)).toEqual(['0', '1']);
      expect(sum(s, DB_COUNT)).toBe(3);
      expect(statements(s, 'CREATE')).toBe(1);
      expect(statements(s, 'INSERT')).toBe(2);
      expect(follower.stderr()).toBe('');
    } finally {
      follower.child.kill('SIGKILL');
      holder.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

// The same follower, blocked and retired, while its holder ends and hands its counts on: the holder
// hands the follower's last push on apart (not final), so the follower, back and holding the port
// itself, serves its own counts once and the holder's.
it.each(['node', 'bun'] as Runtime[])(
  'a follower retired while blocked, whose holder ends meanwhile, is counted once where it takes over (%s)',
  async (runtime) => {
    const metricsPort = await freePort();
    const env = agentEnv(metricsPort);
    const holder = stoppable(runtime, env);
    const dir = mkdtempSync(join(tmpdir(), 'tapwire-blocked-'));
    const flag = join(dir, 'go');
    let follower: ReturnType<typeof blockable> | undefined;
    try {
      await until(metricsPort, (x) => sum(x, DB_COUNT) === 2, "the holder's two statements");
      follower = blockable(runtime, env, flag);
      await until(
        metricsPort,
        (x) => sum(x, DB_COUNT) === 4 && slots(x).join() === '0,1',
        'both, four statements',
      );
      follower.child.stdin!.write('block\n');
      let s = await until(metricsPort, (x) => slots(x).join() === '0', 'the blocked follower retired');
      expect(sum(s, DB_COUNT)).toBe(4);
      holder.child.stdin!.end();
      expect(await holder.ended).toBe(0);
      writeFileSync(flag, '');
      // Back, its connection gone with the holder: it takes the port over and reads what was handed on.
      s = await until(
        metricsPort,
        (x) => slots(x).join() === '0' && sum(x, DB_COUNT) >= 5,
        'the follower holding',
      );
      await new Promise((r) => setTimeout(r, 2500));
      s = parseMetrics(await scrape(metricsPort));
      expect(sum(s, DB_COUNT)).toBe(5);
      expect(statements(s, 'CREATE')).toBe(2);
      expect(statements(s, 'INSERT')).toBe(3);
      expect(follower.stderr()).toBe('');
    } finally {
      follower?.child.kill('SIGKILL');
      holder.child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

// Regression: a listen run from a callback (the takeover, a retry) threw into the app when it failed.
it('a takeover whose listen fails: the endpoint is off, said once, and the app serves on', async () => {
  const { holder, metricsPort, env } = await idleHolder();
  try {
    const app = await startApp({
      runtime: 'node',
      file: join(DIR, 'server.mjs'),
      env: { ...env, NODE_OPTIONS: `--import=${join(DIR, 'arm-listen-failure.mjs')}` },
    });
    await hit(app.url('/'), 2); // and the readiness GET /
    await until(metricsPort, (x) => sum(x, COUNT) === 3, "the follower's requests");
    app.child.kill('SIGUSR2');
    for (let i = 0; i < 100 && !app.stdout().includes('armed'); i++)
      await new Promise((r) => setTimeout(r, 50));
    expect(app.stdout()).toContain('armed');
    holder.kill('SIGKILL');
    const said = () => jsonLines(app.stderr()).filter((l) => l.code === 'TAPWIRE_ERR_METRICS_PORT');
    for (let i = 0; i < 200 && said().length === 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(said().map((l) => [l.level, l.msg])).toEqual([
      [
        'warn',
        `opening /metrics on 127.0.0.1:${metricsPort} failed; the metrics endpoint is off, the app runs on`,
      ],
    ]);
    const res = await fetch(app.url('/'));
    expect([res.status, await res.text(), app.child.exitCode]).toEqual([200, 'ok', null]);
  } finally {
    holder.kill('SIGKILL');
  }
});

it('a holder that leaves while it is asked (pm2 start exiting as its workers start): the asker takes the port, no warning', async () => {
  const net = await import('node:net');
  const metricsPort = await freePort();
  // Takes the port and hangs up on every connection without a word, like a process on its way out.
  const leaving = net.createServer((socket) => socket.destroy());
  await new Promise<void>((resolve) => leaving.listen(metricsPort, '127.0.0.1', resolve));
  const gone = new Promise<void>((resolve) => setTimeout(() => leaving.close(() => resolve()), 300));
  const app = await startApp({
    runtime: 'node',
    file: join(DIR, 'server.mjs'),
    env: {
      OTEL_EXPORTER_PROMETHEUS_PORT: String(metricsPort),
      LOG_LEVEL: 'info',
      TAPWIRE_ENV: 'development',
    },
  });
  await gone;
  await hit(app.url('/'), 2);
  const s = await until(metricsPort, (x) => sum(x, COUNT) === 3, 'the asker holding the port');
  expect(slots(s)).toEqual(['0']);
  const codes = jsonLines(app.stderr()).map((l) => l.code);
  expect(codes).not.toContain('TAPWIRE_ERR_METRICS_PORT');
  expect(codes).toContain('TAPWIRE_METRICS_LISTENING');
});
