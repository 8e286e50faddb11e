// Bun's built-in Redis client (`import { redis, RedisClient } from 'bun'`): native, publishes
// nothing, and its command methods do not go through one another (measured on Bun 1.4.5:
// `set()` / `hgetall()` never call `send()`), so each command method is wrapped.
//
// detect: `Bun.RedisClient` exists (Bun >= 1.2.9).
// hook: every command method on RedisClient.prototype (`get`, `set`, `hgetall`, …, `send`) is
//   wrapped (../../bun-redis-wires.ts: the wrappers a deferred start laid are kept and measured
//   through), its operation name fixed at its first call; the default `redis` instance shares the
//   prototype. Connection-level methods (connect, close, duplicate) and pub/sub (long-lived
//   subscriptions, not operations) pass through their wrappers unmeasured. `Bun.RedisClient` is replaced by a Proxy whose
//   construct trap notes the URL each client was created with (the native object does not expose
//   it); `import { RedisClient } from 'bun'` reads the same property, `instanceof`, statics and
//   subclassing go through the Proxy. The default `redis` instance is created by Bun from
//   REDIS_URL / VALKEY_URL, else redis://localhost:6379, and is never touched here (touching it
//   would create it).
// record: the app gets `promise.then(ok, fail)` (core/db/operation.ts settle()): the same value,
//   the same error object, and a rejection the app does not handle still reaches its
//   `unhandledRejection` handler. db.namespace is the index in the URL; a later SELECT is not
//   followed (documented, as the semantic conventions ask).
import type { DbInfo } from '../../../core/db/operation.js';
import { endpointOfUrl, operationName, redisInfo } from '../../../core/db/redis.js';
import type { DbTarget } from '../../../core/db/target.js';
import { fail } from '../../../core/guard.js';
import { redisWires, unwire } from '../../bun-redis-wires.js';
import type { HookContext } from '../../context.js';

type ClientClass = (abstract new (...args: unknown[]) => object) & { prototype: Record<string, unknown> };
interface BunGlobal {
  RedisClient?: ClientClass;
}

const SKIP = new Set([
  'constructor',
  'connect',
  'close',
  'duplicate',
  'subscribe',
  'unsubscribe',
  'psubscribe',
  'punsubscribe',
  'ssubscribe',
  'sunsubscribe',
  'onconnect',
  'onclose',
]);
/** Methods whose operation name is not their own. */
const ALIAS: Record<string, string> = { getBuffer: 'GET' };

interface Call {
  target: DbTarget;
  info: DbInfo;
}

function defaultUrl(): string {
  return process.env.REDIS_URL || process.env.VALKEY_URL || 'redis://localhost:6379';
}

export function install(ctx: HookContext): void {
  const bun = (globalThis as { Bun?: BunGlobal }).Bun;
  const Client = bun?.RedisClient;
  if (typeof Client !== 'function') return;
  const { db, guard, patches } = ctx;
  const targets = new WeakMap<object, DbTarget>();

  function targetOfUrl(url: string): DbTarget {
    const e = endpointOfUrl(url);
    return db.target('redis', e.namespace, e.address, e.port);
  }

  function targetOf(client: unknown): DbTarget {
    const t = typeof client === 'object' && client !== null ? targets.get(client) : undefined;
    return t ?? targetOfUrl(defaultUrl());
  }

  // One operation name per method, named at its first call (naming the ~200 methods at install
  // cost each Bun process ~1 ms at start); send(command, args) names its command per call.
  const names = new Map<string, string>();
  const describe = (name: string, self: unknown, args: readonly unknown[]): Call => {
    if (name === 'send') {
      return {
        target: targetOf(self),
        info: redisInfo(operationName(args[0]), Array.isArray(args[1]) ? args[1].length : 0),
      };
    }
    let fixed = names.get(name);
    if (fixed === undefined) {
      fixed = ALIAS[name] ?? operationName(name);
      names.set(name, fixed);
    }
    return { target: targetOf(self), info: redisInfo(fixed, args.length) };
  };

  // The command methods' wires: the deferred start's when it laid them (kept), else laid now.
  const wires = redisWires(Client.prototype);
  if (wires.measure === undefined) {
    wires.measure = (name, original, self, args) => {
      let c: Call | undefined;
      if (guard.enabled && !SKIP.has(name)) {
        try {
          c = describe(name, self, args);
        } catch (error) {
          fail(guard, error);
        }
      }
      return c === undefined
        ? Reflect.apply(original, self, args)
        : db.call(c.target, c.info, original, self, args);
    };
    patches.onRestore(() => unwire(wires));
  }

  patches.set(
    bun!,
    'RedisClient',
    new Proxy(Client, {
      construct(target, args, newTarget) {
        const client = Reflect.construct(target, args, newTarget) as object;
        try {
          const url = args[0];
          targets.set(client, targetOfUrl(typeof url === 'string' && url !== '' ? url : defaultUrl()));
        } catch (error) {
          fail(guard, error);
        }
        return client;
      },
    }),
  );
}
