// Everything tapwire installs can be taken back: after Agent.stop(), after a start that fails once
// every hook is in, and for one hook whose install fails (the others keep running), every patched
// global, prototype and module export is the original again, no diagnostics channel tapwire uses
// has a subscriber, and the OpenTelemetry API globals and the process' 'beforeExit' listeners are
// as before. A real app process on each runtime (tests/fixtures/takeback.mjs) records them without
// the preload, starts tapwire, takes it back and compares. Tracing, OTLP metrics and Bun.sql are
// configured so that their parts are installed too.
import { describe, expect, it } from 'vitest';
import { CHANNEL_LIST } from '../core/channels.js';
import { jsonLines, RUNTIMES, startApp, stopAll } from './support/index.js';

interface Report {
  agent: boolean;
  sabotage: { hit: boolean; hooksWereIn: boolean };
  started: string[];
  left: string[];
}

async function run(runtime: 'node' | 'bun', mode: 'stop' | 'fail' | 'hook') {
  const app = await startApp({
    runtime,
    file: 'takeback.mjs',
    preload: false,
    ready: false,
    env: {
      MODE: mode,
      CHANNELS: JSON.stringify(CHANNEL_LIST.map((c) => c.name)),
      OTEL_TRACES_EXPORTER: 'otlp',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9',
      OTEL_METRICS_EXPORTER: 'prometheus,otlp',
      DATABASE_URL: 'postgres://127.0.0.1:9/none',
    },
  });
  const { code } = await app.exited;
  await stopAll();
  expect(code, app.stderr()).toBe(0);
  return { report: JSON.parse(app.stdout()) as Report, stderr: app.stderr() };
}

/** What each runtime must show patched or subscribed while tapwire runs (so the test cannot pass by patching nothing). */
const PATCHED = {
  node: [
    'Module._load',
    'pg.Client.prototype.query',
    'node:sqlite StatementSync.prototype.run',
    'better-sqlite3 Statement.prototype.run',
    'globalThis.Symbol(tapwire.hono.match)',
    'channel http.server.request.start',
    'channel undici:request:create',
    'channel tracing:mysql2:query:start',
    'OpenTelemetry API globals',
    "process 'beforeExit' listeners",
  ],
  bun: [
    'Bun.serve',
    'Bun.listen',
    'globalThis.fetch',
    'undici.fetch',
    'undici.request',
    'http.Server.prototype.emit',
    'Bun.RedisClient',
    'Bun.RedisClient.prototype.get',
    'Bun.sql Query.prototype.then',
    'bun:sqlite Database.prototype.prepare',
    'process.getBuiltinModule',
    'Module._extensions..js',
    'pg.Client.prototype.query',
    'TracingChannel.prototype.hasSubscribers',
    'channel http.client.request.created',
    'channel tracing:ioredis:command:start',
    'OpenTelemetry API globals',
    "process 'beforeExit' listeners",
  ],
};

describe.each(RUNTIMES)('taking tapwire back (%s)', (runtime) => {
  it('Agent.stop() leaves every global, prototype, export and channel as it found them', async () => {
    const { report, stderr } = await run(runtime, 'stop');
    expect(report.agent).toBe(true);
    expect(report.started, stderr).toEqual(expect.arrayContaining(PATCHED[runtime]));
    expect(report.left).toEqual([]);
  }, 60_000);

  it('a hook whose install fails is taken back alone, says so once, and the others run', async () => {
    const { report, stderr } = await run(runtime, 'hook');
    expect(report.agent).toBe(true);
    // Fastify's part is absent, everything else is in.
    const fastify = [
      'channel tracing:fastify.request.handler:start',
      'TracingChannel.prototype.hasSubscribers',
    ];
    expect(report.started).toEqual(
      expect.arrayContaining(PATCHED[runtime].filter((p) => !fastify.includes(p))),
    );
    for (const p of fastify) expect(report.started).not.toContain(p);
    expect(report.left).toEqual([]);
    const lines = jsonLines(stderr).filter((l) => l.component === 'tapwire');
    expect(lines.map((l) => [l.level, l.code, l.hook])).toEqual([
      ['error', 'TAPWIRE_ERR_HOOK', 'fastify (route)'],
    ]);
  }, 60_000);

  it('a start that fails after every hook is in takes all of them back and says so once', async () => {
    const { report, stderr } = await run(runtime, 'fail');
    expect(report.sabotage).toEqual({ hit: true, hooksWereIn: true });
    expect(report.agent).toBe(false);
    expect(report.left).toEqual([]);
    const lines = jsonLines(stderr).filter((l) => l.component === 'tapwire');
    expect(lines.map((l) => [l.level, l.code])).toEqual([['error', 'TAPWIRE_ERR_START']]);
  }, 60_000);
});
