// The one place AI provider calls become OpenTelemetry recordings: operation duration, token
// usage (input and output as separate series), time to first chunk (streams only) and estimated
// cost. Attribute objects come from capped caches (../series.ts); every value passed in is
// low-cardinality: provider and operation come from fixed tables, models are provider model ids
// (a bounded set per account; the caches cap them anyway), error.type is a status code or an
// error class — never a prompt, a completion or a message.
import type { Attributes, Counter, Histogram, Span } from '@opentelemetry/api';
import { METRICS, type MetricDef } from '../../exporters/catalogue.js';
import { prometheusName } from '../../exporters/prometheus/naming.js';
import { fail, guard } from '../guard.js';
import type { FastHistogram } from '../histogram.js';
import { agentLog } from '../log.js';
import { SeriesCache } from '../series.js';
import { AiCall, type AiOutcome } from './call.js';
import type { Prices } from './prices.js';
import { operationOf, type Provider } from './providers.js';

export interface AiInstruments {
  /** Keeps exemplars (FastHistogram.recordSpan). */
  duration: FastHistogram;
  tokens: Histogram;
  timeToFirstChunk: Histogram;
  cost: Counter;
  unparsedStreams: Counter;
  usageDropped: Counter;
}

type Builder = (
  operation: string,
  provider: string,
  requestModel: string | undefined,
  responseModel: string | undefined,
  address: string,
  errorType: string | undefined,
) => Attributes;

const build: Builder = (operation, provider, requestModel, responseModel, address, errorType) => {
  const a: Attributes = { 'gen_ai.operation.name': operation, 'gen_ai.provider.name': provider };
  if (requestModel !== undefined) a['gen_ai.request.model'] = requestModel;
  if (responseModel !== undefined) a['gen_ai.response.model'] = responseModel;
  a['server.address'] = address;
  if (errorType !== undefined) a['error.type'] = errorType;
  return a;
};

/** One builder per token type, so the token type needs no seventh cache level. */
function withTokenType(tokenType: 'input' | 'output'): Builder {
  return (o, p, rq, rs, ad, e) => {
    const a = build(o, p, rq, rs, ad, e);
    a['gen_ai.token.type'] = tokenType;
    return a;
  };
}
const buildInput = withTokenType('input');
const buildOutput = withTokenType('output');

function buildCost(provider: string, model: string | undefined, tokenType: string): Attributes {
  const a: Attributes = { 'gen_ai.provider.name': provider };
  if (model !== undefined) a['gen_ai.request.model'] = model;
  a['gen_ai.token.type'] = tokenType;
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
  private readonly costSeries: SeriesCache;
  private readonly unparsedSeries: SeriesCache;
  private readonly droppedSeries: SeriesCache;
  private readonly unknown = new Set<string>();
  private readonly guard = guard('ai recorder');

  constructor(
    private readonly instruments: AiInstruments,
    private readonly prices: Prices,
    limit: number,
  ) {
    this.callSeries = seriesOf(METRICS.genAiDuration, limit);
    // Two caches (one per token type, the seventh label): the metric may hold up to twice the
    // limit's label sets, one input and one output series per call shape.
    this.inputSeries = seriesOf(METRICS.genAiTokens, limit);
    this.outputSeries = seriesOf(METRICS.genAiTokens, limit);
    this.firstChunkSeries = seriesOf(METRICS.genAiTimeToFirstChunk, limit);
    this.costSeries = seriesOf(METRICS.genAiCost, limit);
    this.unparsedSeries = seriesOf(METRICS.genAiUnparsedStreams, limit);
    this.droppedSeries = seriesOf(METRICS.genAiUsageDropped, limit);
  }

  /** A call to `provider` at `path` (query allowed); undefined when the path is no AI operation. */
  call(provider: Provider, path: string, address: string): AiCall | undefined {
    if (!this.guard.enabled) return undefined;
    try {
      const target = operationOf(provider, path);
      return target === undefined ? undefined : new AiCall(this, target, address);
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
    if (o.input !== undefined)
      this.observe(this.inputSeries, buildInput, this.instruments.tokens, o.input, o);
    if (o.output !== undefined) {
      this.observe(this.outputSeries, buildOutput, this.instruments.tokens, o.output, o);
    }
    if (o.input !== undefined || o.output !== undefined) this.cost(o);
    if (o.unparsed) {
      this.instruments.unparsedStreams.add(1, this.unparsedSeries.get(buildProvider, o.provider));
    }
    if (o.dropped > 0) {
      this.instruments.usageDropped.add(o.dropped, this.droppedSeries.get(buildProvider, o.provider));
    }
  }

  private observe(series: SeriesCache, b: Builder, h: Histogram, value: number, o: AiOutcome): void {
    h.record(value, this.attributes(series, b, o));
  }

  private attributes(series: SeriesCache, b: Builder, o: AiOutcome): Attributes {
    return series.get(b, o.operation, o.provider, o.requestModel, o.responseModel, o.address, o.errorType);
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
    if (o.input !== undefined && price.input !== undefined) {
      const cached = Math.min(o.cached ?? 0, o.input);
      const usd =
        ((o.input - cached) * price.input + cached * (price.cachedInput ?? price.input)) / 1_000_000;
      if (usd < Number.POSITIVE_INFINITY) {
        this.instruments.cost.add(usd, this.costSeries.get(buildCost, o.provider, model, 'input'));
      }
    }
    if (o.output !== undefined && price.output !== undefined) {
      const usd = (o.output * price.output) / 1_000_000;
      if (usd < Number.POSITIVE_INFINITY) {
        this.instruments.cost.add(usd, this.costSeries.get(buildCost, o.provider, model, 'output'));
      }
    }
  }
}
