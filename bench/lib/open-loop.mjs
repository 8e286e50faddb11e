// Open-loop load at a fixed rate: requests are due every 1/rate seconds whether or not earlier
// ones have answered, and each latency is measured from when the request was due (not when it
// was sent), so a stall shows up in the percentiles instead of slowing the load (no coordinated
// omission). Prints JSON {sent, errors, p50, p99, max} in milliseconds. WARMUP seconds of the
// same load go first, uncounted: this client's own start (its JIT, its connections) otherwise lands
// in the percentiles of a short run. URL may be a comma-separated list: the requests then go to each
// in turn (RATE is the total), and `each` gives every URL's counted {sent, errors}.
//   node open-loop.mjs URL[,URL...] RATE SECONDS [WARMUP]
import { Pool } from 'undici';

const [urlArg, rateArg, secondsArg, warmupArg = '0'] = process.argv.slice(2);
const rate = Number(rateArg);
const seconds = Number(secondsArg);
const warmup = Math.round(rate * Number(warmupArg));
const targets = urlArg.split(',').map((url) => {
  const u = new URL(url);
  return {
    path: u.pathname,
    pool: new Pool(u.origin, { connections: 64, pipelining: 1 }),
    sent: 0,
    errors: 0,
  };
});
const total = warmup + rate * seconds;
const latencies = new Float64Array(total);
let sent = 0;
let done = 0;
let errors = 0;
const start = performance.now();

function fire(i, due) {
  const target = targets[i % targets.length];
  if (i >= warmup) target.sent++;
  const failed = () => {
    if (i < warmup) return;
    errors++;
    target.errors++;
  };
  target.pool.request({ path: target.path, method: 'GET' }).then(
    async (res) => {
      await res.body.dump();
      latencies[i] = performance.now() - due;
      if (res.statusCode !== 200) failed();
      finish();
    },
    () => {
      latencies[i] = performance.now() - due;
      failed();
      finish();
    },
  );
}

function finish() {
  if (++done < total) return;
  const sorted = Array.from(latencies.subarray(warmup)).sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  process.stdout.write(
    `${JSON.stringify({
      sent: sent - warmup,
      errors,
      p50: at(0.5),
      p99: at(0.99),
      max: sorted[sorted.length - 1],
      each: targets.map((t) => ({ sent: t.sent, errors: t.errors })),
    })}\n`,
  );
  for (const t of targets) t.pool.close();
}

function tick() {
  const now = performance.now();
  const due = Math.min(total, Math.floor(((now - start) / 1000) * rate) + 1);
  while (sent < due) {
    fire(sent, start + (sent * 1000) / rate);
    sent++;
  }
  if (sent < total) setTimeout(tick, 1);
}
tick();
