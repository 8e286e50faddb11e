// ioredis (>= 5.10, 6) and node-redis (@redis/client >= 5.10, 6): both publish TracingChannels, so
// their hooks are subscriptions — ESM and CommonJS apps alike, Node and Bun alike, Cluster
// clients included, nothing patched and nothing paid before the library loads and publishes.
//
// detect: nothing to load; subscribing to a channel nobody publishes on costs nothing.
// hook: `tracing:<lib>:command:{start,asyncEnd}` and `tracing:<lib>:batch:{start,end,asyncEnd}`.
//   Both libraries wrap the command promise with `TracingChannel#tracePromise`, so the app's
//   promise already goes through the library's own wrapper once anything subscribes; the error
//   the app sees is the same object.
// record: one operation per command; one per MULTI / pipeline (core/db/redis.ts). What is inside a
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
import type { ChannelKey } from '../../../core/channels.js';
import type { DbOp } from '../../../core/db/operation.js';
import { operationName, redisInfo } from '../../../core/db/redis.js';
import type { DbTarget } from '../../../core/db/target.js';
import { kOperation } from '../../../core/operation.js';
import type { HookContext } from '../../context.js';

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
  [kOperation]?: DbOp;
}

interface Library {
  /** node-redis puts the command name first in `args`; ioredis does not. */
  argsIncludeCommand: boolean;
  /** Commands the library itself sends while connecting (see the header). */
  handshake: Set<string> | undefined;
  channels: {
    commandStart: ChannelKey;
    commandAsyncEnd: ChannelKey;
    batchStart: ChannelKey;
    batchEnd: ChannelKey;
    batchAsyncEnd: ChannelKey;
    connectStart?: ChannelKey;
    connectAsyncEnd?: ChannelKey;
  };
}

const LIBRARIES: Library[] = [
  {
    argsIncludeCommand: false,
    handshake: new Set(['HELLO', 'AUTH', 'CLIENT', 'SELECT', 'INFO']),
    channels: {
      commandStart: 'ioredisCommandStart',
      commandAsyncEnd: 'ioredisCommandAsyncEnd',
      batchStart: 'ioredisBatchStart',
      batchEnd: 'ioredisBatchEnd',
      batchAsyncEnd: 'ioredisBatchAsyncEnd',
      connectStart: 'ioredisConnectStart',
      connectAsyncEnd: 'ioredisConnectAsyncEnd',
    },
  },
  {
    argsIncludeCommand: true,
    handshake: undefined,
    channels: {
      commandStart: 'nodeRedisCommandStart',
      commandAsyncEnd: 'nodeRedisCommandAsyncEnd',
      batchStart: 'nodeRedisBatchStart',
      batchEnd: 'nodeRedisBatchEnd',
      batchAsyncEnd: 'nodeRedisBatchAsyncEnd',
    },
  },
];

export function install(ctx: HookContext): void {
  const { db } = ctx;
  function targetOf(c: TraceContext): DbTarget {
    const d = c.database;
    return db.target(
      'redis',
      typeof d === 'number' || typeof d === 'string' ? String(d) : undefined,
      typeof c.serverAddress === 'string' ? c.serverAddress : undefined,
      typeof c.serverPort === 'number' ? c.serverPort : undefined,
    );
  }
  for (const lib of LIBRARIES) subscribe(ctx, lib, targetOf);
}

function subscribe(ctx: HookContext, lib: Library, targetOf: (c: TraceContext) => DbTarget): void {
  const { db, on } = ctx;
  const dropArgs = lib.argsIncludeCommand ? 1 : 0;
  /** The batch whose synchronous part is running (see the header). */
  let open: TraceContext | undefined;
  const handshake = lib.handshake;
  let connecting = 0;

  function begin(c: TraceContext, op: string, args: number): void {
    c[kOperation] = db.start(targetOf(c), redisInfo(op, args));
  }

  on(lib.channels.commandStart, (message) => {
    const c = message as TraceContext;
    const batch = open;
    if (batch !== undefined || c.batchMode !== undefined) {
      // Part of a batch, measured there. A pipeline of one command is that command.
      const op = batch?.[kOperation];
      if (op !== undefined && batch!.batchSize === 1 && batch!.batchMode === 'PIPELINE') {
        op.info = redisInfo(operationName(c.command), 1);
      }
      return;
    }
    const name = operationName(c.command);
    if (connecting > 0 && handshake?.has(name)) return;
    begin(c, name, Array.isArray(c.args) ? c.args.length - dropArgs : 0);
  });

  on(lib.channels.batchStart, (message) => {
    const c = message as TraceContext;
    open = c;
    begin(
      c,
      c.batchMode === 'PIPELINE' ? 'PIPELINE' : 'MULTI',
      typeof c.batchSize === 'number' ? c.batchSize : 0,
    );
  });

  on(lib.channels.batchEnd, (message) => {
    if (open === message) open = undefined;
  });

  const settled = (message: unknown): void => {
    const c = message as TraceContext;
    const op = c[kOperation];
    if (op === undefined) return;
    c[kOperation] = undefined;
    op.end(c.error);
  };
  on(lib.channels.commandAsyncEnd, settled);
  on(lib.channels.batchAsyncEnd, settled);

  const { connectStart, connectAsyncEnd } = lib.channels;
  if (connectStart !== undefined && connectAsyncEnd !== undefined) {
    on(connectStart, () => {
      connecting++;
    });
    on(connectAsyncEnd, () => {
      if (connecting > 0) connecting--;
    });
  }
}
