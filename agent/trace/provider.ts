// The tracer provider, built only when OTEL_TRACES_EXPORTER names an exporter. It registers the
// context manager, the W3C propagator and itself with the OpenTelemetry API (so the app's own
// `@opentelemetry/api` spans and tapwire's logger see the same context); stop() takes all three
// back. Spans leave through a BatchSpanProcessor (OTLP/HTTP, exporters/otlp.ts) or, for
// `console`, a SimpleSpanProcessor printing each span as it ends.
import { context, propagation, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
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
  if (otlp !== undefined) spanProcessors.push(new BatchSpanProcessor({ exporter: otlp, ...batchOf(config) }));
  if (config.tracesExporters.includes('console')) {
    spanProcessors.push(new SimpleSpanProcessor({ exporter: new ConsoleSpanExporter() }));
  }
  const provider = new TracerProvider({
    resource,
    sampler: sampler(config),
    spanLimits: spanLimitsOf(config),
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

// The trace SDK reads no environment since SDK 3 (@opentelemetry/sdk-trace): the batch and span-limit
// variables its SDK 2 packages read are in config/variables.ts (validated, documented) and come
// here from the config. Defaults are the SDK's.
// https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/

function batchOf(config: Config): Omit<BatchSpanProcessorOptions, 'exporter'> {
  return {
    scheduledDelayMillis: config.spanBatchDelayMs,
    exportTimeoutMillis: config.spanExportTimeoutMs,
    maxQueueSize: config.spanQueueSize,
    // The SDK would take a larger batch as the queue's size too, with a warning nobody sees.
    maxExportBatchSize: Math.min(config.spanBatchSize, config.spanQueueSize),
  };
}

function spanLimitsOf(config: Config): SpanLimits {
  return {
    attributeValueLengthLimit: config.spanAttributeValueLengthLimit,
    attributeCountLimit: config.spanAttributeCountLimit,
    eventCountLimit: config.spanEventCountLimit,
    linkCountLimit: config.spanLinkCountLimit,
    attributePerEventCountLimit: config.spanAttributePerEventCountLimit,
    attributePerLinkCountLimit: config.spanAttributePerLinkCountLimit,
  };
}
