// The diagnostics channels tapwire subscribes to, in one table (docs/channels.md is generated from
// it), and the one way to subscribe: held and undoable.
//
// Subscribing where a runtime or library publishes is how tapwire prefers to hook: nothing is
// patched, ESM and CommonJS apps look the same, and a channel nobody publishes on costs nothing.
// TracingChannels (`dc.tracingChannel('mysql2:query')`) are plain channels named
// `tracing:<name>:<event>`, so they are listed and subscribed the same way.
//
// Bun (1.4.5) lets a channel object that nobody holds be garbage-collected together with its
// subscribers: subscribing by name before the library (or node:http) creates the channel can
// silently lose the subscription. Every channel subscribed here is held until it is unsubscribed;
// on Node holding it changes nothing.
//
// Bun implements node:diagnostics_channel in JavaScript and compiles it in each process that takes
// it: 1.4-3.5 ms, and ~1 MB of RSS, for an app on Bun.serve that never publishes on a channel
// (Bun 1.4.5; its node:http loads it, so an app that takes node:http pays it anyway). On Bun
// everything that publishes on the channels below is reached through node:http, node:https or
// node:diagnostics_channel itself (Bun's node:http client; mysql2, ioredis, node-redis and
// fastify take the module), and the agent sees the first take of each (agent/load.ts
// watchChannelModules). So on Bun the subscriptions wait, unsubscribed, until that first take
// (holdChannels() at the start, openChannels() then), which comes before anything can publish.
import type { Channel } from 'node:diagnostics_channel';

export interface ChannelDef {
  readonly name: string;
  /** Who publishes it, and where (Node, Bun). */
  readonly publisher: string;
  /** What tapwire reads from it. */
  readonly use: string;
}

const IOREDIS = 'ioredis >= 5.10 (Node and Bun)';
const NODE_REDIS = 'node-redis (@redis/client >= 5.10; Node and Bun)';

export const CHANNELS = {
  httpServerRequestStart: {
    name: 'http.server.request.start',
    publisher: 'node:http / node:https servers (Node only; Bun publishes none)',
    use: 'inbound request: method, scheme, trace context; the request ends at the response\u2019s close',
  },
  httpClientRequestCreated: {
    name: 'http.client.request.created',
    publisher: 'node:http clients (Node >= 22.14 / 23.2, Bun)',
    use: 'outbound request before its headers are sent: operation start, traceparent, AI request body',
  },
  httpClientRequestStart: {
    name: 'http.client.request.start',
    publisher: 'node:http clients (Node, Bun)',
    use: 'outbound request start where `created` is not published (older Node)',
  },
  httpClientResponseFinish: {
    name: 'http.client.response.finish',
    publisher: 'node:http clients (Node, Bun)',
    use: 'response headers arrived: status; AI response body observed from here',
  },
  httpClientRequestError: {
    name: 'http.client.request.error',
    publisher: 'node:http clients (Node, Bun)',
    use: 'the request failed: error.type',
  },
  undiciRequestCreate: {
    name: 'undici:request:create',
    publisher: 'undici: Node\u2019s global fetch and the undici package (Node only)',
    use: 'outbound request: operation start, traceparent (addHeader)',
  },
  undiciRequestHeaders: {
    name: 'undici:request:headers',
    publisher: 'undici (Node only)',
    use: 'response headers arrived: status',
  },
  undiciRequestError: {
    name: 'undici:request:error',
    publisher: 'undici (Node only)',
    use: 'the request failed: error.type',
  },
  undiciBodyChunkSent: {
    name: 'undici:request:bodyChunkSent',
    publisher: 'undici (Node only)',
    use: 'AI provider calls only, subscribed while one is in flight: the request body (model, stream)',
  },
  undiciBodyChunkReceived: {
    name: 'undici:request:bodyChunkReceived',
    publisher: 'undici (Node only)',
    use: 'AI provider calls only, subscribed while one is in flight: response chunks (usage, time to first chunk)',
  },
  undiciTrailers: {
    name: 'undici:request:trailers',
    publisher: 'undici (Node only)',
    use: 'AI provider calls only, subscribed while one is in flight: the response body ended',
  },
  netServerListenStart: {
    name: 'tracing:net.server.listen:asyncStart',
    publisher: 'node:net servers, node:http and node:https ones included (Node >= 22.3)',
    use: 'the app is about to listen: its port, so that tapwire yields the metrics port to it',
  },
  fastifyHandlerStart: {
    name: 'tracing:fastify.request.handler:start',
    publisher: 'Fastify 5 (Node and Bun)',
    use: 'http.route: the matched route\u2019s template',
  },
  mysql2QueryStart: {
    name: 'tracing:mysql2:query:start',
    publisher: 'mysql2 >= 3.24 (Node and Bun)',
    use: 'a query starts: statement, database, server',
  },
  mysql2QueryAsyncStart: {
    name: 'tracing:mysql2:query:asyncStart',
    publisher: 'mysql2',
    use: 'the query\u2019s result or error arrived (before the app\u2019s callback)',
  },
  mysql2ExecuteStart: {
    name: 'tracing:mysql2:execute:start',
    publisher: 'mysql2',
    use: 'a prepared statement execution starts',
  },
  mysql2ExecuteAsyncStart: {
    name: 'tracing:mysql2:execute:asyncStart',
    publisher: 'mysql2',
    use: 'the execution\u2019s result or error arrived',
  },
  mysql2ConnectStart: {
    name: 'tracing:mysql2:connect:start',
    publisher: 'mysql2',
    use: 'a handshake starts',
  },
  mysql2ConnectAsyncStart: {
    name: 'tracing:mysql2:connect:asyncStart',
    publisher: 'mysql2',
    use: 'the handshake ended: server version (MySQL or MariaDB), or the connection error',
  },
  ioredisCommandStart: {
    name: 'tracing:ioredis:command:start',
    publisher: IOREDIS,
    use: 'a command starts (not inside a batch, not ioredis\u2019 own handshake)',
  },
  ioredisCommandAsyncEnd: {
    name: 'tracing:ioredis:command:asyncEnd',
    publisher: IOREDIS,
    use: 'the command settled: duration, error.type',
  },
  ioredisBatchStart: {
    name: 'tracing:ioredis:batch:start',
    publisher: IOREDIS,
    use: 'a MULTI or pipeline starts',
  },
  ioredisBatchEnd: {
    name: 'tracing:ioredis:batch:end',
    publisher: IOREDIS,
    use: 'the batch\u2019s synchronous part is over (its commands are published before)',
  },
  ioredisBatchAsyncEnd: {
    name: 'tracing:ioredis:batch:asyncEnd',
    publisher: IOREDIS,
    use: 'the batch settled',
  },
  ioredisConnectStart: {
    name: 'tracing:ioredis:connect:start',
    publisher: IOREDIS,
    use: 'a connection starts: the commands of its handshake are not the app\u2019s',
  },
  ioredisConnectAsyncEnd: {
    name: 'tracing:ioredis:connect:asyncEnd',
    publisher: IOREDIS,
    use: 'the connection is ready',
  },
  nodeRedisCommandStart: {
    name: 'tracing:node-redis:command:start',
    publisher: NODE_REDIS,
    use: 'a command starts (not inside a batch, not ioredis\u2019 own handshake)',
  },
  nodeRedisCommandAsyncEnd: {
    name: 'tracing:node-redis:command:asyncEnd',
    publisher: NODE_REDIS,
    use: 'the command settled: duration, error.type',
  },
  nodeRedisBatchStart: {
    name: 'tracing:node-redis:batch:start',
    publisher: NODE_REDIS,
    use: 'a MULTI or pipeline starts',
  },
  nodeRedisBatchEnd: {
    name: 'tracing:node-redis:batch:end',
    publisher: NODE_REDIS,
    use: 'the batch\u2019s synchronous part is over (its commands are published before)',
  },
  nodeRedisBatchAsyncEnd: {
    name: 'tracing:node-redis:batch:asyncEnd',
    publisher: NODE_REDIS,
    use: 'the batch settled',
  },
} as const satisfies Record<string, ChannelDef>;

export type ChannelKey = keyof typeof CHANNELS;
export const CHANNEL_LIST: readonly ChannelDef[] = Object.values(CHANNELS);

type Listener = (message: unknown, name: string | symbol) => void;
type Dc = typeof import('node:diagnostics_channel');

let dc: Dc | undefined;
/** The Subscriptions whose channels wait for openChannels(), while they wait. */
let waiting: Set<Subscriptions> | undefined;
/** Whether openChannels() has run in this process: later subscriptions never wait. */
let opened = false;

/**
 * Bun: subscriptions made from now on wait for openChannels(), unless it has run in this process
 * already (see the header).
 */
export function holdChannels(): void {
  if (!opened) waiting ??= new Set();
}

/** Subscribes everything that waits, and from now on at once. Idempotent. */
export function openChannels(): void {
  opened = true;
  const now = waiting;
  if (now === undefined) return;
  waiting = undefined;
  for (const s of now) s.open();
}

interface Held {
  readonly name: string;
  readonly listener: Listener;
  /** Unset while the subscription waits (holdChannels()). */
  channel: Channel | undefined;
}

/** The subscriptions of one agent; `unsubscribeAll()` takes every one of them back. */
export class Subscriptions {
  private readonly held: Held[] = [];
  /** Run at open(): set-up that takes node:diagnostics_channel itself (Fastify's hook). */
  private readonly openers: ((channels: Dc) => void)[] = [];

  subscribe(key: ChannelKey, onMessage: Listener): void {
    const entry: Held = { name: CHANNELS[key].name, listener: onMessage, channel: undefined };
    this.held.push(entry);
    if (waiting === undefined) attach(entry);
    else waiting.add(this);
  }

  /** Runs `fn` with node:diagnostics_channel once this object's subscriptions are made (at once when they are not held). */
  whenOpen(fn: (channels: Dc) => void): void {
    if (waiting === undefined) fn(diagnostics());
    else {
      this.openers.push(fn);
      waiting.add(this);
    }
  }

  /** openChannels(): the held subscriptions made, then the set-ups that waited. */
  open(): void {
    for (const entry of this.held) if (entry.channel === undefined) attach(entry);
    for (const fn of this.openers.splice(0)) fn(diagnostics());
  }

  /** Takes back one subscription made with subscribe(). */
  unsubscribe(key: ChannelKey, onMessage: Listener): void {
    const name = CHANNELS[key].name;
    const i = this.held.findIndex((e) => e.name === name && e.listener === onMessage);
    if (i === -1) return;
    const [entry] = this.held.splice(i, 1);
    entry!.channel?.unsubscribe(onMessage);
  }

  /**
   * Hands `message` of the channel named `name` to this object's listeners on it, as a publish
   * would: for a message published before they were subscribed (a deferred start, agent/defer.ts).
   */
  deliver(name: string, message: unknown): void {
    for (const e of this.held) if (e.name === name) e.listener(message, name);
  }

  unsubscribeAll(): void {
    for (const e of this.held.splice(0)) e.channel?.unsubscribe(e.listener);
    this.openers.length = 0;
    waiting?.delete(this);
  }
}

/** node:diagnostics_channel, taken at its first use. */
function diagnostics(): Dc {
  dc ??= process.getBuiltinModule('node:diagnostics_channel');
  return dc;
}

function attach(entry: Held): void {
  const channel = diagnostics().channel(entry.name);
  channel.subscribe(entry.listener);
  entry.channel = channel;
}
