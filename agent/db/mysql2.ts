// mysql2 (callback and promise APIs, pools), against MySQL and MariaDB. Needs a mysql2 that
// publishes TracingChannels (lib/tracing.js; 3.24.6 here): older ones are not measured.
//
// detect: mysql2 publishes `mysql2:query`, `mysql2:execute` around every command (the promise
//   API and pools run through the same callback path, so an operation is published once), and
//   `mysql2:connect` around the handshake.
// hook: subscriptions — ESM and CommonJS alike, nothing runs until mysql2 publishes. Pools are
//   in no channel's context, so the pool gauges come from a wrap of the core Pool class's
//   getConnection, installed when the app loads mysql2 (./load.ts).
// record: the handshake's result names the server (`serverVersion` containing "MariaDB" →
//   db.system.name `mariadb`, else `mysql`), remembered per address/port; each operation records
//   at `asyncStart` (before the app's callback runs) with the context's sql, database and server.
//   `sql` of `query` is the text after client-side formatting (values inlined): only the
//   sanitised form (literals replaced) ever leaves the process.
import dc from 'node:diagnostics_channel';
import { createRequire } from 'node:module';
import type { Span } from '@opentelemetry/api';
import { fail, hook } from '../safe.js';
import { onLoad } from './load.js';
import { type DbContext, errorTypeOf, finish, now, sharedTarget } from './operation.js';
import { type PoolStats, pools } from './pools.js';
import type { DbTarget } from './record.js';
import { sqlInfo } from './sql.js';

interface QueryContext {
  query?: unknown;
  database?: unknown;
  serverAddress?: unknown;
  serverPort?: unknown;
  error?: unknown;
  result?: unknown;
  [kStart]?: number;
  [kSpan]?: Span;
}
interface ConnectContext {
  serverAddress?: unknown;
  serverPort?: unknown;
  result?: { serverVersion?: unknown };
}

const kStart = Symbol('tapwire.start');
const kSpan = Symbol('tapwire.span');

/** address -> port -> system, learned from handshakes. */
const systems = new Map<unknown, Map<unknown, string>>();

function systemOf(address: unknown, port: unknown): string {
  return systems.get(address)?.get(port) ?? 'mysql';
}

/** Targets by address -> port -> database -> system, built once each. */
const targets = new Map<unknown, Map<unknown, Map<unknown, DbTarget>>>();

function targetOf(c: QueryContext): DbTarget {
  const system = systemOf(c.serverAddress, c.serverPort);
  let byPort = targets.get(c.serverAddress);
  if (byPort === undefined) {
    byPort = new Map();
    targets.set(c.serverAddress, byPort);
  }
  let byDb = byPort.get(c.serverPort);
  if (byDb === undefined) {
    byDb = new Map();
    byPort.set(c.serverPort, byDb);
  }
  let t = byDb.get(c.database);
  if (t === undefined || t.system !== system) {
    t = sharedTarget(
      system,
      typeof c.database === 'string' && c.database !== '' ? c.database : undefined,
      typeof c.serverAddress === 'string' ? c.serverAddress : undefined,
      typeof c.serverPort === 'number' ? c.serverPort : undefined,
    );
    byDb.set(c.database, t);
  }
  return t;
}

type Handler = (message: unknown) => void;
const subscriptions: Array<[dc.TracingChannel<unknown, object>, Record<string, Handler>]> = [];

export function installMysql2(base: Omit<DbContext, 'hook'>): void {
  const h = hook('mysql2');
  const ctx: DbContext = { ...base, hook: h };
  if (typeof dc.tracingChannel !== 'function') return;

  const start: Handler = (message) => {
    if (!h.enabled) return;
    const c = message as QueryContext;
    c[kStart] = now();
    if (ctx.spans !== undefined) {
      try {
        const t = targetOf(c);
        const info = typeof c.query === 'string' ? sqlInfo(c.query) : undefined;
        c[kSpan] = ctx.spans.startDbSpan(t.system, info?.summary, info?.text, t.namespace, t.address, t.port);
      } catch (error) {
        fail(h, error);
      }
    }
  };
  const done: Handler = (message) => {
    const c = message as QueryContext;
    const started = c[kStart];
    if (!h.enabled || started === undefined) return;
    c[kStart] = undefined; // asyncStart can follow `error`: one record per operation
    try {
      const info = typeof c.query === 'string' ? sqlInfo(c.query) : undefined;
      const errorType = c.error == null ? undefined : errorTypeOf(c.error);
      const target = targetOf(c);
      const span = c[kSpan];
      // A pool's first query starts before its connection's handshake names the server.
      if (span !== undefined) span.setAttribute('db.system.name', target.system);
      finish(ctx, target, info, errorType, started, span);
    } catch (error) {
      fail(h, error);
    }
  };
  const ops = { start, asyncStart: done };
  // A handshake that fails is the failure a pool's query sees (the query never reaches a
  // connection then): recorded with its error.type (ECONNREFUSED) and no operation name.
  const connect = {
    start: (message: unknown) => {
      if (h.enabled) (message as QueryContext)[kStart] = now();
    },
    asyncStart: (message: unknown) => {
      if (!h.enabled) return;
      try {
        const c = message as ConnectContext & QueryContext;
        const started = c[kStart];
        if (c.error != null && started !== undefined) {
          c[kStart] = undefined;
          finish(ctx, targetOf(c), undefined, errorTypeOf(c.error), started, undefined);
          return;
        }
        const version = c.result?.serverVersion;
        if (typeof version !== 'string') return;
        let byPort = systems.get(c.serverAddress);
        if (byPort === undefined) {
          byPort = new Map();
          systems.set(c.serverAddress, byPort);
        }
        byPort.set(c.serverPort, /mariadb/i.test(version) ? 'mariadb' : 'mysql');
      } catch (error) {
        fail(h, error);
      }
    },
  };
  for (const [name, handlers] of [
    ['mysql2:query', ops],
    ['mysql2:execute', ops],
    ['mysql2:connect', connect],
  ] as const) {
    const channel = dc.tracingChannel(name);
    channel.subscribe(handlers as never);
    subscriptions.push([channel as never, handlers as Record<string, Handler>]);
  }

  onLoad('mysql2', '/mysql2/index.js', (exports) => patchPool(exports, h));
  // mysql2/promise requires the core as './index.js' (not seen by name): load it from there.
  onLoad('mysql2/promise', '/mysql2/promise.js', (_exports, file) =>
    patchPool(createRequire(file)('./index.js'), h),
  );
}

interface Mysql2Pool {
  _allConnections?: { length: number };
  _freeConnections?: { length: number };
  _connectionQueue?: { length: number };
  _closed?: boolean;
  config?: { connectionConfig?: { host?: string; port?: number; database?: string; socketPath?: string } };
}

function poolStats(pool: Mysql2Pool): PoolStats {
  const cfg = pool.config?.connectionConfig ?? {};
  const address = cfg.socketPath ?? cfg.host ?? 'localhost';
  const port = cfg.socketPath ? undefined : (cfg.port ?? 3306);
  const all = pool._allConnections?.length ?? 0;
  const free = pool._freeConnections?.length ?? 0;
  return {
    target: sharedTarget(systemOf(address, port), cfg.database || undefined, address, port),
    idle: free,
    used: all - free,
    pending: pool._connectionQueue?.length ?? 0,
    closed: pool._closed === true,
  };
}

const kPatched = Symbol.for('tapwire.db.mysql2.pool');
const undo: Array<() => void> = [];

/** The core Pool class; PromisePool runs on one (`.pool`), so both APIs register here. */
function patchPool(exports: unknown, h: ReturnType<typeof hook>): void {
  try {
    const Pool = (exports as { Pool?: { prototype: object } }).Pool;
    if (Pool === undefined) return;
    let proto: object | null = Pool.prototype;
    while (proto !== null && !Object.hasOwn(proto, 'getConnection')) proto = Object.getPrototypeOf(proto);
    if (proto === null || (proto as { [kPatched]?: true })[kPatched]) return;
    const p = proto as { getConnection: (...a: unknown[]) => unknown; [kPatched]?: true };
    const original = p.getConnection;
    p[kPatched] = true;
    p.getConnection = function (this: Mysql2Pool): unknown {
      if (h.enabled && this._freeConnections !== undefined) {
        pools.add(this as object, poolStats as (x: object) => PoolStats);
      }
      // biome-ignore lint/complexity/noArguments: the caller's exact arguments, without a rest array per call
      return Reflect.apply(original, this, arguments);
    };
    undo.push(() => {
      p.getConnection = original;
      delete p[kPatched];
    });
  } catch (error) {
    fail(h, error);
  }
}

export function uninstallMysql2(): void {
  for (const [channel, handlers] of subscriptions.splice(0)) channel.unsubscribe(handlers as never);
  for (const u of undo.splice(0)) u();
}
