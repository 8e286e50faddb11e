// What one scrape of /metrics costs the app: an app under tapwire with N label sets of one
// histogram (db_client_operation_duration_seconds, one per SQLite table, in-memory node:sqlite on
// Node and bun:sqlite on Bun) is scraped 200 times one after another; the app's CPU time over them
// (utime + stime of /proc/<pid>/stat) divided by the scrapes is the cost of one. Two sizes: 162
// tables, about 2,000 series on the page (a series being one sample line, as Prometheus counts
// them: a histogram label set is 13 of them), and 2,000 tables (2,000 label sets, ~26,000 series).
// Reported per runtime with the series count and the page size.
// Target: ≤ 5 ms of the app's CPU per scrape at ~2,000 series.
// The OpenTelemetry reference (`otel`, auto-instrumentations-node's register with its Prometheus
// exporter) instruments no SQLite, so its app records the same label sets of the same histogram
// (name, unit, labels and buckets read from tapwire's page) through the OpenTelemetry API: the same
// page, rendered by OpenTelemetry's SDK and exporter.
//
//   node bench/scrape.mjs [--runtime node,bun] [--out FILE] [--scrapes N] [--no-otel]
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fmt, guard, machineLine, writeOut } from './lib/common.mjs';
import { httpGet, waitReady } from './lib/measure.mjs';
import { freePort, killTree, spawnTracked } from './lib/procs.mjs';
import { otelReference, REPO, RUNTIMES, registers } from './scenarios.mjs';

const { values: opts } = parseArgs({
  allowNegative: true,
  options: {
    otel: { type: 'boolean', default: true },
    runtime: { type: 'string', multiple: true },
    out: { type: 'string' },
    scrapes: { type: 'string', default: '200' },
    tables: { type: 'string', default: '162,2000' },
  },
});
const SCRAPES = Number(opts.scrapes);
const SIZES = opts.tables.split(',').map(Number);
const TARGET_SERIES = 2500;
const TARGET_MS = 5;
const runtimeIds = (opts.runtime ?? Object.keys(RUNTIMES)).flatMap((r) => r.split(','));
const log = (m) => console.error(m);
guard(15);

const APP = `
import http from 'node:http';
const isBun = typeof Bun !== 'undefined';
const { DatabaseSync } = isBun ? {} : await import('node:sqlite');
const db = isBun ? new (await import('bun:sqlite')).Database(':memory:') : new DatabaseSync(':memory:');
const n = Number(process.env.TABLES);
// One exec for every table: one operation, so the label sets are those of the queries.
let ddl = '';
for (let i = 0; i < n; i++) ddl += \`CREATE TABLE t\${i} (id INTEGER PRIMARY KEY);\`;
db.exec(ddl);
const keep = [];
for (let i = 0; i < n; i++) {
  const stmt = db.prepare(\`SELECT id FROM t\${i} WHERE id = ?\`);
  keep.push(stmt);
  stmt.all(1);
}
globalThis.keep = keep;
http.createServer((req, res) => res.end('ok')).listen(Number(process.env.PORT), '127.0.0.1');
`;

// The reference's app: the label sets tapwire's page had (LABEL_SETS, a JSON file: 2,000 of them are
// more than one environment variable may hold), each recorded once into
// a histogram of the same name, unit and buckets (BOUNDS) through the OpenTelemetry API.
const OTEL_APP = `
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { metrics } from ${JSON.stringify(createRequire(path.join(REPO, 'package.json')).resolve('@opentelemetry/api'))};
const histogram = metrics.getMeter('scrape-bench').createHistogram('db.client.operation.duration', {
  unit: 's',
  advice: { explicitBucketBoundaries: JSON.parse(process.env.BOUNDS) },
});
for (const labels of JSON.parse(readFileSync(process.env.LABEL_SETS, 'utf8'))) histogram.record(0.0001, labels);
http.createServer((req, res) => res.end('ok')).listen(Number(process.env.PORT), '127.0.0.1');
`;
const OTEL = otelReference();

/** The label sets of tapwire's db histogram on a page, and its buckets' upper bounds. */
function dbHistogram(page) {
  const labelSets = [];
  const bounds = [];
  for (const line of page.split('\n')) {
    const count = /^db_client_operation_duration_seconds_count\{([^}]*)\}/.exec(line);
    if (count !== null) {
      labelSets.push(Object.fromEntries([...count[1].matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]])));
    }
    const le = /^db_client_operation_duration_seconds_bucket\{.*le="([^"]+)"\}/.exec(line);
    if (le !== null && labelSets.length === 0 && le[1] !== '+Inf') bounds.push(Number(le[1]));
  }
  return { labelSets, bounds };
}

/** utime + stime of a process in milliseconds (clock ticks of 10 ms). */
function cpuMs(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** One app scraped: tapwire's with TABLES tables, or (`histogram` given) the reference's recording those label sets. */
async function measure(runtimeId, dir, TABLES, histogram) {
  const rt = RUNTIMES[runtimeId];
  const port = await freePort();
  const metricsPort = await freePort();
  const labelSetsFile = path.join(dir, 'label-sets.json');
  if (histogram !== undefined) writeFileSync(labelSetsFile, JSON.stringify(histogram.labelSets));
  const [preload, file, env] =
    histogram === undefined
      ? [
          registers()[runtimeId],
          'app.mjs',
          { TAPWIRE_CARDINALITY_LIMIT: String(Math.max(2000, TABLES * 2)), TABLES: String(TABLES) },
        ]
      : [
          OTEL.preload,
          'otel-app.mjs',
          {
            ...OTEL.env,
            LABEL_SETS: labelSetsFile,
            BOUNDS: JSON.stringify(histogram.bounds),
          },
        ];
  const child = spawnTracked(rt.bin, [rt.preloadFlag, preload, path.join(dir, file)], {
    cwd: dir,
    env: {
      PATH: process.env.PATH,
      NODE_ENV: 'production',
      PORT: String(port),
      OTEL_EXPORTER_PROMETHEUS_PORT: String(metricsPort),
      OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1',
      ...env,
    },
  });
  try {
    await waitReady(child, port, { timeoutMs: 60_000 });
    const first = await httpGet(metricsPort, '/metrics', 30_000);
    if (first.status !== 200) throw new Error(`GET /metrics → ${first.status ?? first.error}`);
    const pageLines = first.body.split('\n');
    const labelSets = pageLines.filter((l) =>
      /^db_client_operation_duration(_seconds)?_count\{/.test(l),
    ).length;
    const series = pageLines.filter((l) => l !== '' && !l.startsWith('#')).length;
    for (let i = 0; i < 10; i++) await httpGet(metricsPort, '/metrics', 30_000); // warm
    const cpu0 = cpuMs(child.pid);
    const t0 = performance.now();
    for (let i = 0; i < SCRAPES; i++) {
      const r = await httpGet(metricsPort, '/metrics', 30_000);
      if (r.status !== 200) throw new Error(`GET /metrics → ${r.status ?? r.error}`);
    }
    const wallMs = (performance.now() - t0) / SCRAPES;
    const cpuPerScrape = (cpuMs(child.pid) - cpu0) / SCRAPES;
    return {
      labelSets,
      series,
      bytes: Buffer.byteLength(first.body),
      wallMs,
      cpuPerScrape,
      histogram: dbHistogram(first.body),
    };
  } finally {
    await killTree(child);
  }
}

async function main() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tapwire-bench-scrape-'));
  writeFileSync(path.join(dir, 'app.mjs'), APP);
  writeFileSync(path.join(dir, 'otel-app.mjs'), OTEL_APP);
  writeFileSync(path.join(dir, 'package.json'), '{"name":"scrape-bench","type":"module"}');
  const loadAtStart = os.loadavg();
  const rows = [];
  try {
    for (const runtimeId of runtimeIds) {
      for (const tables of SIZES) {
        log(`scrape bench: ${runtimeId}, ${tables} tables`);
        let histogram;
        try {
          const row = { runtimeId, tables, agent: 'tapwire', ...(await measure(runtimeId, dir, tables)) };
          histogram = row.histogram;
          rows.push(row);
        } catch (error) {
          rows.push({ runtimeId, tables, agent: 'tapwire', error: error.message });
        }
        if (!opts.otel || histogram === undefined) continue;
        try {
          rows.push({
            runtimeId,
            tables,
            agent: 'otel',
            ...(await measure(runtimeId, dir, tables, histogram)),
          });
        } catch (error) {
          rows.push({ runtimeId, tables, agent: 'otel', error: error.message });
        }
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const lines = [
    '## One scrape of /metrics (bench/scrape.mjs)',
    '',
    `- Command: \`node bench/scrape.mjs\`; ${machineLine(loadAtStart)}`,
    '- An app under tapwire with N in-memory SQLite tables, each queried once: N label sets of ' +
      '`db_client_operation_duration_seconds` (a histogram: 13 series each — 11 buckets, sum, count — besides the runtime ' +
      'and agent series). /metrics is scraped 10 times to warm up, ' +
      `then ${SCRAPES} times one after another; the app's CPU time over them (utime + stime, /proc/<pid>/stat, 10 ms ticks) ` +
      `divided by ${SCRAPES}. Target: ≤ ${TARGET_MS} ms of the app's CPU per scrape of ~2,000 series; the larger page is reported.`,
    ...(opts.otel
      ? [
          '- `otel`: the OpenTelemetry reference (`@opentelemetry/auto-instrumentations-node/register`, its Prometheus exporter, ' +
            "the environment of the HTTP benchmark's otel row), which instruments no SQLite: its app records the label sets of " +
            "tapwire's page above it once each into a histogram of the same name, unit and buckets through the OpenTelemetry " +
            'API, so the same db series are rendered by its SDK and exporter (named without the unit suffix there, ' +
            '`db_client_operation_duration_bucket`), beside its own runtime series. Its SDK keeps at most 2,000 label sets ' +
            'of one metric by default (its overflow series among them): of the 2,001 recorded at 2,000 tables, 2,000.',
        ]
      : []),
    '',
    '| runtime | agent | tables | db label sets | series on the page | page bytes | app CPU per scrape | wall per scrape | result |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
  ];
  for (const r of rows) {
    if (r.error) {
      lines.push(
        `| ${RUNTIMES[r.runtimeId].label} | ${r.agent} | ${r.tables} | — | — | — | — | — | not measured: ${r.error} |`,
      );
      continue;
    }
    const verdict =
      r.agent === 'otel'
        ? 'reference'
        : r.series > TARGET_SERIES
          ? 'reported'
          : r.cpuPerScrape <= TARGET_MS
            ? 'pass'
            : '**miss**';
    lines.push(
      `| ${RUNTIMES[r.runtimeId].label} | ${r.agent} | ${r.tables} | ${r.labelSets} | ${r.series} | ${r.bytes} | ${fmt(r.cpuPerScrape, 2)} ms | ${fmt(r.wallMs, 2)} ms | ${verdict} |`,
    );
  }
  const text = `${lines.join('\n')}\n`;
  if (opts.out) writeOut(opts.out, text);
  else process.stdout.write(text);
}

await main();
