// The built CLI (dist/cli/main.js), run as a user runs it: exact output and exit codes.
// `npm test` builds first; run `npm run build` before `vitest run tests/cli.test.ts` on its own.
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { VARIABLES } from '../config/index.js';
import { PRICES_VERSION } from '../core/ai/prices.js';
import { formatSeconds } from '../exporters/live/summary.js';
import { find, histogramQuantile, NODE, parseMetrics } from './support/index.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(ROOT, 'dist/cli/main.js');
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

// The app's directory: its package.json names the service.
const app = mkdtempSync(join(tmpdir(), 'tapwire-cli-'));
writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'shop' }));

/** Runs the CLI with exactly `env` (plus PATH), so the test machine's variables cannot leak in. */
function tapwire(args: string[], env: Record<string, string> = {}, cli = CLI) {
  const r = spawnSync(NODE, [cli, ...args], {
    cwd: app,
    env: { PATH: process.env.PATH ?? '', TMPDIR: process.env.TMPDIR, ...env },
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
TAPWIRE_LOG_STDOUT                                  on                                default
OTEL_EXPORTER_PROMETHEUS_HOST                       0.0.0.0                           default
OTEL_EXPORTER_PROMETHEUS_PORT                       9464                              default
OTEL_EXPORTER_OTLP_ENDPOINT                         http://localhost:4318/            default
OTEL_EXPORTER_OTLP_TRACES_ENDPOINT                  http://localhost:4318/v1/traces   from OTEL_EXPORTER_OTLP_ENDPOINT
OTEL_EXPORTER_OTLP_METRICS_ENDPOINT                 http://localhost:4318/v1/metrics  from OTEL_EXPORTER_OTLP_ENDPOINT
OTEL_EXPORTER_OTLP_LOGS_ENDPOINT                    http://localhost:4318/v1/logs     from OTEL_EXPORTER_OTLP_ENDPOINT
OTEL_EXPORTER_OTLP_PROTOCOL                         http/protobuf                     default
OTEL_EXPORTER_OTLP_TRACES_PROTOCOL                  http/protobuf                     from OTEL_EXPORTER_OTLP_PROTOCOL
OTEL_EXPORTER_OTLP_METRICS_PROTOCOL                 http/protobuf                     from OTEL_EXPORTER_OTLP_PROTOCOL
OTEL_EXPORTER_OTLP_LOGS_PROTOCOL                    http/protobuf                     from OTEL_EXPORTER_OTLP_PROTOCOL
OTEL_EXPORTER_OTLP_COMPRESSION                      none                              default
OTEL_EXPORTER_OTLP_TRACES_COMPRESSION               none                              from OTEL_EXPORTER_OTLP_COMPRESSION
OTEL_EXPORTER_OTLP_METRICS_COMPRESSION              none                              from OTEL_EXPORTER_OTLP_COMPRESSION
OTEL_EXPORTER_OTLP_LOGS_COMPRESSION                 none                              from OTEL_EXPORTER_OTLP_COMPRESSION
OTEL_EXPORTER_OTLP_HEADERS                          none                              default
OTEL_EXPORTER_OTLP_TRACES_HEADERS                   none                              from OTEL_EXPORTER_OTLP_HEADERS
OTEL_EXPORTER_OTLP_METRICS_HEADERS                  none                              from OTEL_EXPORTER_OTLP_HEADERS
OTEL_EXPORTER_OTLP_LOGS_HEADERS                     none                              from OTEL_EXPORTER_OTLP_HEADERS
OTEL_EXPORTER_OTLP_TIMEOUT                          10000                             default
OTEL_EXPORTER_OTLP_TRACES_TIMEOUT                   10000                             from OTEL_EXPORTER_OTLP_TIMEOUT
OTEL_EXPORTER_OTLP_METRICS_TIMEOUT                  10000                             from OTEL_EXPORTER_OTLP_TIMEOUT
OTEL_EXPORTER_OTLP_LOGS_TIMEOUT                     10000                             from OTEL_EXPORTER_OTLP_TIMEOUT
OTEL_METRIC_EXPORT_INTERVAL                         60000                             default
OTEL_BLRP_SCHEDULE_DELAY                            1000                              default
OTEL_BLRP_MAX_QUEUE_SIZE                            2048                              default
OTEL_BLRP_MAX_EXPORT_BATCH_SIZE                     512                               default
OTEL_TRACES_SAMPLER                                 parentbased_always_on             default
OTEL_TRACES_SAMPLER_ARG                             1                                 default
OTEL_BSP_SCHEDULE_DELAY                             5000                              default
OTEL_BSP_EXPORT_TIMEOUT                             30000                             default
OTEL_BSP_MAX_QUEUE_SIZE                             2048                              default
OTEL_BSP_MAX_EXPORT_BATCH_SIZE                      512                               default
OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT                   none                              default
OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT              none                              default
OTEL_ATTRIBUTE_COUNT_LIMIT                          128                               default
OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT                     128                               default
OTEL_SPAN_EVENT_COUNT_LIMIT                         128                               default
OTEL_SPAN_LINK_COUNT_LIMIT                          128                               default
OTEL_SPAN_ATTRIBUTE_PER_EVENT_COUNT_LIMIT           128                               default
OTEL_SPAN_ATTRIBUTE_PER_LINK_COUNT_LIMIT            128                               default
OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT                    128                               default
OTEL_LINK_ATTRIBUTE_COUNT_LIMIT                     128                               default
TAPWIRE_CARDINALITY_LIMIT                           2000                              default
TAPWIRE_DASHBOARD                                   true                              profile development
TAPWIRE_RUNTIME_METRICS                             eventloop,heap,gc,cpu,memory      default
TAPWIRE_AI_ENDPOINTS                                none                              default
TAPWIRE_AI_PRICES                                   none                              default
TAPWIRE_AI_ATTRIBUTES                               none                              default
TAPWIRE_AI_ATTRIBUTE_VALUES                         100                               default
OTEL_SEMCONV_STABILITY_OPT_IN                       none                              default
OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT  false                             default
TAPWIRE_DB_SLOW_MS                                  500                               default
TAPWIRE_PROXY_PORT                                  8080                              default
TAPWIRE_UPSTREAM                                    http://127.0.0.1:3000/            default
TAPWIRE_ROUTES                                      none                              default
TAPWIRE_PROXY_TIMEOUT_SECONDS                       60                                default
TAPWIRE_DRAIN_SECONDS                               20                                default
TAPWIRE_GATEWAY_PORT                                9465                              default
TAPWIRE_GATEWAY_PROVIDERS                           none                              default
TAPWIRE_GATEWAY_INCLUDE_USAGE                       false                             default
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
    expect(row('TAPWIRE_DASHBOARD')).toEqual(['false', 'profile production']);
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
    instead:  using the default (the profile\u2019s level)
  OTEL_EXPORTER_PROMETHEUS_PORT="abc"
    accepted: an integer from 0 to 65535
    instead:  using the default (9464)
  OTEL_EXPORTER_OTLP_HEADERS="****"
    problem:  entry 1 has no =
    accepted: comma-separated name=value pairs, each name an HTTP header name and each value non-empty
    instead:  OTLP export is off (otlp is left out of OTEL_TRACES_EXPORTER, OTEL_METRICS_EXPORTER and OTEL_LOGS_EXPORTER): nothing is sent without the headers
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
        instead: 'using the default (2000)',
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

/** The demo's tables, by the heading above each: rows of cells (split at two or more spaces), header left out. */
function tables(stdout: string): { http: string[][]; db: string[][]; ai: string[][] } {
  const section = (heading: string) => {
    const lines = stdout.split('\n');
    const from = lines.indexOf(heading);
    if (from === -1) throw new Error(`no table "${heading}" in:\n${stdout}`);
    const rows: string[][] = [];
    for (const line of lines.slice(from + 2)) {
      if (!line.startsWith('  ') || line.startsWith('  (')) break;
      rows.push(line.trim().split(/ {2,}/));
    }
    return rows;
  };
  return {
    http: section('Inbound HTTP, per route'),
    db: section('Database operations'),
    ai: section('AI calls'),
  };
}

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

  it('prints a table per area with the exact numbers of the known traffic, and the live page', () => {
    const r = demo([]);
    expect([r.code, r.stderr, r.leftovers]).toEqual([0, '', []]);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toMatch(
      /^tapwire demo: node service with tapwire preloaded at http:\/\/127\.0\.0\.1:\d+$/,
    );
    const sent =
      /^sent 20 requests in (\d+\.\d\d) s: 10 × GET \/, 3 × GET \/fail, 2 × POST \/orders, 2 × POST \/summarize, 3 × POST \/chat$/.exec(
        lines[1]!,
      );
    expect(sent).not.toBeNull();
    const t = tables(r.stdout);
    // 10 × GET / and 3 × GET /fail (500), and the GET /inventory behind each of the 2 orders; the
    // POSTs: 2 orders, 2 summaries, 3 chats. Plain node:http: no route templates.
    expect(t.http.map((row) => [row[0], row[1], row[3], row[4]])).toEqual([
      ['GET', '(no route)', '15', '3 (20%)'],
      ['POST', '(no route)', '7', '0'],
    ]);
    // The rate is the requests over the time they took (the seconds above, rounded to 10 ms).
    const seconds = Number(sent![1]);
    for (const row of t.http) {
      const rate = Number(row[2]!.replace('/s', ''));
      expect(Math.abs((rate * seconds) / Number(row[3]) - 1), row.join(' ')).toBeLessThan(0.1);
      expect(row[5]).toMatch(/^\d+(\.\d+)? (µs|ms|s)$/);
    }
    // The embedded SQLite database: set up once, read by each /inventory, updated by each order.
    expect(t.db.map((row) => row.slice(0, 5))).toEqual([
      ['sqlite', 'SELECT', 'inventory', '2', '0'],
      ['sqlite', 'UPDATE', 'inventory', '2', '0'],
      ['sqlite', 'CREATE', 'inventory', '1', '0'],
      ['sqlite', 'INSERT', 'inventory', '1', '0'],
    ]);
    // Tokens as the stand-in reported them; cost from core/ai/prices.json (USD per 1M tokens):
    // gpt-4o 2 × (400 × 2.5 + 600 × 1.25 + 150 × 10) = 0.0065, gpt-4o-mini 3 × (200 × 0.15 + 80 × 0.6) = 0.000234.
    expect(t.ai.map((row) => row.slice(0, 7))).toEqual([
      ['openai', 'gpt-4o-mini', '3', '0', '600', '240', '$0.000234'],
      ['openai', 'gpt-4o', '2', '0', '2000', '300', '$0.006500'],
    ]);
    expect(t.ai[0]![7]).toMatch(/^\d+(\.\d+)? (µs|ms|s)$/);
    expect(t.ai[1]![7]).toBe('–'); // not streamed: no first chunk
    expect(lines.filter((l) => l.startsWith('live page: '))).toEqual([
      expect.stringMatching(
        /^live page: http:\/\/127\.0\.0\.1:\d+\/ \(while the service runs; it stops now, --keep keeps it\)$/,
      ),
    ]);
    // No exposition without --raw.
    expect(lines.filter((l) => /^(http_|db_|gen_ai_|tapwire_)/.test(l))).toEqual([]);
  });

  it('--keep: the live page answers while the service runs; Ctrl-C ends the demo cleanly', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'tapwire-demo-test-'));
    const child = spawn(NODE, [CLI, 'demo', '--keep'], {
      cwd: app,
      env: { PATH: process.env.PATH ?? '', TMPDIR: tmp },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const page = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no live page line:\n${out}`)), 30_000);
        child.stdout.on('data', () => {
          const m = /^live page: (http:\/\/127\.0\.0\.1:\d+\/) \(the service runs until Ctrl-C\)$/m.exec(out);
          if (m) {
            clearTimeout(timer);
            resolve(m[1]!);
          }
        });
      });
      const html = await fetch(page);
      expect([html.status, html.headers.get('content-type')]).toEqual([200, 'text/html; charset=utf-8']);
      // The same traffic keeps coming, so the page's charts move.
      const count = async () =>
        ((await (await fetch(`${page}live.json`)).json()) as { http: { count: number }[] }).http.reduce(
          (n, g) => n + g.count,
          0,
        );
      const first = await count();
      expect(first).toBeGreaterThanOrEqual(22);
      for (let i = 0; i < 100 && (await count()) <= first; i++) await new Promise((r) => setTimeout(r, 100));
      expect(await count()).toBeGreaterThan(first);
      child.kill('SIGINT');
      expect(await exited).toBe(0);
      // Node's compile cache (the preload turns it on, in os.tmpdir()) is Node's, not the demo's.
      expect(readdirSync(tmp).filter((f) => f !== 'node-compile-cache')).toEqual([]);
      // The service went with it.
      await expect(fetch(page)).rejects.toThrow();
    } finally {
      child.kill('SIGKILL');
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('--raw: the exposition, with the exact request counts', () => {
    const r = demo(['--raw']);
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
        // 8 chunks each (role, 5 pieces, finish, usage): 7 gaps; one speed per stream.
        `gen_ai_client_operation_time_per_output_chunk_seconds_count{${GPT_4O_MINI}} 21`,
        `tapwire_gen_ai_client_output_tokens_per_second_count{${GPT_4O_MINI}} 3`,
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
    // output 10; gpt-4o-mini input 0.15, output 0.6. Cached input is its own series.
    const cost = new Map(
      r.stdout
        .split('\n')
        .filter((l) => l.startsWith('tapwire_gen_ai_cost_usd_total{'))
        .map((l) => [l.slice(0, l.lastIndexOf(' ')), Number(l.slice(l.lastIndexOf(' ') + 1))] as const),
    );
    const expected: [string, string, string, number][] = [
      ['gpt-4o', 'input', 'input', (2 * 400 * 2.5) / 1e6],
      ['gpt-4o', 'input', 'cached_input', (2 * 600 * 1.25) / 1e6],
      ['gpt-4o', 'output', 'output', (2 * 150 * 10) / 1e6],
      ['gpt-4o-mini', 'input', 'input', (3 * 200 * 0.15) / 1e6],
      ['gpt-4o-mini', 'output', 'output', (3 * 80 * 0.6) / 1e6],
    ];
    const series = (model: string, type: string, price: string) =>
      `tapwire_gen_ai_cost_usd_total{gen_ai_provider_name="openai",gen_ai_request_model="${model}",gen_ai_token_type="${type}",tapwire_price="${price}",tapwire_price_source="builtin",tapwire_price_version="${PRICES_VERSION}"}`;
    expect([...cost.keys()].sort()).toEqual(expected.map(([m, t, p]) => series(m, t, p)).sort());
    for (const [model, type, price, usd] of expected) {
      expect(cost.get(series(model, type, price)), series(model, type, price)).toBeCloseTo(usd, 12);
    }
    expect(r.stdout).toContain(
      'http_server_request_duration_seconds_bucket{http_request_method="POST",http_response_status_code="201",url_scheme="http",le="+Inf"} 2',
    );
    // The tables come first, and each p95 in them is histogram_quantile over these very buckets.
    const samples = parseMetrics(
      r.stdout
        .split('\n')
        .filter((l) => /^(http_|db_|gen_ai_|tapwire_)\w*(\{| )/.test(l))
        .join('\n'),
    );
    const p95 = (metric: string, match: Record<string, string>) => {
      const byLe = new Map<number, number>();
      for (const s of find(samples, `${metric}_bucket`, match)) {
        const le = s.labels.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(s.labels.le);
        byLe.set(le, (byLe.get(le) ?? 0) + s.value);
      }
      return formatSeconds(histogramQuantile(0.95, [...byLe]));
    };
    const t = tables(r.stdout);
    expect(t.http.map((row) => [row[0], row[5]])).toEqual([
      ['GET', p95('http_server_request_duration_seconds', { http_request_method: 'GET' })],
      ['POST', p95('http_server_request_duration_seconds', { http_request_method: 'POST' })],
    ]);
    expect(t.db.map((row) => [row[1], row[5]])).toEqual(
      ['SELECT', 'UPDATE', 'CREATE', 'INSERT'].map((op) => [
        op,
        p95('db_client_operation_duration_seconds', { db_operation_name: op }),
      ]),
    );
    expect(t.ai.map((row) => [row[1], row[7]])).toEqual([
      [
        'gpt-4o-mini',
        p95('gen_ai_client_operation_time_to_first_chunk_seconds', { gen_ai_request_model: 'gpt-4o-mini' }),
      ],
      ['gpt-4o', '–'],
    ]);
  });

  it('says what it is doing on a terminal, on stderr (piped, stderr stays empty: see above)', () => {
    // `script` gives the demo a terminal; its output is what the terminal shows, both streams.
    const r = spawnSync('script', ['-qec', `${NODE} ${CLI} demo --no-keep`, '/dev/null'], {
      cwd: app,
      env: { PATH: process.env.PATH ?? '', TMPDIR: process.env.TMPDIR, COLUMNS: '120' },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(r.status).toBe(0);
    const steps = r.stdout.split('\r\x1b[2K').slice(1, -1);
    expect(steps[0]).toBe('starting the AI provider stand-in…');
    expect(steps).toContain('starting the node service under the preload…');
    expect(steps).toContain('sending traffic: 20/20 (POST /chat)');
    // The line is cleared before the tables, which follow as without a terminal.
    expect(r.stdout).toContain('\r\x1b[2Ktapwire demo: node service with tapwire preloaded at');
    expect(r.stdout).toContain('Inbound HTTP, per route');
  });

  it('rejects an unknown runtime with exit 2', () => {
    expect(demo(['--runtime', 'deno']).code).toBe(2);
  });
});
