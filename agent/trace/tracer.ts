// What the span builders (./http.ts, ./db.ts, ./gen-ai.ts) share: the tracer and context manager
// of the running provider (./provider.ts), the W3C propagator, and one guard: a failure anywhere in
// tracing turns all of it off once and never reaches the app.
import {
  type Attributes,
  type Context,
  ROOT_CONTEXT,
  type Span,
  type SpanKind,
  SpanStatusCode,
  type Tracer,
} from '@opentelemetry/api';
import { isTracingSuppressed, W3CTraceContextPropagator } from '@opentelemetry/core';
import { fail, guard } from '../../core/guard.js';
import type { AlsContextManager } from './context.js';

export const tracingGuard = guard('tracing');
export const propagator = new W3CTraceContextPropagator();

let tracer: Tracer | undefined;
let manager: AlsContextManager | undefined;

export function useTracer(t: Tracer | undefined, m: AlsContextManager | undefined): void {
  tracer = t;
  manager = m;
}

export function contextManager(): AlsContextManager | undefined {
  return manager;
}

/**
 * A span of `kind` child of `parent` (default: the active context). Undefined while tracing is off,
 * and inside a suppressed context: the OTLP exporters send in one, so tapwire never traces itself.
 */
export function startSpan(
  name: string,
  kind: SpanKind,
  attributes: Attributes,
  parent?: Context,
): Span | undefined {
  if (tracer === undefined || manager === undefined || !tracingGuard.enabled) return undefined;
  const ctx = parent ?? manager.active();
  if (parent === undefined && isTracingSuppressed(ctx)) return undefined;
  return tracer.startSpan(name, { kind, attributes }, ctx ?? ROOT_CONTEXT);
}

/** Adds `attributes`, marks the span failed when `errorType` is set (error.type, status ERROR), ends it. */
export function endSpan(span: Span, errorType: string | undefined, attributes?: Attributes): void {
  try {
    if (attributes !== undefined) span.setAttributes(attributes);
    if (errorType !== undefined) {
      span.setAttribute('error.type', errorType);
      span.setStatus({ code: SpanStatusCode.ERROR });
    }
    span.end();
  } catch (error) {
    fail(tracingGuard, error);
  }
}
