// The recorders every operation ends in, over one Telemetry's instruments: the preload builds them
// for the app's process, the sidecar for its proxy and gateway.
import type { Config } from '../config/index.js';
import type { AiRecorder } from './ai/recorder.js';
import { DbRecorder } from './db/recorder.js';
import { HttpRecorder } from './http/recorder.js';
import type { Telemetry } from './telemetry.js';

export interface Recorders {
  http: HttpRecorder;
  db: DbRecorder;
}

/**
 * `ai`: the AI recorder, asked for at the first provider call (the preload loads it then,
 * ./ai/entry.ts); undefined when it cannot be had, and provider calls are then measured as plain
 * HTTP.
 */
export function createRecorders(
  telemetry: Telemetry,
  config: Config,
  ai: () => AiRecorder | undefined,
): Recorders {
  const limit = config.cardinalityLimit;
  const http = new HttpRecorder(
    telemetry.meter,
    telemetry.httpServerDuration,
    telemetry.httpClientDuration,
    limit,
    ai,
  );
  const db = new DbRecorder(telemetry.dbDuration, limit, config.dbSlowMs);
  return { http, db };
}
