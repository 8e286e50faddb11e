// Tracing, decided once at start-up: with OTEL_TRACES_EXPORTER unset nothing here runs, no context
// manager is registered, and operations pay one comparison for it (core/operation.ts). When on,
// the span builders below are plugged into the operations of every hook at once.
import type { Resource } from '@opentelemetry/resources';
import type { SpanExporter } from '@opentelemetry/sdk-trace';
import type { Config } from '../../config/index.js';
import { setTracing, type Tracing } from '../../core/operation.js';
import { VERSION } from '../../core/runtime.js';
import { endDb, startDb } from './db.js';
import { endAi, startAi } from './gen-ai.js';
import { endClient, endServer, startClient, startServer } from './http.js';
import { startTracing, type TracerSetup } from './provider.js';
import { useTracer } from './tracer.js';

/** Starts tracing when configured; undefined when OTEL_TRACES_EXPORTER names no exporter. */
export function installTracing(
  config: Config,
  resource: Resource,
  otlp?: SpanExporter,
): TracerSetup | undefined {
  if (config.tracesExporters.length === 0) return undefined;
  const setup = startTracing(config, resource, otlp);
  const manager = setup.manager;
  useTracer(setup.provider.getTracer('tapwire', VERSION), manager);
  const tracing: Tracing = {
    startServer,
    endServer,
    startClient,
    endClient,
    startDb,
    endDb,
    startAi,
    endAi,
    enter: (ctx) => manager.enterWith(ctx),
    // Reflect.apply carries `self` and the hook's argument list without a bound function or a spread.
    run: (ctx, fn, self, args) => manager.with(ctx, Reflect.apply, undefined, fn, self, args),
  };
  setTracing(tracing);
  return {
    ...setup,
    stop() {
      setTracing(undefined);
      useTracer(undefined, undefined);
      setup.stop();
    },
  };
}
