// node-postgres (`pg` 8, and `pg-pool` through it).
//
// detect: the app loads `pg` (../load.ts: Node's Module._load for CommonJS and ESM apps; on Bun,
//   required from the preload when the app declares it). pg publishes no diagnostics channel.
// hook: `Client.prototype.query` is wrapped on the exports' class; pg.Pool runs every query on a
//   pooled Client, so pool.query() is counted once, by the Client. `Client.prototype._connect` is
//   wrapped to see connections that cannot be made, the pool class's `connect` only to learn which
//   pools exist (connection gauges, read at collection).
// record: one DbOp per query; the outcome reaches the app exactly as pg gives it: a callback is
//   called by pg's own code path (wrapped, same tick, same arguments); a promise becomes
//   `promise.then(ok, fail)` (same value or the same error object). Submittables (pg-cursor,
//   pg-query-stream) and `config.callback` go through untouched and are not counted.

import type { PoolStats } from '../../core/db/pools.js';
import type { DbRecorder } from '../../core/db/recorder.js';
import type { DbTarget } from '../../core/db/target.js';
import { fail, type Guard } from '../../core/guard.js';
import { around, before, type Fn } from '../../core/patch.js';
import type { HookContext } from '../context.js';
import { statementInfo } from './sql.js';

interface PgClient {
  connectionParameters?: { host?: string; port?: number; database?: string };
  host?: string;
  port?: number;
  database?: string;
}
interface PgPool {
  totalCount: number;
  idleCount: number;
  waitingCount: number;
  options?: { host?: string; port?: number; database?: string };
}

/** Own property of a prototype up the chain from `proto`. */
function owner(proto: object | null, name: string): object | undefined {
  for (let p = proto; p !== null && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
    if (Object.hasOwn(p, name)) return p;
  }
  return undefined;
}

function textOf(config: unknown): string | undefined {
  if (typeof config === 'string') return config;
  const text = (config as { text?: unknown } | null)?.text;
  return typeof text === 'string' ? text : undefined;
}

export function install(ctx: HookContext): void {
  const { db, guard, pools } = ctx;
  const targets = new WeakMap<object, DbTarget>();

  function targetOf(client: PgClient): DbTarget {
    let t = targets.get(client);
    if (t === undefined) {
      const p = client.connectionParameters ?? client;
      const port = typeof p.port === 'number' ? p.port : Number(p.port) || undefined;
      t = db.target('postgresql', p.database, p.host, port);
      targets.set(client, t);
    }
    return t;
  }

  function poolStats(pool: object): PoolStats {
    const p = pool as PgPool;
    const o = p.options ?? {};
    return {
      target: db.target('postgresql', o.database, o.host ?? 'localhost', Number(o.port) || 5432),
      idle: p.idleCount,
      used: p.totalCount - p.idleCount,
      pending: p.waitingCount,
    };
  }

  ctx.loads.on(
    'pg',
    (exports) => {
      const pg = exports as { Client?: { prototype: object }; Pool?: { prototype: object } };
      const client = pg.Client?.prototype ?? null;
      const query = owner(client, 'query');
      if (query !== undefined) {
        ctx.patches.wrap(query, 'query', (original) =>
          around(guard, original, (q, self, args) => runQuery(db, guard, targetOf, q, self, args)),
        );
      }
      // A connection that cannot be made is the failure the app sees for its query (pool.query()
      // never reaches Client#query then): recorded with its error.type (ECONNREFUSED) and no
      // operation name. Successful connects are not operations. `_connect(callback)` is the one
      // path of both connect() forms in pg 8.
      const connect = owner(client, '_connect');
      if (connect !== undefined) {
        ctx.patches.wrap(connect, '_connect', (original) =>
          around(guard, original, (c, self, args) => runConnect(db, guard, targetOf, c, self, args)),
        );
      }
      const pool = owner(pg.Pool?.prototype ?? null, 'connect');
      if (pool !== undefined) {
        ctx.patches.wrap(pool, 'connect', (original) =>
          before(guard, original, (self) => pools.add(self as object, poolStats)),
        );
      }
    },
    guard,
  );
}

function runQuery(
  db: DbRecorder,
  guard: Guard,
  targetOf: (client: PgClient) => DbTarget,
  query: Fn,
  self: unknown,
  args: IArguments,
): unknown {
  const [config, values, callback] = args as unknown as [unknown, unknown, unknown];
  if (
    config == null ||
    typeof (config as { submit?: unknown }).submit === 'function' ||
    typeof (config as { callback?: unknown }).callback === 'function'
  ) {
    return Reflect.apply(query, self, args);
  }
  let target: DbTarget;
  let text: string | undefined;
  try {
    target = targetOf(self as PgClient);
    text = textOf(config);
  } catch (error) {
    fail(guard, error);
    return Reflect.apply(query, self, args);
  }
  const op = db.start(target, text === undefined ? undefined : statementInfo(text, 'postgresql'));
  if (typeof values === 'function') return query.call(self, config, op.callback(values as Fn));
  if (typeof callback === 'function') return query.call(self, config, values, op.callback(callback as Fn));
  let result: PromiseLike<unknown> | undefined;
  try {
    result = Reflect.apply(query, self, args) as PromiseLike<unknown> | undefined;
  } catch (error) {
    // pg's own synchronous throw (a bad argument) reaches the app as it was thrown.
    op.end(error ?? new Error());
    throw error;
  }
  if (result === undefined || typeof result.then !== 'function') return result;
  return op.settle(result);
}

function runConnect(
  db: DbRecorder,
  guard: Guard,
  targetOf: (client: PgClient) => DbTarget,
  connect: Fn,
  self: unknown,
  args: IArguments,
): unknown {
  const callback = args[0];
  if (typeof callback !== 'function') return Reflect.apply(connect, self, args);
  let target: DbTarget;
  try {
    target = targetOf(self as PgClient);
  } catch (error) {
    fail(guard, error);
    return Reflect.apply(connect, self, args);
  }
  const op = db.connect(target);
  return connect.call(self, function tapwireDbConnect(this: unknown, ...cbArgs: unknown[]) {
    // Only a failed connect is an operation; a successful one is forgotten (never ended).
    if (cbArgs[0] != null) op.end(cbArgs[0]);
    return Reflect.apply(callback as Fn, this, cbArgs);
  });
}
