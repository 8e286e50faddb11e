// One outbound request, from the moment it is made until its response headers arrive (or it
// fails), started by HttpRecorder.client(). A request to an AI provider also carries its AiCall,
// which lives on until the response body ends: one state object per request, whatever the client.
import type { AiCall } from '../ai/call.js';
import { Operation, tracing } from '../operation.js';
import type { Origin } from './origins.js';
import type { HttpRecorder } from './recorder.js';
import { errorClass, normalizeMethod } from './semconv.js';

export class ClientOp extends Operation {
  /** The AI provider call this request is, if it is one. */
  ai: AiCall | undefined = undefined;
  /**
   * Trace context to send with the request (traceparent, tracestate), set when the request is
   * traced. The hook adds them the way its client allows (setHeader, addHeader, a new init).
   */
  headers: Record<string, string> | undefined = undefined;

  /** http.request.method: one of the nine methods or `_OTHER`. */
  readonly method: string;

  constructor(
    private readonly recorder: HttpRecorder,
    /** The method as the app gave it (`http.request.method_original` on spans). */
    readonly rawMethod: string | undefined,
    readonly origin: Origin,
  ) {
    super();
    this.method = normalizeMethod(rawMethod);
  }

  /** Response headers arrived (status > 0), or the request failed (status 0, errorType set). */
  end(status: number, errorType: string | undefined): void {
    if (this.done) return;
    this.done = true;
    this.recorder.recordClient(this, status, errorType);
    if (this.span !== undefined && tracing !== undefined) tracing.endClient(this, status, errorType);
  }

  /** The request (or, later, its response body) failed with `error`: the call and its AI part end. */
  fail(error: unknown): void {
    const type = errorClass(error);
    this.end(0, type);
    this.ai?.fail(type);
  }
}
