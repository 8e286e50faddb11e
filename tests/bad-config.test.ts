// Bad configuration in real processes. The preload, given each value a hardening review found
// accepted in silence: the app runs as it does without tapwire, stderr carries exactly one agent
// line with the right code and text, and what that line says happens is what happens. The
// sidecar, given bad values: one line per value saying it does not start, and exit code 1.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Standin, startStandin } from '../cli/demo/standin/index.js';
import { VARIABLES } from '../config/index.js';
import {
  FIXTURES,
  freePort,
  jsonLines,
  NODE,
  parseMetrics,
  ROOT,
  RUNTIMES,
  runScript,
  type ScriptRun,
  startApp,
  stopAll,
  sum,
} from './support/index.js';
import { OtlpReceiver } from './support/otlp.js';

const CLI = join(ROOT, 'dist/cli/main.js');
const dir = mkdtempSync(join(tmpdir(), 'tapwire-bad-config-'));

const receiver = new OtlpReceiver();
let standin: Standin;
beforeAll(async () => {
  await receiver.start();
  standin = await startStandin();
});
afterAll(async () => {
  await receiver.close();
  await standin.close();
});
const children = new Set<ChildProcess>();
afterEach(async () => {
  // A sidecar that started instead of refusing (a regression) must not outlive its test.
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  children.clear();
  await stopAll();
});

/** What a script run or the sidecar left: exit code and output. */
type Run = Omit<ScriptRun, 'ms'>;

const run = runScript;

/** The agent's lines on stderr, and the rest (the app's own) as it was. */
function split(stderr: string): { agent: Record<string, unknown>[]; app: string } {
  const lines = stderr.split('\n');
  const agent = jsonLines(stderr).filter((l) => l.component === 'tapwire');
  const app = lines.filter((l) => !l.includes('"component":"tapwire"')).join('\n');
  return { agent, app };
}

function priceFile(name: string, providers: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify({ providers }));
  return path;
}

describe.each(RUNTIMES)('the preload under %s with a bad value', (runtime) => {
  it('OTEL_EXPORTER_OTLP_HEADERS that is not name=value: one line, the app unchanged, nothing exported', async () => {
    const service = `bad-headers-${runtime}`;
    const env = {
      OTEL_SERVICE_NAME: service,
      OTEL_TRACES_EXPORTER: 'otlp',
      OTEL_METRICS_EXPORTER: 'otlp',
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      OTEL_EXPORTER_OTLP_HEADERS: 'Authorization: Bearer sk-live-abcdef',
    };
    // Serves one request to itself and exits: with OTLP on, the exit would flush a span and metrics.
    const script = [join(FIXTURES, 'trace-exit.mjs')];
    const bare = await run(runtime, false, script, env);
    const withTapwire = await run(runtime, true, script, env);
    expect([withTapwire.code, withTapwire.stdout]).toEqual([bare.code, bare.stdout]);
    const { agent, app } = split(withTapwire.stderr);
    expect(app).toBe(bare.stderr);
    expect(agent.map((l) => [l.level, l.code, l.msg])).toEqual([
      [
        'warn',
        'TAPWIRE_ERR_CONFIG',
        `OTEL_EXPORTER_OTLP_HEADERS="****" is not valid (entry 1 has no \`=\`): expected ${VARIABLES.OTEL_EXPORTER_OTLP_HEADERS.accepted}; OTLP export is off (otlp is left out of OTEL_TRACES_EXPORTER, OTEL_METRICS_EXPORTER and OTEL_LOGS_EXPORTER): nothing is sent without the headers`,
      ],
    ]);
    expect(withTapwire.stderr).not.toContain('sk-live');
    const sent = receiver.requests.filter((r) =>
      JSON.stringify(r.body).includes(`"stringValue":"${service}"`),
    );
    expect(sent).toEqual([]);
  });

  it('OTEL_EXPORTER_PROMETHEUS_HOST=999.999.999.999: one line naming the host, /metrics on the default 0.0.0.0', async () => {
    const app = await startApp({
      runtime,
      file: 'http-app.mjs',
      env: { OTEL_EXPORTER_PROMETHEUS_HOST: '999.999.999.999' },
    });
    // 0.0.0.0 answers on the loopback address too.
    expect(parseMetrics(await app.metrics()).length).toBeGreaterThan(0);
    expect(jsonLines(app.stderr()).map((l) => [l.code, l.msg])).toEqual([
      [
        'TAPWIRE_ERR_CONFIG',
        'OTEL_EXPORTER_PROMETHEUS_HOST="999.999.999.999" is not valid (not an IPv4 address: four numbers from 0 to 255): expected a host name or IP address; using the default ("0.0.0.0")',
      ],
    ]);
  });

  it('a 10,000-character OTEL_SERVICE_NAME: one short line, the service named by its first 255 characters', async () => {
    const long = `${runtime}-`.repeat(10_000).slice(0, 10_000);
    const app = await startApp({ runtime, file: 'http-app.mjs', env: { OTEL_SERVICE_NAME: long } });
    const target = parseMetrics(await app.metrics()).filter((s) => s.name === 'target_info');
    expect(target.map((s) => s.labels.service_name)).toEqual([long.slice(0, 255)]);
    const lines = jsonLines(app.stderr());
    expect(lines.map((l) => [l.code, l.msg, l['service.name']])).toEqual([
      [
        'TAPWIRE_ERR_CONFIG',
        `OTEL_SERVICE_NAME="${long.slice(0, 64)}\u2026" (10000 characters) is not valid (10000 characters): expected ${VARIABLES.OTEL_SERVICE_NAME.accepted}; using its first 255 characters`,
        long.slice(0, 255),
      ],
    ]);
  });

  it('TAPWIRE_AI_PRICES with a negative price: one line, and calls priced by the built-in table only', async () => {
    const file = priceFile(`negative-${runtime}.json`, {
      openai: { 'gpt-4o-mini': { input: 100, output: 200 }, 'gpt-4o': { input: -1, output: 10 } },
    });
    const app = await startApp({
      runtime,
      file: 'ai-app.mjs',
      env: {
        TAPWIRE_AI_ENDPOINTS: standin.endpoints,
        OPENAI_URL: `http://127.0.0.1:${standin.ports.openai}`,
        TAPWIRE_AI_PRICES: file,
      },
    });
    standin.served.length = 0;
    const res = await fetch(app.url('/run?case=node-http'));
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    const served = standin.served.find((s) => s.model === 'gpt-4o-mini')!;
    const samples = parseMetrics(await app.metrics());
    const cost = (type: string) =>
      sum(samples, 'tapwire_gen_ai_cost_usd_total', {
        gen_ai_request_model: 'gpt-4o-mini',
        gen_ai_token_type: type,
      });
    // The built-in 0.15 / 0.6 USD per million, not the file's 100 / 200.
    expect(cost('input')).toBeCloseTo((served.input! * 0.15) / 1e6, 12);
    expect(cost('output')).toBeCloseTo((served.output! * 0.6) / 1e6, 12);
    expect(jsonLines(app.stderr()).map((l) => [l.code, l.msg])).toEqual([
      [
        'TAPWIRE_ERR_AI_PRICES',
        `TAPWIRE_AI_PRICES="${file}" is not valid (providers["openai"]["gpt-4o"].input is -1): expected ${VARIABLES.TAPWIRE_AI_PRICES.accepted}; using the built-in price table only`,
      ],
    ]);
  });

  it('TAPWIRE_AI_ENDPOINTS=HOST=madeupprovider: one line, and the calls read as OpenAI under that name', async () => {
    const host = `127.0.0.1:${standin.ports.openai}`;
    const app = await startApp({
      runtime,
      file: 'ai-app.mjs',
      env: {
        TAPWIRE_AI_ENDPOINTS: `${host}=madeupprovider`,
        OPENAI_URL: `http://${host}`,
        // Priced, so that the only line is the one about the provider.
        TAPWIRE_AI_PRICES: priceFile(`made-up-${runtime}.json`, {
          madeupprovider: { 'gpt-4o-mini': { input: 1, output: 2 } },
        }),
      },
    });
    standin.served.length = 0;
    const res = await fetch(app.url('/run?case=node-http'));
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    const served = standin.served.find((s) => s.model === 'gpt-4o-mini')!;
    const samples = parseMetrics(await app.metrics());
    const tokens = (type: string) =>
      sum(samples, 'gen_ai_client_token_usage_sum', {
        gen_ai_provider_name: 'madeupprovider',
        gen_ai_token_type: type,
      });
    expect([tokens('input'), tokens('output')]).toEqual([served.input, served.output]);
    expect(jsonLines(app.stderr()).map((l) => [l.code, l.msg])).toEqual([
      [
        'TAPWIRE_ERR_CONFIG',
        `TAPWIRE_AI_ENDPOINTS="${host}=madeupprovider" is not valid (madeupprovider is not a provider tapwire knows): expected ${VARIABLES.TAPWIRE_AI_ENDPOINTS.accepted}; calls to 127.0.0.1 are recorded under madeupprovider and read as the OpenAI API (write 127.0.0.1=openai@madeupprovider to say so)`,
      ],
    ]);
  });
});

describe('tapwire sidecar with a bad value', () => {
  async function sidecar(env: Record<string, string>): Promise<Run> {
    const child = spawn(NODE, [CLI, 'sidecar'], {
      env: {
        PATH: process.env.PATH,
        TMPDIR: process.env.TMPDIR,
        TAPWIRE_ENV: 'test',
        TAPWIRE_PROXY_PORT: String(await freePort()),
        TAPWIRE_GATEWAY_PORT: String(await freePort()),
        OTEL_EXPORTER_PROMETHEUS_PORT: String(await freePort()),
        OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    // A sidecar that starts instead of refusing runs until stopped: give it 5 s, then stop it.
    const started = setTimeout(() => child.kill('SIGKILL'), 5000);
    const [code] = (await once(child, 'exit')) as [number | null];
    clearTimeout(started);
    return { code, stdout, stderr };
  }

  const UPSTREAM = VARIABLES.TAPWIRE_UPSTREAM.accepted;

  it.each([
    [
      { TAPWIRE_UPSTREAM: 'http://127.0.0.1:3000/api/v1' },
      `TAPWIRE_UPSTREAM="http://127.0.0.1:3000/api/v1" is not valid (it has a path (/api/v1)): expected ${UPSTREAM}; the sidecar does not start`,
    ],
    [
      { TAPWIRE_UPSTREAM: 'http://127.0.0.1:3000/?tenant=a' },
      `TAPWIRE_UPSTREAM="http://127.0.0.1:3000/?tenant=a" is not valid (it has a query or fragment): expected ${UPSTREAM}; the sidecar does not start`,
    ],
    [
      { TAPWIRE_UPSTREAM: 'http://admin:hunter2@127.0.0.1:3000' },
      `TAPWIRE_UPSTREAM="http://****@127.0.0.1:3000" is not valid (it holds credentials): expected ${UPSTREAM}; the sidecar does not start`,
    ],
    [
      { TAPWIRE_PROXY_PORT: 'eighty' },
      'TAPWIRE_PROXY_PORT="eighty" is not valid: expected an integer from 0 to 65535; the sidecar does not start',
    ],
    [
      { OTEL_EXPORTER_PROMETHEUS_HOST: '999.999.999.999' },
      'OTEL_EXPORTER_PROMETHEUS_HOST="999.999.999.999" is not valid (not an IPv4 address: four numbers from 0 to 255): expected a host name or IP address; the sidecar does not start',
    ],
  ])('%j: exit 1 and one error line saying it does not start', async (env, message) => {
    const r = await sidecar(env);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).not.toContain('hunter2');
    expect(r.stderr).not.toContain('using the default');
    expect(jsonLines(r.stderr).map((l) => [l.level, l.code, l.msg])).toEqual([
      ['error', 'TAPWIRE_ERR_SIDECAR_CONFIG', message],
    ]);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('a price file with a string price: exit 1 and one line naming the entry', async () => {
    const file = priceFile('string.json', { openai: { 'gpt-4o': { input: '2.5' } } });
    const r = await sidecar({ TAPWIRE_AI_PRICES: file });
    expect(r.code).toBe(1);
    expect(jsonLines(r.stderr).map((l) => [l.level, l.code, l.msg])).toEqual([
      [
        'error',
        'TAPWIRE_ERR_SIDECAR_CONFIG',
        `TAPWIRE_AI_PRICES="${file}" is not valid (providers["openai"]["gpt-4o"].input is "2.5"): expected ${VARIABLES.TAPWIRE_AI_PRICES.accepted}; the sidecar does not start`,
      ],
    ]);
  });

  it('two bad values: one line each, exit 1', async () => {
    const r = await sidecar({ TAPWIRE_UPSTREAM: 'http://app:3000/x', TAPWIRE_DRAIN_SECONDS: 'soon' });
    expect(r.code).toBe(1);
    expect(jsonLines(r.stderr).map((l) => [l.code, l.variable])).toEqual([
      ['TAPWIRE_ERR_SIDECAR_CONFIG', 'TAPWIRE_UPSTREAM'],
      ['TAPWIRE_ERR_SIDECAR_CONFIG', 'TAPWIRE_DRAIN_SECONDS'],
    ]);
  });
});
