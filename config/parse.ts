// The parsers of environment values, one per kind of value the variable table accepts. Each
// returns `{ ok: false }` instead of throwing, so a bad value becomes a reported problem and the
// setting keeps its default (load.ts).

export type Parsed<T> = { ok: true; value: T } | { ok: false };

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const bad: Parsed<never> = { ok: false };

export function oneOf<const T extends readonly string[]>(values: T) {
  return (raw: string): Parsed<T[number]> => {
    const v = raw.trim().toLowerCase();
    return (values as readonly string[]).includes(v) ? ok(v as T[number]) : bad;
  };
}

export function boolean(raw: string): Parsed<boolean> {
  const v = raw.trim().toLowerCase();
  if (v === 'true' || v === '1') return ok(true);
  if (v === 'false' || v === '0') return ok(false);
  return bad;
}

export function integer(min: number, max: number) {
  return (raw: string): Parsed<number> => {
    const v = raw.trim();
    if (!/^\d+$/.test(v)) return bad;
    const n = Number(v);
    return n >= min && n <= max ? ok(n) : bad;
  };
}

export function number(min: number, max: number) {
  return (raw: string): Parsed<number> => {
    const v = raw.trim();
    if (v === '' || !/^[0-9.eE+-]+$/.test(v)) return bad;
    const n = Number(v);
    return Number.isFinite(n) && n >= min && n <= max ? ok(n) : bad;
  };
}

/** A comma-separated subset of `values`; `none` alone means empty. */
export function list<const T extends readonly string[]>(values: T) {
  return (raw: string): Parsed<T[number][]> => {
    const parts = raw
      .split(',')
      .map((p) => p.trim().toLowerCase())
      .filter((p) => p !== '');
    if (parts.length === 0) return bad;
    if (parts.includes('none')) return parts.length === 1 ? ok([]) : bad;
    for (const p of parts) if (!(values as readonly string[]).includes(p)) return bad;
    return ok([...new Set(parts)] as T[number][]);
  };
}

export function url(raw: string): Parsed<string> {
  try {
    const u = new URL(raw.trim());
    return u.protocol === 'http:' || u.protocol === 'https:' ? ok(u.href) : bad;
  } catch {
    return bad;
  }
}

export function text(raw: string): Parsed<string> {
  const v = raw.trim();
  return v === '' ? bad : ok(v);
}

export function host(raw: string): Parsed<string> {
  const v = raw.trim();
  return /^[A-Za-z0-9.:[\]_-]+$/.test(v) ? ok(v) : bad;
}

/** `key=value,key2=value2` (W3C baggage-like, values percent-decoded), as OTEL_RESOURCE_ATTRIBUTES. */
export function keyValues(raw: string): Parsed<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const part of raw.split(',')) {
    if (part.trim() === '') continue;
    const eq = part.indexOf('=');
    if (eq <= 0) return bad;
    const key = part.slice(0, eq).trim();
    let value = part.slice(eq + 1).trim();
    try {
      value = decodeURIComponent(value);
    } catch {
      return bad;
    }
    if (key === '') return bad;
    out[key] = value;
  }
  return ok(out);
}

/**
 * A non-empty comma-separated list read entry by entry; one entry `entry` rejects (undefined)
 * makes the whole value bad. Empty entries are skipped, so a trailing comma is harmless.
 */
function entries<T>(entry: (p: string) => T | undefined) {
  return (raw: string): Parsed<T[]> => {
    const out: T[] = [];
    for (const part of raw.split(',')) {
      const p = part.trim();
      if (p === '') continue;
      const value = entry(p);
      if (value === undefined) return bad;
      out.push(value);
    }
    return out.length ? ok(out) : bad;
  };
}

export interface AiEndpoint {
  host: string;
  port: number | undefined;
  provider: string;
}

/**
 * `HOST[:PORT]=PROVIDER,...`, e.g. `127.0.0.1:8080=openai,llm.internal=anthropic`: hosts that are
 * AI providers besides the public ones (gateways, self-hosted models). An IPv6 host is written in
 * brackets; without a port every port of the host matches. PROVIDER is the `gen_ai.provider.name`
 * the calls are recorded under and picks the API shape their bodies are read with (`shapeOf` in
 * core/ai/providers.ts).
 */
export const aiEndpoints = entries((p): AiEndpoint | undefined => {
  const m = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9._-]+)(?::(\d{1,5}))?=([a-z0-9._-]+)$/.exec(p);
  if (!m) return undefined;
  const port = m[2] === undefined ? undefined : Number(m[2]);
  if (port !== undefined && (port < 1 || port > 65535)) return undefined;
  return { host: m[1]!.toLowerCase(), port, provider: m[3]! };
});

/** `/users/:id,/orders/:id/items/*` — route templates the sidecar matches request paths against. */
export const routePatterns = entries((p): string | undefined => {
  // Segments are literals, `:name` parameters, or a final `*`; no regex syntax, so a pattern can
  // never be expensive to match or produce an unbounded label.
  if (!/^(\/(:[A-Za-z_][A-Za-z0-9_]*|[A-Za-z0-9._~!$&'()+;=@-]+))*(\/\*?)?$/.test(p)) return undefined;
  if (p.indexOf('*') !== -1 && !p.endsWith('/*')) return undefined;
  if (!p.startsWith('/')) return undefined;
  return p;
});

export interface GatewayProvider {
  /** The path prefix (`/openai/...`). */
  prefix: string;
  /** The API shape: which provider's request and response format. */
  shape: string;
  /** Origin plus optional base path the rest of the request path is appended to. */
  url: string;
}

export const GATEWAY_SHAPES = ['openai', 'anthropic', 'gemini'] as const;

/** `PREFIX=[SHAPE@]URL,...`; SHAPE defaults to PREFIX. */
export const gatewayProviders = entries((p): GatewayProvider | undefined => {
  const m = /^([a-z0-9][a-z0-9_-]*)=(?:([a-z]+)@)?(\S+)$/.exec(p);
  if (!m) return undefined;
  const shape = m[2] ?? m[1]!;
  if (!(GATEWAY_SHAPES as readonly string[]).includes(shape)) return undefined;
  const u = url(m[3]!);
  if (!u.ok) return undefined;
  return { prefix: m[1]!, shape, url: u.value.replace(/\/+$/, '') };
});

export interface AiAttribute {
  /** The label name on the AI token and cost series. */
  name: string;
  /** The inbound request header it is read from (lowercase); undefined: set through the API only. */
  header: string | undefined;
}

/** At most this many attribution labels: each multiplies the AI series by its values. */
export const MAX_AI_ATTRIBUTES = 2;

/**
 * Label names an attribution may not take: the labels the AI series already carry, Prometheus'
 * own (`le`, the target labels `job` and `instance`), and tapwire's and OpenTelemetry's prefixes.
 */
function reservedName(name: string): boolean {
  return (
    /^(gen_ai_|server_|error_|tapwire_|otel_|service_|telemetry_|__)/.test(name) ||
    ['job', 'instance', 'le', 'quantile'].includes(name)
  );
}

/** `NAME[:HEADER],...`, e.g. `tenant:x-tenant-id,feature:x-feature`; at most two, names distinct. */
export function aiAttributes(raw: string): Parsed<AiAttribute[]> {
  const parsed = entries((p): AiAttribute | undefined => {
    const m = /^([a-z][a-z0-9_]{0,31})(?::([A-Za-z0-9!#$%&'*+.^_`|~-]+))?$/.exec(p);
    if (!m || reservedName(m[1]!)) return undefined;
    return { name: m[1]!, header: m[2]?.toLowerCase() };
  })(raw);
  if (!parsed.ok) return parsed;
  const names = new Set(parsed.value.map((a) => a.name));
  return parsed.value.length <= MAX_AI_ATTRIBUTES && names.size === parsed.value.length ? parsed : bad;
}

/** A comma-separated list of lowercase tokens (`gen_ai_latest_experimental,http/dup`), kept as given. */
export const optIns = entries((p): string | undefined => (/^[a-z0-9_/.-]+$/.test(p) ? p : undefined));
