// One lifecycle for everything tapwire measures: an inbound request, an outbound request, a
// database operation, an AI provider call. A hook detects the event, creates the operation from
// its recorder (start: the clock, the in-flight count, the span when tracing is on) and ends it
// once (the outcome: status, error type, what the call produced). The recorder turns the outcome
// into metrics; tracing, when on, turns it into a span. Hooks never touch either directly.
//
// Tracing is plugged in here, once, at start-up (agent/trace/), and only when OTEL_TRACES_EXPORTER
// names an exporter; while `tracing` is undefined an operation pays one comparison for it.
import type { Context, Span } from '@opentelemetry/api';
import type { AiCall, AiOutcome } from './ai/call.js';
import type { DbOp } from './db/operation.js';
import type { ClientOp } from './http/client.js';
import type { ServerOp } from './http/server.js';

/**
 * A monotonic clock in milliseconds, for durations only. Node: process.hrtime(), taken at load (a
 * fake clock the app installs later does not reach it). Node's performance.now() checks its
 * receiver through a validator first, and its first read loads node:perf_hooks (~0.9 ms on Node
 * 24); a CPU profile of a Fastify server under load put ~0.3 µs a call on it (~50 ns in a loop of
 * its own, as process.hrtime()), though the server's CPU per request did not measurably change with
 * the switch. Bun: performance.now(), native, bound at the first call.
 */
export let now: () => number = () => {
  now = process.versions.bun === undefined ? hrMs : performance.now.bind(performance);
  return now();
};

const hrtime = process.hrtime;

function hrMs(): number {
  const t = hrtime();
  return t[0] * 1e3 + t[1] / 1e6;
}

/**
 * Where a hook keeps the operation of a request object it is handed again later (an
 * IncomingMessage, a ClientRequest, undici's request): one state object per request. `null` means
 * "seen and not measured" (tapwire's own traffic).
 */
export const kOperation: unique symbol = Symbol('tapwire.operation');

export abstract class Operation {
  /** performance.now() when the operation started. */
  start: number = now();
  /** Its span, while tracing is on and the operation is traced. */
  span: Span | undefined = undefined;
  /** Set by end(): an operation records once, whichever end comes first. */
  done = false;

  /** Seconds since the start. */
  elapsed(): number {
    return (now() - this.start) / 1000;
  }
}

/** An inbound request as both runtimes hand it over: a node:http IncomingMessage or a Fetch Request. */
export interface InboundRequest {
  readonly method?: string | undefined;
  /** `/path?query` (node:http) or the full URL (Fetch Request). */
  readonly url?: string | undefined;
  /** A plain lower-case record (node:http) or a Fetch `Headers` (anything with `get`). */
  readonly headers: unknown;
}

/** What tracing does with operations. Every method guards itself and never throws. */
export interface Tracing {
  /** Continues the request's trace context: sets op.span and op.context. */
  startServer(op: ServerOp, request: InboundRequest, scheme: string): void;
  endServer(op: ServerOp, status: number, route: string | undefined, errorType: string | undefined): void;
  /** A CLIENT span child of the active context: sets op.span and op.headers (traceparent). */
  startClient(op: ClientOp, path: string): void;
  endClient(op: ClientOp, status: number, errorType: string | undefined): void;
  startDb(op: DbOp): void;
  endDb(op: DbOp, errorType: string | undefined): void;
  startAi(op: AiCall): void;
  endAi(op: AiCall, outcome: AiOutcome): void;
  /** Makes ctx active for the rest of this synchronous execution and what it schedules. */
  enter(ctx: Context): void;
  /** Calls fn with ctx active for it and everything it awaits or schedules. */
  run(ctx: Context, fn: (...args: never[]) => unknown, self: unknown, args: ArrayLike<unknown>): unknown;
}

/** The tracing in force; undefined while tracing is off. */
export let tracing: Tracing | undefined;

export function setTracing(t: Tracing | undefined): void {
  tracing = t;
}
