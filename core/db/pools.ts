// Connection pools the app created (pg-pool, mysql2), read only when metrics are collected:
// db_client_connection_count{state="idle"|"used"} and db_client_connection_pending_requests
// (https://opentelemetry.io/docs/specs/semconv/database/database-metrics/#connection-pools).
// Pools are held weakly and dropped once closed, so tapwire never keeps one alive. Pools with
// the same target add up into one series (db.client.connection.pool.name is left out: pools
// have no name of their own in these drivers, and an invented one would be per-instance).
import type { Attributes, Meter } from '@opentelemetry/api';
import { METRICS } from '../../exporters/catalogue.js';
import type { DbTarget } from './target.js';

export interface PoolStats {
  target: DbTarget;
  idle: number;
  used: number;
  pending: number;
  /** The pool was closed: forget it. */
  closed?: boolean;
}

export type PoolReader = (pool: object) => PoolStats;

interface Totals {
  idle: number;
  used: number;
  pending: number;
}

export class Pools {
  private readonly refs = new Map<WeakRef<object>, PoolReader>();
  private readonly known = new WeakSet<object>();
  private readonly attrCache = new WeakMap<
    DbTarget,
    { idle: Attributes; used: Attributes; base: Attributes }
  >();

  /** The two pool instruments; their callback costs nothing while no pool exists. */
  constructor(meter: Meter) {
    const count = meter.createObservableUpDownCounter(METRICS.dbConnectionCount.name, {
      unit: METRICS.dbConnectionCount.unit,
      description: METRICS.dbConnectionCount.description,
    });
    const pending = meter.createObservableUpDownCounter(METRICS.dbConnectionPending.name, {
      unit: METRICS.dbConnectionPending.unit,
      description: METRICS.dbConnectionPending.description,
    });
    meter.addBatchObservableCallback(
      (r) => {
        for (const [target, t] of this.totals()) {
          const a = this.attributes(target);
          r.observe(count, t.idle, a.idle);
          r.observe(count, t.used, a.used);
          r.observe(pending, t.pending, a.base);
        }
      },
      [count, pending],
    );
  }

  /** A pool the app uses; `read` tells its numbers at collection time. */
  add(pool: object, read: PoolReader): void {
    if (this.known.has(pool)) return;
    this.known.add(pool);
    this.refs.set(new WeakRef(pool), read);
  }

  /** Totals per target, dropping collected and closed pools. */
  private totals(): Map<DbTarget, Totals> {
    const out = new Map<DbTarget, Totals>();
    for (const [ref, read] of this.refs) {
      const pool = ref.deref();
      let s: PoolStats | undefined;
      try {
        s = pool === undefined ? undefined : read(pool);
      } catch {
        s = undefined;
      }
      if (s === undefined || s.closed) {
        this.refs.delete(ref);
        continue;
      }
      const t = out.get(s.target) ?? { idle: 0, used: 0, pending: 0 };
      t.idle += s.idle;
      t.used += s.used;
      t.pending += s.pending;
      out.set(s.target, t);
    }
    return out;
  }

  private attributes(target: DbTarget): { idle: Attributes; used: Attributes; base: Attributes } {
    let a = this.attrCache.get(target);
    if (a === undefined) {
      const base: Attributes = { 'db.system.name': target.system };
      if (target.namespace !== undefined) base['db.namespace'] = target.namespace;
      if (target.address !== undefined) base['server.address'] = target.address;
      if (target.port !== undefined) base['server.port'] = target.port;
      a = {
        base,
        idle: { ...base, 'db.client.connection.state': 'idle' },
        used: { ...base, 'db.client.connection.state': 'used' },
      };
      this.attrCache.set(target, a);
    }
    return a;
  }
}
