// The recorder agent/ai/ records through, over the gen_ai instruments of the sidecar's own
// MeterProvider (agent/telemetry.ts). The preload's start-up does the same for an app; the
// sidecar is a process of its own and wires it here (it never loads the preload's hooks).
import { setAiRecorder } from '../agent/ai/call.js';
import { Prices, readPriceFile } from '../agent/ai/prices.js';
import { AiRecorder } from '../agent/ai/record.js';
import type { Telemetry } from '../agent/telemetry.js';

/** `pricesFile`: TAPWIRE_AI_PRICES, read once here (a bad file throws: the sidecar refuses to start). */
export function installAiRecorder(
  telemetry: Telemetry,
  cardinalityLimit: number,
  pricesFile: string | undefined,
): AiRecorder {
  const recorder = new AiRecorder(
    {
      duration: telemetry.genAiDuration,
      tokens: telemetry.genAiTokens,
      timeToFirstChunk: telemetry.genAiTimeToFirstChunk,
      cost: telemetry.genAiCost,
    },
    new Prices(pricesFile ? readPriceFile(pricesFile) : undefined),
    cardinalityLimit,
  );
  setAiRecorder(recorder);
  return recorder;
}
