// What a database operation runs against: db.system.name, db.namespace, server.address and
// server.port. Targets are interned by value, so clients with the same settings share one object
// whatever their number: an app that makes a client per request still has one target (and its
// series stay found by identity, ./recorder.ts). At most `limit` distinct targets exist; past that
// every new one is OVERFLOW_TARGET, whose operations go to the overflow series: more targets than
// the cardinality limit would overflow the metric anyway, and now only then.
import { Interned, labelValue } from '../series.js';

export interface DbTarget {
  /** db.system.name: postgresql, mysql, mariadb, redis, sqlite. */
  readonly system: string;
  /** db.namespace: the database name (SQL), the database index (Redis), the file name (SQLite). */
  readonly namespace: string | undefined;
  readonly address: string | undefined;
  readonly port: number | undefined;
}

export const OVERFLOW_TARGET: DbTarget = Object.freeze({
  system: '_OTHER',
  namespace: undefined,
  address: undefined,
  port: undefined,
});

function build(system: string, namespace?: string, address?: string, port?: number): DbTarget {
  return { system, namespace, address, port };
}

export class DbTargets extends Interned<DbTarget> {
  protected full(): DbTarget {
    return OVERFLOW_TARGET;
  }

  /** The pool metrics label a target's values as they are: they keep the label-value rule here. */
  protected override made(t: DbTarget): DbTarget {
    return {
      system: labelValue(t.system),
      namespace: t.namespace === undefined ? undefined : labelValue(t.namespace),
      address: t.address === undefined ? undefined : labelValue(t.address),
      port: t.port,
    };
  }

  /** The one target for these values. Cheap, but hooks keep it per client or connection. */
  of(
    system: string,
    namespace: string | undefined,
    address: string | undefined,
    port: number | undefined,
  ): DbTarget {
    return this.get(build, system, namespace, address, port);
  }
}
