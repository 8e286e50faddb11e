// CPU time per request at a fixed rate, and where tapwire's share of it goes. For each app, four copies
// run side by side, pinned to the same CPU, and one open-loop generator (bench/lib/open-loop.mjs, pinned
// to the other) sends each the same requests at the same rate, turn about:
//   bare     no preload
//   hooks    the preload with its runtime metrics off (TAPWIRE_RUNTIME_METRICS=false), never scraped:
//            what the request's own hooks cost
//   runtime  the preload as installed (runtime metrics on), never scraped
//   tapwire  the preload as installed, /metrics scraped every second
// The app's CPU (user + system, all its threads, from /proc/PID/stat) over the measured seconds, divided by
// the requests it answered. The copies share the machine's moments (a slow second slows all four), so
// the differences between them are steadier than between runs taken one after another. hooks − bare is
// a cost per request; runtime − hooks and tapwire − runtime are costs per second, shown per request at
// this rate and as CPU ms per second. A saturated requests/s ratio (bench/run.mjs) says what a server
// loses at its peak; this says what each request costs below it, where most services run. After each
// round's load the same copies sit idle for --idle seconds (the scraped one still scraped): CPU ms a
// second of a process with nothing to do. Each round rotates the order in which the copies start and
// take their turns. Not a test, and not part of `npm run bench`: the figures are quoted in
// docs/overhead.md.
//
//   node bench/cpu.mjs [--rate 1000] [--seconds 15] [--warmup 5] [--rounds 5] [--idle 20] [--apps node:http-hello,...]
//                      [--copies FILE.json]
//
// --copies replaces the four copies with those a JSON file lists, for measuring a step of a hook by
// taking it out of a copy of the build (docs/overhead.md): [{ "id": "bare", "preload": false },
// { "id": "no-end", "preload": true, "dist": "dist-no-end", "env": { "TAPWIRE_RUNTIME_METRICS":
// "false" } }, ...]: `dist` is a copy of dist/ in the repository (so that its packages resolve),
// `scrape` scrapes it every second, `args` are flags for the runtime itself, put before the preload
// (`["--min-semi-space-size=16"]`: a V8 flag Node does not take from NODE_OPTIONS). The table then
// gives each copy and, round by round, each copy minus the first.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fmt, median, rotate } from './lib/common.mjs';
import { openLoad, waitReady } from './lib/measure.mjs';
import { CPU, freePort, killAllSync, killTree, sleep, spawnTracked } from './lib/procs.mjs';
import { BENCH_DIR, REPO, registers, SCENARIOS } from './scenarios.mjs';

const { values: opts } = parseArgs({
  options: {
    rate: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '15' },
    warmup: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '5' },
    idle: { type: 'string', default: '20' },
    copies: { type: 'string' },
    apps: {
      type: 'string',
      default: 'node:http-hello,node:express-hello,bun:http-hello,bun:bun-serve-hello,bun:express-hello',
    },
  },
});
process.on('exit', killAllSync);
process.on('SIGINT', () => process.exit(130));

const BIN = path.join(REPO, 'node_modules/.bin');
const TICK_US = 1e6 / 100; // USER_HZ: /proc counts CPU time in hundredths of a second on Linux
const VARIANTS = opts.copies
  ? JSON.parse(readFileSync(opts.copies, 'utf8')).map((c) => ({ scrape: false, env: {}, ...c }))
  : [
      { id: 'bare', preload: false, scrape: false, env: {} },
      { id: 'hooks', preload: true, scrape: false, env: { TAPWIRE_RUNTIME_METRICS: 'false' } },
      { id: 'runtime', preload: true, scrape: false, env: {} },
      { id: 'tapwire', preload: true, scrape: true, env: {} },
    ];
for (const v of VARIANTS) {
  if (v.dist !== undefined && !existsSync(path.join(REPO, v.dist, 'register.js'))) {
    throw new Error(`copy ${v.id}: ${v.dist}/register.js is not in the repository`);
  }
}

/** User + system CPU of a process and all its threads, in clock ticks. */
function cpuTicks(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

/**
 * One round of one app: µs of CPU per request for each variant, in VARIANTS' order (null where one
 * failed). The copies start, and take their turns of the load, in an order rotated by `by`, so no
 * variant always starts first or is sent each turn's first request.
 */
async function round(runtime, app, by) {
  // The path each app answers 200 on (routed apps: /users/42), as bench/run.mjs loads it.
  const url = SCENARIOS.find((s) => s.id === app)?.path ?? '/';
  const copies = [];
  // Scrape loops run while this is true; `finally` ends them on every path, an error's included.
  let scraping = false;
  let scrapes = [];
  try {
    for (const variant of rotate(VARIANTS, by)) {
      const port = await freePort();
      const metrics = await freePort();
      const preload = variant.preload
        ? [
            runtime === 'bun' ? '--preload' : '--import',
            registers(variant.dist === undefined ? undefined : path.join(REPO, variant.dist))[runtime],
          ]
        : [];
      const child = spawnTracked(
        path.join(BIN, runtime),
        [...(variant.args ?? []), ...preload, path.join(BENCH_DIR, `apps/${app}.mjs`)],
        {
          env: {
            ...process.env,
            PORT: String(port),
            OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1',
            OTEL_EXPORTER_PROMETHEUS_PORT: String(metrics),
            TAPWIRE_ENV: 'production',
            ...variant.env,
          },
          cpu: CPU.measured,
        },
      );
      copies.push({ variant, child, port, metrics });
      await waitReady(child, port, { path: url });
    }
    const urls = copies.map((c) => `http://127.0.0.1:${c.port}${url}`).join(',');
    const total = Number(opts.rate) * copies.length;
    // Scraped from the warm-up on; the warm-up's requests and scrapes are not counted: the first
    // seconds compile the request path and the scrape's.
    scraping = true;
    scrapes = copies
      .filter((c) => c.variant.scrape)
      .map(async (c) => {
        while (scraping) {
          await sleep(1000);
          if (scraping)
            await fetch(`http://127.0.0.1:${c.metrics}/metrics`).then(
              (r) => r.text(),
              () => {},
            );
        }
      });
    await openLoad(urls, total, opts.warmup, { cpu: CPU.load });
    const before = copies.map((c) => cpuTicks(c.child.pid));
    const result = await openLoad(urls, total, opts.seconds, { cpu: CPU.load });
    const after = copies.map((c) => cpuTicks(c.child.pid));
    // Then the same copies with no requests (the scraped one still scraped): CPU ms a second.
    const idleSeconds = Number(opts.idle);
    let idle = copies.map(() => null);
    if (idleSeconds > 0) {
      await sleep(2000);
      const from = copies.map((c) => cpuTicks(c.child.pid));
      await sleep(idleSeconds * 1000);
      idle = copies.map((c, i) => ((cpuTicks(c.child.pid) - from[i]) * TICK_US) / 1000 / idleSeconds);
    }
    return VARIANTS.map((variant) => {
      const i = copies.findIndex((c) => c.variant === variant);
      const got = result.each?.[i];
      if (!(got?.sent > 0) || got.errors > 0) {
        console.error(
          `${runtime} ${app} ${variant.id}: left out, ${got?.errors ?? 'no'} errors in ${got?.sent ?? 0} requests`,
        );
        return { perRequest: null, idle: idle[i] };
      }
      return { perRequest: ((after[i] - before[i]) * TICK_US) / got.sent, idle: idle[i] };
    });
  } catch (error) {
    console.error(`${runtime} ${app}: ${error.message}\n${copies.at(-1)?.child.stderrTail ?? ''}`);
    return VARIANTS.map(() => ({ perRequest: null, idle: null }));
  } finally {
    scraping = false;
    await Promise.all(scrapes);
    await Promise.all(copies.map((c) => killTree(c.child)));
  }
}

const rounds = Number(opts.rounds);
const rate = Number(opts.rate);
const ids = VARIANTS.map((v) => v.id);
// The four default copies get their differences named; copies of one's own, each minus the first.
const named = opts.copies === undefined;
const diffHeads = named
  ? ['hooks − bare (µs per request)', 'runtime − hooks', 'tapwire − runtime (the scrape)', 'tapwire − bare']
  : ids.slice(1).map((id) => `${id} − ${ids[0]} (µs per request)`);
console.log(
  `CPU µs per request at ${rate} requests/s to each of ${VARIANTS.length} copies side by side on one CPU (${opts.seconds} s measured after ${opts.warmup} s), ${rounds} rounds; medians of the rounds, and of the differences taken round by round\n`,
);
console.log(`| runtime · app | ${ids.join(' | ')} | ${diffHeads.join(' | ')} |`);
console.log(`| --- |${' ---: |'.repeat(ids.length + diffHeads.length)}`);
const idleRows = [];
for (const spec of opts.apps.split(',')) {
  const [runtime, app] = spec.split(':');
  const got = [];
  for (let i = 0; i < rounds; i++) got.push(await round(runtime, app, i));
  const at = (v, field = 'perRequest') => got.map((r) => r[v][field]);
  // Differences round by round: the copies of one round shared its moments.
  const diff = (a, b) =>
    got
      .filter((r) => r[a].perRequest !== null && r[b].perRequest !== null)
      .map((r) => r[a].perRequest - r[b].perRequest);
  const each = (v, field) =>
    `${fmt(median(at(v, field)))} (${at(v, field)
      .map((x) => fmt(x))
      .join(', ')})`;
  const perRequest = (xs) => `${fmt(median(xs))} µs`;
  const perSecond = (xs) => {
    const m = median(xs);
    return m === null ? 'n/a' : `${fmt(m)} µs = ${fmt((m * rate) / 1000, 2)} ms/s`;
  };
  const diffs = named
    ? [perRequest(diff(1, 0)), perSecond(diff(2, 1)), perSecond(diff(3, 2)), perRequest(diff(3, 0))]
    : ids.slice(1).map((_, i) => perRequest(diff(i + 1, 0)));
  console.log(`| ${runtime} · ${app} | ${ids.map((_, v) => each(v)).join(' | ')} | ${diffs.join(' | ')} |`);
  idleRows.push(`| ${runtime} · ${app} | ${VARIANTS.map((_, v) => each(v, 'idle')).join(' | ')} |`);
}
if (Number(opts.idle) > 0) {
  console.log(
    `\nCPU ms a second with no requests, ${opts.idle} s after each round's load (the same copies; a scraped copy still scraped every second), medians of the rounds\n`,
  );
  console.log(`| runtime · app | ${ids.join(' | ')} |`);
  console.log(`| --- |${' ---: |'.repeat(ids.length)}`);
  for (const row of idleRows) console.log(row);
}
