// The one place AI provider calls become OpenTelemetry recordings: operation duration, token
// usage (input and output as separate series), time to first chunk (streams only) and estimated
// cost. Attribute objects come from capped caches (../series.ts); every value passed in is
// low-cardinality: provider and operation come from fixed tables, models are provider model ids
// (a bounded set per account; the caches cap them anyway), error.type is a status code or an
// error class — never a prompt, a completion or a message.
import type { Attributes, Counter, Histogram } from '@opentelemetry/api';
import { METRICS } from '../../exporters/catalogue.js';
import { prometheusName } from '../../exporters/prometheus/naming.js';
import { agentLog } from '../log/agent.js';
import { SeriesCache } from '../series.js';
import type { Prices } from './prices.js';

export interface AiInstruments {
  duration: Histogram;
  tokens: Histogram;
  timeToFirstChunk: Histogram;
  cost: Counter;
}

/** What one call produced, as the hooks gathered it. */
export interface AiOutcome {
  operation: string;
  provider: string;
  requestModel: string | undefined;
  responseModel: string | undefined;
  address: string;
  errorType: string | undefined;
  seconds: number;
  /** Seconds to the first response chunk; undefined for calls that were not streamed. */
  firstChunk: number | undefined;
  input: number | undefined;
  output: number | undefined;
  /** Cached input tokens (inside `input`): priced at the cached-input rate. */
  cached: number | undefined;
  /** Reasoning tokens (inside `output`): a span attribute only, no metric series of their own. */
  reasoning: number | undefined;
}

function build(
  operation: string,
  provider: string,
  requestModel: string | undefined,
  responseModel: string | undefined,
  address: string,
  errorType: string | undefined,
): Attributes {
  const a: Attributes = { 'gen_ai.operation.name': operation, 'gen_ai.provider.name': provider };
  if (requestModel !== undefined) a['gen_ai.request.model'] = requestModel;
  if (responseModel !== undefined) a['gen_ai.response.model'] = responseModel;
  a['server.address'] = address;
  if (errorType !== undefined) a['error.type'] = errorType;
  return a;
}

// One builder per token type, so the token type needs no seventh cache level.
function buildInput(o: string, p: string, rq?: string, rs?: string, ad?: string, e?: string): Attributes {
  const a = build(o, p, rq, rs, ad ?? '', e);
  a['gen_ai.token.type'] = 'input';
  return a;
}
function buildOutput(o: string, p: string, rq?: string, rs?: string, ad?: string, e?: string): Attributes {
  const a = build(o, p, rq, rs, ad ?? '', e);
  a['gen_ai.token.type'] = 'output';
  return a;
}
function buildCost(provider: string, model: string | undefined, tokenType: string): Attributes {
  const a: Attributes = { 'gen_ai.provider.name': provider };
  if (model !== undefined) a['gen_ai.request.model'] = model;
  a['gen_ai.token.type'] = tokenType;
  return a;
}

const promName = (def: { name: string; unit: string; kind: 'histogram' | 'counter' }) =>
  prometheusName(def.name, def.unit, def.kind);

/** Unknown models are named in the log once each (up to this many). */
const UNKNOWN_LOG_LIMIT = 100;

export class AiRecorder {
  private readonly callSeries: SeriesCache;
  private readonly inputSeries: SeriesCache;
  private readonly outputSeries: SeriesCache;
  private readonly firstChunkSeries: SeriesCache;
  private readonly costSeries: SeriesCache;
  private readonly unknown = new Set<string>();

  constructor(
    private readonly instruments: AiInstruments,
    private readonly prices: Prices,
    limit: number,
  ) {
    this.callSeries = new SeriesCache(promName(METRICS.genAiDuration), limit);
    this.inputSeries = new SeriesCache(promName(METRICS.genAiTokens), limit);
    // Two caches (one per token type, the seventh label): the metric may hold up to twice the
    // limit's label sets, one input and one output series per call shape.
    this.outputSeries = new SeriesCache(promName(METRICS.genAiTokens), limit);
    this.firstChunkSeries = new SeriesCache(promName(METRICS.genAiTimeToFirstChunk), limit);
    this.costSeries = new SeriesCache(promName(METRICS.genAiCost), limit);
  }

  record(o: AiOutcome): void {
    const { operation, provider, requestModel, responseModel, address, errorType } = o;
    const attrs = this.callSeries.get(
      build,
      operation,
      provider,
      requestModel,
      responseModel,
      address,
      errorType,
    );
    this.instruments.duration.record(o.seconds, attrs);
    if (o.firstChunk !== undefined) {
      const ttft = this.firstChunkSeries.get(
        build,
        operation,
        provider,
        requestModel,
        responseModel,
        address,
        errorType,
      );
      this.instruments.timeToFirstChunk.record(o.firstChunk, ttft);
    }
    if (o.input !== undefined) {
      const a = this.inputSeries.get(
        buildInput,
        operation,
        provider,
        requestModel,
        responseModel,
        address,
        errorType,
      );
      this.instruments.tokens.record(o.input, a);
    }
    if (o.output !== undefined) {
      const a = this.outputSeries.get(
        buildOutput,
        operation,
        provider,
        requestModel,
        responseModel,
        address,
        errorType,
      );
      this.instruments.tokens.record(o.output, a);
    }
    if (o.input !== undefined || o.output !== undefined) this.cost(o);
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
          'warn',
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
    if (o.input !== undefined && price.input !== undefined) {
      const cached = Math.min(o.cached ?? 0, o.input);
      const usd =
        ((o.input - cached) * price.input + cached * (price.cachedInput ?? price.input)) / 1_000_000;
      this.instruments.cost.add(usd, this.costSeries.get(buildCost, o.provider, model, 'input'));
    }
    if (o.output !== undefined && price.output !== undefined) {
      const usd = (o.output * price.output) / 1_000_000;
      this.instruments.cost.add(usd, this.costSeries.get(buildCost, o.provider, model, 'output'));
    }
  }
}
