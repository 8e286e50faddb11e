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
import { install as nodeClient } from './http/node-client.js';
import { install as nodeServer } from './http/node-server.js';
import { install as runtimeMetrics } from './runtime/index.js';

export interface Instrumentation {
  /** The name its log lines and its guard carry. */
  readonly name: string;
  readonly runtimes: readonly Runtime[];
  readonly install: (ctx: HookContext) => unknown;
}

const BOTH: readonly Runtime[] = ['node', 'bun'];
const NODE: readonly Runtime[] = ['node'];
const BUN: readonly Runtime[] = ['bun'];

export const INSTRUMENTATIONS: readonly Instrumentation[] = [
  { name: 'http.server (node)', runtimes: NODE, install: nodeServer },
  {
    name: 'http.server (Bun.serve)',
    runtimes: BUN,
    install: async (ctx) => (await import('./http/bun/serve.js')).install(ctx),
  },
  {
    name: 'http.server (bun node:http)',
    runtimes: BUN,
    install: async (ctx) => (await import('./http/bun/node-http.js')).install(ctx),
  },
  { name: 'http.client (node:http, undici)', runtimes: BOTH, install: nodeClient },
  {
    name: 'http.client (bun fetch)',
    runtimes: BUN,
    install: async (ctx) => (await import('./http/bun/fetch.js')).install(ctx),
  },
  { name: 'express (route)', runtimes: BOTH, install: express },
  { name: 'fastify (route)', runtimes: BOTH, install: fastify },
  { name: 'hono (route)', runtimes: BOTH, install: hono },
  { name: 'pg', runtimes: BOTH, install: pg },
  { name: 'mysql2', runtimes: BOTH, install: mysql2 },
  { name: 'ioredis, node-redis', runtimes: BOTH, install: redisChannels },
  {
    name: 'bun RedisClient',
    runtimes: BUN,
    install: async (ctx) => (await import('./db/redis/bun.js')).install(ctx),
  },
  { name: 'better-sqlite3', runtimes: NODE, install: betterSqlite3 },
  { name: 'node:sqlite', runtimes: NODE, install: nodeSqlite },
  {
    name: 'bun:sqlite',
    runtimes: BUN,
    install: async (ctx) => (await import('./db/bun-sqlite.js')).install(ctx),
  },
  { name: 'Bun.sql', runtimes: BUN, install: async (ctx) => (await import('./db/bun-sql.js')).install(ctx) },
  { name: 'runtime', runtimes: BOTH, install: runtimeMetrics },
];
