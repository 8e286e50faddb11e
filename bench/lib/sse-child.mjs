// SSE parsing throughput for bench/ai.mjs: the agent's own parser (core/ai/sse.ts, bundled by
// bench/ai.mjs into BUNDLE) fed the bench stream repeated to about MB megabytes, in 16 KiB pieces.
// The stream is the one the stand-in serves the measured app (fetched once from URL: CHUNKS
// content chunks). Two sinks: a counter (the parser alone) and the agent's usage scan for OpenAI
// streams (core/ai/usage.ts streamEvent: what the agent does with every event). One JSON line out.
import { AI_STREAM_REQUEST } from './child.mjs';

const { StreamParser, Usage, streamEvent } = await import(process.env.BUNDLE);
const MB = Number(process.env.MB ?? 32);
const PASSES = Number(process.env.PASSES ?? 5);
const CHUNKS = Number(process.env.CHUNKS);

const stream = new Uint8Array(await (await fetch(process.env.URL, AI_STREAM_REQUEST)).arrayBuffer());
const copies = Math.max(1, Math.round((MB * 1e6) / stream.byteLength));
const PIECE = 16 * 1024;
const pieces = [];
for (let off = 0; off < stream.byteLength; off += PIECE) pieces.push(stream.subarray(off, off + PIECE));
const bytes = stream.byteLength * copies;
// A role chunk, the content chunks, a finish chunk, a usage chunk and `data: [DONE]`.
const eventsPerStream = CHUNKS + 4;

function pass(withUsage) {
  let events = 0;
  const t0 = performance.now();
  for (let c = 0; c < copies; c++) {
    const usage = new Usage();
    const sink = withUsage
      ? {
          event(d) {
            events++;
            streamEvent('openai', d, usage);
          },
        }
      : {
          event() {
            events++;
          },
        };
    const parser = new StreamParser(sink, false);
    for (let i = 0; i < pieces.length; i++) parser.feed(pieces[i]);
    parser.end();
    if (withUsage && usage.output !== CHUNKS) throw new Error(`usage not read: ${usage.output}`);
  }
  const ms = performance.now() - t0;
  if (events !== eventsPerStream * copies) throw new Error(`events ${events}`);
  return bytes / 1e6 / (ms / 1000);
}

const result = {};
for (const [name, withUsage] of [
  ['parser', false],
  ['parserAndUsage', true],
]) {
  pass(withUsage); // warm-up
  const runs = [];
  for (let i = 0; i < PASSES; i++) runs.push(pass(withUsage));
  runs.sort((a, b) => a - b);
  result[name] = runs[runs.length >> 1];
}
result.mb = bytes / 1e6;
result.eventBytes = stream.byteLength / eventsPerStream;
process.stdout.write(`${JSON.stringify(result)}\n`);
