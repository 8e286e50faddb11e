// Open-loop load at a fixed rate: requests are due every 1/rate seconds whether or not earlier
// ones have answered, and each latency is measured from when the request was due (not when it
// was sent), so a stall shows up in the percentiles instead of slowing the load (no coordinated
// omission). Prints JSON {sent, errors, p50, p99, max} in milliseconds. WARMUP seconds of the
// same load go first, uncounted: this client's own start (its JIT, its connections) otherwise lands
// in the percentiles of a short run.
//   node open-loop.mjs URL RATE SECONDS [WARMUP]
import { Pool } from 'undici';

const [url, rateArg, secondsArg, warmupArg = '0'] = process.argv.slice(2);
const rate = Number(rateArg);
const seconds = Number(secondsArg);
const warmup = Math.round(rate * Number(warmupArg));
const u = new URL(url);
const pool = new Pool(u.origin, { connections: 64, pipelining: 1 });
const total = warmup + rate * seconds;
const latencies = new Float64Array(total);
let sent = 0;
let done = 0;
let errors = 0;
const start = performance.now();

function fire(i, due) {
  pool.request({ path: u.pathname, method: 'GET' }).then(
    async (res) => {
      await res.body.dump();
      latencies[i] = performance.now() - due;
      if (res.statusCode !== 200 && i >= warmup) errors++;
      finish();
    },
    () => {
      latencies[i] = performance.now() - due;
      if (i >= warmup) errors++;
      finish();
    },
  );
}

function finish() {
  if (++done < total) return;
  const sorted = Array.from(latencies.subarray(warmup)).sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  process.stdout.write(
    `${JSON.stringify({ sent: sent - warmup, errors, p50: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1] })}\n`,
  );
  pool.close();
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
