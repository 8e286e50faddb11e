// The measured app of bench/long-line.mjs: one streamed response whose `data:` line never ends,
// read to the end with fetch. Prints one JSON line: milliseconds from the request to the end of
// the body, bytes received, and the process's peak RSS (MB) since it started.
const t0 = performance.now();
const res = await fetch(process.env.URL, {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], stream: true }),
});
const reader = res.body.getReader();
let bytes = 0;
for (;;) {
  const { done, value } = await reader.read();
  if (done) break;
  bytes += value.byteLength;
}
const ms = performance.now() - t0;
process.stdout.write(
  `${JSON.stringify({ ms: Math.round(ms), bytes, peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024) })}\n`,
);
process.exit(0);
