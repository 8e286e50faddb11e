// One database operation, started by DbRecorder.start() (or timed whole by DbRecorder.sync()).
// However the driver reports the outcome (a promise, a Node-style callback, a diagnostics channel,
// a synchronous return or throw), the app receives exactly what the driver gives it; the
// operation only watches.
import { Operation, tracing } from '../operation.js';
import type { DbRecorder } from './recorder.js';
import { dbErrorType } from './semconv.js';
import type { DbTarget } from './target.js';

/** What a statement or command tells the metrics, spans and slow log (./sql.ts, ./redis.ts). */
export interface DbInfo {
  /** db.operation.name: a bounded word (SELECT, HGETALL), undefined when unknown. */
  readonly operation: string | undefined;
  /** db.collection.name: the one table, when a cheap parse finds exactly one. */
  readonly collection: string | undefined;
  /** db.query.summary: "SELECT users". */
  readonly summary: string | undefined;
  /** db.query.text: the sanitised statement (literals replaced), computed on first read. */
  readonly text: string;
}

export class DbOp extends Operation {
  constructor(
    private readonly recorder: DbRecorder,
    /** May be updated before end() by a hook that learns the server later (mysql2's handshake). */
    public target: DbTarget,
    /** May be updated before end() (an ioredis pipeline of one command is that command). */
    public info: DbInfo | undefined,
    /** False for a connection attempt: counted when it fails, never a span. */
    traced: boolean,
  ) {
    super();
    if (traced && tracing !== undefined) tracing.startDb(this);
  }

  /** The operation ended: `error` undefined (or null) when it succeeded. Never throws. */
  end(error?: unknown): void {
    if (this.done) return;
    this.done = true;
    const errorType = error == null ? undefined : dbErrorType(this.target.system, error);
    this.recorder.record(this, errorType);
    if (this.span !== undefined && tracing !== undefined) tracing.endDb(this, errorType);
  }

  /**
   * The outcome arrives as a promise: the app gets `promise.then(ok, fail)`, the same value or the
   * same error object one microtask later, and an unhandled rejection stays unhandled (a handler
   * attached to the driver's own promise would swallow it). The two reactions are the one
   * allocation per call an asynchronous outcome needs.
   */
  settle<T>(promise: PromiseLike<T>): PromiseLike<T> {
    // The driver's own `then`: a promise library the app configured (pg's `Promise` option) stays.
    return promise.then(
      (value) => {
        this.end(undefined);
        return value;
      },
      (error: unknown) => {
        this.end(error ?? new Error());
        throw error;
      },
    );
  }

  /**
   * The outcome arrives through a Node-style callback: returns the callback to hand the driver,
   * which ends the operation and then calls the app's with the same `this` and arguments, in the
   * same tick.
   */
  callback(cb: (...args: never[]) => unknown): (...args: unknown[]) => unknown {
    const op = this;
    return function tapwireDbCallback(this: unknown, ...args: unknown[]) {
      op.end(args[0]);
      return Reflect.apply(cb, this, args);
    };
  }
}
