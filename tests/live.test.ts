// The live page (TAPWIRE_DASHBOARD) in a real headless Chromium (Debian's `chromium`, driven by
// playwright-core), on apps under the preload on Node (Express) and Bun (Bun.serve routes) with
// SQLite and AI calls to the provider stand-in:
//   - after known traffic, every number on the page equals /metrics (counts, errors, tokens, cost;
//     each p95 equals Prometheus' histogram_quantile over the same buckets, computed here from the
//     exposition) and the known traffic; with node:cluster workers, the merged numbers;
//   - the charts move (more points, and the rate chart's line changes, after more traffic);
//   - the page asks nothing of any other origin, weighs at most 100 KB, and has no errors (a CSP
//     violation is one);
//   - polling the page changes nothing /metrics serves — no series, no value, and not the event-loop
//     window (a collection would start a new one);
//   - the preload does not load the page's code; off (the test profile), `/` answers `ok`.
// A screenshot is saved in the test's temp directory (TAPWIRE_UPDATE_SCREENSHOT=1 also writes the
// Node one to docs/live-page.png for the README).
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_AI } from '../cli/demo/index.js';
import { type Standin, startStandin } from '../cli/demo/standin/index.js';
import { formatCount, formatSeconds, formatUsd } from '../exporters/live/summary.js';
import {
  type App,
  find,
  histogramQuantile,
  parseMetrics,
  ROOT,
  RUNTIMES,
  type Runtime,
  type Sample,
  sourcesLoadedBy,
  startApp,
  stopAll,
} from './support/index.js';

const CHROMIUM = '/usr/bin/chromium';
const PAGE_BUDGET = 100 * 1024;
const dir = mkdtempSync(join(tmpdir(), 'tapwire-live-'));

let browser: Browser;
let standin: Standin;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run scripts/setup (Debian's chromium)`);
  // --no-sandbox: the tests run as root, where Chromium's sandbox refuses to start.
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  standin = await startStandin({ models: DEMO_AI, pace: { every: 1, first: 0, ms: 5 } });
});

afterEach(stopAll);

afterAll(async () => {
  await browser?.close();
  await standin?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function until<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  ms = 20_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function start(runtime: Runtime, env: Record<string, string> = {}): Promise<App> {
  return startApp({
    runtime,
    file: 'live-app.mjs',
    ready: '/users/0',
    env: {
      OTEL_SERVICE_NAME: 'shop',
      TAPWIRE_DASHBOARD: 'on',
      AI_URL: `http://127.0.0.1:${standin.ports.openai}`,
      TAPWIRE_AI_ENDPOINTS: `127.0.0.1:${standin.ports.openai}=openai`,
      ...env,
    },
  });
}

/** The known traffic, `times` rounds of it; returns how many requests each route got. */
async function traffic(app: App, times = 1): Promise<void> {
  const go = async (path: string, init?: RequestInit) => (await fetch(app.url(path), init)).arrayBuffer();
  for (let t = 0; t < times; t++) {
    for (let i = 0; i < 7; i++) await go(`/users/${i}`);
    for (let i = 0; i < 2; i++) await go('/fail');
    for (let i = 0; i < 3; i++) await go('/orders', { method: 'POST' });
    for (let i = 0; i < 2; i++) await go('/chat');
    for (let i = 0; i < 3; i++) await go('/stream');
  }
}
/** Inbound requests per round (the readiness probe's GET /users/0 is one more). */
const PER_ROUND = { '/users/:id': 7, '/fail': 2, '/orders': 3, '/chat': 2, '/stream': 3 };

/** The cumulative buckets of `histogram` summed over the series whose labels match. */
function buckets(
  samples: Sample[],
  histogram: string,
  match: Record<string, string | undefined>,
): [number, number][] {
  const byLe = new Map<number, number>();
  for (const s of samples) {
    if (s.name !== `${histogram}_bucket`) continue;
    if (!Object.entries(match).every(([k, v]) => s.labels[k] === v)) continue;
    const le = s.labels.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(s.labels.le);
    byLe.set(le, (byLe.get(le) ?? 0) + s.value);
  }
  return [...byLe];
}

const total = (samples: Sample[], name: string, match: Record<string, string | undefined>): number =>
  samples
    .filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v))
    .reduce((n, s) => n + s.value, 0);

interface Cell {
  text: string;
  value?: string;
  points?: string;
  d?: string;
}
type PageRow = Record<string, Cell>;

/** Every row of a section, its cells by column. */
function rows(page: Page, section: string): Promise<PageRow[]> {
  return page.$$eval(`#${section} tbody tr[data-key]`, (trs) =>
    trs.map((tr) => {
      const row: Record<string, { text: string; value?: string; points?: string; d?: string }> = {};
      for (const td of tr.querySelectorAll('td')) {
        row[td.dataset.col ?? ''] = {
          text: td.textContent ?? '',
          value: td.dataset.value,
          points: td.querySelector('svg')?.dataset.points,
          d: td.querySelector('path')?.getAttribute('d') ?? undefined,
        };
      }
      return row;
    }),
  );
}

const ticks = (page: Page) => page.evaluate(() => Number(document.body.dataset.ticks ?? 0));
/** Waits for the page to show data read after `since` (ms since the epoch). */
const shownAfter = (page: Page, since: number) =>
  until('a page update', async () =>
    (await page.evaluate(() => Number(document.getElementById('status')?.dataset.time ?? 0))) > since
      ? true
      : undefined,
  );

/** Reads /metrics once the inbound requests counted reach `inbound` (a response can arrive before its count). */
const settled = (app: App, inbound: number) =>
  until(`${inbound} requests on /metrics`, async () => {
    const samples = parseMetrics(await app.metrics());
    return total(samples, 'http_server_request_duration_seconds_count', {}) >= inbound ? samples : undefined;
  });

/** Every number of the page against /metrics (`samples`), and the route counts against the known traffic. */
async function compare(page: Page, samples: Sample[], rounds: number): Promise<string[]> {
  const checked: string[] = [];
  const HTTP = 'http_server_request_duration_seconds';
  const http = await rows(page, 'http');
  expect(http.map((r) => `${r.method!.text} ${r.route!.text}`).sort()).toEqual(
    ['GET /chat', 'GET /fail', 'GET /stream', 'GET /users/:id', 'POST /orders'].sort(),
  );
  for (const r of http) {
    const match = { http_request_method: r.method!.text, http_route: r.route!.text };
    const requests = total(samples, `${HTTP}_count`, match);
    const errors = total(samples, `${HTTP}_count`, { ...match, http_response_status_code: '500' });
    const p95 = histogramQuantile(0.95, buckets(samples, HTTP, match));
    const known =
      PER_ROUND[r.route!.text as keyof typeof PER_ROUND] * rounds + (r.route!.text === '/users/:id' ? 1 : 0);
    expect([r.requests!.value, r.errors!.value], r.route!.text).toEqual([String(requests), String(errors)]);
    expect(requests, r.route!.text).toBe(known);
    expect(errors, r.route!.text).toBe(r.route!.text === '/fail' ? known : 0);
    expect(Number(r.p95!.value), `${r.route!.text} p95`).toBe(p95);
    expect(r.p95!.text).toBe(formatSeconds(p95));
    expect(r.requests!.text).toBe(formatCount(requests));
    checked.push(`${r.method!.text} ${r.route!.text}: ${requests} requests, ${errors} errors, p95 ${p95}`);
  }

  const DB = 'db_client_operation_duration_seconds';
  const db = await rows(page, 'db');
  expect(db.length).toBeGreaterThan(0);
  for (const r of db) {
    const match = {
      db_system_name: r.system!.text,
      db_operation_name: r.operation!.text,
      db_collection_name: r.collection!.text,
    };
    const operations = total(samples, `${DB}_count`, match);
    const p95 = histogramQuantile(0.95, buckets(samples, DB, match));
    expect(r.operations!.value, r.operation!.text).toBe(String(operations));
    expect(Number(r.p95!.value), `${r.operation!.text} p95`).toBe(p95);
    checked.push(
      `${r.system!.text} ${r.operation!.text} ${r.collection!.text}: ${operations} operations, p95 ${p95}`,
    );
  }
  const ops = Object.fromEntries(db.map((r) => [r.operation!.text, Number(r.operations!.value)]));
  expect(ops.SELECT).toBe(7 * rounds + 1);
  expect(ops.INSERT).toBe(3 * rounds);

  const AI = 'gen_ai_client_operation_duration_seconds';
  const TTFC = 'gen_ai_client_operation_time_to_first_chunk_seconds';
  const ai = await rows(page, 'ai');
  expect(ai.map((r) => r.model!.text).sort()).toEqual(['gpt-4o', 'gpt-4o-mini']);
  for (const r of ai) {
    const match = { gen_ai_provider_name: r.provider!.text, gen_ai_request_model: r.model!.text };
    const calls = total(samples, `${AI}_count`, match);
    const input = total(samples, 'gen_ai_client_token_usage_sum', { ...match, gen_ai_token_type: 'input' });
    const output = total(samples, 'gen_ai_client_token_usage_sum', { ...match, gen_ai_token_type: 'output' });
    const cost = total(samples, 'tapwire_gen_ai_cost_usd_total', match);
    const ttfc =
      find(samples, `${TTFC}_count`, match).length > 0
        ? histogramQuantile(0.95, buckets(samples, TTFC, match))
        : Number.NaN;
    expect([r.calls!.value, r.input!.value, r.output!.value], r.model!.text).toEqual([
      String(calls),
      String(input),
      String(output),
    ]);
    expect(Number(r.cost!.value), `${r.model!.text} cost`).toBe(cost);
    expect(r.cost!.text).toBe(formatUsd(cost));
    expect(Number(r.firstChunkP95!.value), `${r.model!.text} first chunk`).toBe(ttfc);
    // The stand-in's fixed usage (cli/demo/index.ts DEMO_AI): 2 gpt-4o calls and 3 streamed gpt-4o-mini ones a round.
    const usage = DEMO_AI.find((m) => m.model === r.model!.text)!;
    const n = (r.model!.text === 'gpt-4o' ? 2 : 3) * rounds;
    expect([calls, input, output]).toEqual([n, n * usage.input, n * usage.output]);
    checked.push(
      `${r.model!.text}: ${calls} calls, ${input} in, ${output} out, $${cost}, first chunk p95 ${ttfc}`,
    );
  }
  return checked;
}

describe.each(RUNTIMES)('the live page on %s', (runtime) => {
  it('shows the numbers of /metrics, moves with more traffic, loads nothing from elsewhere', async () => {
    const app = await start(runtime);
    await traffic(app);
    const origin = `http://127.0.0.1:${app.metricsPort}`;
    const page = await browser.newPage({ viewport: { width: 1200, height: 760 } });
    const requested: string[] = [];
    const problems: string[] = [];
    page.on('request', (r) => requested.push(r.url()));
    page.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
    page.on('pageerror', (e) => problems.push(String(e)));
    const response = await page.goto(`${origin}/`);
    const html = await response!.body();
    expect(html.length).toBeLessThanOrEqual(PAGE_BUDGET);

    let samples = await settled(app, 17 + 1);
    await shownAfter(page, Date.now());
    const first = await compare(page, samples, 1);
    const before = (await rows(page, 'http')).find((r) => r.route!.text === '/users/:id')!;

    // More traffic, more in some seconds than in others: the counts follow, the charts gain points
    // and their line changes.
    const bursts = [1, 2, 3, 1, 2, 3];
    for (const n of bursts) {
      await traffic(app, n);
      await new Promise((r) => setTimeout(r, 800));
    }
    const rounds = 1 + bursts.reduce((a, b) => a + b, 0);
    samples = await settled(app, rounds * 17 + 1);
    await shownAfter(page, Date.now());
    const second = await compare(page, samples, rounds);
    const after = (await rows(page, 'http')).find((r) => r.route!.text === '/users/:id')!;
    expect(Number(after.rateChart!.points)).toBeGreaterThan(Number(before.rateChart!.points));
    expect(after.rateChart!.d).not.toBe(before.rateChart!.d);
    expect(after.p95Chart!.points).toBe(after.rateChart!.points);

    // Event loop and memory of the one process, this one.
    const processes = await rows(page, 'runtime');
    expect(processes.map((p) => [p.process!.text, p.pid!.text])).toEqual([
      ['0 (this one)', String(app.child.pid)],
    ]);
    expect(Number(processes[0]!.rss!.value)).toBeGreaterThan(1e6);
    expect(Number(processes[0]!.eventLoopP99!.value)).toBeGreaterThan(0);
    if (runtime === 'node') expect(Number(processes[0]!.heapUsed!.value)).toBeGreaterThan(1e6);

    // The screenshot with traffic in its last second, so the rates read as they do in use.
    await traffic(app, 2);
    await shownAfter(page, Date.now());
    const shot = join(dir, `live-${runtime}.png`);
    await page.screenshot({ path: shot, fullPage: true });
    expect(statSync(shot).size).toBeGreaterThan(10_000);
    if (runtime === 'node' && process.env.TAPWIRE_UPDATE_SCREENSHOT === '1') {
      copyFileSync(shot, join(ROOT, 'docs/live-page.png'));
    }
    await page.close();

    // Only the page and its data, from the process itself.
    expect(new Set(requested.map((u) => u.replace(/\?.*/, '')))).toEqual(
      new Set([`${origin}/`, `${origin}/live.json`]),
    );
    expect(problems).toEqual([]);
    console.log(`${runtime}: page ${html.length} bytes; ${[...first, ...second].join('; ')}`);
  });

  it('polling the page changes nothing /metrics serves', async () => {
    const app = await start(runtime);
    await traffic(app);
    await settled(app, 17 + 1);
    const A = await app.metrics();
    // The event loop blocked for 300 ms: /metrics' next reading must still see it, however often the
    // page reads in between (a collection would have started a new window and lost it).
    await (await fetch(app.url('/block/300'))).arrayBuffer();
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${app.metricsPort}/`);
    const startTicks = await ticks(page);
    await until('three page updates', async () => ((await ticks(page)) >= startTicks + 3 ? true : undefined));
    for (let i = 0; i < 5; i++) await (await fetch(`http://127.0.0.1:${app.metricsPort}/live.json`)).text();
    await page.close();
    const B = await app.metrics();

    // Runtime series move on their own; everything else (every series, every value) is as it was,
    // save the one request to /block and what it recorded.
    const RUNTIME = /^(# (HELP|TYPE) )?(nodejs_|v8js_|process_)/;
    const stable = (text: string) =>
      text
        .split('\n')
        .filter((l) => !RUNTIME.test(l) && !l.includes('http_route="/block/:ms"'))
        .join('\n');
    expect(stable(B)).toBe(stable(A));
    const max = parseMetrics(B).find((s) => s.name === 'nodejs_eventloop_delay_max_seconds');
    expect(max?.value).toBeGreaterThanOrEqual(0.25);
  });
});

describe('the live page of a node:cluster service', () => {
  it('shows the merged numbers /metrics serves, and every process', async () => {
    const app = await start('node', { WORKERS: '2' });
    await traffic(app);
    const page = await browser.newPage({ viewport: { width: 1200, height: 760 } });
    await page.goto(`http://127.0.0.1:${app.metricsPort}/`);
    // The workers push every second: wait until /metrics and the page both hold all of it — every
    // request, and both workers' CREATE TABLE (a worker the traffic missed pushes that alone).
    const samples = await until('both workers on /metrics', async () => {
      const s = await settled(app, 17 + 1);
      return total(s, 'db_client_operation_duration_seconds_count', { db_operation_name: 'CREATE' }) === 2
        ? s
        : undefined;
    });
    await until('the page to count every request', async () => {
      const http = await rows(page, 'http');
      const create = (await rows(page, 'db')).find((r) => r.operation!.text === 'CREATE');
      return http.reduce((n, r) => n + Number(r.requests!.value), 0) === 17 + 1 &&
        create?.operations?.value === '2'
        ? true
        : undefined;
    });
    await compare(page, samples, 1);
    const processes = (await rows(page, 'runtime')).map((p) => p.process!.text.split(' ')[0]);
    const onMetrics = [
      ...new Set(find(samples, 'process_memory_usage_bytes').map((s) => s.labels.tapwire_process)),
    ];
    expect(processes.sort()).toEqual(['0', '1', '2']);
    expect(onMetrics.sort()).toEqual(['0', '1', '2']);
    await page.close();
  });
});

describe('without the page', () => {
  it.each(RUNTIMES)('%s: the test profile serves no page; / answers ok', async (runtime) => {
    const app = await start(runtime, { TAPWIRE_DASHBOARD: '' });
    const base = `http://127.0.0.1:${app.metricsPort}`;
    const root = await fetch(`${base}/`);
    expect([root.status, await root.text()]).toEqual([200, 'ok\n']);
    expect((await fetch(`${base}/live.json`)).status).toBe(404);
  });

  it("the preload's start-up loads none of the page's code", () => {
    expect(sourcesLoadedBy('register.js').filter((f) => f.startsWith('exporters/live/'))).toEqual([]);
    // It is there, in a chunk of its own that the endpoint imports when the page is asked for.
    const chunks = readdirSync(join(ROOT, 'dist/chunks')).filter((f) =>
      readFileSync(join(ROOT, 'dist/chunks', f), 'utf8').includes('// exporters/live/index.ts'),
    );
    expect(chunks).toHaveLength(1);
    const importers = [
      'register.js',
      ...readdirSync(join(ROOT, 'dist/chunks')).map((f) => `chunks/${f}`),
    ].filter((f) =>
      readFileSync(join(ROOT, 'dist', f), 'utf8').includes(
        `import("./${f.startsWith('chunks/') ? '' : 'chunks/'}${chunks[0]}")`,
      ),
    );
    expect(importers.length).toBeGreaterThan(0);
  });
});
