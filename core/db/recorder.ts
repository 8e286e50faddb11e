// The one place database measurements become recordings (db_client_operation_duration_seconds),
// shared by every driver hook in agent/db/. Hooks start an operation (./operation.ts) against a
// target built once per client or connection (./target.ts); the per-operation work is a few Map
// lookups.
//
// Cardinality (https://opentelemetry.io/docs/specs/semconv/database/database-metrics/):
// - db.operation.name: the statement's verb (SELECT, INSERT, …) or the Redis command — a short,
//   bounded word, never the statement.
// - db.collection.name: only when a cheap parse finds exactly one table; never the statement.
// - error.type: the SQLSTATE / driver error code / exception class, never a message (./semconv.ts).
import type { Attributes } from '@opentelemetry/api';
import { METRICS } from '../../exporters/catalogue.js';
import { prometheusName } from '../../exporters/prometheus/naming.js';
import { fail, guard } from '../guard.js';
import type { FastHistogram } from '../histogram.js';
import { agentLog } from '../log.js';
import { SeriesCache } from '../series.js';
import { type DbInfo, DbOp } from './operation.js';
import { type DbTarget, DbTargets, OVERFLOW_TARGET } from './target.js';

function build(
  target: DbTarget,
  operation: string | undefined,
  collection: string | undefined,
  errorType: string | undefined,
): Attributes {
  const a: Attributes = { 'db.system.name': target.system };
  if (operation !== undefined) a['db.operation.name'] = operation;
  if (collection !== undefined) a['db.collection.name'] = collection;
  if (target.namespace !== undefined) a['db.namespace'] = target.namespace;
  if (target.address !== undefined) a['server.address'] = target.address;
  if (target.port !== undefined) a['server.port'] = target.port;
  if (errorType !== undefined) a['error.type'] = errorType;
  return a;
}

export class DbRecorder {
  private readonly series: SeriesCache;
  private readonly targets: DbTargets;
  private readonly slowSeconds: number;
  private readonly guard = guard('db recorder');

  constructor(
    private readonly duration: FastHistogram,
    limit: number,
    /** TAPWIRE_DB_SLOW_MS: operations this slow are logged (TAPWIRE_DB_SLOW). */
    slowMs: number,
  ) {
    const def = METRICS.dbDuration;
    this.series = new SeriesCache(prometheusName(def.name, def.unit, def.kind), limit);
    this.targets = new DbTargets(limit);
    this.slowSeconds = slowMs / 1000;
  }

  /** The target for these values (interned: compare by identity). Keep it per client. */
  target(
    system: string,
    namespace: string | undefined,
    address: string | undefined,
    port: number | undefined,
  ): DbTarget {
    return this.targets.of(system, namespace, address, port);
  }

  start(target: DbTarget, info: DbInfo | undefined): DbOp {
    return new DbOp(this, target, info, true);
  }

  /** A connection attempt: only a failed one is recorded (no operation name, no span). */
  connect(target: DbTarget): DbOp {
    return new DbOp(this, target, undefined, false);
  }

  /**
   * One call of a driver method that is the whole operation: calls `original` with the same `this`
   * and arguments. A synchronous result or throw (SQLite) ends the operation at once and reaches
   * the app as it is; a native promise (Bun's RedisClient) is settled through DbOp.settle().
   */
  call(
    target: DbTarget,
    info: DbInfo | undefined,
    original: (...args: never[]) => unknown,
    self: unknown,
    args: ArrayLike<unknown>,
  ): unknown {
    const op = new DbOp(this, target, info, true);
    let result: unknown;
    try {
      result = Reflect.apply(original, self, args);
    } catch (error) {
      op.end(error ?? new Error());
      throw error;
    }
    // `instanceof`, not a `then` lookup: a SQLite row is an object too, and looking a missing
    // property up on it cost ~0.2 µs per operation (measured, node:sqlite on Node 24).
    if (result instanceof Promise) return op.settle(result);
    op.end(undefined);
    return result;
  }

  /** Called by DbOp.end(); never throws (DbOp.end runs inside the app's promise reactions). */
  record(op: DbOp, errorType: string | undefined): void {
    if (!this.guard.enabled) return;
    try {
      this.recordUnguarded(op, errorType);
    } catch (error) {
      fail(this.guard, error);
    }
  }

  private recordUnguarded(op: DbOp, errorType: string | undefined): void {
    const seconds = op.elapsed();
    const target = op.target;
    const info = op.info;
    const attrs =
      target === OVERFLOW_TARGET
        ? this.series.overflow()
        : this.series.get(build, target, info?.operation, info?.collection, errorType);
    this.duration.recordSpan(seconds, attrs, op.span);
    if (seconds >= this.slowSeconds) logSlow(op, seconds, errorType);
  }
}

// At most SLOW_LINES slow-operation lines in a window of SLOW_WINDOW_MS, which starts at the first
// slow operation after the last window ended (per process). A database that turns slow turns every
// operation slow, and a line each (a synchronous write to stderr: core/log.ts) would cost the app
// most when it can least afford it: a pipeline of 600 commands of 1 MB against a loaded Redis wrote
// 1,200 lines. The operations left out are in the histogram as every other; at the window's end one
// line (TAPWIRE_DB_SLOW_NOT_LOGGED) says how many there were, from an unref'd timer (it keeps no
// process alive), or at the process's 'exit' if that comes first.
const SLOW_LINES = 50;
const SLOW_WINDOW_MS = 10_000;
const slowLines = { since: -1, written: 0, leftOut: 0 };

/** Whether this slow operation gets its line; counts the ones that do not. */
function slowLineAllowed(): boolean {
  const now = performance.now();
  // A new window: the first slow operation, or one after a window that left none out (a window that
  // did ends with its timer, which counts the late ones in).
  if (slowLines.since < 0 || (slowLines.leftOut === 0 && now - slowLines.since >= SLOW_WINDOW_MS)) {
    slowLines.since = now;
    slowLines.written = 0;
  }
  if (slowLines.written < SLOW_LINES) {
    slowLines.written++;
    return true;
  }
  if (slowLines.leftOut++ === 0) {
    const t = setTimeout(endSlowWindow, Math.max(0, slowLines.since + SLOW_WINDOW_MS - now));
    (t as { unref?: () => void }).unref?.();
    process.once('exit', endSlowWindow);
  }
  return false;
}

function endSlowWindow(): void {
  const n = slowLines.leftOut;
  process.removeListener('exit', endSlowWindow);
  if (n === 0) return;
  slowLines.since = -1;
  slowLines.leftOut = 0;
  agentLog(
    'TAPWIRE_DB_SLOW_NOT_LOGGED',
    `${n} more slow database operation${n === 1 ? '' : 's'} not logged (at most ${SLOW_LINES} lines in ${SLOW_WINDOW_MS / 1000} s)`,
    { not_logged: n, window_ms: SLOW_WINDOW_MS },
  );
}

function logSlow(op: DbOp, seconds: number, errorType: string | undefined): void {
  if (!slowLineAllowed()) return;
  const ms = Math.round(seconds * 1000);
  const ctx = op.span?.spanContext();
  agentLog('TAPWIRE_DB_SLOW', `slow ${op.target.system} operation: ${ms} ms`, {
    'db.system.name': op.target.system,
    'db.operation.name': op.info?.operation,
    'db.namespace': op.target.namespace,
    'db.query.text': op.info?.text,
    duration_ms: ms,
    'error.type': errorType,
    trace_id: ctx?.traceId,
    span_id: ctx?.spanId,
  });
}
