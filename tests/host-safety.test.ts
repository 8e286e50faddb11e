// "Never break the host": bad configuration, a taken metrics port, a failing hook, signals and
// exit codes behave exactly as without tapwire, on Node and on Bun.
import { spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  FIXTURES,
  freePort,
  hit,
  jsonLines,
  parseMetrics,
  RUNTIMES,
  runtimeCommand,
  startApp,
  stopAll,
  value,
  waitForHttp,
} from './support/index.js';

afterEach(stopAll);

describe.each(RUNTIMES)('%s', (runtime) => {
  it('reports each bad variable once, names value and accepted values, and runs with defaults', async () => {
    const app = await startApp({
      runtime,
      file: 'http-app.mjs',
      env: { LOG_LEVEL: 'loud', TAPWIRE_CARDINALITY_LIMIT: '-5', OTEL_TRACES_SAMPLER: 'sometimes' },
    });
    expect(await hit(app.url('/'), 2)).toEqual([200, 200]);
    const s = parseMetrics(await app.metrics());
    expect(
      value(s, 'http_server_request_duration_seconds_count', {
        http_request_method: 'GET',
        http_response_status_code: '200',
        url_scheme: 'http',
      }),
    ).toBe(3);
    const problems = jsonLines(app.stderr()).filter((l) => l.code === 'TAPWIRE_ERR_CONFIG');
    expect(problems.map((p) => [p.variable, p.value, p.component, p.level])).toEqual([
      ['LOG_LEVEL', 'loud', 'tapwire', 'warn'],
      ['OTEL_TRACES_SAMPLER', 'sometimes', 'tapwire', 'warn'],
      ['TAPWIRE_CARDINALITY_LIMIT', '-5', 'tapwire', 'warn'],
    ]);
    expect(problems[0]!.msg).toBe(
      'LOG_LEVEL="loud" is not valid: expected `trace`, `debug`, `info`, `warn`, `error`, `fatal`, `silent`; using the default (the profile\u2019s level)',
    );
    expect(app.stdout()).toBe('');
  });

  it('says once that OTEL_LOGS_EXPORTER=console adds nothing, and runs on', async () => {
    const app = await startApp({ runtime, file: 'http-app.mjs', env: { OTEL_LOGS_EXPORTER: 'console' } });
    expect(await hit(app.url('/'), 1)).toEqual([200]);
    const lines = jsonLines(app.stderr()).filter((l) => l.code === 'TAPWIRE_ERR_UNSUPPORTED');
    expect(lines.map((l) => [l.variable, l.level])).toEqual([['OTEL_LOGS_EXPORTER', 'warn']]);
  });

  it('warns once when the metrics port is taken and the app still serves', async () => {
    // Something else's HTTP server on the port: it answers tapwire's question, with a 404. (A holder
    // that never answers is nearly always a tapwire parent blocked in execFileSync: said at debug.)
    // tapwire closes its connection there as a well-behaved client would: no reset.
    const resets: string[] = [];
    const blocker: Server = createServer((socket) => {
      socket.on('error', (error: NodeJS.ErrnoException) => resets.push(error.code ?? error.message));
      socket.end('HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n');
    });
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const taken = (blocker.address() as { port: number }).port;
    try {
      const app = await startApp({
        runtime,
        file: 'http-app.mjs',
        env: { OTEL_EXPORTER_PROMETHEUS_PORT: String(taken) },
      });
      expect(await hit(app.url('/status/201'), 3)).toEqual([201, 201, 201]);
      // The app does not wait for the holder's answer.
      const warned = () => jsonLines(app.stderr()).filter((l) => l.code === 'TAPWIRE_ERR_METRICS_PORT');
      for (let i = 0; i < 100 && warned().length === 0; i++) await new Promise((r) => setTimeout(r, 50));
      await new Promise((r) => setTimeout(r, 100));
      const warnings = warned();
      expect(warnings).toHaveLength(1);
      expect(warnings[0]!.msg).toContain(`127.0.0.1:${taken}`);
      expect(warnings[0]!.msg).toContain('EADDRINUSE');
      expect(app.child.exitCode).toBe(null);
      expect(resets).toEqual([]);
    } finally {
      blocker.close();
    }
  });

  // Regression: an app serving its own metrics on the metrics port crashed with EADDRINUSE.
  it.each(runtime === 'bun' ? ['node:http', 'Bun.serve', 'node:net'] : ['node:http', 'node:net'])(
    'an app that listens on the metrics port itself (%s) gets it, as without tapwire, and is told once',
    async (serve) => {
      const port = await freePort();
      const env = {
        PORT: String(port),
        OTEL_EXPORTER_PROMETHEUS_PORT: String(port),
        SERVE: serve === 'Bun.serve' ? 'bun' : serve === 'node:net' ? 'net' : 'node',
      };
      const answers = async (preload: boolean) => {
        const app = await startApp({ runtime, file: 'own-metrics-port.mjs', preload, env, ready: false });
        await waitForHttp(`http://127.0.0.1:${port}/metrics`, 15_000, app.exited);
        const res = await fetch(`http://127.0.0.1:${port}/metrics`);
        const out = { status: res.status, body: await res.text(), alive: app.child.exitCode === null };
        return { app, out };
      };
      const bare = await answers(false);
      await bare.app.stop();
      const under = await answers(true);
      expect(under.out).toEqual(bare.out);
      expect(under.out).toEqual({ status: 200, body: 'app_metric 1\n', alive: true });
      const said = jsonLines(under.app.stderr()).filter((l) => l.component === 'tapwire');
      expect(said.map((l) => l.code)).toEqual(['TAPWIRE_METRICS_PORT_YIELDED']);
    },
  );

  // Regression: a failing collection answered 500 and logged nothing, so nobody knew why a target
  // went down in Prometheus.
  it('a scrape whose collection fails answers 500, is logged once with its stack, and the next works', async () => {
    const app = await startApp({ runtime, file: 'collect-fails.mjs' });
    const url = `http://127.0.0.1:${app.metricsPort}/metrics`;
    const first = await fetch(url);
    expect([first.status, await first.text()]).toEqual([500, '# tapwire: collection failed: RangeError\n']);
    for (let i = 0; i < 2; i++) {
      const s = parseMetrics(await app.metrics());
      expect(value(s, 'app_flaky_total', { value: 'ok' })).toBe(1);
    }
    const lines = jsonLines(app.stderr()).filter((l) => l.component === 'tapwire');
    expect(lines.map((l) => [l.level, l.code])).toEqual([['error', 'TAPWIRE_ERR_COLLECT']]);
    const err = lines[0]!.err as { type: string; message: string; stack: string };
    expect(err).toMatchObject({ type: 'RangeError', message: 'this value cannot be rendered yet' });
    expect(err.stack).toContain('collect-fails.mjs');
  });

  it('disables a failing hook after one error log and leaves responses untouched', async () => {
    const bare = await startApp({ runtime, file: 'poison-route.mjs', preload: false });
    const app = await startApp({ runtime, file: 'poison-route.mjs' });
    for (const a of [bare, app]) {
      for (let i = 0; i < 3; i++) {
        const res = await fetch(a.url(`/p${i}`));
        expect(res.status).toBe(200);
        expect(res.headers.get('x-app')).toBe('yes');
        expect(await res.text()).toBe(`hello /p${i}`);
      }
    }
    await new Promise((r) => setTimeout(r, 100));
    const errors = jsonLines(app.stderr()).filter((l) => l.code === 'TAPWIRE_ERR_HOOK');
    expect(errors).toHaveLength(1);
    expect(errors[0]!.level).toBe('error');
    expect(String(errors[0]!.hook)).toMatch(/^http\.server/);
    expect(app.child.exitCode).toBe(null);
  });

  it.each([
    ['plain', 'SIGTERM'],
    ['handler', 3],
  ] as const)('SIGTERM with MODE=%s ends the same with and without the preload', async (mode, expected) => {
    const results = [];
    for (const preload of [false, true]) {
      const app = await startApp({ runtime, file: 'signals.mjs', preload, env: { MODE: mode } });
      app.child.kill('SIGTERM');
      const { code, signal } = await app.exited;
      results.push(signal ?? code);
    }
    expect(results).toEqual([expected, expected]);
  });

  it('a script that ends by itself still ends at once, with its exit code', () => {
    const run = (preload: boolean, file: string) => {
      const [cmd, ...args] = runtimeCommand(runtime, preload, file);
      const t0 = performance.now();
      const r = spawnSync(cmd!, args, {
        cwd: FIXTURES,
        env: {
          PATH: process.env.PATH,
          TMPDIR: process.env.TMPDIR,
          MODE: 'exitcode',
          OTEL_EXPORTER_PROMETHEUS_PORT: '0',
        },
        encoding: 'utf8',
        timeout: 10_000,
      });
      return { status: r.status, ms: performance.now() - t0, stdout: r.stdout };
    };
    const bare = run(false, 'signals.mjs');
    const tapwire = run(true, 'signals.mjs');
    expect(bare.status).toBe(7);
    expect(tapwire.status).toBe(7);
    expect(tapwire.stdout).toBe('');
    // "At once": nothing tapwire opened (metrics server, timers, observers) keeps the loop alive.
    expect(tapwire.ms).toBeLessThan(bare.ms + 1500);
  });
});

it('node -e 0 under the preload exits 0 at once', () => {
  const [cmd, ...args] = runtimeCommand('node', true, '-e');
  const t0 = performance.now();
  const r = spawnSync(cmd!, [...args, '0'], {
    env: { PATH: process.env.PATH, TMPDIR: process.env.TMPDIR },
    encoding: 'utf8',
    timeout: 10_000,
  });
  expect(r.status).toBe(0);
  expect(performance.now() - t0).toBeLessThan(5000); // "at once": a process held open would run into the 10 s spawn timeout; slack for a loaded machine
});
