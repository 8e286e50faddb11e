// Prices per provider and model, from the versioned table beside this file (prices.json, USD per
// one million tokens) merged with an optional override file named by TAPWIRE_AI_PRICES (same
// shape; its entries replace the table's per model). Dated model ids (`gpt-4o-mini-2024-07-18`,
// `claude-sonnet-4-5-20250929`) are priced as the longest table entry they start with.
//
// Every price knows where it came from (the built-in table or the override file, and that file's
// version): the cost series carry it, so a dashboard can tell an estimate made from last month's
// table from one made with the team's negotiated prices.
import { readFileSync } from 'node:fs';
import table from './prices.json' with { type: 'json' };

/** The fields of one model's entry, USD per 1M tokens each; all optional. */
export interface RawPrice {
  input?: number;
  cached_input?: number;
  cache_write?: number;
  cache_write_1h?: number;
  output?: number;
  reasoning?: number;
}

/** Where a price came from: `builtin` (core/ai/prices.json) or `override` (TAPWIRE_AI_PRICES), and that table's version. */
export interface PriceOrigin {
  readonly source: 'builtin' | 'override';
  readonly version: string;
}

export interface Price {
  /** USD per 1M input tokens (not read from or written to a cache). */
  input: number | undefined;
  /** USD per 1M input tokens read from the prompt cache (else `input`). */
  cachedInput: number | undefined;
  /** USD per 1M input tokens written to the prompt cache, 5-minute TTL (else `input`). */
  cacheWrite: number | undefined;
  /** USD per 1M input tokens written to the prompt cache with a 1-hour TTL (else `cacheWrite`). */
  cacheWrite1h: number | undefined;
  /** USD per 1M output tokens. */
  output: number | undefined;
  /** USD per 1M reasoning output tokens (else `output`). */
  reasoning: number | undefined;
  origin: PriceOrigin;
}

export interface PriceFile {
  version?: string;
  date?: string;
  providers: Record<string, Record<string, RawPrice>>;
}

export const PRICES_VERSION: string = table.version;
export const PRICES_DATE: string = table.date;

const NONE = null;

function price(raw: RawPrice, origin: PriceOrigin): Price {
  const n = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : undefined);
  return {
    input: n(raw.input),
    cachedInput: n(raw.cached_input),
    cacheWrite: n(raw.cache_write),
    cacheWrite1h: n(raw.cache_write_1h),
    output: n(raw.output),
    reasoning: n(raw.reasoning),
    origin,
  };
}

export class Prices {
  private readonly byProvider = new Map<string, Map<string, Price>>();
  /** Resolved lookups (exact or prefix), including misses, capped. */
  private readonly resolved = new Map<string, Map<string, Price | null>>();
  private resolvedCount = 0;
  /** The override file's version when there is one, else the table's. */
  readonly version: string;

  constructor(overrides?: PriceFile) {
    this.load(table as PriceFile, Object.freeze({ source: 'builtin', version: PRICES_VERSION }));
    // An override file without a version is still told apart from the table by its source.
    const version = typeof overrides?.version === 'string' ? overrides.version : 'unversioned';
    if (overrides !== undefined) this.load(overrides, Object.freeze({ source: 'override', version }));
    this.version = overrides === undefined ? PRICES_VERSION : version;
  }

  private load(file: PriceFile, origin: PriceOrigin): void {
    for (const [provider, models] of Object.entries(file.providers ?? {})) {
      let m = this.byProvider.get(provider);
      if (m === undefined) {
        m = new Map();
        this.byProvider.set(provider, m);
      }
      for (const [model, raw] of Object.entries(models ?? {})) {
        m.set(model.toLowerCase(), price(raw ?? {}, origin));
      }
    }
  }

  /** The price of `model` at `provider`, or undefined when the table does not know it. */
  lookup(provider: string, model: string): Price | undefined {
    let cache = this.resolved.get(provider);
    if (cache === undefined) {
      cache = new Map();
      this.resolved.set(provider, cache);
    }
    const hit = cache.get(model);
    if (hit !== undefined) return hit ?? undefined;
    const found = this.find(provider, model);
    if (this.resolvedCount < 10_000) {
      cache.set(model, found ?? NONE);
      this.resolvedCount++;
    }
    return found;
  }

  private find(provider: string, model: string): Price | undefined {
    const models = this.byProvider.get(provider);
    if (models === undefined) return undefined;
    let id = model.toLowerCase();
    if (id.startsWith('models/')) id = id.slice(7);
    const exact = models.get(id);
    if (exact !== undefined) return exact;
    let best: string | undefined;
    for (const key of models.keys()) {
      if (id.startsWith(key) && id.charCodeAt(key.length) === 45 /* - */) {
        if (best === undefined || key.length > best.length) best = key;
      }
    }
    return best === undefined ? undefined : models.get(best);
  }
}

/** Reads the TAPWIRE_AI_PRICES file; throws with the reason when it is not a usable price table. */
export function readPriceFile(path: string): PriceFile {
  const parsed = JSON.parse(readFileSync(path, 'utf8')) as unknown;
  const providers = (parsed as { providers?: unknown } | null)?.providers;
  if (typeof providers !== 'object' || providers === null) {
    throw new Error('expected {"providers": {"<provider>": {"<model>": {"input": …, "output": …}}}}');
  }
  return parsed as PriceFile;
}
