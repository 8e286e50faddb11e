// What a Redis operation's labels are made of, shared by the ioredis/node-redis channel
// subscribers and the Bun client patch (agent/db/redis/).
//
// Semantic conventions for Redis (https://opentelemetry.io/docs/specs/semconv/db/redis/):
// - db.operation.name: the command name (GET, HGETALL), upper-cased here so that ioredis
//   (`get`), node-redis (`GET`) and Bun (`get()`) give one series. A bounded word.
// - transactions and pipelines are ONE operation named `MULTI` / `PIPELINE` (the note on
//   db.operation.name; `MULTI SET` when all commands are known to be the same is a SHOULD we
//   skip: node-redis publishes no per-command events inside MULTI, so the name would depend on
//   the client). A pipeline of exactly one command is that command ("requests to batch APIs that
//   contain only one operation SHOULD be modeled as single operations"); a MULTI stays `MULTI`
//   whatever its size, since MULTI/EXEC is a transaction the server sees as such.
// - db.namespace: the database index as a string ("0", "15"), as the client reports it.
// - error.type: the Redis simple-error prefix (WRONGTYPE, ERR, NOAUTH, EXECABORT), the system
//   or client error code (ECONNREFUSED, ERR_REDIS_CONNECTION_CLOSED) or the error class — never
//   the message, which carries keys and values.

import type { DbInfo } from './operation.js';

/** Upper-cased command names, cached: apps use a bounded set, a capped cache stops the rest. */
const upper = new Map<string, string>();
const UPPER_CAP = 1024;

export function operationName(command: unknown): string {
  if (typeof command !== 'string') return '_OTHER';
  const cached = upper.get(command);
  if (cached !== undefined) return cached;
  const name = command.toUpperCase();
  // A name that is not a Redis command word (a custom command with odd characters) stays out.
  const value = /^[A-Z][A-Z0-9_.|-]{0,40}( [A-Z][A-Z0-9_-]{0,40})?$/.test(name) ? name : '_OTHER';
  if (upper.size < UPPER_CAP) upper.set(command, value);
  return value;
}

// A server reply error starts with an all-caps word (RESP simple errors, "-WRONGTYPE Operation…").
const PREFIX = /^([A-Z][A-Z_]{1,31})(?: |$)/;
const CODE = /^[A-Z0-9_]{2,40}$/;
// Bun's RedisClient marks every server reply error with this code; the prefix says more.
const BUN_SERVER_ERROR = 'ERR_REDIS_SERVER_ERROR';

export function redisErrorType(error: unknown): string {
  if (typeof error !== 'object' || error === null) return '_OTHER';
  const e = error as { code?: unknown; message?: unknown; name?: unknown; constructor?: { name?: unknown } };
  const code = e.code;
  if (typeof code === 'string' && code !== BUN_SERVER_ERROR && CODE.test(code)) return code;
  const message = e.message;
  if (typeof message === 'string') {
    const m = PREFIX.exec(message);
    if (m !== null) return m[1] as string;
  }
  let name = e.name;
  if (typeof name !== 'string' || name === 'Error') name = e.constructor?.name ?? name;
  return typeof name === 'string' && name.length > 0 && name.length <= 64 ? name : 'Error';
}

/** Statement text for the slow log and spans: the command and one `?` per argument, never a key. */
export function redisStatement(operation: string, argCount: number): string {
  if (argCount <= 0) return operation;
  return operation + ' ?'.repeat(Math.min(argCount, 16)) + (argCount > 16 ? ' …' : '');
}

/** A command's DbInfo (../db/operation.ts): its name, and its statement text when read. */
class RedisInfo implements DbInfo {
  readonly collection = undefined;
  private statement: string | undefined;
  constructor(
    readonly operation: string,
    private readonly args: number,
  ) {}
  get summary(): string {
    return this.operation;
  }
  get text(): string {
    this.statement ??= redisStatement(this.operation, this.args);
    return this.statement;
  }
}

// Per command and argument count (17 counts: 16 and more read the same), built once; commands are
// already capped by operationName, and this cache by INFO_CAP.
const infos = new Map<string, RedisInfo[]>();
const INFO_CAP = 1024;

export function redisInfo(operation: string, argCount: number): DbInfo {
  const n = argCount < 0 ? 0 : argCount > 16 ? 17 : argCount;
  let byCount = infos.get(operation);
  if (byCount === undefined) {
    if (infos.size >= INFO_CAP) return new RedisInfo(operation, argCount);
    byCount = [];
    infos.set(operation, byCount);
  }
  let info = byCount[n];
  if (info === undefined) {
    info = new RedisInfo(operation, argCount);
    byCount[n] = info;
  }
  return info;
}

export interface RedisEndpoint {
  address: string | undefined;
  port: number | undefined;
  namespace: string;
}

/** redis://[user:pass@]host[:port][/db], rediss://, valkey://, redis+unix:///path — never credentials. */
export function endpointOfUrl(url: string): RedisEndpoint {
  try {
    const u = new URL(url);
    if (u.protocol.includes('unix')) return { address: u.pathname, port: undefined, namespace: '0' };
    const host = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
    const db = /^\/(\d{1,5})$/.exec(u.pathname)?.[1] ?? u.searchParams.get('db') ?? '0';
    return {
      address: host === '' ? 'localhost' : host,
      port: u.port === '' ? 6379 : Number(u.port),
      namespace: /^\d{1,5}$/.test(db) ? String(Number(db)) : '0',
    };
  } catch {
    return { address: undefined, port: undefined, namespace: '0' };
  }
}
