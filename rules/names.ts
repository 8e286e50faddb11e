// The metric and label names the rules query, read from the metric catalogue through the same
// translation the Prometheus endpoint uses, so a rule can only name a series tapwire emits.
// Only exporters/ is imported, never agent/: generating rules measures nothing, so it loads no
// instrumentation code.
import { METRICS, type MetricKey } from '../exporters/catalogue.js';
import { labelName, prometheusName } from '../exporters/prometheus/naming.js';

/** The Prometheus name of a catalogue metric. */
export const metric = (key: MetricKey): string => {
  const m = METRICS[key];
  return prometheusName(m.name, m.unit, m.kind);
};

/** A label of `key`'s metric, by OpenTelemetry attribute name; throws if the metric lacks it. */
export const label = (key: MetricKey, attribute: string): string => {
  const attributes: readonly string[] = METRICS[key].attributes;
  if (!attributes.includes(attribute)) throw new Error(`${METRICS[key].name} has no attribute ${attribute}`);
  return labelName(attribute);
};

export const M = {
  httpServer: metric('httpServerDuration'),
  db: metric('dbDuration'),
  genAi: metric('genAiDuration'),
  genAiTtfc: metric('genAiTimeToFirstChunk'),
  genAiTokens: metric('genAiTokens'),
  genAiCost: metric('genAiCost'),
  genAiLimitRemaining: metric('genAiRateLimitRemaining'),
  genAiLimit: metric('genAiRateLimitLimit'),
  eventLoopP99: metric('eventLoopDelayP99'),
  agentInfo: metric('agentInfo'),
  overflow: metric('cardinalityOverflow'),
} as const;

export const L = {
  status: label('httpServerDuration', 'http.response.status_code'),
  route: label('httpServerDuration', 'http.route'),
  httpErrorType: label('httpServerDuration', 'error.type'),
  dbSystem: label('dbDuration', 'db.system.name'),
  dbErrorType: label('dbDuration', 'error.type'),
  provider: label('genAiDuration', 'gen_ai.provider.name'),
  aiErrorType: label('genAiDuration', 'error.type'),
  tokenType: label('genAiTokens', 'gen_ai.token.type'),
  overflowMetric: label('cardinalityOverflow', 'metric'),
  modelFamily: label('genAiRateLimitRemaining', 'tapwire.gen_ai.model_family'),
  keyFingerprint: label('genAiRateLimitRemaining', 'tapwire.gen_ai.api_key.fingerprint'),
  limitType: label('genAiRateLimitRemaining', 'tapwire.gen_ai.rate_limit.type'),
} as const;

/**
 * Bucket boundaries, for validating latency thresholds: an SLO threshold must be an `le` tapwire
 * emits; a quantile threshold must leave a bucket above it (else the quantile can never exceed it).
 */
export const BUCKETS = {
  http: METRICS.httpServerDuration.buckets,
  db: METRICS.dbDuration.buckets,
  aiFirstChunk: METRICS.genAiTimeToFirstChunk.buckets,
} as const;

/** `le` as tapwire's serializer prints it (JavaScript's number formatting: 0.5, 1, 2.5). */
export const le = (n: number): string => String(n);
