// The one place database measurements become recordings (db_client_operation_duration_seconds),
// shared by every driver hook in agent/db/. Hooks gather raw values and call record(); a target
// (system, namespace, server) is built once per connection or pool, so the per-operation work is
// a few Map lookups.
//
// Cardinality (https://opentelemetry.io/docs/specs/semconv/database/database-metrics/):
// - db.operation.name: the statement's verb (SELECT, INSERT, …) or the Redis command — a short,
//   bounded word, never the statement.
// - db.collection.name: only when a cheap parse finds exactly one table; never the statement.
// - error.type: the SQLSTATE class / driver error code / exception class, never a message.
import type { Attributes, Histogram, Span } from '@opentelemetry/api';
import { METRICS } from '../../exporters/catalogue.js';
import { prometheusName } from '../../exporters/prometheus/naming.js';
import { SeriesCache } from '../series.js';

export interface DbTarget {
  /** db.system.name: postgresql, mysql, mariadb, redis, sqlite. */
  readonly system: string;
  /** db.namespace: the database name (SQL), the database index (Redis), the file name (SQLite). */
  readonly namespace: string | undefined;
  readonly address: string | undefined;
  readonly port: number | undefined;
}

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

export interface SlowOperation {
  target: DbTarget;
  operation: string | undefined;
  seconds: number;
  /** Sanitised statement text (literals replaced); never parameter values. */
  statement: string | undefined;
  errorType: string | undefined;
  /** The operation's span, when tracing is on (the slow log carries its trace_id). */
  span: Span | undefined;
}

export class DbRecorder {
  private readonly series: SeriesCache;
  private readonly slowSeconds: number;

  constructor(
    private readonly duration: Histogram,
    limit: number,
    slowMs: number,
    /** Called for operations slower than TAPWIRE_DB_SLOW_MS. */
    private readonly onSlow: (op: SlowOperation) => void,
  ) {
    const def = METRICS.dbDuration;
    this.series = new SeriesCache(prometheusName(def.name, def.unit, def.kind), limit);
    this.slowSeconds = slowMs / 1000;
  }

  /** Targets are compared by identity: build one per connection/pool config and reuse it. */
  static target(system: string, namespace?: string, address?: string, port?: number): DbTarget {
    return Object.freeze({ system, namespace, address, port });
  }

  record(
    target: DbTarget,
    operation: string | undefined,
    collection: string | undefined,
    errorType: string | undefined,
    seconds: number,
    /**
     * Produces the sanitised statement for the slow log; only read for slow operations. An object
     * with a `text` getter (../db/sql.ts SqlInfo) spares the hook a closure per call.
     */
    statement?: (() => string | undefined) | { readonly text: string },
    span?: Span,
  ): void {
    this.duration.record(seconds, this.series.get(build, target, operation, collection, errorType));
    if (seconds >= this.slowSeconds) {
      const text = typeof statement === 'function' ? statement() : statement?.text;
      this.onSlow({ target, operation, seconds, statement: text, errorType, span });
    }
  }
}
