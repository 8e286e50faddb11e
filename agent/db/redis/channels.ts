// ioredis (>= 5.10, 6) and node-redis (@redis/client >= 5.10, 6): both publish TracingChannels, so
// their hooks are subscriptions — ESM and CommonJS apps alike, Node and Bun alike, Cluster
// clients included, nothing patched and nothing paid before the library loads and publishes.
//
// detect: nothing to load; subscribing to a channel nobody publishes on costs nothing.
// hook: `tracing:<lib>:command:{start,asyncEnd}` and `tracing:<lib>:batch:{start,end,asyncEnd}`.
//   Both libraries wrap the command promise with `TracingChannel#tracePromise`, so the app's
//   promise already goes through the library's own wrapper once anything subscribes; the error
//   the app sees is the same object.
// record: one measurement per command; one per MULTI / pipeline (./semconv.ts). What is inside a
//   batch is told apart without state per client:
//   - node-redis marks pipelined commands with `batchMode`; commands inside MULTI publish nothing.
//   - ioredis publishes a batch only for MULTI, and its MULTI, queued commands and EXEC each
//     publish a command synchronously between the batch's `start` and `end` (ioredis
//     Transaction#exec -> Pipeline#exec -> Redis#sendCommand, no await in between), so a command
//     starting while a batch is open belongs to it. A plain ioredis pipeline publishes no batch:
//     its commands are measured one by one (see docs/instrumentation.md).
//   - ioredis sends its own handshake (HELLO, AUTH, CLIENT SETINFO, SELECT, INFO as ready check)
//     through the same path while it connects; those are not the app's operations (CLIENT SETINFO
//     even fails on Redis < 7.2 and would read as an error rate), so while an ioredis connect is
//     in flight (`ioredis:connect` start..asyncEnd) commands with those names are not measured.
//     node-redis writes its handshake without publishing.
// Older ioredis (5.x before the channels) and node-redis 4 publish nothing and are not measured.

import type { Span } from '@opentelemetry/api';
import { subscribe as subscribeChannel } from '../../channels.js';
import { fail, hook } from '../../safe.js';
import type { DbContext } from '../operation.js';
import { now } from '../operation.js';
import { DbRecorder, type DbTarget } from '../record.js';
import { operationName, redisErrorType, redisStatement } from './semconv.js';

/** The fields both libraries put in their command and batch contexts. */
interface TraceContext {
  command?: unknown;
  args?: unknown;
  batchMode?: unknown;
  batchSize?: unknown;
  database?: unknown;
  serverAddress?: unknown;
  serverPort?: unknown;
  error?: unknown;
  [kStart]?: number;
  [kOp]?: string;
  [kArgs]?: number;
  [kSpan]?: Span;
}

const kStart = Symbol('tapwire.redis.start');
const kOp = Symbol('tapwire.redis.op');
const kArgs = Symbol('tapwire.redis.args');
const kSpan = Symbol('tapwire.redis.span');

// Targets by address -> port -> database index: built once per server and index, then three Map
// lookups per operation and no string built.
type ByDb = Map<unknown, DbTarget>;
const targets = new Map<unknown, Map<unknown, ByDb>>();

function targetOf(c: TraceContext): DbTarget {
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
  let target = byDb.get(c.database);
  if (target === undefined) {
    const address = typeof c.serverAddress === 'string' ? c.serverAddress : undefined;
    const port = typeof c.serverPort === 'number' ? c.serverPort : undefined;
    const db = c.database;
    const namespace = typeof db === 'number' || typeof db === 'string' ? String(db) : undefined;
    target = DbRecorder.target('redis', namespace, address, port);
    // A client switching among thousands of indexes would not fill memory: past the cap the
    // target is built per call and not kept.
    if (byDb.size < 64) byDb.set(c.database, target);
  }
  return target;
}

// The slow log reads the statement through a getter only for slow operations; the values it
// needs are set just before record() is called, so no closure is built per operation.
let slowOp = '';
let slowArgs = 0;
const slowStatement = {
  get text(): string {
    return redisStatement(slowOp, slowArgs);
  },
};

interface Library {
  name: string;
  /** node-redis puts the command name first in `args`; ioredis does not. */
  argsIncludeCommand: boolean;
  /** Commands the library itself sends while connecting (see the header). */
  handshake: Set<string> | undefined;
}

const LIBRARIES: Library[] = [
  {
    name: 'ioredis',
    argsIncludeCommand: false,
    handshake: new Set(['HELLO', 'AUTH', 'CLIENT', 'SELECT', 'INFO']),
  },
  { name: 'node-redis', argsIncludeCommand: true, handshake: undefined },
];

export function subscribeRedisChannels(ctx: DbContext): void {
  for (const lib of LIBRARIES) subscribe(ctx, lib);
}

function subscribe(ctx: DbContext, lib: Library): void {
  const h = hook(`${lib.name} (db)`);
  const recorder = ctx.recorder;
  const spans = ctx.spans;
  const dropArgs = lib.argsIncludeCommand ? 1 : 0;
  /** The batch whose synchronous part is running (see the header). */
  let open: TraceContext | undefined;
  const handshake = lib.handshake;
  let connecting = 0;

  function begin(c: TraceContext, op: string, args: number): void {
    c[kStart] = now();
    c[kOp] = op;
    c[kArgs] = args;
    if (spans !== undefined) {
      const t = targetOf(c);
      c[kSpan] = spans.startDbSpan('redis', op, redisStatement(op, args), t.namespace, t.address, t.port);
    }
  }

  function end(c: TraceContext): void {
    const start = c[kStart];
    if (start === undefined) return;
    const seconds = (now() - start) / 1000;
    const errorType = c.error === undefined ? undefined : redisErrorType(c.error);
    const op = c[kOp] as string;
    const span = c[kSpan];
    if (span !== undefined) spans?.endDbSpan(span, errorType);
    slowOp = op;
    slowArgs = c[kArgs] ?? 0;
    recorder.record(targetOf(c), op, undefined, errorType, seconds, slowStatement, span);
  }

  function commandStart(message: unknown): void {
    if (!h.enabled) return;
    try {
      const c = message as TraceContext;
      const batch = open;
      if (batch !== undefined || c.batchMode !== undefined) {
        // Part of a batch, measured there. A pipeline of one command is that command.
        if (batch !== undefined && batch.batchSize === 1 && batch.batchMode === 'PIPELINE') {
          batch[kOp] = operationName(c.command);
        }
        return;
      }
      const op = operationName(c.command);
      if (connecting > 0 && handshake?.has(op)) return;
      const args = Array.isArray(c.args) ? c.args.length - dropArgs : 0;
      begin(c, op, args);
    } catch (error) {
      fail(h, error);
    }
  }

  function batchStart(message: unknown): void {
    if (!h.enabled) return;
    try {
      const c = message as TraceContext;
      open = c;
      const size = typeof c.batchSize === 'number' ? c.batchSize : 0;
      begin(c, c.batchMode === 'PIPELINE' ? 'PIPELINE' : 'MULTI', size);
    } catch (error) {
      fail(h, error);
    }
  }

  function batchEnd(message: unknown): void {
    if (open === message) open = undefined;
  }

  function settled(message: unknown): void {
    if (!h.enabled) return;
    try {
      end(message as TraceContext);
    } catch (error) {
      fail(h, error);
    }
  }

  try {
    if (handshake !== undefined) {
      subscribeChannel(`tracing:${lib.name}:connect:start`, () => {
        connecting++;
      });
      subscribeChannel(`tracing:${lib.name}:connect:asyncEnd`, () => {
        if (connecting > 0) connecting--;
      });
    }
    subscribeChannel(`tracing:${lib.name}:command:start`, commandStart);
    subscribeChannel(`tracing:${lib.name}:command:asyncEnd`, settled);
    subscribeChannel(`tracing:${lib.name}:batch:start`, batchStart);
    subscribeChannel(`tracing:${lib.name}:batch:end`, batchEnd);
    subscribeChannel(`tracing:${lib.name}:batch:asyncEnd`, settled);
  } catch (error) {
    fail(h, error);
  }
}
