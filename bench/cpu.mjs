// CPU time per request at a fixed rate: the hello apps bare and under the preload, /metrics scraped every
// second (tapwire), the same open-loop load (bench/lib/open-loop.mjs) on each in turn, rounds interleaved.
// The app's CPU (user + system, all its threads, from /proc/PID/stat) over the measured seconds, divided
// by the requests answered. A saturated requests/s ratio (bench/run.mjs) says what a server loses at its
// peak on this 2-core machine, where the load generator shares it; this says what each request costs at
// a rate below the peak, where most services run. Not a test, and not part of `npm run bench`: the
// figures are quoted in docs/overhead.md.
//
//   node bench/cpu.mjs [--rate 2000] [--seconds 15] [--rounds 5] [--apps node:http-hello,...]
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fmt, median } from './lib/common.mjs';
import { openLoad, waitReady } from './lib/measure.mjs';
import { CPU, freePort, killAllSync, killTree, sleep, spawnTracked } from './lib/procs.mjs';
import { BENCH_DIR, REPO, registers, SCENARIOS } from './scenarios.mjs';

const { values: opts } = parseArgs({
  options: {
    rate: { type: 'string', default: '2000' },
    seconds: { type: 'string', default: '15' },
    warmup: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '5' },
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

/** User + system CPU of a process and all its threads, in clock ticks. */
function cpuTicks(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

/** One turn: µs of the app's CPU per request at the rate, or null when it failed. */
async function turn(runtime, app, mode) {
  // The path each app answers 200 on (routed apps: /users/42), as bench/run.mjs loads it.
  const url = SCENARIOS.find((s) => s.id === app)?.path ?? '/';
  const port = await freePort();
  const metrics = await freePort();
  const preload =
    mode === 'tapwire' ? [runtime === 'bun' ? '--preload' : '--import', registers()[runtime]] : [];
  const child = spawnTracked(path.join(BIN, runtime), [...preload, path.join(BENCH_DIR, `apps/${app}.mjs`)], {
    env: {
      ...process.env,
      PORT: String(port),
      OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1',
      OTEL_EXPORTER_PROMETHEUS_PORT: String(metrics),
      TAPWIRE_ENV: 'production',
    },
    cpu: CPU.measured,
  });
  try {
    await waitReady(child, port, { path: url });
    // The warm-up's requests are sent and not counted: the first seconds compile the request path.
    const warm = Number(opts.warmup);
    await openLoad(`http://127.0.0.1:${port}${url}`, opts.rate, warm, { cpu: CPU.load });
    const before = cpuTicks(child.pid);
    let scraping = mode === 'tapwire';
    const scrapes = (async () => {
      while (scraping) {
        await sleep(1000);
        if (scraping)
          await fetch(`http://127.0.0.1:${metrics}/metrics`).then(
            (r) => r.text(),
            () => {},
          );
      }
    })();
    const result = await openLoad(`http://127.0.0.1:${port}${url}`, opts.rate, opts.seconds, {
      cpu: CPU.load,
    });
    const after = cpuTicks(child.pid);
    scraping = false;
    await scrapes;
    if (!(result.sent > 0) || result.errors > 0) {
      console.error(
        `${runtime} ${app} ${mode}: left out, ${result.errors ?? 'no'} errors in ${result.sent ?? 0} requests`,
      );
      return null;
    }
    return ((after - before) * TICK_US) / result.sent;
  } catch (error) {
    console.error(`${runtime} ${app} ${mode}: ${error.message}\n${child.stderrTail}`);
    return null;
  } finally {
    await killTree(child);
  }
}

const rounds = Number(opts.rounds);
console.log(
  `CPU µs per request at ${opts.rate} requests/s (${opts.seconds} s measured after ${opts.warmup} s), ${rounds} rounds interleaved, /metrics scraped every second under tapwire\n`,
);
console.log(
  '| runtime · app | bare, each round | tapwire, each round | bare (median) | tapwire (median) | tapwire − bare | bare ÷ tapwire |',
);
console.log('| --- | --- | --- | ---: | ---: | ---: | ---: |');
for (const spec of opts.apps.split(',')) {
  const [runtime, app] = spec.split(':');
  const got = { bare: [], tapwire: [] };
  for (let i = 0; i < rounds; i++) {
    for (const mode of i % 2 === 0 ? ['bare', 'tapwire'] : ['tapwire', 'bare']) {
      const us = await turn(runtime, app, mode);
      if (us !== null) got[mode].push(us);
    }
  }
  const b = median(got.bare);
  const t = median(got.tapwire);
  const each = (v) => v.map((x) => x.toFixed(1)).join(', ');
  const both = b !== null && t !== null;
  const us = (v) => (v === null ? 'n/a' : `${fmt(v)} µs`);
  console.log(
    `| ${runtime} · ${app} | ${each(got.bare)} | ${each(got.tapwire)} | ${us(b)} | ${us(t)} | ${both ? `${fmt(t - b)} µs` : 'n/a'} | ${both ? fmt(b / t, 3) : 'n/a'} |`,
  );
}
