// The recorders every operation ends in, over one Telemetry's instruments: the preload builds them
// for the app's process, the sidecar for its proxy and gateway.
import type { Config } from '../config/index.js';
import type { Prices } from './ai/prices.js';
import { AiRecorder } from './ai/recorder.js';
import { DbRecorder } from './db/recorder.js';
import { HttpRecorder } from './http/recorder.js';
import type { Telemetry } from './telemetry.js';

export interface Recorders {
  http: HttpRecorder;
  db: DbRecorder;
  ai: AiRecorder;
}

export function createRecorders(telemetry: Telemetry, config: Config, prices: Prices): Recorders {
  const limit = config.cardinalityLimit;
  const ai = new AiRecorder(
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
  const http = new HttpRecorder(
    telemetry.meter,
    telemetry.httpServerDuration,
    telemetry.httpClientDuration,
    limit,
    ai,
  );
  const db = new DbRecorder(telemetry.dbDuration, limit, config.dbSlowMs);
  return { http, db, ai };
}
