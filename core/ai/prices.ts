// Prices per provider and model, from the versioned table beside this file (prices.json, USD per
// one million tokens) merged with an optional override file named by TAPWIRE_AI_PRICES (same
// shape; its entries replace the table's per model). Dated model ids (`gpt-4o-mini-2024-07-18`,
// `claude-sonnet-4-5-20250929`) are priced as the longest table entry they start with.
import { readFileSync } from 'node:fs';
import { AI_PRICE_MAX } from '../../config/index.js';
import table from './prices.json' with { type: 'json' };

export interface Price {
  /** USD per 1M input tokens. */
  input: number | undefined;
  /** USD per 1M cached input tokens (else `input`). */
  cachedInput: number | undefined;
  /** USD per 1M output tokens. */
  output: number | undefined;
}

export interface PriceFile {
  version?: string;
  providers: Record<string, Record<string, { input?: number; cached_input?: number; output?: number }>>;
}

export const PRICES_VERSION: string = table.version;

const NONE = null;

function price(raw: { input?: number; cached_input?: number; output?: number }): Price {
  const n = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : undefined);
  return { input: n(raw.input), cachedInput: n(raw.cached_input), output: n(raw.output) };
}

export class Prices {
  private readonly byProvider = new Map<string, Map<string, Price>>();
  /** Resolved lookups (exact or prefix), including misses, capped. */
  private readonly resolved = new Map<string, Map<string, Price | null>>();
  private resolvedCount = 0;
  readonly version: string;

  constructor(overrides?: PriceFile) {
    this.load(table as PriceFile);
    if (overrides !== undefined) this.load(overrides);
    this.version = overrides?.version ?? PRICES_VERSION;
  }

  private load(file: PriceFile): void {
    for (const [provider, models] of Object.entries(file.providers ?? {})) {
      let m = this.byProvider.get(provider);
      if (m === undefined) {
        m = new Map();
        this.byProvider.set(provider, m);
      }
      for (const [model, raw] of Object.entries(models ?? {})) m.set(model.toLowerCase(), price(raw));
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

const PRICE_KEYS = ['input', 'cached_input', 'output'];

/**
 * Reads the TAPWIRE_AI_PRICES file; throws with the reason when it is not a usable price table.
 * One bad price makes the whole file unusable: a negative or string price would make that
 * model's cost vanish and an absurd one would overflow the cost counter to +Inf for the life of
 * the process, and a file half applied is harder to reason about than one refused.
 */
export function readPriceFile(path: string): PriceFile {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new Error(
      (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message,
    );
  }
  const providers = (parsed as { providers?: unknown } | null)?.providers;
  if (!isObject(providers)) {
    throw new Error('expected {"providers": {"<provider>": {"<model>": {"input": …, "output": …}}}}');
  }
  const issues: string[] = [];
  for (const [provider, models] of Object.entries(providers)) {
    const at = `providers[${JSON.stringify(provider)}]`;
    if (!isObject(models)) {
      issues.push(`${at} is not an object of models`);
      continue;
    }
    for (const [model, entry] of Object.entries(models)) {
      const m = `${at}[${JSON.stringify(model)}]`;
      if (!isObject(entry)) {
        issues.push(`${m} is not an object of prices`);
        continue;
      }
      for (const [key, price] of Object.entries(entry)) {
        if (!PRICE_KEYS.includes(key)) issues.push(`${m} has ${JSON.stringify(key)}, not a price name`);
        else if (typeof price !== 'number' || !(price >= 0 && price <= AI_PRICE_MAX)) {
          issues.push(`${m}.${key} is ${typeof price === 'number' ? price : JSON.stringify(price)}`);
        }
      }
    }
  }
  if (issues.length > 0) {
    const more = issues.length > 3 ? ` and ${issues.length - 3} more` : '';
    throw new Error(`${issues.slice(0, 3).join(', ')}${more}`);
  }
  return parsed as PriceFile;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
