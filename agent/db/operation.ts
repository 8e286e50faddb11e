// What every driver hook shares: the recorder, the span helpers (present only when tracing is
// on, decided once at install), the clock and the error classification.
import type { Span } from '@opentelemetry/api';
import { fail, type Hook } from '../safe.js';
import { DbRecorder, type DbTarget } from './record.js';
import type { SqlInfo } from './sql.js';

export interface DbSpans {
  startDbSpan(
    system: string,
    summary: string | undefined,
    text: string | undefined,
    namespace: string | undefined,
    address: string | undefined,
    port: number | undefined,
  ): Span | undefined;
  endDbSpan(span: Span, errorType: string | undefined): void;
}

export interface DbContext {
  recorder: DbRecorder;
  /** Shared guard of the db hooks; see ../safe.ts. */
  hook: Hook;
  /** Undefined while tracing is off: hooks then never start spans. */
  spans: DbSpans | undefined;
}

export const now: () => number = performance.now.bind(performance);

const targets = new Map<string, DbTarget>();

/**
 * The one target for these values: connections of a pool and clients with the same settings
 * share it, so the recorder's identity-keyed series cache holds one entry for them. Call once per
 * connection, never per operation (it builds a key string).
 */
export function sharedTarget(
  system: string,
  namespace: string | undefined,
  address: string | undefined,
  port: number | undefined,
): DbTarget {
  const key = `${system}\0${namespace ?? ''}\0${address ?? ''}\0${port ?? ''}`;
  let t = targets.get(key);
  if (t === undefined) {
    t = DbRecorder.target(system, namespace, address, port);
    if (targets.size < 1000) targets.set(key, t);
  }
  return t;
}

/** One operation in flight (async drivers); sync drivers keep these in locals instead. */
export class DbOp {
  readonly start = now();
  span: Span | undefined;
  constructor(
    readonly ctx: DbContext,
    readonly target: DbTarget,
    readonly info: SqlInfo | undefined,
  ) {
    const spans = ctx.spans;
    if (spans !== undefined) {
      this.span = spans.startDbSpan(
        target.system,
        info?.summary,
        info?.text,
        target.namespace,
        target.address,
        target.port,
      );
    }
  }

  /** Never throws: a recording failure disables db hooks (ctx.hook), never reaches the app. */
  end(error: unknown): void {
    try {
      const errorType = error == null ? undefined : errorTypeOf(error);
      finish(this.ctx, this.target, this.info, errorType, this.start, this.span);
    } catch (e) {
      fail(this.ctx.hook, e);
    }
  }
}

/**
 * An operation whose outcome arrives as a promise. The app gets `promise.then(ok, fail)`: the same
 * value or the same error object, one microtask later, and an unhandled rejection stays
 * unhandled (a handler attached to the driver's own promise would swallow it). The two bound
 * handlers are the one allocation per call an async outcome needs.
 */
export class PromiseOp extends DbOp {
  readonly ok = (value: unknown): unknown => {
    this.end(undefined);
    return value;
  };
  readonly fail = (error: unknown): never => {
    this.end(error ?? new Error());
    throw error;
  };
}

/**
 * An operation whose outcome arrives through a Node-style callback: returns the callback to hand
 * the driver, which records and then calls the app's with the same `this` and arguments, in the
 * same tick.
 */
export function callbackOp(
  ctx: DbContext,
  target: DbTarget,
  info: SqlInfo | undefined,
  cb: (...args: never[]) => unknown,
): (...args: unknown[]) => unknown {
  const op = new DbOp(ctx, target, info);
  return function tapwireDbCallback(this: unknown) {
    // biome-ignore lint/complexity/noArguments: the caller's exact arguments, without a rest array per call
    op.end(arguments[0]);
    // biome-ignore lint/complexity/noArguments: the caller's exact arguments, without a rest array per call
    return Reflect.apply(cb, this, arguments);
  };
}

/** Records one finished operation (metrics, span, slow log). */
export function finish(
  ctx: DbContext,
  target: DbTarget,
  info: SqlInfo | undefined,
  errorType: string | undefined,
  start: number,
  span: Span | undefined,
): void {
  const seconds = (now() - start) / 1000;
  if (span !== undefined) ctx.spans!.endDbSpan(span, errorType);
  ctx.recorder.record(target, info?.operation, info?.collection, errorType, seconds, info, span);
}

// SQLite primary result codes (https://www.sqlite.org/rescode.html), for node:sqlite, whose
// errors carry only the numeric extended code.
const SQLITE_CODES: Record<number, string> = {
  1: 'SQLITE_ERROR',
  2: 'SQLITE_INTERNAL',
  3: 'SQLITE_PERM',
  4: 'SQLITE_ABORT',
  5: 'SQLITE_BUSY',
  6: 'SQLITE_LOCKED',
  7: 'SQLITE_NOMEM',
  8: 'SQLITE_READONLY',
  9: 'SQLITE_INTERRUPT',
  10: 'SQLITE_IOERR',
  11: 'SQLITE_CORRUPT',
  13: 'SQLITE_FULL',
  14: 'SQLITE_CANTOPEN',
  15: 'SQLITE_PROTOCOL',
  17: 'SQLITE_SCHEMA',
  18: 'SQLITE_TOOBIG',
  19: 'SQLITE_CONSTRAINT',
  20: 'SQLITE_MISMATCH',
  21: 'SQLITE_MISUSE',
  23: 'SQLITE_AUTH',
  25: 'SQLITE_RANGE',
  26: 'SQLITE_NOTADB',
};

// The extended codes apps meet most, named as bun:sqlite and better-sqlite3 name them.
const SQLITE_EXTENDED: Record<number, string> = {
  275: 'SQLITE_CONSTRAINT_CHECK',
  787: 'SQLITE_CONSTRAINT_FOREIGNKEY',
  1299: 'SQLITE_CONSTRAINT_NOTNULL',
  1555: 'SQLITE_CONSTRAINT_PRIMARYKEY',
  2067: 'SQLITE_CONSTRAINT_UNIQUE',
};

const CODE = /^[A-Z0-9_]{2,40}$/;
const SQLSTATE = /^[0-9A-Z]{5}$/;

/**
 * error.type: a low-cardinality class, never the message.
 * - PostgreSQL: the full SQLSTATE (`42601` syntax error, `23505` unique violation): five
 *   characters from a fixed list of ~250, finer than the class and what runbooks name.
 * - MySQL/MariaDB: the driver's symbolic code (`ER_DUP_ENTRY`, `ER_PARSE_ERROR`).
 * - SQLite: the code name (`SQLITE_CONSTRAINT_UNIQUE`, `SQLITE_ERROR`), the same on node:sqlite,
 *   better-sqlite3 and bun:sqlite.
 * - network: the system error code (`ECONNREFUSED`).
 * - otherwise the exception class name (`TypeError`), `_OTHER` for a non-error throw.
 */
export function errorTypeOf(error: unknown): string {
  if (typeof error !== 'object' || error === null) return '_OTHER';
  const e = error as { code?: unknown; errcode?: unknown; name?: unknown; constructor?: { name?: unknown } };
  const code = e.code;
  // Bun.sql's PostgresError: a Bun code (ERR_POSTGRES_SYNTAX_ERROR) and the SQLSTATE in errno.
  const errno = (error as { errno?: unknown }).errno;
  if (typeof errno === 'string' && SQLSTATE.test(errno)) return errno;
  if (code === 'ERR_SQLITE_ERROR' && typeof e.errcode === 'number') {
    return SQLITE_EXTENDED[e.errcode] ?? SQLITE_CODES[e.errcode & 0xff] ?? 'SQLITE_ERROR';
  }
  if (typeof code === 'string' && CODE.test(code)) return code;
  const name = typeof e.name === 'string' ? e.name : e.constructor?.name;
  return typeof name === 'string' && name.length > 0 && name.length <= 64 ? name : 'Error';
}

/**
 * A synchronous operation (SQLite): calls `original` with the same `this` and arguments and
 * returns or throws exactly what it does. No allocation beyond the span when tracing is on.
 */
export function syncOp(
  ctx: DbContext,
  target: DbTarget,
  info: SqlInfo | undefined,
  original: (...args: never[]) => unknown,
  self: unknown,
  args: ArrayLike<unknown>,
): unknown {
  const start = now();
  const span =
    ctx.spans === undefined
      ? undefined
      : ctx.spans.startDbSpan(
          target.system,
          info?.summary,
          info?.text,
          target.namespace,
          undefined,
          undefined,
        );
  let result: unknown;
  try {
    result = Reflect.apply(original, self, args);
  } catch (error) {
    record(ctx, target, info, error ?? new Error(), start, span);
    throw error;
  }
  record(ctx, target, info, undefined, start, span);
  return result;
}

function record(
  ctx: DbContext,
  target: DbTarget,
  info: SqlInfo | undefined,
  error: unknown,
  start: number,
  span: Span | undefined,
): void {
  try {
    finish(ctx, target, info, error === undefined ? undefined : errorTypeOf(error), start, span);
  } catch (e) {
    fail(ctx.hook, e);
  }
}
