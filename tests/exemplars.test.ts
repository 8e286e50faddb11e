// Exemplars: a scrape that asks for OpenMetrics gets, on the buckets of the HTTP server, HTTP
// client, DB and AI duration histograms, the trace and span ids of a sampled request recorded in
// that bucket; a plain scrape gets the text format as before (promtool clean). Checked against the
// spans a real OTLP receiver got, on Node and Bun, and end to end through Prometheus 2.42 with
// exemplar storage, whose own OpenMetrics parser reads the page (promtool 2.42 reads only the text
// format: it stops at the first exemplar).
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Standin, startStandin } from '../cli/demo/standin/index.js';
import {
  type App,
  FIXTURES,
  freePort,
  hit,
  promtoolCheckMetrics,
  RUNTIMES,
  type Runtime,
  startApp,
  stopAll,
} from './support/index.js';
import { OtlpReceiver, type OtlpSpan, SPAN_KIND } from './support/otlp.js';

const OPENMETRICS_ACCEPT =
  'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';

/** Each duration histogram and the span its exemplars must name. */
const KINDS: Record<string, (s: OtlpSpan) => boolean> = {
  http_server_request_duration_seconds: (s) => s.kind === SPAN_KIND.SERVER,
  http_client_request_duration_seconds: (s) =>
    s.kind === SPAN_KIND.CLIENT && s.attributes['http.request.method'] === 'POST',
  db_client_operation_duration_seconds: (s) =>
    s.kind === SPAN_KIND.CLIENT && s.attributes['db.system.name'] === 'sqlite',
  gen_ai_client_operation_duration_seconds: (s) =>
    s.kind === SPAN_KIND.CLIENT && s.attributes['gen_ai.operation.name'] === 'chat',
};

const receiver = new OtlpReceiver();
let standin: Standin;
beforeAll(async () => {
  await receiver.start();
  standin = await startStandin();
});
afterAll(async () => {
  await standin.close();
  await receiver.close();
});
afterEach(stopAll);

function start(runtime: Runtime, service: string, extra: Record<string, string> = {}): Promise<App> {
  return startApp({
    runtime,
    file: 'exemplars-app.mjs',
    env: {
      OTEL_SERVICE_NAME: service,
      OTEL_TRACES_EXPORTER: 'otlp',
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      OTEL_BSP_SCHEDULE_DELAY: '50',
      TAPWIRE_AI_ENDPOINTS: standin.endpoints,
      OPENAI_URL: `http://127.0.0.1:${standin.ports.openai}`,
      ...extra,
    },
  });
}

async function openMetrics(app: App): Promise<{ type: string | null; text: string }> {
  const res = await fetch(`http://127.0.0.1:${app.metricsPort}/metrics`, {
    headers: { accept: OPENMETRICS_ACCEPT },
  });
  return { type: res.headers.get('content-type'), text: await res.text() };
}

interface Exemplar {
  metric: string;
  le: number;
  /** The bound of the bucket below (0 for the first). */
  above: number;
  line: string;
  traceId: string;
  spanId: string;
  value: number;
  seconds: number;
}

const BUCKET =
  /^(\w+)_bucket\{(.*)le="([^"]+)"\} (\d+)(?: # \{trace_id="([0-9a-f]{32})",span_id="([0-9a-f]{16})"\} (\S+) (\d+\.\d{3}))?$/;

/** Every bucket line that carries an exemplar, with the bounds of its bucket. */
function exemplars(page: string): Exemplar[] {
  const out: Exemplar[] = [];
  let series = '';
  let above = 0;
  for (const line of page.split('\n')) {
    const m = BUCKET.exec(line);
    if (!m) continue;
    const key = `${m[1]}{${m[2]}}`;
    if (key !== series) {
      series = key;
      above = 0;
    }
    const le = m[3] === '+Inf' ? Number.POSITIVE_INFINITY : Number(m[3]);
    if (m[5] !== undefined) {
      out.push({
        metric: m[1]!,
        le,
        above,
        line: line.slice(0, line.indexOf(' # ')),
        traceId: m[5],
        spanId: m[6]!,
        value: Number(m[7]),
        seconds: Number(m[8]),
      });
    }
    above = le;
  }
  return out;
}

describe.each(RUNTIMES)('%s', (runtime) => {
  it('OpenMetrics scrapes carry exemplars naming the sampled spans; text scrapes stay as they were', async () => {
    const service = `exemplars-${runtime}`;
    // Taken before the app starts: its start-up queries are sampled too, and a bucket's exemplar
    // can be one of them (a CI run on a loaded machine started the app over a second before the
    // requests).
    const before = Date.now() / 1000;
    const app = await start(runtime, service);
    expect(await hit(app.url('/work'), 5)).toEqual([200, 200, 200, 200, 200]);

    const text = await app.metrics();
    expect(text).not.toContain(' # {');
    expect(text).not.toContain('# EOF');
    expect(promtoolCheckMetrics(text)).toEqual({ status: 0, output: '' });

    const om = await openMetrics(app);
    expect(om.type).toBe('application/openmetrics-text; version=1.0.0; charset=utf-8');
    expect(om.text.endsWith('\n# EOF\n')).toBe(true);
    const found = exemplars(om.text);
    expect([...new Set(found.map((e) => e.metric))].sort()).toEqual(Object.keys(KINDS).sort());
    // Without exemplars, the histogram lines are the text format's, count for count.
    for (const e of found) expect(text.split('\n')).toContain(e.line);

    const spanOf = (e: Exemplar) =>
      receiver.spans().find((s) => s.service === service && s.spanId === e.spanId && s.traceId === e.traceId);
    const servers = () =>
      new Set(
        receiver
          .spans()
          .filter((s) => s.service === service && s.kind === SPAN_KIND.SERVER)
          .map((s) => s.traceId),
      );
    // A span with a parent is in one of the requests' traces (the app's start-up queries are
    // roots of their own); server spans end last, their batch may come after the others'.
    await receiver.waitFor('the spans the exemplars name, and their requests', () =>
      found.every((e) => {
        const span = spanOf(e);
        return span !== undefined && (span.parentSpanId === undefined || servers().has(e.traceId));
      }),
    );
    for (const e of found) {
      const span = spanOf(e)!;
      expect(KINDS[e.metric]!(span), `${e.metric} exemplar names ${span.name}`).toBe(true);
      // Its value in its bucket, its time during the test.
      expect(e.value > e.above && e.value <= e.le, `${e.value} in (${e.above}, ${e.le}]`).toBe(true);
      expect(
        e.seconds >= Math.floor(before) && e.seconds <= Date.now() / 1000,
        `${e.metric} exemplar at ${e.seconds}, test from ${before}`,
      ).toBe(true);
    }
  });

  it('keeps no exemplar for a request whose span is not sampled', async () => {
    const app = await start(runtime, `exemplars-off-${runtime}`, { OTEL_TRACES_SAMPLER: 'always_off' });
    expect(await hit(app.url('/work'), 3)).toEqual([200, 200, 200]);
    const om = await openMetrics(app);
    expect(om.text).toContain('http_server_request_duration_seconds_count');
    expect(exemplars(om.text)).toEqual([]);
  });
});

describe('several processes', () => {
  it('node:cluster: the primary holds /metrics and serves no request; the page shows the exemplars the workers pushed', async () => {
    const service = 'exemplars-cluster';
    const app = await startApp({
      runtime: 'node',
      file: join(FIXTURES, 'processes/cluster-app.mjs'),
      env: {
        WORKERS: '2',
        OTEL_SERVICE_NAME: service,
        OTEL_TRACES_EXPORTER: 'otlp',
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
        OTEL_BSP_SCHEDULE_DELAY: '50',
      },
    });
    expect(await hit(app.url('/'), 10)).toEqual(Array(10).fill(200));
    // The workers push every second.
    let found: Exemplar[] = [];
    for (let i = 0; i < 100 && found.length === 0; i++) {
      found = exemplars((await openMetrics(app)).text).filter(
        (e) => e.metric === 'http_server_request_duration_seconds',
      );
      if (found.length === 0) await new Promise((r) => setTimeout(r, 100));
    }
    expect(found.length).toBeGreaterThan(0);
    const spanOf = (e: Exemplar) =>
      receiver.spans().find((s) => s.service === service && s.spanId === e.spanId && s.traceId === e.traceId);
    await receiver.waitFor('the server spans the exemplars name', () =>
      found.every((e) => spanOf(e) !== undefined),
    );
    for (const e of found) expect(spanOf(e)!.kind).toBe(SPAN_KIND.SERVER);
  });
});

describe('Prometheus 2.42 with exemplar storage', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tapwire-exemplars-'));
  let prometheus: ChildProcess | undefined;
  afterAll(() => {
    prometheus?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('stores the exemplars of a Node and a Bun app, and their trace ids are spans the receiver got', async () => {
    const apps = {
      node: await start('node', 'exemplars-prom-node'),
      bun: await start('bun', 'exemplars-prom-bun'),
    };
    const promPort = await freePort();
    writeFileSync(
      join(dir, 'prometheus.yml'),
      `global: { scrape_interval: 1s }
scrape_configs:
  - job_name: node
    static_configs: [{ targets: ['127.0.0.1:${apps.node.metricsPort}'] }]
  - job_name: bun
    static_configs: [{ targets: ['127.0.0.1:${apps.bun.metricsPort}'] }]
`,
    );
    prometheus = spawn(
      'prometheus',
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'tsdb')}`,
        `--web.listen-address=127.0.0.1:${promPort}`,
        '--enable-feature=exemplar-storage',
      ],
      { stdio: 'ignore' },
    );
    const prom = `http://127.0.0.1:${promPort}`;
    const started = Math.floor(Date.now() / 1000) - 60;
    const api = async (path: string, params: Record<string, string>) => {
      const res = await fetch(`${prom}${path}?${new URLSearchParams(params)}`);
      return ((await res.json()) as { data: unknown }).data;
    };
    interface Stored {
      seriesLabels: Record<string, string>;
      exemplars: { labels: Record<string, string>; value: string; timestamp: number }[];
    }
    const stored = async (metric: string): Promise<Stored[]> => {
      try {
        return (await api('/api/v1/query_exemplars', {
          query: `${metric}_bucket`,
          start: String(started),
          end: String(Math.ceil(Date.now() / 1000) + 60),
        })) as Stored[];
      } catch {
        return []; // not up yet
      }
    };
    const complete = async () => {
      for (const metric of Object.keys(KINDS)) {
        const jobs = new Set((await stored(metric)).map((s) => s.seriesLabels.job));
        if (!jobs.has('node') || !jobs.has('bun')) return false;
      }
      return true;
    };
    // Requests until every histogram of both apps has an exemplar stored (a scrape each second).
    for (let round = 0; round < 120 && !(await complete()); round++) {
      await hit(apps.node.url('/work'));
      await hit(apps.bun.url('/work'));
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(await complete()).toBe(true);

    // Both pages parsed by Prometheus' OpenMetrics parser without an error.
    const targets = (await api('/api/v1/targets', {})) as {
      activeTargets: { labels: { job: string }; health: string; lastError: string }[];
    };
    expect(targets.activeTargets.map((t) => [t.labels.job, t.health, t.lastError]).sort()).toEqual([
      ['bun', 'up', ''],
      ['node', 'up', ''],
    ]);

    for (const [metric, kind] of Object.entries(KINDS)) {
      for (const series of await stored(metric)) {
        const job = series.seriesLabels.job as 'node' | 'bun';
        const service = `exemplars-prom-${job}`;
        expect(series.exemplars.length).toBeGreaterThan(0);
        for (const e of series.exemplars) {
          expect(Object.keys(e.labels).sort()).toEqual(['span_id', 'trace_id']);
          const match = () =>
            receiver
              .spans()
              .find(
                (s) =>
                  s.service === service && s.traceId === e.labels.trace_id && s.spanId === e.labels.span_id,
              );
          await receiver.waitFor(
            `the span of ${metric} exemplar ${e.labels.span_id}`,
            () => match() !== undefined,
          );
          expect(kind(match()!), `${metric} ${job}`).toBe(true);
        }
      }
    }
  }, 120_000);
});
