// The built CLI (dist/cli/main.js), run as a user runs it: exact output and exit codes.
// `npm test` builds first; run `npm run build` before `vitest run tests/cli.test.ts` on its own.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { VARIABLES } from '../config/index.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(ROOT, 'dist/cli/main.js');
const NODE = join(ROOT, 'node_modules/.bin/node');
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

// The app's directory: its package.json names the service.
const app = mkdtempSync(join(tmpdir(), 'tapwire-cli-'));
writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'shop' }));

/** Runs the CLI with exactly `env` (plus PATH), so the test machine's variables cannot leak in. */
function tapwire(args: string[], env: Record<string, string> = {}, cli = CLI) {
  const r = spawnSync(NODE, [cli, ...args], {
    cwd: app,
    env: { PATH: process.env.PATH ?? '', ...env },
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(() => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (npm test does).`);
});

describe('tapwire', () => {
  it('--version prints the package version', () => {
    expect(tapwire(['--version'])).toEqual({ code: 0, stdout: `${VERSION}\n`, stderr: '' });
  });

  it('--help prints usage on stdout', () => {
    const r = tapwire(['--help']);
    expect([r.code, r.stderr]).toEqual([0, '']);
    expect(r.stdout).toMatch(/^Usage: tapwire <command>/);
    for (const command of ['config', 'dashboards', 'docs', 'demo'])
      expect(r.stdout).toContain(`\n  ${command} `);
  });

  it('an unknown command prints usage on stderr and exits 2', () => {
    const r = tapwire(['deploy']);
    expect([r.code, r.stdout]).toEqual([2, '']);
    expect(r.stderr).toMatch(/^tapwire: unknown command "deploy"\n\nUsage: tapwire <command>/);
    expect(tapwire([]).code).toBe(2);
  });

  it('loads no instrumentation code', () => {
    // Every file the CLI can import, following relative imports through the bundle's chunks.
    // What the CLI loads up front has no metrics SDK and no hook; what a command loads on demand
    // (`tapwire sidecar`: recorders and a MeterProvider of its own) still loads no hook. A hook is
    // any module of agent/ (esbuild marks each bundled module with a `// path.ts` comment); the
    // CLI may read core/'s tables (channels, log codes) for the docs it generates.
    const HOOKS = /^\/\/ agent\/\S+\.ts$/m;
    const seen = new Set<string>();
    const visit = (file: string, upFront: boolean) => {
      if (seen.has(file)) return;
      seen.add(file);
      const code = readFileSync(file, 'utf8');
      for (const m of code.matchAll(/from\s*"(\.{1,2}\/[^"]+)"/g)) visit(join(dirname(file), m[1]!), upFront);
      for (const m of code.matchAll(/import\s*\(\s*"(\.{1,2}\/[^"]+)"/g))
        visit(join(dirname(file), m[1]!), false);
      expect(HOOKS.exec(code)?.[0], `${file} bundles a hook`).toBeUndefined();
      if (upFront) expect(code, `${file} contains MeterProvider`).not.toContain('MeterProvider');
      // Grafana's dashboard builder is `tapwire dashboards`' alone (loaded on demand).
      if (upFront)
        expect(code, `${file} bundles the Grafana builder`).not.toMatch(
          /^\/\/ \S*grafana-foundation-sdk\/dist\//m,
        );
    };
    visit(CLI, true);
    expect(seen.size).toBeGreaterThan(1);
  });
});

describe('tapwire config', () => {
  it('prints every variable, its effective value and its source', () => {
    expect(tapwire(['config'])).toEqual({
      code: 0,
      stderr: '',
      stdout: `environment development, profile development

VARIABLE                                            VALUE                             SOURCE
OTEL_SDK_DISABLED                                   false                             default
OTEL_SERVICE_NAME                                   shop                              package.json
OTEL_RESOURCE_ATTRIBUTES                            none                              default
TAPWIRE_ENV                                         development                       default
LOG_LEVEL                                           debug                             profile development
OTEL_METRICS_EXPORTER                               prometheus                        default
OTEL_TRACES_EXPORTER                                none                              default
OTEL_LOGS_EXPORTER                                  none                              default
OTEL_EXPORTER_PROMETHEUS_HOST                       0.0.0.0                           default
OTEL_EXPORTER_PROMETHEUS_PORT                       9464                              default
OTEL_EXPORTER_OTLP_ENDPOINT                         http://localhost:4318/            default
OTEL_EXPORTER_OTLP_TRACES_ENDPOINT                  http://localhost:4318/v1/traces   from OTEL_EXPORTER_OTLP_ENDPOINT
OTEL_EXPORTER_OTLP_METRICS_ENDPOINT                 http://localhost:4318/v1/metrics  from OTEL_EXPORTER_OTLP_ENDPOINT
OTEL_EXPORTER_OTLP_LOGS_ENDPOINT                    http://localhost:4318/v1/logs     from OTEL_EXPORTER_OTLP_ENDPOINT
OTEL_EXPORTER_OTLP_HEADERS                          none                              default
OTEL_METRIC_EXPORT_INTERVAL                         60000                             default
OTEL_TRACES_SAMPLER                                 parentbased_always_on             default
OTEL_TRACES_SAMPLER_ARG                             1                                 default
TAPWIRE_CARDINALITY_LIMIT                           2000                              default
TAPWIRE_RUNTIME_METRICS                             true                              default
TAPWIRE_AI_ENDPOINTS                                none                              default
TAPWIRE_AI_PRICES                                   none                              default
OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT  false                             default
TAPWIRE_DB_SLOW_MS                                  500                               default
TAPWIRE_PROXY_PORT                                  8080                              default
TAPWIRE_UPSTREAM                                    http://127.0.0.1:3000/            default
TAPWIRE_ROUTES                                      none                              default
TAPWIRE_PROXY_TIMEOUT_SECONDS                       60                                default
TAPWIRE_DRAIN_SECONDS                               20                                default
TAPWIRE_GATEWAY_PORT                                9465                              default
TAPWIRE_GATEWAY_PROVIDERS                           none                              default
`,
    });
  });

  it('shows values from the environment, the profile they pick, and masks secrets', () => {
    const r = tapwire(['config'], {
      NODE_ENV: 'production',
      LOG_LEVEL: 'info',
      OTEL_EXPORTER_PROMETHEUS_PORT: '9100',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
      OTEL_EXPORTER_OTLP_HEADERS: 'api-key=sk-live-123456,x-team=pay',
      TAPWIRE_AI_ENDPOINTS: '127.0.0.1:8080=openai,llm.internal=anthropic',
    });
    expect([r.code, r.stderr]).toEqual([0, '']);
    const rows = r.stdout.split('\n').map((l) => l.split(/ {2,}/));
    const row = (name: string) => rows.find((cells) => cells[0] === name)?.slice(1);
    expect(r.stdout.split('\n')[0]).toBe('environment production, profile production');
    expect(row('TAPWIRE_ENV')).toEqual(['production', 'NODE_ENV']);
    expect(row('LOG_LEVEL')).toEqual(['info', 'LOG_LEVEL']);
    expect(row('OTEL_EXPORTER_PROMETHEUS_PORT')).toEqual(['9100', 'OTEL_EXPORTER_PROMETHEUS_PORT']);
    expect(row('OTEL_EXPORTER_OTLP_ENDPOINT')).toEqual([
      'http://collector:4318/',
      'OTEL_EXPORTER_OTLP_ENDPOINT',
    ]);
    expect(row('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT')).toEqual([
      'http://collector:4318/v1/traces',
      'from OTEL_EXPORTER_OTLP_ENDPOINT',
    ]);
    expect(row('OTEL_EXPORTER_OTLP_HEADERS')).toEqual([
      'api-key=sk****,x-team=****',
      'OTEL_EXPORTER_OTLP_HEADERS',
    ]);
    expect(row('TAPWIRE_AI_ENDPOINTS')).toEqual([
      '127.0.0.1:8080=openai,llm.internal=anthropic',
      'TAPWIRE_AI_ENDPOINTS',
    ]);
    expect(r.stdout).not.toContain('live');
  });

  it('exits 1 and explains each bad value on stderr', () => {
    const r = tapwire(['config'], {
      OTEL_EXPORTER_PROMETHEUS_PORT: 'abc',
      LOG_LEVEL: 'loud',
      OTEL_EXPORTER_OTLP_HEADERS: 'sk-live-123456',
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`tapwire config: 3 bad values (TAPWIRE_ERR_CONFIG)
  LOG_LEVEL="loud"
    accepted: trace, debug, info, warn, error, fatal, silent
    default:  the profile\u2019s level
  OTEL_EXPORTER_PROMETHEUS_PORT="abc"
    accepted: an integer from 0 to 65535
    default:  9464
  OTEL_EXPORTER_OTLP_HEADERS="sk****"
    accepted: comma-separated key=value pairs
    default:  none
`);
    expect(r.stdout).toContain(
      '\nOTEL_EXPORTER_PROMETHEUS_PORT                       9464                              default (OTEL_EXPORTER_PROMETHEUS_PORT invalid)\n',
    );
    expect(r.stdout + r.stderr).not.toContain('live');
  });

  it('--json gives the same report for machines', () => {
    const r = tapwire(['config', '--json'], { TAPWIRE_ENV: 'staging', TAPWIRE_CARDINALITY_LIMIT: 'lots' });
    expect([r.code, r.stderr]).toEqual([1, '']);
    const report = JSON.parse(r.stdout);
    expect(report).toMatchObject({ ok: false, environment: 'staging', profile: 'staging' });
    expect(report.variables.map((v: { variable: string }) => v.variable)).toEqual(Object.keys(VARIABLES));
    expect(report.variables).toContainEqual({
      variable: 'LOG_LEVEL',
      value: 'info',
      source: 'profile staging',
    });
    expect(report.problems).toEqual([
      {
        code: 'TAPWIRE_ERR_CONFIG',
        variable: 'TAPWIRE_CARDINALITY_LIMIT',
        value: 'lots',
        accepted: 'an integer from 1 to 100000',
        using: '2000',
        message:
          'TAPWIRE_CARDINALITY_LIMIT="lots" is not valid: expected an integer from 1 to 100000; using the default (2000)',
      },
    ]);
    expect(JSON.parse(tapwire(['config', '--json']).stdout).ok).toBe(true);
  });

  it('rejects unknown options with exit 2', () => {
    const r = tapwire(['config', '--yaml']);
    expect([r.code, r.stdout]).toEqual([2, '']);
    expect(r.stderr).toContain('unknown option --yaml');
  });
});

describe('tapwire docs', () => {
  it('--check passes on the committed docs', () => {
    expect(tapwire(['docs', '--check'])).toEqual({
      code: 0,
      stdout:
        'up to date: docs/metrics.md, docs/configuration.md, docs/log-codes.md, docs/channels.md, docs/dashboards.md\n',
      stderr: '',
    });
  });

  it('--check names stale pages; --write regenerates them', () => {
    // A copy of the package without docs/, so the repository's own pages are never touched.
    const pkg = mkdtempSync(join(tmpdir(), 'tapwire-pkg-'));
    cpSync(join(ROOT, 'dist'), join(pkg, 'dist'), { recursive: true });
    const cli = join(pkg, 'dist/cli/main.js');
    expect(tapwire(['docs', '--check'], {}, cli)).toEqual({
      code: 1,
      stdout: '',
      stderr: ['metrics', 'configuration', 'log-codes', 'channels', 'dashboards']
        .map((page) => `stale: docs/${page}.md (run: tapwire docs --write)\n`)
        .join(''),
    });
    expect(tapwire(['docs', '--write'], {}, cli).stdout).toBe(
      'wrote docs/metrics.md\nwrote docs/configuration.md\nwrote docs/log-codes.md\nwrote docs/channels.md\nwrote docs/dashboards.md\n',
    );
    expect(readFileSync(join(pkg, 'docs/metrics.md'), 'utf8')).toBe(
      readFileSync(join(ROOT, 'docs/metrics.md'), 'utf8'),
    );
    expect(tapwire(['docs', '--check'], {}, cli).code).toBe(0);
  });
});

describe('tapwire demo', () => {
  // The label sets of the demo's two AI calls (cli/demo/index.ts DEMO_AI).
  const GPT_4O =
    'gen_ai_operation_name="chat",gen_ai_provider_name="openai",gen_ai_request_model="gpt-4o",gen_ai_response_model="gpt-4o-2024-08-06",server_address="127.0.0.1"';
  const GPT_4O_MINI =
    'gen_ai_operation_name="chat",gen_ai_provider_name="openai",gen_ai_request_model="gpt-4o-mini",gen_ai_response_model="gpt-4o-mini-2024-07-18",server_address="127.0.0.1"';
  const demo = (args: string[]) => {
    // Its own TMPDIR, to see that the demo removes what it wrote.
    const tmp = mkdtempSync(join(tmpdir(), 'tapwire-demo-test-'));
    const r = tapwire(['demo', ...args], { TMPDIR: tmp });
    // Node's compile cache (the preload turns it on, in the temporary directory) is meant to stay.
    const leftovers = readdirSync(tmp).filter((f) => f !== 'node-compile-cache');
    rmSync(tmp, { recursive: true, force: true });
    return { ...r, leftovers };
  };

  it('drives fixed traffic and prints the exact request counts', () => {
    const r = demo([]);
    expect([r.code, r.stderr, r.leftovers]).toEqual([0, '', []]);
    const counts = r.stdout
      .split('\n')
      .filter((l) => l.includes('_count{'))
      .map((l) => l.replace(/server_port="\d+"/, 'server_port="PORT"'));
    expect(counts.sort()).toEqual(
      [
        // 10 × GET / and the 2 GET /inventory calls behind the orders.
        'http_server_request_duration_seconds_count{http_request_method="GET",http_response_status_code="200",url_scheme="http"} 12',
        'http_server_request_duration_seconds_count{http_request_method="GET",http_response_status_code="500",url_scheme="http",error_type="500"} 3',
        'http_server_request_duration_seconds_count{http_request_method="POST",http_response_status_code="201",url_scheme="http"} 2',
        'http_client_request_duration_seconds_count{http_request_method="GET",http_response_status_code="200",server_address="127.0.0.1",server_port="PORT",url_scheme="http"} 2',
        // The embedded SQLite database: set up once, read by each /inventory, updated by each order.
        'db_client_operation_duration_seconds_count{db_system_name="sqlite",db_operation_name="CREATE",db_collection_name="inventory"} 1',
        'db_client_operation_duration_seconds_count{db_system_name="sqlite",db_operation_name="INSERT",db_collection_name="inventory"} 1',
        'db_client_operation_duration_seconds_count{db_system_name="sqlite",db_operation_name="SELECT",db_collection_name="inventory"} 2',
        'db_client_operation_duration_seconds_count{db_system_name="sqlite",db_operation_name="UPDATE",db_collection_name="inventory"} 2',
        // 2 × POST /summarize and 3 × POST /chat, each calling the AI provider stand-in once.
        'http_server_request_duration_seconds_count{http_request_method="POST",http_response_status_code="200",url_scheme="http"} 5',
        'http_client_request_duration_seconds_count{http_request_method="POST",http_response_status_code="200",server_address="127.0.0.1",server_port="PORT",url_scheme="http"} 5',
        `gen_ai_client_operation_duration_seconds_count{${GPT_4O}} 2`,
        `gen_ai_client_operation_duration_seconds_count{${GPT_4O_MINI}} 3`,
        `gen_ai_client_token_usage_count{${GPT_4O},gen_ai_token_type="input"} 2`,
        `gen_ai_client_token_usage_count{${GPT_4O},gen_ai_token_type="output"} 2`,
        `gen_ai_client_token_usage_count{${GPT_4O_MINI},gen_ai_token_type="input"} 3`,
        `gen_ai_client_token_usage_count{${GPT_4O_MINI},gen_ai_token_type="output"} 3`,
        // Streamed calls only: the 3 /chat calls.
        `gen_ai_client_operation_time_to_first_chunk_seconds_count{${GPT_4O_MINI}} 3`,
      ].sort(),
    );
    // Tokens exactly as the stand-in reported them: gpt-4o 1000 in (600 cached) / 150 out per
    // call, gpt-4o-mini 200 in / 80 out per call.
    const sums = r.stdout.split('\n').filter((l) => l.startsWith('gen_ai_client_token_usage_sum{'));
    expect(sums.sort()).toEqual(
      [
        `gen_ai_client_token_usage_sum{${GPT_4O},gen_ai_token_type="input"} 2000`,
        `gen_ai_client_token_usage_sum{${GPT_4O_MINI},gen_ai_token_type="input"} 600`,
        `gen_ai_client_token_usage_sum{${GPT_4O},gen_ai_token_type="output"} 300`,
        `gen_ai_client_token_usage_sum{${GPT_4O_MINI},gen_ai_token_type="output"} 240`,
      ].sort(),
    );
    // Cost from core/ai/prices.json (USD per 1M tokens): gpt-4o input 2.5, cached input 1.25,
    // output 10; gpt-4o-mini input 0.15, output 0.6.
    const cost = new Map(
      r.stdout
        .split('\n')
        .filter((l) => l.startsWith('tapwire_gen_ai_cost_usd_total{'))
        .map((l) => [l.slice(0, l.lastIndexOf(' ')), Number(l.slice(l.lastIndexOf(' ') + 1))] as const),
    );
    const expected: [string, string, number][] = [
      ['gpt-4o', 'input', (2 * (400 * 2.5 + 600 * 1.25)) / 1e6],
      ['gpt-4o', 'output', (2 * 150 * 10) / 1e6],
      ['gpt-4o-mini', 'input', (3 * 200 * 0.15) / 1e6],
      ['gpt-4o-mini', 'output', (3 * 80 * 0.6) / 1e6],
    ];
    expect([...cost.keys()].sort()).toEqual(
      expected
        .map(
          ([model, type]) =>
            `tapwire_gen_ai_cost_usd_total{gen_ai_provider_name="openai",gen_ai_request_model="${model}",gen_ai_token_type="${type}"}`,
        )
        .sort(),
    );
    for (const [model, type, usd] of expected) {
      const key = `tapwire_gen_ai_cost_usd_total{gen_ai_provider_name="openai",gen_ai_request_model="${model}",gen_ai_token_type="${type}"}`;
      expect(cost.get(key), key).toBeCloseTo(usd, 12);
    }
    expect(r.stdout).not.toContain('_bucket{');
  });

  it('--all adds the bucket lines', () => {
    const r = demo(['--all']);
    expect([r.code, r.leftovers]).toEqual([0, []]);
    expect(r.stdout).toContain(
      'http_server_request_duration_seconds_bucket{http_request_method="POST",http_response_status_code="201",url_scheme="http",le="+Inf"} 2',
    );
  });

  it('rejects an unknown runtime with exit 2', () => {
    expect(demo(['--runtime', 'deno']).code).toBe(2);
  });
});
