// One inbound request, from its arrival to the end of its response (Node: the response's 'close';
// Bun.serve: the handler's Response), started by HttpRecorder.server().
import type { Context } from '@opentelemetry/api';
import { type AttributionSet, attribution } from '../ai/attribution.js';
import { Operation, tracing } from '../operation.js';
import type { HttpRecorder, InFlight } from './recorder.js';

/** Servers tapwire runs itself (the /metrics endpoint): their requests are not the app's. */
export const internalServers = new WeakSet<object>();

export class ServerOp extends Operation {
  /** The span's context, in which the app's handler runs (tracing on). */
  context: Context | undefined = undefined;

  constructor(
    private readonly recorder: HttpRecorder,
    /** The in-flight count this request counts in (method and scheme). */
    readonly active: InFlight,
    /** The method as the client sent it (`http.request.method_original` on spans). */
    readonly rawMethod: string | undefined,
  ) {
    super();
  }

  /** The AI attribution its headers gave (TAPWIRE_AI_ATTRIBUTES), active while its handler runs. */
  attrs: AttributionSet | undefined = undefined;

  /** Node: the handler about to run synchronously, and all it schedules, runs in the span and the attribution. */
  enter(): void {
    // A request without attribution enters none only where one is active (rare): entering costs.
    if (attribution !== undefined && (this.attrs !== undefined || attribution.current() !== undefined)) {
      attribution.enter(this.attrs);
    }
    if (this.context !== undefined && tracing !== undefined) tracing.enter(this.context);
  }

  /** Bun: calls the handler in the span's context and the attribution (a plain call without either). */
  run(fn: (...args: never[]) => unknown, self: unknown, args: ArrayLike<unknown>): unknown {
    if (this.attrs !== undefined && attribution !== undefined) {
      return attribution.run(this.attrs, runTraced, this, fn, self, args);
    }
    return runTraced(this, fn, self, args);
  }

  /**
   * The response is over. `status` 0 when none was sent; `route` a router's template or undefined;
   * `errorType` a low-cardinality class (./semconv.ts) or undefined.
   */
  end(status: number, route: string | undefined, errorType: string | undefined): void {
    if (this.done) return;
    this.done = true;
    this.recorder.recordServer(this, status, route, errorType);
    if (this.span !== undefined && tracing !== undefined) tracing.endServer(this, status, route, errorType);
  }
}

function runTraced(
  op: ServerOp,
  fn: (...args: never[]) => unknown,
  self: unknown,
  args: ArrayLike<unknown>,
): unknown {
  if (op.context === undefined || tracing === undefined) return Reflect.apply(fn, self, args);
  return tracing.run(op.context, fn, self, args);
}
