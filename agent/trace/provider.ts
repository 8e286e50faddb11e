// The tracer provider, built only when OTEL_TRACES_EXPORTER names an exporter. It registers the
// context manager, the W3C propagator and itself with the OpenTelemetry API (so the app's own
// `@opentelemetry/api` spans and tapwire's logger see the same context); stop() takes all three
// back. Spans leave through a BatchSpanProcessor (OTLP/HTTP, exporters/otlp.ts) or, for
// `console`, a SimpleSpanProcessor printing each span as it ends.
import { context, propagation, trace } from '@opentelemetry/api';
import { getNumberFromEnv, W3CTraceContextPropagator } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  type BatchSpanProcessorOptions,
  ConsoleSpanExporter,
  ParentBasedSampler,
  type Sampler,
  SimpleSpanProcessor,
  type SpanExporter,
  type SpanLimits,
  type SpanProcessor,
  TraceIdRatioBasedSampler,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import type { Config } from '../../config/index.js';
import { AlsContextManager } from './context.js';

export interface TracerSetup {
  provider: TracerProvider;
  manager: AlsContextManager;
  /** Unregisters the globals and shuts the provider down (what it buffered is sent first). */
  stop(): void;
}

export function sampler(config: Pick<Config, 'sampler' | 'samplerArg'>): Sampler {
  switch (config.sampler) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return new TraceIdRatioBasedSampler(config.samplerArg);
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(config.samplerArg) });
    default:
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
  }
}

/** `otlp`: the OTLP span exporter (exporters/otlp.ts), given when OTEL_TRACES_EXPORTER names otlp. */
export function startTracing(config: Config, resource: Resource, otlp?: SpanExporter): TracerSetup {
  const spanProcessors: SpanProcessor[] = [];
  if (otlp !== undefined) spanProcessors.push(new BatchSpanProcessor({ exporter: otlp, ...batchFromEnv() }));
  if (config.tracesExporters.includes('console')) {
    spanProcessors.push(new SimpleSpanProcessor({ exporter: new ConsoleSpanExporter() }));
  }
  const provider = new TracerProvider({
    resource,
    sampler: sampler(config),
    spanLimits: spanLimitsFromEnv(),
    spanProcessors,
  });
  const manager = new AlsContextManager();
  context.setGlobalContextManager(manager);
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
  return {
    provider,
    manager,
    stop() {
      trace.disable();
      propagation.disable();
      context.disable();
      provider.shutdown().catch(() => {
        // Nothing left to do with spans that cannot be sent while the agent stops.
      });
    },
  };
}

// The trace SDK reads no environment since SDK 3 (@opentelemetry/sdk-trace); these are the batch
// and span-limit variables its SDK 2 packages read for tapwire, read here exactly as they read them
// (a number, else the SDK's default), so a user's settings keep their meaning. They are not in
// config/variables.ts: validating and documenting them there is a change of its own.
// https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/

/** The first of `names` set to a number. */
function numberFromEnv(...names: string[]): number | undefined {
  for (const name of names) {
    const value = getNumberFromEnv(name);
    if (value !== undefined) return value;
  }
  return undefined;
}

function batchFromEnv(): Omit<BatchSpanProcessorOptions, 'exporter'> {
  return {
    scheduledDelayMillis: numberFromEnv('OTEL_BSP_SCHEDULE_DELAY'),
    exportTimeoutMillis: numberFromEnv('OTEL_BSP_EXPORT_TIMEOUT'),
    maxQueueSize: numberFromEnv('OTEL_BSP_MAX_QUEUE_SIZE'),
    maxExportBatchSize: numberFromEnv('OTEL_BSP_MAX_EXPORT_BATCH_SIZE'),
  };
}

function spanLimitsFromEnv(): SpanLimits {
  return {
    attributeValueLengthLimit: numberFromEnv(
      'OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT',
      'OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT',
    ),
    attributeCountLimit: numberFromEnv('OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT', 'OTEL_ATTRIBUTE_COUNT_LIMIT'),
    eventCountLimit: numberFromEnv('OTEL_SPAN_EVENT_COUNT_LIMIT'),
    linkCountLimit: numberFromEnv('OTEL_SPAN_LINK_COUNT_LIMIT'),
    attributePerEventCountLimit: numberFromEnv('OTEL_SPAN_ATTRIBUTE_PER_EVENT_COUNT_LIMIT'),
    attributePerLinkCountLimit: numberFromEnv('OTEL_SPAN_ATTRIBUTE_PER_LINK_COUNT_LIMIT'),
  };
}
