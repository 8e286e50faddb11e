// The measured app of bench/ai.mjs: streamed chat completions with fetch, read chunk by chunk.
//   URL=http://127.0.0.1:PORT/n3000/v1/chat/completions WARMUP=N REQUESTS=M
// Prints one JSON line: median time to first chunk and total time (ms) over the M measured
// requests, bytes per stream, and what the agent recorded (null when bare: nothing answers /metrics).
import { AI_STREAM_REQUEST, median, scrapeOwn, sumSamples } from './child.mjs';

const URL_ = process.env.URL;
const WARMUP = Number(process.env.WARMUP ?? 3);
const REQUESTS = Number(process.env.REQUESTS ?? 10);

async function one() {
  const t0 = performance.now();
  const res = await fetch(URL_, AI_STREAM_REQUEST);
  if (res.status !== 200) throw new Error(`status ${res.status}`);
  const reader = res.body.getReader();
  let first = null;
  let bytes = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (first === null) first = performance.now() - t0;
    bytes += value.byteLength;
  }
  return { ttfc: first, total: performance.now() - t0, bytes };
}

for (let i = 0; i < WARMUP; i++) await one();
const runs = [];
for (let i = 0; i < REQUESTS; i++) runs.push(await one());
const text = await scrapeOwn();
process.stdout.write(
  `${JSON.stringify({
    ttfcMs: median(runs.map((r) => r.ttfc)),
    totalMs: median(runs.map((r) => r.total)),
    bytes: runs[0].bytes,
    requests: WARMUP + REQUESTS,
    recorded: text == null ? null : sumSamples(text, /^gen_ai_client_operation_duration(_seconds)?_count$/),
    ttfcRecorded:
      text == null
        ? null
        : sumSamples(text, /^gen_ai_client_operation_time_to_first_chunk(_seconds)?_count$/),
    outputTokens:
      text == null
        ? null
        : sumSamples(text, /^gen_ai_client_token_usage(_tokens)?_sum$/, /gen_ai_token_type="output"/),
    // What an agent that knows no AI provider saw of the calls (the OpenTelemetry reference's undici
    // instrumentation, on Node): outbound HTTP requests.
    httpClient: text == null ? null : sumSamples(text, /^http_client_request_duration(_seconds)?_count$/),
  })}\n`,
);
process.exit(0);
