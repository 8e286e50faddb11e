import { afterEach, describe, expect, it } from 'vitest';
import {
  jsonLines,
  parseMetrics,
  RUNTIMES,
  sourcesLoadedBy,
  startApp,
  stopAll,
  value,
} from './support/index.js';

afterEach(stopAll);

const PROFILE_LEVELS: [string, string[]][] = [
  ['development', ['debug', 'info', 'warn', 'error']],
  ['staging', ['info', 'warn', 'error']],
  ['production', ['warn', 'error']],
  ['test', ['warn', 'error']],
];

describe.each(RUNTIMES)('%s', (runtime) => {
  it.each(PROFILE_LEVELS)('TAPWIRE_ENV=%s logs %j', async (env, levels) => {
    const app = await startApp({ runtime, file: 'logger-app.mjs', env: { TAPWIRE_ENV: env } });
    const lines = jsonLines(app.stdout());
    expect(lines.map((l) => l.level)).toEqual(levels);
    for (const l of lines) {
      expect(l['service.name']).toBe('fixture-app');
      expect(l['deployment.environment.name']).toBe(env);
    }
  });

  it('NODE_ENV picks the profile when TAPWIRE_ENV is unset, LOG_LEVEL overrides it', async () => {
    const prod = await startApp({
      runtime,
      file: 'logger-app.mjs',
      env: { TAPWIRE_ENV: undefined, NODE_ENV: 'production' },
    });
    expect(jsonLines(prod.stdout()).map((l) => l.level)).toEqual(['warn', 'error']);
    const trace = await startApp({
      runtime,
      file: 'logger-app.mjs',
      env: { TAPWIRE_ENV: 'production', LOG_LEVEL: 'trace' },
    });
    expect(jsonLines(trace.stdout()).map((l) => l.level)).toEqual([
      'trace',
      'debug',
      'info',
      'warn',
      'error',
    ]);
  });

  it('redacts secrets in fields, headers and connection strings', async () => {
    const app = await startApp({ runtime, file: 'logger-app.mjs', env: { TAPWIRE_ENV: 'staging' } });
    const out = app.stdout();
    for (const secret of ['sk-secret-1', 'sk-secret-2', 'hunter2', 's3cr3t', 'session=abc']) {
      expect(out).not.toContain(secret);
    }
    const warn = jsonLines(out).find((l) => l.level === 'warn')!;
    expect(warn.msg).toBe('connecting to postgres://app:[Redacted]@db.internal:5432/shop');
    expect(warn.db).toBe('postgres://app:[Redacted]@db.internal:5432/shop');
    expect(warn.headers).toEqual({ authorization: '[Redacted]', cookie: '[Redacted]', accept: 'json' });
    expect(warn.password).toBe('[Redacted]');
    expect(warn.apiKey).toBe('[Redacted]');
    const error = jsonLines(out).find((l) => l.level === 'error')!;
    expect((error.err as { message: string }).message).toBe('boom');
  });

  it('counts the records written per level in tapwire_log_records_total', async () => {
    const app = await startApp({ runtime, file: 'logger-app.mjs', env: { TAPWIRE_ENV: 'staging' } });
    const s = parseMetrics(await app.metrics());
    expect(value(s, 'tapwire_log_records_total', { level: 'info' })).toBe(1);
    expect(value(s, 'tapwire_log_records_total', { level: 'warn' })).toBe(1);
    expect(value(s, 'tapwire_log_records_total', { level: 'error' })).toBe(1);
    expect(value(s, 'tapwire_log_records_total', { level: 'debug' })).toBe(undefined);
  });

  it('works without the preload too, and the agent writes nothing to stdout', async () => {
    const bare = await startApp({
      runtime,
      file: 'logger-app.mjs',
      preload: false,
      env: { TAPWIRE_ENV: 'staging' },
    });
    expect(jsonLines(bare.stdout()).map((l) => l.level)).toEqual(['info', 'warn', 'error']);
    // The development profile logs the app at debug, but the agent's own lines below warn are not
    // the app's business: its stderr stays as the app wrote it (empty here).
    const quiet = await startApp({ runtime, file: 'logger-app.mjs', env: { TAPWIRE_ENV: 'development' } });
    expect(jsonLines(quiet.stdout()).every((l) => l.component === undefined)).toBe(true);
    expect(quiet.stderr()).toBe('');
    // Asked for with LOG_LEVEL, the agent's start message goes to stderr as JSON with component "tapwire".
    const app = await startApp({
      runtime,
      file: 'logger-app.mjs',
      env: { TAPWIRE_ENV: 'development', LOG_LEVEL: 'info' },
    });
    expect(jsonLines(app.stdout()).every((l) => l.component === undefined)).toBe(true);
    const own = jsonLines(app.stderr()).find((l) => l.code === 'TAPWIRE_METRICS_LISTENING');
    expect(own?.component).toBe('tapwire');
  });
});

// Regression: the logger's module imported agent/start.ts, so an app that only wanted a logger
// loaded (and paid the start-up of) every hook module.
it("import { logger } from 'tapwire' loads the logger and the configuration, no instrumentation", () => {
  const loaded = sourcesLoadedBy('index.js');
  expect(loaded).toContain('agent/log/logger.ts');
  expect(
    // withAttributes() finds the agent's attribution through a global symbol: two small files.
    loaded.filter(
      (f) =>
        !/^(config\/|agent\/log\/|agent\/current\.ts$|agent\/attributes\.ts$|core\/ai\/attribution-slot\.ts$|core\/log-counts\.ts$)/.test(
          f,
        ),
    ),
  ).toEqual([]);
  // The preload's entry does load them (the walk sees what it must), once it has turned V8's compile
  // cache on (register.ts imports the agent after that).
  expect(sourcesLoadedBy('register.js', true)).toContain('agent/http/node-server.ts');
});
