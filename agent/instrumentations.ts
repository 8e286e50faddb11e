// Every instrumentation the preload installs, in one table: its name (in logs, docs and its guard),
// the runtimes it applies to and its module. Each module has the same shape — detect (is the
// library or runtime feature there?) -> hook (subscribe, or patch where nothing publishes) ->
// hand over (start and end operations of core/) — and exports `install(ctx)`.
//
// Adding one is a hook file, its test and a line here (a Bun-only hook also goes into
// ./bun-hooks.ts, imported on Bun only).
import type { Runtime } from '../core/runtime.js';
import type { HookContext } from './context.js';
import { install as betterSqlite3 } from './db/better-sqlite3.js';
import { install as mysql2 } from './db/mysql2.js';
import { install as nodeSqlite } from './db/node-sqlite.js';
import { install as pg } from './db/pg.js';
import { install as redisChannels } from './db/redis/channels.js';
import { install as express } from './http/frameworks/express.js';
import { install as fastify } from './http/frameworks/fastify.js';
import { install as hono } from './http/frameworks/hono.js';
import { install as koa } from './http/frameworks/koa.js';
import { install as next } from './http/frameworks/next.js';
import { install as appListen } from './http/listen.js';
import { install as nodeClient } from './http/node-client.js';
import { install as nodeServer } from './http/node-server.js';
import { install as promClient } from './metrics/prom-client.js';
import { install as runtimeMetrics } from './runtime/index.js';

export interface Instrumentation {
  /** The name its log lines and its guard carry. */
  readonly name: string;
  readonly runtimes: readonly Runtime[];
  readonly install: (ctx: HookContext) => unknown;
}

/**
 * A Bun-only install, from ./bun-hooks.ts (loaded on Bun only, one file for all of them): with
 * require(), an entry of its own beside the chunks (scripts/build.mjs), so that the start stays
 * synchronous, which a deferred start relies on (./defer.ts).
 */
function bun(name: keyof typeof import('./bun-hooks.js')) {
  return (ctx: HookContext) => {
    const hooks = process.getBuiltinModule('node:module').createRequire(import.meta.url)(
      './bun-hooks.js',
    ) as typeof import('./bun-hooks.js');
    return hooks[name](ctx);
  };
}

const BOTH: readonly Runtime[] = ['node', 'bun'];
const NODE: readonly Runtime[] = ['node'];
const BUN: readonly Runtime[] = ['bun'];

type Row = [name: string, runtimes: readonly Runtime[], install: Instrumentation['install']];

const ROWS: readonly Row[] = [
  ["metrics port (the app's own listen)", BOTH, appListen],
  ['http.server (node)', NODE, nodeServer],
  ['http.server (Bun.serve)', BUN, bun('bunServe')],
  ['http.server (bun node:http)', BUN, bun('bunNodeHttp')],
  ['http.client (node:http, undici)', BOTH, nodeClient],
  ['http.client (bun fetch)', BUN, bun('bunFetch')],
  ['http.client (bun undici)', BUN, bun('bunUndici')],
  ['express (route)', BOTH, express],
  ['fastify (route)', BOTH, fastify],
  ['hono (route)', BOTH, hono],
  ['koa (route)', BOTH, koa],
  ['next.js (route)', BOTH, next],
  ['pg', BOTH, pg],
  ['mysql2', BOTH, mysql2],
  ['ioredis, node-redis', BOTH, redisChannels],
  ['bun RedisClient', BUN, bun('bunRedis')],
  ['better-sqlite3', NODE, betterSqlite3],
  ['node:sqlite', NODE, nodeSqlite],
  ['bun:sqlite', BUN, bun('bunSqlite')],
  ['Bun.sql', BUN, bun('bunSql')],
  ['runtime', BOTH, runtimeMetrics],
  ['prom-client (app metrics)', BOTH, promClient],
];

export const INSTRUMENTATIONS: readonly Instrumentation[] = ROWS.map(([name, runtimes, install]) => ({
  name,
  runtimes,
  install,
}));
