// The `engines` promise in package.json, kept: the README's quick start (the packed tarball
// installed into a fresh app, the app run under `tapwire/register`, /metrics read) on the oldest
// Node and Bun the package claims, on the project's own Node 24 and Bun, and on Node 26 (the newest
// major `>=24.11.1` takes in; the whole suite passes on 26.10.0 with TAPWIRE_TEST_NODE). The other
// versions come from the npm registry once (scripts/runtimes.ts caches them under node_modules/.cache).
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { oldestClaimed, type RuntimeName, runtimeBinary, versionOf } from '../scripts/runtimes.js';
import { type App, parseMetrics, startApp, stopAll, value } from './support/index.js';
import { installApp, pack, readJson, removeTemporaries } from './support/package.js';

const { version: TAPWIRE_VERSION, engines } = readJson<{ version: string; engines: Record<string, string> }>(
  new URL('../package.json', import.meta.url).pathname,
);

// The quick start's two apps: a node:http service (app.js) and, for Bun, a Bun.serve one (app.ts).
const APP_JS = `import { createServer } from 'node:http';
createServer((req, res) => res.end('hello\\n')).listen(Number(process.env.PORT ?? 3000));
`;
const APP_TS = `Bun.serve({ port: Number(process.env.PORT ?? 3000), fetch: () => new Response('hello\\n') });
`;

interface Case {
  runtime: RuntimeName;
  /** The engines claim's oldest, the project's own, or an exact version. */
  which: 'oldest' | 'own' | `${number}.${number}.${number}`;
  file: 'app.js' | 'app.ts';
}
const CASES: Case[] = [
  { runtime: 'node', which: 'oldest', file: 'app.js' },
  { runtime: 'node', which: 'own', file: 'app.js' },
  { runtime: 'node', which: '26.10.0', file: 'app.js' },
  { runtime: 'bun', which: 'oldest', file: 'app.ts' },
  { runtime: 'bun', which: 'oldest', file: 'app.js' },
  { runtime: 'bun', which: 'own', file: 'app.ts' },
  { runtime: 'bun', which: 'own', file: 'app.js' },
];

let appDir: string;
const binaries = new Map<string, string>();

beforeAll(() => {
  // Fetched first (about 5 s each the first time), then the app installed from the tarball.
  for (const c of CASES) binaries.set(`${c.runtime}-${c.which}`, runtimeBinary(c.runtime, c.which));
  appDir = installApp(
    pack().tarball,
    { name: 'quick-start', private: true, type: 'module' },
    {
      'app.js': APP_JS,
      'app.ts': APP_TS,
    },
  );
}, 600_000);
afterEach(stopAll);
afterAll(removeTemporaries);

it('the oldest versions tested are the ones package.json claims', () => {
  expect(engines).toEqual({ node: '^22.22.3 || >=24.11.1', bun: '>=1.4' });
  expect([oldestClaimed('node'), oldestClaimed('bun')]).toEqual(['22.22.3', '1.4.0']);
  expect(versionOf(binaries.get('node-oldest')!)).toBe('22.22.3');
  expect(versionOf(binaries.get('bun-oldest')!)).toBe('1.4.0');
});

describe.each(CASES)('quick start: $runtime ($which) $file', ({ runtime, which, file }) => {
  it('serves the request counts on /metrics, and the agent says nothing above debug', async () => {
    const binary = binaries.get(`${runtime}-${which}`)!;
    const version = versionOf(binary);
    // As the README runs it: the default (development) profile, the preload named as installed.
    const app: App = await startApp({
      runtime,
      binary,
      file: join(appDir, file),
      cwd: appDir,
      register: 'tapwire/register',
      env: { TAPWIRE_ENV: undefined },
    });
    const answers: string[] = [];
    for (let i = 0; i < 3; i++) answers.push(await (await fetch(app.url('/'))).text());
    expect(answers).toEqual(['hello\n', 'hello\n', 'hello\n']);
    const samples = parseMetrics(await app.metrics());
    const count = value(samples, 'http_server_request_duration_seconds_count', {
      http_request_method: 'GET',
      http_response_status_code: '200',
      url_scheme: 'http',
    });
    const info = value(samples, 'tapwire_agent_info', {
      version: TAPWIRE_VERSION,
      runtime,
      runtime_version: version,
      tapwire_process: '0',
    });
    // The three requests and startApp's readiness probe (one GET / that answered).
    expect([count, info]).toEqual([4, 1]);
    // Every agent line is JSON; in development the agent logs at debug, and nothing may be a warning.
    const lines = app
      .stderr()
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as { level: string; code: string });
    expect(lines.filter((l) => !['debug', 'info'].includes(l.level))).toEqual([]);
    expect(app.stdout()).toBe('');
    process.stdout.write(`quick start on ${runtime} ${version} (${file}): ${count} requests on /metrics\n`);
  });
});

describe('a Node whose module load hooks break require(esm) (22.22.2)', () => {
  // Hono's load hook stays off there: with it, an ESM app importing express 5 died at start
  // ("request for './index.js' is not in cache"), because any module.registerHooks load hook broke
  // require() of an ES module from CommonJS the ESM loader evaluates (fixed in 22.22.3 and 24.11.1).
  it('an express app with hono installed starts and answers as without the preload', async () => {
    const binary = runtimeBinary('node', '22.22.2');
    const answer = async (app: App) => {
      const res = await fetch(app.url('/users/7'));
      return `${res.status} ${await res.text()}`;
    };
    const bare = await startApp({ runtime: 'node', binary, file: 'express-app.mjs', preload: false });
    const expected = await answer(bare);
    await bare.stop();
    const app = await startApp({
      runtime: 'node',
      binary,
      file: 'express-app.mjs',
      env: { LOG_LEVEL: 'debug' },
    });
    expect(await answer(app)).toBe(expected);
    const samples = parseMetrics(await app.metrics());
    expect(
      value(samples, 'http_server_request_duration_seconds_count', {
        http_request_method: 'GET',
        http_response_status_code: '200',
        url_scheme: 'http',
        http_route: '/users/:id',
      }),
    ).toBe(1);
    expect(app.stderr()).toContain('"code":"TAPWIRE_HONO_UNSUPPORTED"');
  }, 120_000);
});
