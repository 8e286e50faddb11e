// Bun.serve's `error` handler and the requests that wait for it. When a `fetch` or route handler
// throws (or rejects), Bun passes that same value to the app's `error` handler, which decides the
// status; without one, Bun answers 500 (an error page in development). So a request whose handler
// threw is kept here, keyed by the thrown value, until the error handler it reaches answers.
import { fail, type Guard } from '../../../core/guard.js';
import type { ServerOp } from '../../../core/http/server.js';
import { around } from '../../../core/patch.js';
import { type Handler, NativeResponse, thenable } from './types.js';

interface Pending {
  op: ServerOp;
  route: string | undefined;
  errorType: string;
}

/** Errors of one options object whose `error` handler has not answered yet; bounded. */
const MAX_PENDING = 256;

function end(guard: Guard, op: ServerOp, status: number, route: string | undefined, errorType: string): void {
  try {
    op.end(status, route, errorType);
  } catch (error) {
    fail(guard, error);
  }
}

export class PendingErrors {
  private readonly pending = new Map<unknown, Pending>();

  constructor(private readonly guard: Guard) {}

  /** The handler of `op` threw `error`: the app's error handler will answer it. */
  add(error: unknown, op: ServerOp, route: string | undefined, errorType: string): void {
    if (this.pending.size >= MAX_PENDING) this.flush();
    // The same value thrown twice before its handler answered: the first is counted as Bun's 500.
    const previous = this.pending.get(error);
    if (previous !== undefined) end(this.guard, previous.op, 500, previous.route, previous.errorType);
    this.pending.set(error, { op, route, errorType });
  }

  private take(error: unknown): Pending | undefined {
    const p = this.pending.get(error);
    if (p !== undefined) this.pending.delete(error);
    return p;
  }

  /** Requests whose error handler never ran (an app that throws from it): Bun answered 500. */
  private flush(): void {
    for (const p of this.pending.values()) end(this.guard, p.op, 500, p.route, p.errorType);
    this.pending.clear();
  }

  /** The app's `error` handler, wrapped: the request it answers ends with the status it gives. */
  wrap(handler: Handler): Handler {
    return around(this.guard, handler, (original, self, args) => {
      let p: Pending | undefined;
      try {
        p = this.take(args[0]);
      } catch (error) {
        fail(this.guard, error);
      }
      if (p === undefined) return Reflect.apply(original, self, args);
      let result: unknown;
      try {
        result = p.op.run(original, self, args);
      } catch (error) {
        end(this.guard, p.op, 500, p.route, p.errorType);
        throw error;
      }
      if (thenable(result)) return this.answerLater(p, result);
      this.answered(p, result);
      return result;
    });
  }

  private answered(p: Pending, value: unknown): void {
    // A non-Response from the error handler makes Bun fall back to its own 500.
    end(this.guard, p.op, value instanceof NativeResponse ? value.status : 500, p.route, p.errorType);
  }

  private async answerLater(p: Pending, promise: PromiseLike<unknown>): Promise<unknown> {
    let value: unknown;
    try {
      value = await promise;
    } catch (error) {
      end(this.guard, p.op, 500, p.route, p.errorType);
      throw error;
    }
    this.answered(p, value);
    return value;
  }
}
