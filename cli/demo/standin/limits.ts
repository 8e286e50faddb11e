// The rate-limit headers a provider sends with every answer, 429s included, counted per provider
// and API key the way the real ones count: requests and tokens left in the current window.
// OpenAI's shape (x-ratelimit-*, resets as durations) on the openai port, Anthropic's
// (anthropic-ratelimit-*, resets as RFC 3339 times) on the anthropic port; Gemini sends none.
//
// Path prefixes (route.ts lists all of them):
//   /rlN     the key's request limit is N (token limits N × 1000); default 10000 (Anthropic 4000)
//   /resetN  the windows reset N ms after the answer (default: 1 minute for requests, 6 for tokens)
import type { IncomingMessage } from 'node:http';
import type { Served } from './reply.js';

export interface RateLimits {
  /** Requests answered per provider and key so far, and the tokens they reported. */
  used: Map<string, { requests: number; input: number; output: number }>;
}

export const DEFAULT_LIMITS = {
  openai: { requests: 10_000, tokens: 2_000_000 },
  anthropic: { requests: 4000, tokens: 400_000, input: 200_000, output: 80_000 },
} as const;

/** The API key the request sent (Authorization: Bearer, x-api-key), or `none`. */
function keyOf(req: IncomingMessage): string {
  const auth = req.headers.authorization;
  if (typeof auth === 'string' && auth.startsWith('Bearer ')) return auth.slice(7);
  const key = req.headers['x-api-key'];
  return typeof key === 'string' ? key : 'none';
}

function pathFlag(url: string, name: string): number | undefined {
  for (const p of url.split('?', 1)[0]!.split('/')) {
    if (p.startsWith(name) && /^\d+$/.test(p.slice(name.length))) return Number(p.slice(name.length));
  }
  return undefined;
}

/** The headers for this answer; counts the request (and the tokens `served` reports) against its key. */
export function limitHeaders(
  limits: RateLimits,
  provider: string,
  req: IncomingMessage,
  served: Served | undefined,
  status: number,
): Record<string, string> {
  if (provider !== 'openai' && provider !== 'anthropic') return {};
  const id = `${provider} ${keyOf(req)}`;
  const used = limits.used.get(id) ?? { requests: 0, input: 0, output: 0 };
  limits.used.set(id, used);
  used.requests++;
  used.input += served?.input ?? 0;
  used.output += served?.output ?? 0;
  const url = req.url ?? '/';
  const rl = pathFlag(url, 'rl');
  const resetMs = pathFlag(url, 'reset');
  // A 429 says the window has no request left.
  const left = (limit: number, n: number) => String(status === 429 ? 0 : Math.max(0, limit - n));
  if (provider === 'openai') {
    const d = DEFAULT_LIMITS.openai;
    const requests = rl ?? d.requests;
    const tokens = rl === undefined ? d.tokens : rl * 1000;
    return {
      'x-ratelimit-limit-requests': String(requests),
      'x-ratelimit-limit-tokens': String(tokens),
      'x-ratelimit-remaining-requests': left(requests, used.requests),
      'x-ratelimit-remaining-tokens': String(Math.max(0, tokens - used.input)),
      'x-ratelimit-reset-requests': resetMs === undefined ? '1m0s' : `${resetMs}ms`,
      'x-ratelimit-reset-tokens': resetMs === undefined ? '6m0s' : `${resetMs}ms`,
    };
  }
  const d = DEFAULT_LIMITS.anthropic;
  const k = rl === undefined ? 1 : rl / d.requests;
  const at = (ms: number) => new Date(Date.now() + (resetMs ?? ms)).toISOString();
  const h: Record<string, string> = {};
  const set = (what: string, limit: number, remaining: string, resetIn: number) => {
    h[`anthropic-ratelimit-${what}-limit`] = String(limit);
    h[`anthropic-ratelimit-${what}-remaining`] = remaining;
    h[`anthropic-ratelimit-${what}-reset`] = at(resetIn);
  };
  const requests = Math.round(d.requests * k);
  set('requests', requests, left(requests, used.requests), 60_000);
  const tokens = Math.round(d.tokens * k);
  set('tokens', tokens, String(Math.max(0, tokens - used.input - used.output)), 360_000);
  const input = Math.round(d.input * k);
  set('input-tokens', input, String(Math.max(0, input - used.input)), 360_000);
  const output = Math.round(d.output * k);
  set('output-tokens', output, String(Math.max(0, output - used.output)), 360_000);
  return h;
}
