// Rate-limit headroom, read from the headers providers send with every answer (429s included):
// how many requests and tokens are left in the current window, of how many, and when the window
// resets. OpenAI and the APIs shaped like it (Azure OpenAI, Groq, and others) send
// `x-ratelimit-{limit,remaining,reset}-{requests,tokens}`, the reset as a duration (`6m0s`, `20ms`);
// Anthropic sends `anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-{limit,remaining,reset}`,
// the reset as an RFC 3339 time.
// https://platform.openai.com/docs/guides/rate-limits#rate-limits-in-headers
// https://docs.anthropic.com/en/api/rate-limits#response-headers
//
// The limits belong to an API key (an organisation's or project's) and a model: the series carry
// the provider, the model family and a fingerprint of the key, a short hash that tells keys apart
// and cannot be turned back into the key. The key itself is never kept past the call's start.
import { createHash } from 'node:crypto';
import type { Shape } from './providers.js';

/** What a limit counts: `tapwire.rate_limit.type`. */
export const LIMIT_TYPES = ['requests', 'tokens', 'input_tokens', 'output_tokens'] as const;
export type LimitType = (typeof LIMIT_TYPES)[number];

/** Anything a header can be looked up in: Fetch Headers, or the readers below. */
export interface HeaderLookup {
  get(name: string): string | null | undefined;
}

interface HeaderSet {
  type: number;
  limit: string;
  remaining: string;
  reset: string;
  /** How the reset reads: a duration from now, or a point in time. */
  resetIs: 'duration' | 'time';
}

const openai = (type: number, what: string): HeaderSet => ({
  type,
  limit: `x-ratelimit-limit-${what}`,
  remaining: `x-ratelimit-remaining-${what}`,
  reset: `x-ratelimit-reset-${what}`,
  resetIs: 'duration',
});
const anthropic = (type: number, what: string): HeaderSet => ({
  type,
  limit: `anthropic-ratelimit-${what}-limit`,
  remaining: `anthropic-ratelimit-${what}-remaining`,
  reset: `anthropic-ratelimit-${what}-reset`,
  resetIs: 'time',
});

const HEADERS: Readonly<Record<Shape, readonly HeaderSet[]>> = {
  openai: [openai(0, 'requests'), openai(1, 'tokens')],
  anthropic: [
    anthropic(0, 'requests'),
    anthropic(1, 'tokens'),
    anthropic(2, 'input-tokens'),
    anthropic(3, 'output-tokens'),
  ],
  gemini: [],
  ollama: [],
};

/** One limit as an answer reported it. */
export interface LimitReading {
  type: LimitType;
  limit: number | undefined;
  remaining: number | undefined;
  /** Unix time in seconds when the window resets, when the answer said. */
  resetAt: number | undefined;
}

/** A count in a header: a non-negative integer that fits a double exactly; anything else is none. */
function count(v: string | null | undefined): number | undefined {
  if (v === null || v === undefined) return undefined;
  const t = v.trim();
  if (!/^\d{1,15}$/.test(t)) return undefined;
  return Number(t);
}

const UNIT_MS: Readonly<Record<string, number>> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 };

/** `1s`, `6m0s`, `1h2m3.5s`, `20ms`, or bare seconds (`0.5`) -> milliseconds; undefined when unreadable. */
export function durationMs(v: string): number | undefined {
  const t = v.trim();
  // Scanned by hand: read on every provider answer, twice; the three regular expressions it took
  // before cost ~3.5 µs each time (Node 24).
  let ms = 0;
  let i = 0;
  while (i < t.length) {
    const start = i;
    while (i < t.length && isDigit(t.charCodeAt(i))) i++;
    if (i === start) return undefined;
    if (t.charCodeAt(i) === 46 /* . */) {
      const frac = ++i;
      while (i < t.length && isDigit(t.charCodeAt(i))) i++;
      if (i === frac) return undefined;
    }
    const n = Number(t.slice(start, i));
    if (i === t.length) return start === 0 ? n * 1000 : undefined; // bare seconds stand alone
    let unit: string;
    if (t.startsWith('ms', i)) unit = 'ms';
    else unit = t[i]!;
    const factor = UNIT_MS[unit];
    if (factor === undefined) return undefined;
    i += unit.length;
    ms += n * factor;
  }
  return t.length === 0 ? undefined : ms;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function resetAt(
  v: string | null | undefined,
  resetIs: 'duration' | 'time',
  nowMs: number,
): number | undefined {
  if (v === null || v === undefined || v.length > 64) return undefined;
  const ms = resetIs === 'duration' ? nowMs + (durationMs(v) ?? Number.NaN) : Date.parse(v);
  return Number.isFinite(ms) ? ms / 1000 : undefined;
}

/** The limits in an answer's headers (none for shapes without rate-limit headers). */
export function readLimits(shape: Shape, headers: HeaderLookup, nowMs: number): LimitReading[] {
  const out: LimitReading[] = [];
  for (const h of HEADERS[shape]) {
    const limit = count(headers.get(h.limit));
    const remaining = count(headers.get(h.remaining));
    if (limit === undefined && remaining === undefined) continue;
    out.push({
      type: LIMIT_TYPES[h.type]!,
      limit,
      remaining,
      resetAt: resetAt(headers.get(h.reset), h.resetIs, nowMs),
    });
  }
  return out;
}

/** The headers an API key travels in, by the APIs that use them. */
const KEY_HEADERS = ['authorization', 'x-api-key', 'api-key', 'x-goog-api-key'] as const;

/** The API key of a request, from its headers (`Bearer ` taken off); undefined when none. */
export function apiKeyOf(headers: HeaderLookup): string | undefined {
  for (const name of KEY_HEADERS) {
    const v = headers.get(name);
    if (typeof v !== 'string' || v === '') continue;
    return name === 'authorization' && /^bearer /i.test(v) ? v.slice(7).trim() : v.trim();
  }
  return undefined;
}

let lastKey: string | undefined;
let lastPrint = '';

/**
 * A short fingerprint of an API key: the first 12 hex digits of its SHA-256 (48 bits: keys of one
 * service never collide, and the key cannot be recovered from it). One entry is remembered, since
 * a service nearly always uses one key.
 */
export function keyFingerprint(key: string): string {
  if (key !== lastKey) {
    lastPrint = createHash('sha256').update(key).digest('hex').slice(0, 12);
    lastKey = key;
  }
  return lastPrint;
}

/** A model family: the model without a release date (`gpt-4o-mini-2024-07-18` -> `gpt-4o-mini`). */
export function modelFamily(model: string): string {
  let m = model.startsWith('models/') ? model.slice(7) : model;
  m = m.replace(/-(\d{4}-\d{2}-\d{2}|\d{8})$/, '');
  return m;
}

/**
 * A node:http or undici header list `[name, value, name, value, ...]` (strings or Buffers). The
 * names are read once, at the first lookup: an answer is asked for six to eight headers, and
 * turning every Buffer name into a string for each of them cost ~15 µs a call (Node 24).
 */
export class HeaderList implements HeaderLookup {
  private index: Map<string, unknown> | undefined;
  constructor(private readonly raw: readonly unknown[]) {}
  get(name: string): string | undefined {
    if (this.index === undefined) {
      const raw = this.raw;
      const index = new Map<string, unknown>();
      for (let i = 0; i + 1 < raw.length; i += 2) {
        const name = raw[i];
        // latin1: header names are ASCII, and decoding them as such is twice as fast as UTF-8.
        const key = (typeof name === 'string' ? name : latin1(name)).toLowerCase();
        if (!index.has(key)) index.set(key, raw[i + 1]); // the first of repeated names, as before
      }
      this.index = index;
    }
    const v = this.index.get(name);
    return v === undefined ? undefined : String(v);
  }
}

function latin1(v: unknown): string {
  return v instanceof Uint8Array
    ? Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('latin1')
    : String(v);
}

/** node:http's lower-case header record (IncomingMessage.headers, ClientRequest.getHeaders()). */
export class HeaderRecord implements HeaderLookup {
  constructor(private readonly record: Readonly<Record<string, unknown>>) {}
  get(name: string): string | undefined {
    const v = this.record[name];
    if (Array.isArray(v)) return v.length > 0 ? String(v[0]) : undefined;
    return v === undefined || v === null ? undefined : String(v);
  }
}
