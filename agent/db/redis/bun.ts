// Bun's built-in Redis client (`import { redis, RedisClient } from 'bun'`): native, publishes
// nothing, and its command methods do not go through one another (measured on Bun 1.4.5:
// `set()` / `hgetall()` never call `send()`), so each command method is wrapped.
//
// detect: `Bun.RedisClient` exists (Bun >= 1.2.9).
// hook: every command method on RedisClient.prototype (`get`, `set`, `hgetall`, …, `send`) is
//   replaced by a wrapper built once at install with its operation name fixed; the default
//   `redis` instance shares the prototype. The wrapper returns the original promise itself, so
//   the app sees the same value, the same error object and the same timing; it only attaches a
//   reaction to that promise. Connection-level methods (connect, close, duplicate) and pub/sub
//   (long-lived subscriptions, not operations) are left alone.
//   `Bun.RedisClient` is replaced by a Proxy whose construct trap notes the URL each client was
//   created with (the native object does not expose it); `import { RedisClient } from 'bun'`
//   reads the same property, `instanceof`, statics and subclassing go through the Proxy.
//   The default `redis` instance is created by Bun from REDIS_URL / VALKEY_URL, else
//   redis://localhost:6379, and is never touched here (touching it would create it).
// record: db.namespace is the index in the URL; a later SELECT is not followed (documented, as
//   the semantic conventions ask).
//
// Per call: one wrapper call, two reaction functions on the returned promise (the floor for a
// promise-based API; TracingChannel#tracePromise allocates the same), three Map/WeakMap lookups.
import type { Span } from '@opentelemetry/api';
import { fail, hook } from '../../safe.js';
import type { DbContext } from '../operation.js';
import { now } from '../operation.js';
import { DbRecorder, type DbTarget } from '../record.js';
import { endpointOfUrl, operationName, redisErrorType, redisStatement } from './semconv.js';

type Fn = (this: unknown, ...args: unknown[]) => unknown;
interface BunGlobal {
  RedisClient?: (abstract new (...args: unknown[]) => object) & { prototype: Record<string, unknown> };
}

const h = hook('bun RedisClient (db)');
const kWrapped = Symbol.for('tapwire.redis.bun.wrapped');

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

const targets = new WeakMap<object, DbTarget>();
let defaultTarget: DbTarget | undefined;

function targetOfEndpoint(url: string): DbTarget {
  const e = endpointOfUrl(url);
  return DbRecorder.target('redis', e.namespace, e.address, e.port);
}

function targetOf(client: unknown): DbTarget {
  const t = typeof client === 'object' && client !== null ? targets.get(client) : undefined;
  if (t !== undefined) return t;
  defaultTarget ??= targetOfEndpoint(
    process.env.REDIS_URL || process.env.VALKEY_URL || 'redis://localhost:6379',
  );
  return defaultTarget;
}

let slowOp = '';
let slowArgs = 0;
const slowStatement = {
  get text(): string {
    return redisStatement(slowOp, slowArgs);
  },
};

export function installBunRedis(ctx: DbContext): boolean {
  const bun = (globalThis as { Bun?: BunGlobal }).Bun;
  const Client = bun?.RedisClient;
  if (typeof Client !== 'function') return false;
  try {
    const proto = Client.prototype;
    if ((proto as Record<PropertyKey, unknown>)[kWrapped] === true) return false;
    for (const name of Object.getOwnPropertyNames(proto)) {
      if (SKIP.has(name)) continue;
      const d = Object.getOwnPropertyDescriptor(proto, name);
      if (d === undefined || typeof d.value !== 'function' || !d.writable) continue;
      const op = name === 'send' ? undefined : (ALIAS[name] ?? operationName(name));
      proto[name] = wrap(ctx, d.value as Fn, op);
    }
    Object.defineProperty(proto, kWrapped, { value: true });
    bun!.RedisClient = new Proxy(Client, {
      construct(target, args, newTarget) {
        const client = Reflect.construct(target, args, newTarget) as object;
        try {
          const url = args[0];
          targets.set(
            client,
            targetOfEndpoint(
              typeof url === 'string' && url !== ''
                ? url
                : process.env.REDIS_URL || process.env.VALKEY_URL || 'redis://localhost:6379',
            ),
          );
        } catch (error) {
          fail(h, error);
        }
        return client;
      },
    });
    return true;
  } catch (error) {
    fail(h, error);
    return false;
  }
}

function wrap(ctx: DbContext, original: Fn, fixedOp: string | undefined): Fn {
  const recorder = ctx.recorder;
  const spans = ctx.spans;
  const wrapper = function (this: unknown): unknown {
    if (!h.enabled) return Reflect.apply(original, this, arguments);
    let start = 0;
    let op = '';
    let args = 0;
    let span: Span | undefined;
    let target: DbTarget | undefined;
    try {
      start = now();
      // send(command, args): the command is the first argument.
      op = fixedOp ?? operationName(arguments[0]);
      args =
        fixedOp === undefined ? (Array.isArray(arguments[1]) ? arguments[1].length : 0) : arguments.length;
      target = targetOf(this);
      if (spans !== undefined) {
        span = spans.startDbSpan(
          'redis',
          op,
          redisStatement(op, args),
          target.namespace,
          target.address,
          target.port,
        );
      }
    } catch (error) {
      fail(h, error);
    }
    // The app's own call, outside any try of ours: a synchronous throw reaches it unchanged.
    const result = Reflect.apply(original, this, arguments);
    if (target === undefined) return result;
    const done = (error: unknown): void => {
      try {
        const seconds = (now() - start) / 1000;
        const errorType = error === undefined ? undefined : redisErrorType(error);
        if (span !== undefined) spans?.endDbSpan(span, errorType);
        slowOp = op;
        slowArgs = args;
        recorder.record(target, op, undefined, errorType, seconds, slowStatement, span);
      } catch (e) {
        fail(h, e);
      }
    };
    if (typeof (result as { then?: unknown } | null)?.then === 'function') {
      // A reaction of our own: the app's promise, value and rejection stay exactly as they were
      // (our branch handles the rejection, theirs is untouched).
      (result as Promise<unknown>).then(
        () => done(undefined),
        (error: unknown) => done(error ?? new Error('rejected')),
      );
    } else {
      done(undefined);
    }
    return result;
  };
  Object.defineProperty(wrapper, 'name', { value: original.name });
  Object.defineProperty(wrapper, 'length', { value: original.length });
  return wrapper;
}
