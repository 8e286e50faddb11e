// The soak: an app under the preload on each runtime takes steady open-loop load for N minutes
// (default 8) while /metrics is scraped every second, as Prometheus would; the same app without the
// preload takes the same load at the same time beside it (one load generator each), so RSS over
// bare is read from one run on one machine state. Reported per runtime: RSS growth in MB per minute
// after the warm-up (least squares over one sample a second), RSS at the end of the warm-up and at
// the end with the bare app's beside it, and the number of series on /metrics at both points — a
// leak or an unbounded label shows as a slope or a growing series count. Not a test: the numbers
// depend on the machine; bench/results/soak.json keeps the run, `--write` puts the table in
// docs/soak.md.
//
// A third run, `node-without-gc`, is Node with TAPWIRE_RUNTIME_METRICS leaving out the GC histogram: on
// Node before 26 a 'gc' observer makes V8 grow its young generation sooner (agent/runtime/gc.ts), and
// the young generation's size (new_space, from tapwire's own v8js_memory_heap_space_size_bytes) is
// reported beside RSS. The runs go one after another, each with its own bare app beside it: compare
// their medians, not one reading.
//
// `node-otel` and `bun-otel` are the OpenTelemetry reference (auto-instrumentations-node's register, with
// the environment of bench/run.mjs' otel row) on the same app under the same load, scraped the same way.
// --add keeps the runs of bench/results/soak.json that this one does not repeat (each row says when it
// ran), so one run can be added to the table without taking the others again.
//
//   node bench/soak.mjs [--minutes 8] [--warmup 60] [--rate 3000] [--runtimes node,bun,node-without-gc,node-otel,bun-otel] [--add] [--write]
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { median, writeOut } from './lib/common.mjs';
import { openLoad, waitReady } from './lib/measure.mjs';
import { freePort, killAllSync, killTree, rssMb, sleep, spawnTracked } from './lib/procs.mjs';
import { otelReference, registers } from './scenarios.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BIN = path.join(ROOT, 'node_modules/.bin');

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i === -1 ? dflt : args[i + 1];
};
const minutes = Number(opt('--minutes', '8'));
const warmup = Number(opt('--warmup', '60'));
const rate = Number(opt('--rate', '3000'));
const runs = opt('--runtimes', 'node,bun,node-without-gc,node-otel,bun-otel').split(',');
const TAPWIRE_ENV = { TAPWIRE_ENV: 'production' };
const OTEL = otelReference();
/** A run: the runtime, its preload (tapwire's register unless said) and what its app's environment adds. */
const VARIANTS = {
  node: { runtime: 'node', env: TAPWIRE_ENV },
  bun: { runtime: 'bun', env: TAPWIRE_ENV },
  'node-without-gc': {
    runtime: 'node',
    env: { ...TAPWIRE_ENV, TAPWIRE_RUNTIME_METRICS: 'eventloop,heap,cpu,memory' },
  },
  'node-otel': { runtime: 'node', ...OTEL },
  'bun-otel': { runtime: 'bun', ...OTEL },
};
for (const r of runs)
  if (!(r in VARIANTS)) throw new Error(`--runtimes: ${r} is none of ${Object.keys(VARIANTS)}`);
const write = args.includes('--write');
const add = args.includes('--add');

process.on('exit', killAllSync);
process.on('SIGINT', () => process.exit(130));

/** Least-squares slope of y over x. */
function slope(points) {
  const n = points.length;
  const mx = points.reduce((s, p) => s + p[0], 0) / n;
  const my = points.reduce((s, p) => s + p[1], 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

/** Sample lines on an exposition page (every line that is not a comment or empty), without values. */
const keysOf = (text) =>
  text
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => l.slice(0, l.lastIndexOf(' ')));
const seriesOf = (text) => keysOf(text).length;
/** The young generation's size in MB from an exposition page (Node's heap metrics), or undefined. */
const newSpaceMb = (text) => {
  const m = /^v8js_memory_heap_space_size_bytes\{[^}]*v8js_heap_space_name="new_space"[^}]*\} (\S+)/m.exec(
    text,
  );
  return m === null ? undefined : Number(m[1]) / 1048576;
};

async function soak(run) {
  const { runtime, env, preload: file = registers()[runtime] } = VARIANTS[run];
  const port = await freePort();
  const barePort = await freePort();
  const metricsPort = await freePort();
  const app = path.join(ROOT, 'bench/apps/http-hello.mjs');
  const preload = [runtime === 'bun' ? '--preload' : '--import', file];
  const child = spawnTracked(path.join(BIN, runtime), [...preload, app], {
    env: {
      ...process.env,
      PORT: String(port),
      OTEL_EXPORTER_PROMETHEUS_PORT: String(metricsPort),
      ...env,
    },
  });
  const bare = spawnTracked(path.join(BIN, runtime), [app], {
    env: { ...process.env, PORT: String(barePort) },
  });
  await waitReady(child, port);
  await waitReady(bare, barePort);
  const seconds = minutes * 60;
  const loads = Promise.all([
    openLoad(`http://127.0.0.1:${port}/`, rate, seconds),
    openLoad(`http://127.0.0.1:${barePort}/`, rate, seconds),
  ]);
  const samples = [];
  const bareSamples = [];
  const newSpace = [];
  let scrapes = 0;
  let failed = 0;
  let seriesAtWarmup;
  let keysAtWarmup = new Set();
  let rssAtWarmup;
  let bareAtWarmup;
  let bareRss = null;
  let bareMax = 0;
  let lastText = '';
  const start = Date.now();
  for (let t = 0; t < seconds; t++) {
    const due = start + (t + 1) * 1000;
    try {
      const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`, {
        signal: AbortSignal.timeout(5000),
      });
      lastText = await res.text();
      if (res.status === 200) scrapes++;
      else failed++;
    } catch {
      failed++;
    }
    const rss = rssMb(child.pid);
    bareRss = rssMb(bare.pid) ?? bareRss;
    bareMax = Math.max(bareMax, bareRss ?? 0);
    const at = (Date.now() - start) / 1000;
    if (rss !== null) samples.push([at, rss]);
    if (bareRss !== null) bareSamples.push([at, bareRss]);
    const young = newSpaceMb(lastText);
    if (young !== undefined) newSpace.push([at, young]);
    if (seriesAtWarmup === undefined && at >= warmup) {
      seriesAtWarmup = seriesOf(lastText);
      keysAtWarmup = new Set(keysOf(lastText));
      rssAtWarmup = rss;
      bareAtWarmup = bareRss;
    }
    if (t % 60 === 59)
      console.error(
        `${run}: ${t + 1}s rss ${rss?.toFixed(1)} MB (bare ${bareRss?.toFixed(1)}), ${seriesOf(lastText)} series`,
      );
    await sleep(Math.max(0, due - Date.now()));
  }
  const [load, bareLoad] = await loads;
  const after = samples.filter(([at]) => at >= warmup);
  const afterOf = (points) => points.filter(([at]) => at >= warmup).map(([, v]) => v);
  const result = {
    run,
    at: new Date(start).toISOString(),
    runtime,
    env,
    version: execFileSync(path.join(BIN, runtime), ['--version'], {
      encoding: 'utf8',
    }).trim(),
    minutes,
    warmupSeconds: warmup,
    rate,
    load,
    bareLoad,
    scrapes,
    scrapesFailed: failed,
    rssAtWarmupMb: rssAtWarmup,
    rssEndMb: samples.at(-1)?.[1],
    rssMaxMb: Math.max(...samples.map(([, r]) => r)),
    bareRssAtWarmupMb: bareAtWarmup,
    bareRssEndMb: bareRss,
    bareRssMaxMb: bareMax,
    /** Half of the samples after the warm-up lie above it: RSS moves by the young generation's size (tens of MB) as V8 grows and shrinks it, so one reading at the end depends on where in that cycle it falls. */
    rssMedianMb: median(afterOf(samples)),
    bareRssMedianMb: median(afterOf(bareSamples)),
    newSpaceEndMb: newSpace.at(-1)?.[1],
    newSpaceMaxMb: newSpace.length === 0 ? undefined : Math.max(...newSpace.map(([, v]) => v)),
    newSpaceMedianMb: median(afterOf(newSpace)),
    mbPerMinute: slope(after) * 60,
    seriesAtWarmup,
    seriesEnd: seriesOf(lastText),
    /** Series that appeared after the warm-up (a growing label shows here by name). */
    seriesAdded: keysOf(lastText).filter((k) => !keysAtWarmup.has(k)),
  };
  await Promise.all([killTree(child), killTree(bare)]);
  return result;
}

const fresh = [];
for (const run of runs) fresh.push(await soak(run));
const kept =
  add && existsSync(path.join(ROOT, 'bench/results/soak.json'))
    ? JSON.parse(readFileSync(path.join(ROOT, 'bench/results/soak.json'), 'utf8')).filter(
        (r) => !runs.includes(r.run),
      )
    : [];
// In the table's order: the runs this script knows, as VARIANTS lists them.
const order = Object.keys(VARIANTS);
const results = [...kept, ...fresh].sort((a, b) => order.indexOf(a.run) - order.indexOf(b.run));
const json = JSON.stringify(results, null, 2);
writeOut('bench/results/soak.json', `${json}\n`);
console.log(json);

if (write) {
  const f = (n, d = 1) => (typeof n === 'number' ? n.toFixed(d) : 'n/a');
  const over = (a, b) => (typeof a === 'number' && typeof b === 'number' ? `+${(a - b).toFixed(1)}` : 'n/a');
  const name = (r) => `${r.runtime} ${r.version}${r.run === r.runtime ? '' : ` (${r.run})`}`;
  const rows = results.map(
    (r) =>
      `| ${name(r)} | ${r.at === undefined ? 'n/a' : r.at.slice(0, 16).replace('T', ' ')} | ${r.load.sent ?? 'n/a'} (${r.load.errors ?? 'n/a'} errors) | ${r.scrapes} (${r.scrapesFailed} failed) | ${f(r.rssAtWarmupMb)} (${f(r.bareRssAtWarmupMb)}) | ${f(r.rssEndMb)} (${f(r.bareRssEndMb)}) | ${over(r.rssEndMb, r.bareRssEndMb)} | ${f(r.rssMedianMb)} (${f(r.bareRssMedianMb)}) | ${over(r.rssMedianMb, r.bareRssMedianMb)} | ${f(r.rssMaxMb)} (${f(r.bareRssMaxMb)}) | ${r.newSpaceMaxMb === undefined ? 'n/a' : `${f(r.newSpaceMedianMb)} / ${f(r.newSpaceMaxMb)} / ${f(r.newSpaceEndMb)}`} | ${f(r.mbPerMinute, 3)} | ${r.seriesAtWarmup} → ${r.seriesEnd} |`,
  );
  const added = results.map((r) => {
    const names = [
      ...new Set(
        r.seriesAdded.map((k) => k.replace(/_(bucket|sum|count)\{/, '{').replace(/,?le="[^"]*"/, '')),
      ),
    ];
    return `- ${r.run}: ${names.length === 0 ? 'none' : names.map((n) => `\`${n}\``).join(', ')}`;
  });
  const text = `# Soak

Generated by \`node bench/soak.mjs --rate ${rate}${add ? ' --add' : ''} --write\` (${new Date().toISOString().slice(0, 10)}${add ? ', the runs it did not repeat kept from the one before' : ''}): the hello app
(bench/apps/http-hello.mjs) under the preload in the production profile, ${rate} requests/s of open-loop load for
${minutes} minutes, /metrics scraped every second; in brackets the same app without the preload, under the same
load at the same time beside it. MB/min is the least-squares slope of the app's RSS (one
sample a second) after a ${warmup} s warm-up; the series count is the number of samples on /metrics at the end
of the warm-up and at the end. A leak shows as a steady slope, an unbounded label as a growing count. The
runs go one after another; \`node-without-gc\` is Node with \`TAPWIRE_RUNTIME_METRICS=eventloop,heap,cpu,memory\`
(every runtime metric but the GC histogram); \`node-otel\` and \`bun-otel\` are the OpenTelemetry reference,
\`@opentelemetry/auto-instrumentations-node/register\` with its Prometheus exporter (the environment of the HTTP
benchmark's otel row, docs/benchmarks.md), in place of tapwire's preload.

| run | started (UTC) | requests (errors) | scrapes | RSS after warm-up (MB, bare) | RSS at end (MB, bare) | over bare at end (MB) | RSS median after warm-up (MB, bare) | over bare, medians (MB) | RSS max (MB, bare) | young generation (MB): median / max / end | MB/min after warm-up | series |
| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |
${rows.join('\n')}

Series that appeared after the warm-up:
${added.join('\n')}

Reading the Node rows: V8 sizes the young generation (\`new_space\` in \`v8js_memory_heap_space_size_bytes\`,
its two semi-spaces) to the load, doubling it up to 32 MB when the bytes that survived its collections since the
last growth exceed its size and shrinking it at a major collection, so a Node process's RSS moves by tens of MB
over minutes with or without tapwire (the bare app's median and maximum differ too). One reading at the end
falls anywhere in that cycle; the medians compare the two apps over the whole soak. A 'gc' observer on Node
before 26 makes every scavenge keep ~4 KB that Node's entry leaves behind (agent/runtime/gc.ts), which
brings the young generation's next doubling sooner; the \`node-without-gc\` row is the same app without that
histogram, minutes later, so compare its medians, not one reading. Either way the cost is bounded (the young
generation's maximum), not a leak: the series count and the slope show growth. What the difference is made
of is measured in docs/overhead.md.

A series that appears once and stays is a label value seen late, not growth: on Node, V8's first
incremental and major collections usually come after the warm-up, and each adds one
\`v8js_gc_duration_seconds\` histogram (7 lines); \`v8js_gc_type\` has four values. For comparison,
the figures quoted for 9ba7680 were measured with wrk at full speed (-c16), not at a fixed rate.
`;
  const doc = path.join(ROOT, 'docs/soak.md');
  writeFileSync(doc, text);
  // Aligned as the repository's formatter keeps every Markdown file (npm run lint checks it).
  execFileSync(path.join(BIN, 'biome'), ['format', '--write', doc], { stdio: 'ignore' });
}
