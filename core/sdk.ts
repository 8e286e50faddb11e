// The OpenTelemetry SDK's MeterProvider, for the app's own @opentelemetry/api instruments (and the
// OTLP push reader, which is the SDK's). A bundle entry of its own (dist/chunks/sdk.js), loaded
// with require() when the app first asks for a meter (./entries.ts): a process whose app never
// does, never loads the SDK.

import type { Resource } from '@opentelemetry/resources';
import { MeterProvider, type MetricReader } from '@opentelemetry/sdk-metrics';
import { PullReader } from '../exporters/prometheus/reader.js';

export interface AppMeters {
  provider: MeterProvider;
  /** What the Prometheus endpoint reads the app's instruments with. */
  pull: PullReader | undefined;
}

export function appMeters(
  resource: Resource,
  cardinalityLimit: number,
  prometheus: boolean,
  otlp: MetricReader | undefined,
): AppMeters {
  const pull = prometheus ? new PullReader(cardinalityLimit) : undefined;
  const readers: MetricReader[] = [];
  if (pull) readers.push(pull);
  if (otlp) readers.push(otlp);
  return { provider: new MeterProvider({ resource, readers }), pull };
}
