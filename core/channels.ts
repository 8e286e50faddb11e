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
import dc from 'node:diagnostics_channel';

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

/** The subscriptions of one agent; `unsubscribeAll()` takes every one of them back. */
export class Subscriptions {
  private readonly held: [dc.Channel, Listener][] = [];

  subscribe(key: ChannelKey, onMessage: Listener): void {
    const channel = dc.channel(CHANNELS[key].name);
    channel.subscribe(onMessage);
    this.held.push([channel, onMessage]);
  }

  /** Takes back one subscription made with subscribe(). */
  unsubscribe(key: ChannelKey, onMessage: Listener): void {
    const name = CHANNELS[key].name;
    const i = this.held.findIndex(([c, l]) => c.name === name && l === onMessage);
    if (i === -1) return;
    const [channel] = this.held.splice(i, 1)[0]!;
    channel.unsubscribe(onMessage);
  }

  /**
   * Hands `message` of the channel named `name` to this object's listeners on it, as a publish
   * would: for a message published before they were subscribed (a deferred start, agent/defer.ts).
   */
  deliver(name: string, message: unknown): void {
    for (const [channel, onMessage] of this.held) if (channel.name === name) onMessage(message, name);
  }

  unsubscribeAll(): void {
    for (const [channel, onMessage] of this.held.splice(0)) channel.unsubscribe(onMessage);
  }
}
