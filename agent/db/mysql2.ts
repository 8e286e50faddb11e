// mysql2 (callback and promise APIs, pools), against MySQL and MariaDB. Needs a mysql2 that
// publishes TracingChannels (lib/tracing.js; 3.24.6 here): older ones are not measured.
//
// detect: mysql2 publishes `mysql2:query`, `mysql2:execute` around every command (the promise
//   API and pools run through the same callback path, so an operation is published once), and
//   `mysql2:connect` around the handshake.
// hook: subscriptions — ESM and CommonJS alike, nothing runs until mysql2 publishes. Pools are
//   in no channel's context, so the pool gauges come from a wrap of the core Pool class's
//   getConnection, installed when the app loads mysql2 (../load.ts).
// record: the handshake's result names the server (`serverVersion` containing "MariaDB" →
//   db.system.name `mariadb`, else `mysql`), remembered per address/port; each operation ends at
//   `asyncStart` (before the app's callback runs) with the context's sql, database and server.
//   `sql` of `query` is the text after client-side formatting (values inlined): only the
//   sanitised form (literals replaced) ever leaves the process.
import { createRequire } from 'node:module';
import type { DbOp } from '../../core/db/operation.js';
import type { PoolStats } from '../../core/db/pools.js';
import type { DbTarget } from '../../core/db/target.js';
import { kOperation } from '../../core/operation.js';
import { before } from '../../core/patch.js';
import type { HookContext } from '../context.js';
import { statementInfo } from './sql.js';

interface QueryContext {
  query?: unknown;
  database?: unknown;
  serverAddress?: unknown;
  serverPort?: unknown;
  error?: unknown;
  result?: { serverVersion?: unknown };
  [kOperation]?: DbOp;
}

interface Mysql2Pool {
  _allConnections?: { length: number };
  _freeConnections?: { length: number };
  _connectionQueue?: { length: number };
  _closed?: boolean;
  config?: { connectionConfig?: { host?: string; port?: number; database?: string; socketPath?: string } };
}

export function install(ctx: HookContext): void {
  const { db, guard, pools } = ctx;
  /** address -> port -> system, learned from handshakes. */
  const systems = new Map<unknown, Map<unknown, string>>();
  const systemOf = (address: unknown, port: unknown): string => systems.get(address)?.get(port) ?? 'mysql';

  function targetOf(c: QueryContext): DbTarget {
    return db.target(
      systemOf(c.serverAddress, c.serverPort),
      typeof c.database === 'string' && c.database !== '' ? c.database : undefined,
      typeof c.serverAddress === 'string' ? c.serverAddress : undefined,
      typeof c.serverPort === 'number' ? c.serverPort : undefined,
    );
  }

  function start(message: unknown): void {
    const c = message as QueryContext;
    // MySQL and MariaDB read statements alike; which of the two a server is comes later.
    const info = typeof c.query === 'string' ? statementInfo(c.query, 'mysql') : undefined;
    c[kOperation] = db.start(targetOf(c), info);
  }

  function done(message: unknown): void {
    const c = message as QueryContext;
    const op = c[kOperation];
    if (op === undefined) return;
    c[kOperation] = undefined; // asyncStart can follow `error`: one record per operation
    // A pool's first query starts before its connection's handshake names the server.
    op.target = targetOf(c);
    op.end(c.error);
  }

  ctx.on('mysql2QueryStart', start);
  ctx.on('mysql2QueryAsyncStart', done);
  ctx.on('mysql2ExecuteStart', start);
  ctx.on('mysql2ExecuteAsyncStart', done);
  // A handshake that fails is the failure a pool's query sees (the query never reaches a
  // connection then): recorded with its error.type (ECONNREFUSED) and no operation name.
  ctx.on('mysql2ConnectStart', (message) => {
    const c = message as QueryContext;
    c[kOperation] = db.connect(targetOf(c));
  });
  ctx.on('mysql2ConnectAsyncStart', (message) => {
    const c = message as QueryContext;
    const op = c[kOperation];
    if (op === undefined) return;
    c[kOperation] = undefined;
    if (c.error != null) {
      op.end(c.error);
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
  });

  function poolStats(pool: object): PoolStats {
    const p = pool as Mysql2Pool;
    const cfg = p.config?.connectionConfig ?? {};
    const address = cfg.socketPath ?? cfg.host ?? 'localhost';
    const port = cfg.socketPath ? undefined : (cfg.port ?? 3306);
    const all = p._allConnections?.length ?? 0;
    const free = p._freeConnections?.length ?? 0;
    return {
      target: db.target(systemOf(address, port), cfg.database || undefined, address, port),
      idle: free,
      used: all - free,
      pending: p._connectionQueue?.length ?? 0,
      closed: p._closed === true,
    };
  }

  /** The core Pool class; PromisePool runs on one (`.pool`), so both APIs register here. */
  function patchPool(exports: unknown): void {
    let proto: object | null = (exports as { Pool?: { prototype: object } }).Pool?.prototype ?? null;
    while (proto !== null && !Object.hasOwn(proto, 'getConnection')) proto = Object.getPrototypeOf(proto);
    if (proto === null) return;
    ctx.patches.wrap(proto, 'getConnection', (original) =>
      before(guard, original, (self) => {
        if ((self as Mysql2Pool)._freeConnections !== undefined) pools.add(self as object, poolStats);
      }),
    );
  }

  ctx.loads.on('mysql2', patchPool, guard);
  // mysql2/promise requires the core as './index.js' (not seen by name): load it from there.
  ctx.loads.on('mysql2/promise', (_exports, file) => patchPool(createRequire(file)('./index.js')), guard);
}
