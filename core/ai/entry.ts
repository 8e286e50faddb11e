// The AI measurement proper: the recorder, the stream and usage readers, cost and the price table.
// A bundle entry of its own (dist/chunks/ai.js, ../entries.ts), loaded at the first provider call:
// a process that never calls one never loads it (~45 kB, ~1.5 ms of start-up on Node 24, measured).
// What start-up needs to recognise provider calls stays outside (./providers.ts, ./ratelimit.ts).
import type { Telemetry } from '../telemetry.js';
import { type Prices, readPriceFile, Prices as Table } from './prices.js';
import { AiRecorder } from './recorder.js';

export { readPriceFile, Table as Prices };

/** The recorder of AI provider calls over `telemetry`'s instruments. */
export function aiRecorder(telemetry: Telemetry, limit: number, prices: Prices): AiRecorder {
  return new AiRecorder(
    {
      duration: telemetry.genAiDuration,
      tokens: telemetry.genAiTokens,
      timeToFirstChunk: telemetry.genAiTimeToFirstChunk,
      timePerOutputChunk: telemetry.genAiTimePerOutputChunk,
      outputSpeed: telemetry.genAiOutputSpeed,
      cost: telemetry.genAiCost,
      unparsedStreams: telemetry.genAiUnparsedStreams,
      usageDropped: telemetry.genAiUsageDropped,
      usage: telemetry.genAiUsage,
    },
    prices,
    limit,
    telemetry.meter,
  );
}
