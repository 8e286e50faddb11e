// The one place AI provider calls become OpenTelemetry recordings: operation duration, token
// usage (input and output as separate series), time to first chunk (streams only) and estimated
// cost. Attribute objects come from capped caches (../series.ts); every value passed in is
// low-cardinality: provider and operation come from fixed tables, models are provider model ids
// (a bounded set per account; the caches cap them anyway), error.type is a status code or an
// error class — never a prompt, a completion or a message.
import type { Attributes, Counter, Histogram, Meter, ObservableResult, Span } from '@opentelemetry/api';
import { METRICS, type MetricDef } from '../../exporters/catalogue.js';
import { prometheusName } from '../../exporters/prometheus/naming.js';
import { fail, guard } from '../guard.js';
import type { FastHistogram } from '../histogram.js';
import { agentLog } from '../log.js';
import { labelValue, SeriesCache } from '../series.js';
import type { GenAiUsageCounters } from '../telemetry.js';
import type { AttributionSet } from './attribution.js';
import { AiCall, type AiOutcome } from './call.js';
import { type Costs, newCosts, PRICE_FIELDS, type PriceField, priceCall, TOKEN_TYPE_OF } from './cost.js';
import type { PriceOrigin, Prices } from './prices.js';
import { operationOf, type Provider } from './providers.js';
import { type HeaderLookup, keyFingerprint, type LimitType, modelFamily, readLimits } from './ratelimit.js';

export interface AiInstruments {
  /** Keeps exemplars (FastHistogram.recordSpan). */
  duration: FastHistogram;
  tokens: Histogram;
  timeToFirstChunk: Histogram;
  timePerOutputChunk: FastHistogram;
  outputSpeed: Histogram;
  cost: Counter;
  unparsedStreams: Counter;
  usageDropped: Counter;
  /** The newer per-type counters, when opted in (OTEL_SEMCONV_STABILITY_OPT_IN). */
  usage?: GenAiUsageCounters | undefined;
}

type Builder = (
  operation: string,
  provider: string,
  requestModel: string | undefined,
  responseModel: string | undefined,
  address: string,
  errorType: string | undefined,
  attrs: AttributionSet | undefined,
) => Attributes;

const build: Builder = (operation, provider, requestModel, responseModel, address, errorType) => {
  const a: Attributes = { 'gen_ai.operation.name': operation, 'gen_ai.provider.name': provider };
  if (requestModel !== undefined) a['gen_ai.request.model'] = requestModel;
  if (responseModel !== undefined) a['gen_ai.response.model'] = responseModel;
  a['server.address'] = address;
  if (errorType !== undefined) a['error.type'] = errorType;
  return a;
};

/**
 * One builder per token type, so the token type needs no eighth cache level. Token series carry
 * the attribution (the seventh key); duration and time-to-first-chunk series do not.
 */
function withTokenType(tokenType: 'input' | 'output'): Builder {
  return (o, p, rq, rs, ad, e, at) => {
    const a = build(o, p, rq, rs, ad, e, undefined);
    a['gen_ai.token.type'] = tokenType;
    if (at !== undefined) Object.assign(a, at);
    return a;
  };
}
const buildInput = withTokenType('input');
const buildOutput = withTokenType('output');

function buildCost(
  provider: string,
  model: string,
  field: number,
  origin: PriceOrigin,
  attrs: AttributionSet | undefined,
): Attributes {
  const a: Attributes = {
    'gen_ai.provider.name': provider,
    'gen_ai.request.model': model,
    'gen_ai.token.type': TOKEN_TYPE_OF[field]!,
    // Where the amount came from: the table entry that priced these tokens, and which table.
    'tapwire.price': PRICE_FIELDS[field] as PriceField,
    'tapwire.price.source': origin.source,
    'tapwire.price.version': origin.version,
  };
  if (attrs !== undefined) Object.assign(a, attrs);
  return a;
}

function buildLimit(
  provider: string,
  family: string | undefined,
  fingerprint: string | undefined,
  type: LimitType,
): Attributes {
  const a: Attributes = { 'gen_ai.provider.name': provider };
  if (family !== undefined) a['tapwire.gen_ai.model_family'] = family;
  if (fingerprint !== undefined) a['tapwire.gen_ai.api_key.fingerprint'] = fingerprint;
  a['tapwire.gen_ai.rate_limit.type'] = type;
  return a;
}

/** The last report of one limit (one provider, model family, key and type). */
interface LimitState {
  limit: number | undefined;
  remaining: number | undefined;
  /** Unix seconds; undefined when the provider did not say. */
  resetAt: number | undefined;
}

/** The usage counters' label set: their own attributes (modality, port; no error.type) and the attribution. */
function buildUsage(
  operation: string,
  provider: string,
  requestModel: string | undefined,
  responseModel: string | undefined,
  address: string,
  port: number,
  attrs: AttributionSet | undefined,
): Attributes {
  const a: Attributes = {
    'gen_ai.operation.name': operation,
    'gen_ai.provider.name': provider,
    // Providers report totals, not parts per modality (text, image, audio): the conventions'
    // value for a count whose modality is not known.
    'gen_ai.token.modality': 'unknown',
  };
  if (requestModel !== undefined) a['gen_ai.request.model'] = requestModel;
  if (responseModel !== undefined) a['gen_ai.response.model'] = responseModel;
  a['server.address'] = address;
  a['server.port'] = port;
  if (attrs !== undefined) Object.assign(a, attrs);
  return a;
}

function buildProvider(provider: string): Attributes {
  return { 'gen_ai.provider.name': provider };
}

function seriesOf(def: MetricDef, limit: number): SeriesCache {
  return new SeriesCache(prometheusName(def.name, def.unit, def.kind), limit);
}

/** Unknown models are named in the log once each (up to this many). */
const UNKNOWN_LOG_LIMIT = 100;

export class AiRecorder {
  private readonly callSeries: SeriesCache;
  private readonly inputSeries: SeriesCache;
  private readonly outputSeries: SeriesCache;
  private readonly firstChunkSeries: SeriesCache;
  private readonly chunkSeries: SeriesCache;
  private readonly speedSeries: SeriesCache;
  private readonly costSeries: SeriesCache;
  private readonly unparsedSeries: SeriesCache;
  private readonly droppedSeries: SeriesCache;
  private readonly limitSeries: SeriesCache;
  private readonly usageSeries: SeriesCache;
  /** Rate-limit headroom as last reported, per label set, read by the gauges at collection. */
  private readonly limitStates = new Map<Attributes, LimitState>();
  private readonly unknown = new Set<string>();
  private readonly guard = guard('ai recorder');
  /** One call's cost per price entry, reused (calls are recorded one at a time). */
  private readonly costs: Costs = newCosts();

  constructor(
    private readonly instruments: AiInstruments,
    private readonly prices: Prices,
    limit: number,
    /** For the rate-limit gauges, observed at collection; absent: headroom is not recorded. */
    meter?: Meter,
  ) {
    this.callSeries = seriesOf(METRICS.genAiDuration, limit);
    // Two caches (one per token type, the seventh label): the metric may hold up to twice the
    // limit's label sets, one input and one output series per call shape.
    this.inputSeries = seriesOf(METRICS.genAiTokens, limit);
    this.outputSeries = seriesOf(METRICS.genAiTokens, limit);
    this.firstChunkSeries = seriesOf(METRICS.genAiTimeToFirstChunk, limit);
    this.chunkSeries = seriesOf(METRICS.genAiTimePerOutputChunk, limit);
    this.speedSeries = seriesOf(METRICS.genAiOutputSpeed, limit);
    this.costSeries = seriesOf(METRICS.genAiCost, limit);
    this.unparsedSeries = seriesOf(METRICS.genAiUnparsedStreams, limit);
    this.droppedSeries = seriesOf(METRICS.genAiUsageDropped, limit);
    this.limitSeries = seriesOf(METRICS.genAiRateLimitRemaining, limit);
    this.usageSeries = seriesOf(METRICS.genAiUsageInput, limit);
    if (meter !== undefined) this.observeLimits(meter);
  }

  private observeLimits(meter: Meter): void {
    const gauge = (def: MetricDef) =>
      meter.createObservableGauge(def.name, { unit: def.unit, description: def.description });
    const states = this.limitStates;
    gauge(METRICS.genAiRateLimitRemaining).addCallback((r: ObservableResult) => {
      const now = Date.now() / 1000;
      for (const [attrs, s] of states) {
        if (s.remaining === undefined) continue;
        // Past its reset the window is whole again: the last report no longer holds.
        const refilled = s.resetAt !== undefined && now >= s.resetAt && s.limit !== undefined;
        r.observe(refilled ? s.limit! : s.remaining, attrs);
      }
    });
    gauge(METRICS.genAiRateLimitLimit).addCallback((r: ObservableResult) => {
      for (const [attrs, s] of states) if (s.limit !== undefined) r.observe(s.limit, attrs);
    });
    gauge(METRICS.genAiRateLimitReset).addCallback((r: ObservableResult) => {
      for (const [attrs, s] of states) if (s.resetAt !== undefined) r.observe(s.resetAt, attrs);
    });
  }

  /** Called by AiCall at its response head with the answer's headers; never throws. */
  /** `at`: when the headers arrived (Date.now()), for resets given as durations. */
  limits(call: AiCall, headers: HeaderLookup, key: string | undefined, at: number): void {
    if (!this.guard.enabled) return;
    try {
      const readings = readLimits(call.target.provider.shape, headers, at);
      if (readings.length === 0) return;
      const model = call.model ?? call.target.pathModel;
      const family = model === undefined ? undefined : modelFamily(labelValue(model));
      const fingerprint = key === undefined ? undefined : keyFingerprint(key);
      for (const r of readings) {
        const attrs = this.limitSeries.get(
          buildLimit,
          call.target.provider.name,
          family,
          fingerprint,
          r.type,
        );
        let state = this.limitStates.get(attrs);
        if (state === undefined) {
          state = { limit: undefined, remaining: undefined, resetAt: undefined };
          this.limitStates.set(attrs, state);
        }
        state.limit = r.limit ?? state.limit;
        state.remaining = r.remaining;
        state.resetAt = r.resetAt;
      }
    } catch (error) {
      fail(this.guard, error);
    }
  }

  /** Runs `call.settle()` from its immediate, outside any hook's try: a failure disables AI measurement. */
  settle(call: AiCall): void {
    if (!this.guard.enabled) return;
    try {
      call.settle();
    } catch (error) {
      fail(this.guard, error);
    }
  }

  /** A call to `provider` at `path` (query allowed); undefined when the path is no AI operation. */
  call(provider: Provider, path: string, address: string, port: number): AiCall | undefined {
    if (!this.guard.enabled) return undefined;
    try {
      const target = operationOf(provider, path);
      return target === undefined ? undefined : new AiCall(this, target, address, port);
    } catch (error) {
      // A tapwire bug: AI measurement stops, the HTTP client hook that asked goes on.
      fail(this.guard, error);
      return undefined;
    }
  }

  /** Called by AiCall when it ends; never throws. */
  record(o: AiOutcome, span?: Span): void {
    if (!this.guard.enabled) return;
    try {
      this.recordUnguarded(o, span);
    } catch (error) {
      fail(this.guard, error);
    }
  }

  private recordUnguarded(o: AiOutcome, span: Span | undefined): void {
    this.instruments.duration.recordSpan(o.seconds, this.attributes(this.callSeries, build, o), span);
    if (o.firstChunk !== undefined) {
      this.observe(this.firstChunkSeries, build, this.instruments.timeToFirstChunk, o.firstChunk, o);
    }
    if (o.chunkGaps !== undefined) {
      this.instruments.timePerOutputChunk.merge(o.chunkGaps, this.labels(this.chunkSeries, o));
    }
    // Output speed of a stream read to its end (a cut one's usage is partial), where its usage is
    // known and its chunks took time to arrive.
    if (
      o.errorType === undefined &&
      o.output !== undefined &&
      o.output > 0 &&
      o.generation !== undefined &&
      o.generation > 0
    ) {
      this.observe(this.speedSeries, build, this.instruments.outputSpeed, o.output / o.generation, o);
    }
    if (o.input !== undefined)
      this.observe(this.inputSeries, buildInput, this.instruments.tokens, o.input, o);
    if (o.output !== undefined) {
      this.observe(this.outputSeries, buildOutput, this.instruments.tokens, o.output, o);
    }
    if (o.input !== undefined || o.output !== undefined) this.cost(o);
    if (this.instruments.usage !== undefined) this.usage(this.instruments.usage, o);
    if (o.unparsed) {
      this.instruments.unparsedStreams.add(1, this.unparsedSeries.get(buildProvider, o.provider));
    }
    if (o.dropped > 0) {
      this.instruments.usageDropped.add(o.dropped, this.droppedSeries.get(buildProvider, o.provider));
    }
  }

  /**
   * The newer per-type counters: input and output for every call (0 where none was reported, as
   * the conventions ask), the parts where the provider reported them.
   */
  private usage(c: GenAiUsageCounters, o: AiOutcome): void {
    const attrs = this.usageSeries.get(
      buildUsage,
      o.operation,
      o.provider,
      o.requestModel,
      o.responseModel,
      o.address,
      o.port,
      o.attrs,
    );
    c.input.add(o.input ?? 0, attrs);
    if (o.operation !== 'embeddings') c.output.add(o.output ?? 0, attrs);
    if (o.cached !== undefined) c.cacheRead.add(o.cached, attrs);
    if (o.cacheWrite !== undefined) c.cacheWrite.add(o.cacheWrite, attrs);
    if (o.reasoning !== undefined) c.reasoning.add(o.reasoning, attrs);
  }

  /** The call's label set of a metric with the common attributes. */
  private labels(series: SeriesCache, o: AiOutcome): Attributes {
    return series.get(
      build,
      o.operation,
      o.provider,
      o.requestModel,
      o.responseModel,
      o.address,
      o.errorType,
    );
  }

  private observe(series: SeriesCache, b: Builder, h: Histogram, value: number, o: AiOutcome): void {
    h.record(value, this.attributes(series, b, o));
  }

  private attributes(series: SeriesCache, b: Builder, o: AiOutcome): Attributes {
    // Only the token builders read the attribution; the other series key on undefined for it.
    return series.get(
      b,
      o.operation,
      o.provider,
      o.requestModel,
      o.responseModel,
      o.address,
      o.errorType,
      b === build ? undefined : o.attrs,
    );
  }

  private cost(o: AiOutcome): void {
    const model = o.requestModel ?? o.responseModel;
    if (model === undefined) return;
    // The response names the exact (often dated) model; the request may name an alias.
    const price =
      (o.responseModel !== undefined ? this.prices.lookup(o.provider, o.responseModel) : undefined) ??
      this.prices.lookup(o.provider, model);
    if (price === undefined) {
      const key = `${o.provider}\u0000${model}`;
      if (!this.unknown.has(key) && this.unknown.size < UNKNOWN_LOG_LIMIT) {
        this.unknown.add(key);
        agentLog(
          'TAPWIRE_AI_UNKNOWN_MODEL',
          `no price for ${o.provider} model ${model}: its tokens are counted, its cost is not. Add it to a TAPWIRE_AI_PRICES file.`,
          {
            'gen_ai.provider.name': o.provider,
            'gen_ai.request.model': model,
            prices_version: this.prices.version,
          },
        );
      }
      return;
    }
    // Token counts are bounded (./usage.ts); a sum that is still not a finite amount (a price
    // table's absurd price) is left out, since one +Inf or NaN would stay in the counter for good.
    const costs = this.costs;
    priceCall(o, price, costs);
    for (let field = 0; field < costs.length; field++) {
      const usd = costs[field]!;
      if (usd >= 0 && usd < Number.POSITIVE_INFINITY) {
        this.instruments.cost.add(
          usd,
          this.costSeries.get(buildCost, o.provider, model, field, price.origin, o.attrs),
        );
      }
    }
  }
}
