// Where an outbound request goes, decided once per origin and cached: the client metrics' target
// (scheme, address, port), whether it is tapwire's own traffic (an OTLP receiver: neither measured
// nor traced) and which AI provider answers there. Every client hook (undici, node:http, Bun's
// fetch) asks here, so a request's destination is parsed at most once, and an origin seen before
// costs one Map lookup.
import type { Provider, Providers } from '../ai/providers.js';
import { defaultPort } from './semconv.js';

export interface Origin {
  readonly scheme: 'http' | 'https';
  /** server.address: the host, lower case, IPv6 without brackets. */
  readonly address: string;
  /** server.port: explicit or the scheme's default. */
  readonly port: number;
  /** tapwire's own destination (an OTLP receiver): not the app's traffic. */
  readonly internal: boolean;
  /** The AI provider at this origin (host and port decide; the path decides the operation). */
  readonly provider: Provider | undefined;
}

/** Origins kept per scheme: apps talk to a bounded set; a crawler's are parsed per call instead. */
const MAX_CACHED = 1024;

export class Origins {
  private readonly http = new Map<string, Origin>();
  private readonly https = new Map<string, Origin>();
  private readonly internal = new Set<string>();

  constructor(
    private readonly providers: Providers | undefined,
    /** URLs of tapwire's own destinations (OTLP endpoints in use). */
    internalUrls: readonly string[],
  ) {
    for (const url of internalUrls) {
      const u = URL.parse(url);
      if (u === null || (u.protocol !== 'http:' && u.protocol !== 'https:')) continue;
      const o = this.parse(u.protocol === 'https:', u.host);
      this.internal.add(key(o.scheme, o.address, o.port));
    }
  }

  /** The origin of `scheme://authority` (authority as in a URL: host, host:port, [v6]:port, user@host). */
  of(https: boolean, authority: string): Origin {
    const cache = https ? this.https : this.http;
    let o = cache.get(authority);
    if (o === undefined) {
      o = this.parse(https, authority);
      if (cache.size < MAX_CACHED) cache.set(authority, o);
    }
    return o;
  }

  /** `http://host:port` as undici's request.origin and URL#origin give it (a URL object too). */
  ofOrigin(origin: string | URL): Origin | undefined {
    const s = typeof origin === 'string' ? origin : origin.origin;
    const from = schemeLength(s);
    if (from < 0) return undefined;
    const end = s.charCodeAt(s.length - 1) === 47 /* / */ ? s.length - 1 : s.length;
    return this.of(from === 8, s.slice(from, end));
  }

  /** The origin of a full URL string; undefined for anything but http(s). */
  ofUrl(url: string): Origin | undefined {
    const from = schemeLength(url);
    if (from < 0) return undefined;
    return this.of(from === 8, url.slice(from, authorityEnd(url, from)));
  }

  private parse(https: boolean, authority: string): Origin {
    const scheme = https ? 'https' : 'http';
    const fallback = defaultPort(scheme);
    let a = authority;
    const at = a.lastIndexOf('@');
    if (at !== -1) a = a.slice(at + 1);
    let host: string;
    let portText = '';
    if (a.charCodeAt(0) === 91 /* [ */) {
      const close = a.indexOf(']');
      host = a.slice(1, close === -1 ? a.length : close);
      if (close !== -1 && a.charCodeAt(close + 1) === 58 /* : */) portText = a.slice(close + 2);
    } else {
      const colon = a.lastIndexOf(':');
      host = colon === -1 ? a : a.slice(0, colon);
      if (colon !== -1) portText = a.slice(colon + 1);
    }
    const n = Number(portText);
    const port = portText !== '' && Number.isInteger(n) && n > 0 && n < 65536 ? n : fallback;
    const address = host.toLowerCase();
    const hostKey = address.includes(':') ? `[${address}]` : address;
    return Object.freeze({
      scheme,
      address,
      port,
      internal: this.internal.has(key(scheme, address, port)),
      provider: this.providers?.provider(hostKey, port),
    });
  }
}

function key(scheme: string, address: string, port: number): string {
  return `${scheme}://${address}:${port}`;
}

/** 8 for `https://`, 7 for `http://`, -1 for anything else. */
function schemeLength(url: string): number {
  if (url.startsWith('https://')) return 8;
  if (url.startsWith('http://')) return 7;
  return -1;
}

/** Where the authority of a URL starting at `from` ends: the first `/`, `?` or `#`, or the end. */
function authorityEnd(url: string, from: number): number {
  let end = from;
  while (end < url.length) {
    const c = url.charCodeAt(end);
    if (c === 47 || c === 63 || c === 35) break; // / ? #
    end++;
  }
  return end;
}

/** The path (and query) of a full http(s) URL string: '/' when it has none. */
export function pathOfUrl(url: string): string {
  const from = schemeLength(url);
  if (from < 0) return '/';
  const end = authorityEnd(url, from);
  if (end === url.length) return '/';
  return url.charCodeAt(end) === 47 ? url.slice(end) : `/${url.slice(end)}`;
}
