// node-postgres (`pg` 8, and `pg-pool` through it).
//
// detect: the app loads `pg` (./load.ts: Node's Module._load for CommonJS and ESM apps; on Bun,
//   required from the preload when the app can resolve it). pg publishes no diagnostics channel.
// hook: `Client.prototype.query` is replaced once on the exports' class; pg.Pool runs every query
//   on a pooled Client, so pool.query() is counted once, by the Client. The pool class's
//   `connect` is wrapped only to learn which pools exist (connection gauges, read at collection).
// record: one DbOp per query; the outcome reaches the app exactly as pg gives it: a callback is
//   called by pg's own code path (wrapped, same tick, same arguments); a promise becomes
//   `promise.then(ok, fail)` (same value or the same error object). Submittables (pg-cursor,
//   pg-query-stream) and `config.callback` go through untouched and are not counted.
import { fail, type Hook, hook } from '../safe.js';
import {
  callbackOp,
  type DbContext,
  errorTypeOf,
  finish,
  now,
  PromiseOp,
  sharedTarget,
} from './operation.js';
import { type PoolStats, pools } from './pools.js';
import type { DbTarget } from './record.js';
import { sqlInfo } from './sql.js';

type QueryFn = (this: PgClient, config: unknown, values?: unknown, callback?: unknown) => unknown;
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
  ended?: boolean;
  options?: { host?: string; port?: number; database?: string };
}
type Fn = (...args: unknown[]) => unknown;

const kOriginal = Symbol.for('tapwire.db.original');
const targets = new WeakMap<object, DbTarget>();

function targetOf(client: PgClient): DbTarget {
  let t = targets.get(client);
  if (t === undefined) {
    const p = client.connectionParameters ?? client;
    const port = typeof p.port === 'number' ? p.port : Number(p.port) || undefined;
    t = sharedTarget('postgresql', p.database, p.host, port);
    targets.set(client, t);
  }
  return t;
}

function textOf(config: unknown): string | undefined {
  if (typeof config === 'string') return config;
  const text = (config as { text?: unknown } | null)?.text;
  return typeof text === 'string' ? text : undefined;
}

function wrapQuery(original: QueryFn, ctx: DbContext, h: Hook): QueryFn {
  function query(this: PgClient, config: unknown, values?: unknown, callback?: unknown): unknown {
    if (
      !h.enabled ||
      config == null ||
      typeof (config as { submit?: unknown }).submit === 'function' ||
      typeof (config as { callback?: unknown }).callback === 'function'
    ) {
      // biome-ignore lint/complexity/noArguments: the caller's exact arguments, without a rest array per call
      return Reflect.apply(original, this, arguments);
    }
    let target: DbTarget;
    let text: string | undefined;
    try {
      target = targetOf(this);
      text = textOf(config);
    } catch (error) {
      fail(h, error);
      // biome-ignore lint/complexity/noArguments: the caller's exact arguments, without a rest array per call
      return Reflect.apply(original, this, arguments);
    }
    const info = text === undefined ? undefined : sqlInfo(text);
    if (typeof values === 'function') {
      return original.call(this, config, callbackOp(ctx, target, info, values as Fn));
    }
    if (typeof callback === 'function') {
      return original.call(this, config, values, callbackOp(ctx, target, info, callback as Fn));
    }
    const op = new PromiseOp(ctx, target, info);
    let result: Promise<unknown> | undefined;
    try {
      // biome-ignore lint/complexity/noArguments: the caller's exact arguments, without a rest array per call
      result = Reflect.apply(original, this, arguments) as Promise<unknown> | undefined;
    } catch (error) {
      // pg's own synchronous throw (a bad argument) reaches the app as it was thrown.
      op.end(error ?? new Error());
      throw error;
    }
    if (result === undefined || typeof result.then !== 'function') return result;
    return result.then(op.ok, op.fail);
  }
  (query as unknown as { [kOriginal]: QueryFn })[kOriginal] = original;
  return query;
}

function connectFailureOp(ctx: DbContext, target: DbTarget, cb: Fn): Fn {
  const start = now();
  return function tapwireDbConnect(this: unknown) {
    // biome-ignore lint/complexity/noArguments: the caller's exact arguments, without a rest array per call
    const error = arguments[0];
    if (error != null) {
      try {
        finish(ctx, target, undefined, errorTypeOf(error), start, undefined);
      } catch (e) {
        fail(ctx.hook, e);
      }
    }
    // biome-ignore lint/complexity/noArguments: the caller's exact arguments, without a rest array per call
    return Reflect.apply(cb, this, arguments);
  };
}

/** Own property of a prototype up the chain from `proto`. */
function owner(proto: object | null, name: string): object | undefined {
  for (let p = proto; p !== null && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
    if (Object.hasOwn(p, name)) return p;
  }
  return undefined;
}

function poolStats(pool: PgPool): PoolStats {
  const o = pool.options ?? {};
  return {
    target: sharedTarget('postgresql', o.database, o.host ?? 'localhost', Number(o.port) || 5432),
    idle: pool.idleCount,
    used: pool.totalCount - pool.idleCount,
    pending: pool.waitingCount,
  };
}

const undo: Array<() => void> = [];

export function patchPg(exports: unknown, ctx: Omit<DbContext, 'hook'>): void {
  const h = hook('pg');
  const c: DbContext = { ...ctx, hook: h };
  try {
    const pg = exports as { Client?: { prototype: object }; Pool?: { prototype: object } };
    const proto = owner(pg.Client?.prototype ?? null, 'query') as { query: QueryFn } | undefined;
    if (proto !== undefined && !(kOriginal in proto.query)) {
      const original = proto.query;
      proto.query = wrapQuery(original, c, h);
      undo.push(() => {
        proto.query = original;
      });
    }
    // A connection that cannot be made is the failure the app sees for its query (pool.query()
    // never reaches Client#query then): recorded with its error.type (ECONNREFUSED) and no
    // operation name. Successful connects are not operations. `_connect(callback)` is the one
    // path of both connect() forms in pg 8.
    const conn = owner(pg.Client?.prototype ?? null, '_connect') as { _connect: Fn } | undefined;
    if (conn !== undefined && !(kOriginal in conn._connect)) {
      const original = conn._connect;
      const connect = function (this: PgClient, callback: unknown): unknown {
        // biome-ignore lint/complexity/noArguments: the caller's exact arguments, without a rest array per call
        if (!h.enabled || typeof callback !== 'function') return Reflect.apply(original, this, arguments);
        let target: DbTarget;
        try {
          target = targetOf(this);
        } catch (error) {
          fail(h, error);
          // biome-ignore lint/complexity/noArguments: the caller's exact arguments, without a rest array per call
          return Reflect.apply(original, this, arguments);
        }
        return original.call(this, connectFailureOp(c, target, callback as Fn));
      };
      (connect as unknown as { [kOriginal]: Fn })[kOriginal] = original;
      conn._connect = connect;
      undo.push(() => {
        conn._connect = original;
      });
    }
    const poolProto = owner(pg.Pool?.prototype ?? null, 'connect') as { connect: Fn } | undefined;
    if (poolProto !== undefined && !(kOriginal in poolProto.connect)) {
      const original = poolProto.connect;
      const connect = function (this: PgPool): unknown {
        if (h.enabled) pools.add(this, poolStats as (p: object) => PoolStats);
        // biome-ignore lint/complexity/noArguments: the caller's exact arguments, without a rest array per call
        return Reflect.apply(original, this, arguments);
      };
      (connect as unknown as { [kOriginal]: Fn })[kOriginal] = original;
      poolProto.connect = connect;
      undo.push(() => {
        poolProto.connect = original;
      });
    }
  } catch (error) {
    fail(h, error);
  }
}

export function unpatchPg(): void {
  for (const u of undo.splice(0)) u();
}
