// core/otel-global.ts registers tapwire's MeterProvider in the OpenTelemetry API's global slot
// without loading the API: every copy of @opentelemetry/api must see it as if the API had done it.
import { metrics, trace } from '@opentelemetry/api';
import { afterEach, describe, expect, it } from 'vitest';
import { registerMeterProvider, unregisterMeterProvider } from '../core/otel-global.js';

const KEY = Symbol.for('opentelemetry.js.api.1');
const provider = { getMeter: () => metrics.getMeterProvider().getMeter('x') } as never;

afterEach(() => {
  metrics.disable();
  trace.disable();
  delete (globalThis as Record<symbol, unknown>)[KEY];
});

describe('the API global slot', () => {
  it('the API returns the provider registered there, and no longer once it is taken out', () => {
    expect(registerMeterProvider(provider)).toBe(true);
    expect(metrics.getMeterProvider()).toBe(provider);
    unregisterMeterProvider();
    expect(metrics.getMeterProvider()).not.toBe(provider);
  });

  it('is the slot the API registers in: same version, so tracing registers beside it', () => {
    expect(registerMeterProvider(provider)).toBe(true);
    const tracer = { getTracer: () => trace.getTracer('x') } as never;
    expect(trace.setGlobalTracerProvider(tracer)).toBe(true);
    expect(metrics.getMeterProvider()).toBe(provider);
  });

  it('refuses as the API does: a provider already registered, or a slot of another version', () => {
    expect(metrics.setGlobalMeterProvider(provider)).toBe(true);
    expect(registerMeterProvider({ getMeter: provider } as never)).toBe(false);
    expect(metrics.getMeterProvider()).toBe(provider);
    metrics.disable();
    delete (globalThis as Record<symbol, unknown>)[KEY];
    (globalThis as Record<symbol, unknown>)[KEY] = { version: '1.0.0' };
    expect(registerMeterProvider(provider)).toBe(false);
  });
});
