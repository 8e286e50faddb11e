// RSS under load, A/B: a node:http hello app bare, under this tree's preload and (with --base) under
// another build's, each taking wrk load for a few seconds while /metrics is scraped every second;
// RSS read at the end. Runs interleaved, medians; the load average is printed beside.
//
//   node bench/rss.mjs [--runs 5] [--seconds 5] [--base DIR] [--runtime node,bun] [--app http-hello]
// --app names the app in bench/apps/ (bun-serve-hello: Bun only); it is asked on its scenario's path
// (bench/scenarios.mjs: /users/42 for the routed apps), else on /.
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fmt, guard, median, rotate } from './lib/common.mjs';
import { httpGet, runWrk, waitReady } from './lib/measure.mjs';
import { freePort, killTree, rssMb, sleep, spawnTracked } from './lib/procs.mjs';
import { REPO, RUNTIMES, registers, SCENARIOS } from './scenarios.mjs';

const { values: opts } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    seconds: { type: 'string', default: '5' },
    base: { type: 'string' },
    runtime: { type: 'string', default: 'node,bun' },
    app: { type: 'string', default: 'http-hello' },
  },
});
const MODES = [
  { id: 'bare', register: null },
  { id: 'tapwire', register: registers() },
];
if (opts.base) MODES.push({ id: 'base', register: registers(path.resolve(opts.base)) });
guard(60);

const appPath = SCENARIOS.find((s) => s.id === opts.app)?.path ?? '/';

async function once(runtimeId, mode) {
  const [port, metricsPort] = [await freePort(), await freePort()];
  const runtime = RUNTIMES[runtimeId];
  const env = {
    PATH: process.env.PATH,
    NODE_ENV: 'production',
    PORT: String(port),
    OTEL_EXPORTER_PROMETHEUS_PORT: String(metricsPort),
    OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1',
  };
  const args = [
    ...(mode.register ? [runtime.preloadFlag, mode.register[runtimeId]] : []),
    path.join(REPO, `bench/apps/${opts.app}.mjs`),
  ];
  const child = spawnTracked(runtime.bin, args, { env });
  try {
    await waitReady(child, port, { path: appPath });
    let scraping = true;
    const scraper = (async () => {
      while (scraping) {
        if (mode.register) await httpGet(metricsPort, '/metrics');
        await sleep(1000);
      }
    })();
    await runWrk({ port, path: appPath, seconds: Number(opts.seconds), connections: 16 });
    scraping = false;
    await scraper;
    return rssMb(child.pid);
  } finally {
    await killTree(child);
  }
}

const load0 = os.loadavg();
const rows = [];
for (const runtimeId of opts.runtime.split(',')) {
  const samples = Object.fromEntries(MODES.map((m) => [m.id, []]));
  for (let i = 0; i < Number(opts.runs); i++) {
    for (const m of rotate(MODES, i)) samples[m.id].push(await once(runtimeId, m));
  }
  const meds = MODES.map((m) => median(samples[m.id]));
  rows.push(
    `| ${runtimeId} | ${meds.map((x) => `${fmt(x)} MB`).join(' | ')} | ${meds
      .slice(1)
      .map((x) => `${fmt(x - meds[0], 1)} MB`)
      .join(' | ')} |`,
  );
  console.error(`${runtimeId}: ${MODES.map((m, i) => `${m.id} ${fmt(meds[i])}`).join(' · ')} MB`);
}
const load = (l) => l.map((x) => x.toFixed(2)).join(' ');
console.log(
  `\nRSS of bench/apps/${opts.app}.mjs after ${opts.seconds} s of wrk -c16 (/metrics scraped every second), ${opts.runs} runs per mode, interleaved, medians; load average ${load(load0)} at start, ${load(os.loadavg())} at end\n`,
);
console.log(
  `| runtime | ${MODES.map((m) => m.id).join(' | ')} | ${MODES.slice(1)
    .map((m) => `${m.id} − bare`)
    .join(' | ')} |`,
);
console.log(`| --- |${' --- |'.repeat(MODES.length * 2 - 1)}`);
for (const r of rows) console.log(r);
