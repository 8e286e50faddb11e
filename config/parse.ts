// The parsers of environment values, one per kind of value the variable table accepts. Each
// returns `{ ok: false }` instead of throwing, so a bad value becomes a reported problem and the
// setting keeps its default (load.ts). A value that is usable only after a change (cut to a
// length, read in a way the user did not say) is `ok` with `adjusted`: it is reported too, and
// `adjusted` says what tapwire uses.
export type Parsed<T> =
  | {
      ok: true;
      value: T;
      /** What is wrong with the value, when it is used only after a change. */
      why?: string;
      /** What tapwire uses instead of the value as written. */
      adjusted?: string;
    }
  | {
      ok: false;
      /** What is wrong, when more can be said than the variable's `accepted`; never the secret itself. */
      why?: string;
    };

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const bad: Parsed<never> = { ok: false };
const badBecause = (why: string): Parsed<never> => ({ ok: false, why });

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

/** `on` / `off`, and `true` / `false` as the boolean variables take them. */
export function onOff(raw: string): Parsed<boolean> {
  const v = raw.trim().toLowerCase();
  if (v === 'on') return ok(true);
  if (v === 'off') return ok(false);
  return boolean(v);
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

/**
 * The runtime metrics' parts (agent/runtime/): `gc` apart from the rest because on Node it is the
 * one that costs memory under load (docs/instrumentation.md, Runtime).
 */
export const RUNTIME_PARTS = ['eventloop', 'heap', 'gc', 'cpu', 'memory'] as const;
export type RuntimePart = (typeof RUNTIME_PARTS)[number];

/** `on` / `off` (`true` / `false`) for every part or none, else a comma-separated list of parts. */
export function runtimeParts(raw: string): Parsed<RuntimePart[]> {
  const all = onOff(raw);
  if (all.ok) return ok(all.value ? [...RUNTIME_PARTS] : []);
  const parts = list(RUNTIME_PARTS)(raw);
  // In the table's order, whatever the order written.
  return parts.ok ? ok(RUNTIME_PARTS.filter((p) => parts.value.includes(p))) : parts;
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

/** Non-empty text of at most `max` characters (code points); a longer one is cut and reported. */
export function boundedText(max: number) {
  return (raw: string): Parsed<string> => {
    const v = raw.trim();
    if (v === '') return bad;
    if (v.length <= max) return ok(v);
    const chars = Array.from(v);
    if (chars.length <= max) return ok(v);
    return {
      ok: true,
      value: chars.slice(0, max).join(''),
      why: `${chars.length} characters`,
      adjusted: `using its first ${max} characters`,
    };
  };
}

// RFC 1123 host names (labels of letters, digits and hyphens; underscores too, as container
// runtimes name services with them), or IP addresses. All-numeric dotted names are IPv4 or nothing:
// `999.999.999.999` is no host name that resolves, and listening on it fails with a message about
// something else.
const LABEL = /^[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

function isIPv6(v: string): boolean {
  if (!/^[0-9A-Fa-f:.]+$/.test(v)) return false;
  try {
    new URL(`http://[${v}]/`); // the WHATWG URL parser checks IPv6 addresses completely
    return true;
  } catch {
    return false;
  }
}

export function host(raw: string): Parsed<string> {
  let v = raw.trim();
  if (v.startsWith('[') && v.endsWith(']')) v = v.slice(1, -1);
  if (IPV4.test(v) || isIPv6(v)) return ok(v);
  if (/^[0-9.]+$/.test(v)) return badBecause('not an IPv4 address: four numbers from 0 to 255');
  if (v.includes(':')) return badBecause('not an IPv6 address');
  if (v.length > 253 || !v.split('.').every((label) => LABEL.test(label))) return bad;
  return ok(v);
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

// RFC 9110 5.1 field names (tokens) and 5.5 field values, as Node's http module checks them: a
// header it refuses makes every export fail.
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/**
 * `name=value,name2=value2` (values percent-decoded, as the OpenTelemetry specification has
 * OTEL_EXPORTER_OTLP_HEADERS), every name an HTTP header name and every value a non-empty header
 * value. The reasons name entries by position or header name, never by their values (secrets).
 */
export function httpHeaders(raw: string): Parsed<Record<string, string>> {
  const out: Record<string, string> = {};
  let n = 0;
  for (const part of raw.split(',')) {
    if (part.trim() === '') continue;
    n++;
    const eq = part.indexOf('=');
    if (eq === -1) return badBecause(`entry ${n} has no \`=\``);
    const name = part.slice(0, eq).trim();
    if (!TOKEN.test(name)) return badBecause(`entry ${n} does not start with a header name`);
    let value: string;
    try {
      value = decodeURIComponent(part.slice(eq + 1).trim());
    } catch {
      return badBecause(`the value of ${name} has a bad percent-escape`);
    }
    if (value === '') return badBecause(`${name} has an empty value`);
    if (!FIELD_VALUE.test(value))
      return badBecause(`the value of ${name} has a character a header cannot carry`);
    out[name] = value;
  }
  return n === 0 ? bad : ok(out);
}

/** `name=****` per entry: which headers are set shows, their values do not. */
export function maskHeaders(raw: string): string {
  return raw
    .split(',')
    .filter((part) => part.trim() !== '')
    .map((part) => {
      const eq = part.indexOf('=');
      const name = eq === -1 ? '' : part.slice(0, eq).trim();
      return TOKEN.test(name) ? `${name}=****` : '****';
    })
    .join(',');
}

/** Credentials in a URL (`https://user:password@host`) replaced, whether or not the URL parses. */
export function maskUrl(raw: string): string {
  return raw.replace(/^(\s*[A-Za-z][A-Za-z0-9+.-]*:\/\/)[^@/?#]*@/, '$1****@');
}

/**
 * An `http://` or `https://` origin and nothing more: the sidecar forwards each request's own path
 * and query to it, so a path, query or credentials in the value would be dropped.
 */
export function origin(raw: string): Parsed<string> {
  let u: URL;
  try {
    u = new URL(raw.trim());
  } catch {
    return bad;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return bad;
  if (u.username !== '' || u.password !== '') return badBecause('it holds credentials');
  if (u.pathname !== '/') return badBecause(`it has a path (${u.pathname})`);
  if (u.search !== '' || u.hash !== '') return badBecause('it has a query or fragment');
  return ok(u.href);
}

/**
 * A non-empty comma-separated list read entry by entry; one entry `entry` rejects makes the whole
 * value bad. Empty entries are skipped, so a trailing comma is harmless. Adjusted entries are kept
 * and reported (the first one's reason is given).
 */
function entries<T>(entry: (p: string) => Parsed<T> | undefined) {
  return (raw: string): Parsed<T[]> => {
    const out: T[] = [];
    let adjusted: { why?: string; adjusted?: string } | undefined;
    for (const part of raw.split(',')) {
      const p = part.trim();
      if (p === '') continue;
      const parsed = entry(p);
      if (parsed === undefined) return bad;
      if (!parsed.ok) return parsed;
      if (parsed.adjusted !== undefined) adjusted ??= { why: parsed.why, adjusted: parsed.adjusted };
      out.push(parsed.value);
    }
    if (out.length === 0) return bad;
    return adjusted === undefined ? ok(out) : { ok: true, value: out, ...adjusted };
  };
}

/** The wire format a provider speaks, which decides how bodies are read (core/ai/). */
export type AiShape = 'openai' | 'anthropic' | 'gemini' | 'ollama';
export const AI_SHAPES: readonly AiShape[] = ['openai', 'anthropic', 'gemini', 'ollama'];

/**
 * The `gen_ai.provider.name` values tapwire knows and the API each speaks: the semantic
 * conventions' names (https://opentelemetry.io/docs/specs/semconv/registry/attributes/gen-ai/#gen-ai-provider-name)
 * whose API tapwire reads, and the providers' own lowercase names for the rest.
 */
export const AI_PROVIDERS: Readonly<Record<string, AiShape>> = {
  openai: 'openai',
  anthropic: 'anthropic',
  'gcp.gemini': 'gemini',
  'gcp.vertex_ai': 'gemini',
  'azure.ai.openai': 'openai',
  'azure.ai.inference': 'openai',
  mistral_ai: 'openai',
  groq: 'openai',
  deepseek: 'openai',
  x_ai: 'openai',
  perplexity: 'openai',
  openrouter: 'openai',
  together_ai: 'openai',
  fireworks: 'openai',
  ollama: 'ollama',
};

export interface AiEndpoint {
  host: string;
  port: number | undefined;
  provider: string;
  shape: AiShape;
}

/**
 * `HOST[:PORT]=[SHAPE@]PROVIDER,...`, e.g. `127.0.0.1:8080=openai,llm.internal=anthropic,
 * vllm.internal=openai@vllm`: hosts that are AI providers besides the public ones (gateways,
 * self-hosted models). An IPv6 host is written in brackets; without a port every port of the host
 * matches. PROVIDER is the `gen_ai.provider.name` the calls are recorded under; a name tapwire
 * does not know needs SHAPE, the API it speaks. Without one it is read as OpenAI-compatible (what
 * most gateways speak) and reported: a misspelt `anthropc` would otherwise be read wrongly in silence.
 */
export const aiEndpoints = entries((p): Parsed<AiEndpoint> | undefined => {
  const m = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9._-]+)(?::(\d{1,5}))?=(?:([a-z]+)@)?([a-z0-9._-]+)$/.exec(p);
  if (!m) return undefined;
  const port = m[2] === undefined ? undefined : Number(m[2]);
  if (port !== undefined && (port < 1 || port > 65535)) return undefined;
  const host = m[1]!.toLowerCase();
  const provider = m[4]!;
  if (m[3] !== undefined) {
    if (!(AI_SHAPES as readonly string[]).includes(m[3])) {
      return badBecause(`${m[3]} is not an API shape (${AI_SHAPES.join(', ')})`);
    }
    return ok({ host, port, provider, shape: m[3] as AiShape });
  }
  const known = AI_PROVIDERS[provider];
  if (known !== undefined) return ok({ host, port, provider, shape: known });
  return {
    ok: true,
    value: { host, port, provider, shape: 'openai' },
    why: `${provider} is not a provider tapwire knows`,
    adjusted: `calls to ${host} are recorded under ${provider} and read as the OpenAI API (write ${host}=openai@${provider} to say so)`,
  };
});

/** `/users/:id,/orders/:id/items/*` — route templates the sidecar matches request paths against. */
export const routePatterns = entries((p): Parsed<string> | undefined => {
  // Segments are literals, `:name` parameters, or a final `*`; no regex syntax, so a pattern can
  // never be expensive to match or produce an unbounded label.
  if (!/^(\/(:[A-Za-z_][A-Za-z0-9_]*|[A-Za-z0-9._~!$&'()+;=@-]+))*(\/\*?)?$/.test(p)) return undefined;
  if (p.indexOf('*') !== -1 && !p.endsWith('/*')) return undefined;
  if (!p.startsWith('/')) return undefined;
  return ok(p);
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
export const gatewayProviders = entries((p): Parsed<GatewayProvider> | undefined => {
  const m = /^([a-z0-9][a-z0-9_-]*)=(?:([a-z]+)@)?(\S+)$/.exec(p);
  if (!m) return undefined;
  const shape = m[2] ?? m[1]!;
  if (!(GATEWAY_SHAPES as readonly string[]).includes(shape)) return undefined;
  const u = url(m[3]!);
  if (!u.ok) return undefined;
  return ok({ prefix: m[1]!, shape, url: u.value.replace(/\/+$/, '') });
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
  const parsed = entries((p): Parsed<AiAttribute> | undefined => {
    const m = /^([a-z][a-z0-9_]{0,31})(?::([A-Za-z0-9!#$%&'*+.^_`|~-]+))?$/.exec(p);
    if (!m || reservedName(m[1]!)) return undefined;
    return ok({ name: m[1]!, header: m[2]?.toLowerCase() });
  })(raw);
  if (!parsed.ok) return parsed;
  const names = new Set(parsed.value.map((a) => a.name));
  return parsed.value.length <= MAX_AI_ATTRIBUTES && names.size === parsed.value.length ? parsed : bad;
}

/** A comma-separated list of lowercase tokens (`gen_ai_latest_experimental,http/dup`), kept as given. */
export const optIns = entries((p): Parsed<string> | undefined =>
  /^[a-z0-9_/.-]+$/.test(p) ? ok(p) : undefined,
);
