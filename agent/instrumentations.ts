// Every instrumentation the preload installs, in one table: its name (in logs, docs and its guard),
// the runtimes it applies to and its module. Each module has the same shape — detect (is the
// library or runtime feature there?) -> hook (subscribe, or patch where nothing publishes) ->
// hand over (start and end operations of core/) — and exports `install(ctx)`.
//
// Adding one is a hook file, its test and a line here. Bun-only modules are imported on demand so
// a Node process never loads them (and the other way round for Node-only ones).
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
import { install as nodeClient } from './http/node-client.js';
import { install as nodeServer } from './http/node-server.js';
import { install as runtimeMetrics } from './runtime/index.js';

export interface Instrumentation {
  /** The name its log lines and its guard carry. */
  readonly name: string;
  readonly runtimes: readonly Runtime[];
  readonly install: (ctx: HookContext) => unknown;
}

/** An install that imports its module first (on the runtime it applies to only). */
function lazy(load: () => Promise<{ install(ctx: HookContext): unknown }>) {
  return async (ctx: HookContext) => (await load()).install(ctx);
}

const BOTH: readonly Runtime[] = ['node', 'bun'];
const NODE: readonly Runtime[] = ['node'];
const BUN: readonly Runtime[] = ['bun'];

type Row = [name: string, runtimes: readonly Runtime[], install: Instrumentation['install']];

const ROWS: readonly Row[] = [
  ['http.server (node)', NODE, nodeServer],
  ['http.server (Bun.serve)', BUN, lazy(() => import('./http/bun/serve.js'))],
  ['http.server (bun node:http)', BUN, lazy(() => import('./http/bun/node-http.js'))],
  ['http.client (node:http, undici)', BOTH, nodeClient],
  ['http.client (bun fetch)', BUN, lazy(() => import('./http/bun/fetch.js'))],
  ['express (route)', BOTH, express],
  ['fastify (route)', BOTH, fastify],
  ['hono (route)', BOTH, hono],
  ['koa (route)', BOTH, koa],
  ['pg', BOTH, pg],
  ['mysql2', BOTH, mysql2],
  ['ioredis, node-redis', BOTH, redisChannels],
  ['bun RedisClient', BUN, lazy(() => import('./db/redis/bun.js'))],
  ['better-sqlite3', NODE, betterSqlite3],
  ['node:sqlite', NODE, nodeSqlite],
  ['bun:sqlite', BUN, lazy(() => import('./db/bun-sqlite.js'))],
  ['Bun.sql', BUN, lazy(() => import('./db/bun-sql.js'))],
  ['runtime', BOTH, runtimeMetrics],
];

export const INSTRUMENTATIONS: readonly Instrumentation[] = ROWS.map(([name, runtimes, install]) => ({
  name,
  runtimes,
  install,
}));
