// Tracing and OTLP wiring for agent/start.ts, decided once at start-up: with OTEL_TRACES_EXPORTER
// unset nothing here runs, no context manager is registered and the HTTP hooks keep their
// tracing extension points undefined. Runtime hooks call ./spans.ts (documented there).
import type { Resource } from '@opentelemetry/resources';
import type { Config } from '../../config/index.js';
import { internalOrigins } from '../http/node-client.js';
import { agentLog } from '../log/agent.js';
import type { Telemetry } from '../telemetry.js';
import { installBunTracing } from './bun.js';
import { installNodeClientTracing, installNodeServerTracing } from './node.js';
import { originOf, startTracing, type Tracing } from './provider.js';

export type { Tracing } from './provider.js';

export function installTracing(
  config: Config,
  resource: Resource,
  runtime: 'node' | 'bun',
): Tracing | undefined {
  if (config.tracesExporters.length === 0) return undefined;
  const tracing = startTracing(config, resource);
  // Bun's servers publish no channel and its fetch none either: their spans come from the Bun
  // hooks (../http/bun/) through ./bun.ts. node:http clients publish channels on both runtimes.
  if (runtime === 'node') installNodeServerTracing();
  else installBunTracing();
  installNodeClientTracing();
  return tracing;
}

/**
 * tapwire's own OTLP requests are not the app's traffic: excluded from the client metrics here,
 * and from tracing by the suppressed context the SDK exports in (./spans.ts checks it).
 */
export function excludeOtlpTraffic(config: Config): void {
  const urls: string[] = [];
  if (config.tracesExporters.includes('otlp')) urls.push(config.otlpTracesEndpoint);
  if (config.metricsExporters.includes('otlp')) urls.push(config.otlpMetricsEndpoint);
  for (const url of urls) {
    try {
      internalOrigins.add(originOf(url));
    } catch {
      // An unparseable endpoint was reported by the configuration already.
    }
  }
}

/**
 * Pushes what is buffered (spans, OTLP metrics) when the event loop empties on a normal exit.
 * 'beforeExit' fires again once the flush's requests finish; `once` lets the process end then.
 * No signal handlers: a signal's exit belongs to the app. process.exit() skips this (Node emits
 * no 'beforeExit' then). The flush lasts at most the exporters' timeout (OTEL_EXPORTER_OTLP_TIMEOUT,
 * 10 s) when the receiver is unreachable, because the SDK retries.
 */
export function flushOnExit(telemetry: Telemetry, tracing: Tracing | undefined): void {
  const metrics = telemetry.otlp !== undefined;
  if (!metrics && tracing === undefined) return;
  process.once('beforeExit', () => {
    const pending: Promise<void>[] = [];
    if (tracing !== undefined) pending.push(tracing.flush());
    if (metrics) pending.push(telemetry.provider.forceFlush());
    Promise.all(pending).catch((error: unknown) => {
      agentLog('warn', 'TAPWIRE_ERR_OTLP_FLUSH', 'flushing telemetry at exit failed', { err: error });
    });
  });
}
