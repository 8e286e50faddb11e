// What one call cost, split by the price that applied. The GenAI conventions count cached input
// inside input and reasoning inside output
// (https://opentelemetry.io/docs/specs/semconv/gen-ai/gen-ai-metrics/#metric-gen_aiclienttokenusage),
// and providers bill those parts at rates of their own: a cache read at a tenth of the input price,
// an Anthropic cache write at 1.25× (5-minute TTL) or 2× (1-hour TTL). Each part is priced at its
// own entry of the price table, falling back to the base price where the table has none; the part
// is then recorded under the entry that actually priced it, so the series says where the money
// figure came from.
import type { Price } from './prices.js';

/** The price-table entries, in the order of a Costs array. */
export const PRICE_FIELDS = [
  'input',
  'cached_input',
  'cache_write',
  'cache_write_1h',
  'output',
  'reasoning',
] as const;
export type PriceField = (typeof PRICE_FIELDS)[number];

const INPUT = 0;
const CACHED_INPUT = 1;
const CACHE_WRITE = 2;
const CACHE_WRITE_1H = 3;
const OUTPUT = 4;
const REASONING = 5;

/** gen_ai.token.type of each entry: what the conventions count the tokens as. */
export const TOKEN_TYPE_OF: readonly ('input' | 'output')[] = [
  'input',
  'input',
  'input',
  'input',
  'output',
  'output',
];

/** The counts of one call, as ./usage.ts read them (subsets inside input and output). */
export interface TokenCounts {
  input: number | undefined;
  output: number | undefined;
  /** Cache reads, inside input. */
  cached: number | undefined;
  /** Cache writes (every TTL), inside input. */
  cacheWrite: number | undefined;
  /** The part of cacheWrite written with a 1-hour TTL. */
  cacheWrite1h: number | undefined;
  /** Reasoning tokens, inside output. */
  reasoning: number | undefined;
}

/** USD per entry (index as PRICE_FIELDS), NaN where nothing was priced at that entry. */
export type Costs = Float64Array;

export function newCosts(): Costs {
  return new Float64Array(PRICE_FIELDS.length);
}

/** A part of `whole`, as reported: never below 0, never above what is left of the whole. */
function part(v: number | undefined, left: number): number {
  if (v === undefined || !(v > 0)) return 0;
  return v < left ? v : left;
}

function add(out: Costs, field: number, tokens: number, usdPerMillion: number): void {
  const usd = (tokens * usdPerMillion) / 1_000_000;
  out[field] = Number.isNaN(out[field]!) ? usd : out[field]! + usd;
}

/**
 * Fills `out` with the cost of `c` at `p`. The base entries (`input`, `output`) are priced
 * whenever their count and price are known, even at 0 tokens, so their series exist from the
 * first call; the others only when they hold tokens. Counts that contradict each other (more
 * cached tokens than input) are clamped to the whole, never priced twice.
 */
export function priceCall(c: TokenCounts, p: Price, out: Costs): void {
  out.fill(Number.NaN);
  if (c.input !== undefined && p.input !== undefined) {
    let left = c.input;
    const cached = part(c.cached, left);
    left -= cached;
    const write = part(c.cacheWrite, left);
    left -= write;
    const write1h = part(c.cacheWrite1h, write);
    add(out, INPUT, left, p.input);
    if (cached > 0) {
      if (p.cachedInput !== undefined) add(out, CACHED_INPUT, cached, p.cachedInput);
      else add(out, INPUT, cached, p.input);
    }
    const write5m = write - write1h;
    if (write5m > 0) {
      if (p.cacheWrite !== undefined) add(out, CACHE_WRITE, write5m, p.cacheWrite);
      else add(out, INPUT, write5m, p.input);
    }
    if (write1h > 0) {
      if (p.cacheWrite1h !== undefined) add(out, CACHE_WRITE_1H, write1h, p.cacheWrite1h);
      else if (p.cacheWrite !== undefined) add(out, CACHE_WRITE, write1h, p.cacheWrite);
      else add(out, INPUT, write1h, p.input);
    }
  }
  if (c.output !== undefined && p.output !== undefined) {
    const reasoning = part(c.reasoning, c.output);
    add(out, OUTPUT, c.output - reasoning, p.output);
    if (reasoning > 0) {
      if (p.reasoning !== undefined) add(out, REASONING, reasoning, p.reasoning);
      else add(out, OUTPUT, reasoning, p.output);
    }
  }
}
