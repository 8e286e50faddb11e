// A local stand-in for AI providers, speaking their real wire formats over node:http: OpenAI
// (chat completions with streaming, include_usage and tool calls; embeddings; the Responses API),
// Anthropic messages (streaming too) and Gemini generateContent / streamGenerateContent (alt=sse).
// It listens on one port per provider name, so TAPWIRE_AI_ENDPOINTS can map each port, and
// remembers the usage it served, so tests compare what /metrics says with what was sent.
//
// Every answer of the openai and anthropic ports carries the provider's rate-limit headers, counted
// per API key (limits.ts).
//
// Three users: the tests import it (tests/ai*.test.ts, tests/rules-e2e.test.ts), `tapwire demo`
// runs it in the CLI process, and bench/ai.mjs runs it as a process of its own (main.ts, built
// to dist/cli/standin.js), so its CPU cost never lands in the measured app. Path prefixes that
// choose a behaviour (/e429, /cut, /nN, …) are listed in route.ts.
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { limitHeaders, type RateLimits } from './limits.js';
import type { Reply, Served } from './reply.js';
import { type ModelUsage, replyTo } from './route.js';

export type { ModelUsage, Served };

export const PROVIDERS = ['openai', 'anthropic', 'gcp.gemini'] as const;
export type Provider = (typeof PROVIDERS)[number];

/**
 * How a stream is paced: after events `first`, `first + every`, … the server waits `ms`
 * milliseconds (0: one turn of the event loop), so the stream arrives in pieces as a real one does.
 */
export interface Pace {
  every: number;
  first: number;
  ms: number;
}

export interface StandinOptions {
  /** Ports to listen on; a provider not named gets a free port. */
  ports?: Partial<Record<Provider, number>>;
  /** Fixed usage per request model; any other model is answered 404. Default: usage from the request. */
  models?: readonly ModelUsage[];
  /** Default: a few events split across writes (and TCP packets) on purpose. */
  pace?: Pace;
  /**
   * Node answers `Keep-Alive: timeout=<this in s>`; undici (fetch) keeps a socket only while that is
   * more than its 2 s keepAliveTimeoutThreshold, so the default 1 s gives every call a connection of
   * its own, and a longer one lets a client reuse its connection.
   */
  keepAliveMs?: number;
}

export interface Standin {
  ports: Record<Provider, number>;
  served: Served[];
  /** TAPWIRE_AI_ENDPOINTS value mapping the ports. */
  endpoints: string;
  close(): Promise<void>;
}

const DEFAULT_PACE: Pace = { every: 3, first: 1, ms: 0 };

export async function startStandin(options: StandinOptions = {}): Promise<Standin> {
  const served: Served[] = [];
  const servers: Server[] = [];
  const ports = {} as Standin['ports'];
  // A reply depends on the request alone, so each distinct request is answered from one build:
  // bench/ai.mjs asks for the same 3000-chunk stream hundreds of times, and building it (3000
  // JSON.stringify calls) would add milliseconds to every time to first chunk it measures.
  const replies = new Map<string, Reply>();
  const pace = options.pace ?? DEFAULT_PACE;
  const limits: RateLimits = { used: new Map() };
  for (const provider of PROVIDERS) {
    const server = createServer((req, res) => {
      handle(provider, req, res).catch(() => res.destroy());
    });
    server.keepAliveTimeout = options.keepAliveMs ?? 1000;
    server.listen(options.ports?.[provider] ?? 0, '127.0.0.1');
    await once(server, 'listening');
    const a = server.address();
    ports[provider] = typeof a === 'object' && a ? a.port : 0;
    servers.push(server);
  }

  async function handle(provider: Provider, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    const key = `${provider} ${req.url}\n${raw}`;
    let reply = replies.get(key);
    if (reply === undefined) {
      reply = replyTo(provider, req.url ?? '/', raw, options.models);
      replies.set(key, reply);
    }
    if (!('events' in reply)) {
      if (reply.served) served.push({ ...reply.served });
      const rate = reply.served ? limitHeaders(limits, provider, req, reply.served, reply.status) : {};
      res.writeHead(reply.status, { ...reply.headers, ...rate });
      res.end(reply.body);
      return;
    }
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      ...limitHeaders(limits, provider, req, reply.served, 200),
    });
    const complete = await sendEvents(res, reply.events, reply.cut, pace);
    served.push({ ...(complete ? reply.served : reply.servedIfCut) });
  }

  return {
    ports,
    served,
    endpoints: Object.entries(ports)
      .map(([name, port]) => `127.0.0.1:${port}=${name}`)
      .join(','),
    async close() {
      await Promise.all(
        servers.map((s) => {
          // Keep-alive connections (of a stopped app, say) must not hold the close open.
          (s as { closeAllConnections?: () => void }).closeAllConnections?.();
          return new Promise((resolve) => s.close(resolve));
        }),
      );
    },
  };
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Writes the events, one write each; with `cut`, destroys the socket after half of them. */
async function sendEvents(res: ServerResponse, events: Buffer[], cut: boolean, pace: Pace): Promise<boolean> {
  const stop = cut ? Math.floor(events.length / 2) : events.length;
  for (let i = 0; i < stop; i++) {
    if (res.destroyed) return false;
    if (!res.write(events[i]!)) {
      await Promise.race([once(res, 'drain'), once(res, 'close')]);
    }
    if (i >= pace.first && (i - pace.first) % pace.every === 0) {
      await new Promise((r) => (pace.ms === 0 ? setImmediate(r) : setTimeout(r, pace.ms)));
    }
  }
  if (cut) {
    // Time for the client to read what was sent before the socket goes: 20 ms was not always enough
    // on a loaded 2-core machine (the client read nothing before the reset, with or without tapwire).
    await new Promise((r) => setTimeout(r, 200));
    res.socket?.destroy();
    return false;
  }
  res.end();
  return true;
}
