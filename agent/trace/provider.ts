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
  BasicTracerProvider,
  BatchSpanProcessor,
  ConsoleSpanExporter,
  ParentBasedSampler,
  type Sampler,
  SimpleSpanProcessor,
  type SpanExporter,
  type SpanProcessor,
  TraceIdRatioBasedSampler,
} from '@opentelemetry/sdk-trace-base';
import type { Config } from '../../config/index.js';
import { AlsContextManager } from './context.js';

export interface TracerSetup {
  provider: BasicTracerProvider;
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
  if (otlp !== undefined) spanProcessors.push(new BatchSpanProcessor(otlp));
  if (config.tracesExporters.includes('console')) {
    spanProcessors.push(new SimpleSpanProcessor(new ConsoleSpanExporter()));
  }
  const provider = new BasicTracerProvider({ resource, sampler: sampler(config), spanProcessors });
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
