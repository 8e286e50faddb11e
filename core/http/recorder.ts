// The one place HTTP measurements become OpenTelemetry recordings, for the preload's hooks on both
// runtimes and for the sidecar's proxy and gateway alike. Hooks start an operation here and end it;
// attribute objects come from capped caches (../series.ts), every value in them is bounded
// (./semconv.ts).
import type { Attributes, Meter, ObservableResult } from '@opentelemetry/api';
import { METRICS, type MetricDef } from '../../exporters/catalogue.js';
import { prometheusName } from '../../exporters/prometheus/naming.js';
import { attribution } from '../ai/attribution.js';
import type { AiRecorder } from '../ai/recorder.js';
import { fail, guard } from '../guard.js';
import type { FastHistogram } from '../histogram.js';
import { type InboundRequest, tracing } from '../operation.js';
import { countOverflow, Interned, keepRule, OVERFLOW_ATTRIBUTES, SeriesCache } from '../series.js';
import { ClientOp } from './client.js';
import type { Origin } from './origins.js';
import { normalizeMethod } from './semconv.js';
import { ServerOp } from './server.js';

function seriesOf(def: MetricDef, limit: number): SeriesCache {
  return new SeriesCache(prometheusName(def.name, def.unit, def.kind), limit);
}

function buildServer(
  method: string,
  status: number,
  route: string | undefined,
  scheme: string,
  errorType: string | undefined,
): Attributes {
  const a: Attributes = { 'http.request.method': method };
  if (status > 0) a['http.response.status_code'] = status;
  if (route !== undefined) a['http.route'] = route;
  a['url.scheme'] = scheme;
  if (errorType !== undefined) a['error.type'] = errorType;
  return a;
}

function buildClient(
  method: string,
  status: number,
  address: string,
  port: number,
  scheme: string,
  errorType: string | undefined,
): Attributes {
  const a: Attributes = { 'http.request.method': method };
  if (status > 0) a['http.response.status_code'] = status;
  a['server.address'] = address;
  a['server.port'] = port;
  a['url.scheme'] = scheme;
  if (errorType !== undefined) a['error.type'] = errorType;
  return a;
}

/** The requests in flight of one label set (method and scheme), counted in place. */
export interface InFlight {
  readonly attributes: Attributes;
  n: number;
}

function buildActive(method: string, scheme: string): InFlight {
  return { attributes: { 'http.request.method': method, 'url.scheme': scheme }, n: 0 };
}

/**
 * The in-flight counts, one per label set, capped as a SeriesCache is; a request holds its count
 * and moves it itself, with no Map to look it up in again at its end. Observed at collection.
 */
class InFlightCounts extends Interned<InFlight> {
  readonly all: InFlight[] = [];
  private readonly overflow: InFlight = { attributes: OVERFLOW_ATTRIBUTES, n: 0 };
  private overflowSeen = false;

  constructor(
    private readonly metric: string,
    limit: number,
  ) {
    super(limit);
  }

  protected override made(slot: InFlight): InFlight {
    Object.freeze(keepRule(slot.attributes));
    this.all.push(slot);
    return slot;
  }

  /** Its count moves: the slot is not frozen (its attributes are). */
  protected override seal(slot: InFlight): InFlight {
    return slot;
  }

  protected full(): InFlight {
    countOverflow(this.metric);
    // Observed from its first request on; a flag, as every overflowed request comes here.
    if (!this.overflowSeen) {
      this.overflowSeen = true;
      this.all.push(this.overflow);
    }
    return this.overflow;
  }
}

export class HttpRecorder {
  private readonly serverSeries: SeriesCache;
  private readonly clientSeries: SeriesCache;
  /** In-flight counts per attribute set, observed at collection (cheaper than an UpDownCounter). */
  private readonly active: InFlightCounts;
  /** A recording that throws (a tapwire bug) turns HTTP recording off once, never the app's request. */
  private readonly guard = guard('http recorder');

  constructor(
    meter: Meter,
    private readonly serverDuration: FastHistogram,
    private readonly clientDuration: FastHistogram,
    limit: number,
    /** Measures the AI provider calls among outbound requests; asked for at the first one (../recorders.ts). */
    private readonly aiOf: () => AiRecorder | undefined,
  ) {
    this.serverSeries = seriesOf(METRICS.httpServerDuration, limit);
    this.clientSeries = seriesOf(METRICS.httpClientDuration, limit);
    const def = METRICS.httpServerActive;
    this.active = new InFlightCounts(prometheusName(def.name, def.unit, def.kind), limit);
    meter
      .createObservableUpDownCounter(METRICS.httpServerActive.name, {
        unit: METRICS.httpServerActive.unit,
        description: METRICS.httpServerActive.description,
      })
      .addCallback((r: ObservableResult) => {
        for (const slot of this.active.all) r.observe(slot.n, slot.attributes);
      });
  }

  /** An inbound request arrived. End the operation when its response is over. */
  server(request: InboundRequest, scheme: string): ServerOp {
    // Read once: on Bun, Request#method is a native getter.
    const method = request.method;
    const active = this.active.get(buildActive, normalizeMethod(method), scheme);
    active.n++;
    const op = new ServerOp(this, active, method);
    if (attribution !== undefined) op.attrs = attribution.fromHeaders(request.headers);
    if (tracing !== undefined) tracing.startServer(op, request, scheme);
    return op;
  }

  /** Called by ServerOp.end(); never throws. */
  recordServer(op: ServerOp, status: number, route: string | undefined, errorType: string | undefined): void {
    if (!this.guard.enabled) return;
    try {
      this.recordServerUnguarded(op, status, route, errorType);
    } catch (error) {
      fail(this.guard, error);
    }
  }

  private recordServerUnguarded(
    op: ServerOp,
    status: number,
    route: string | undefined,
    errorType: string | undefined,
  ): void {
    const active = op.active;
    active.n--;
    const key = active.attributes;
    const attrs = this.serverSeries.get(
      buildServer,
      key['http.request.method'],
      status,
      route,
      key['url.scheme'],
      errorType,
    );
    this.serverDuration.recordSpan(op.elapsed(), attrs, op.span);
  }

  /**
   * An outbound request to `origin` (../http/origins.ts) is about to be sent. An AI provider call
   * also gets its AiCall (op.ai); with tracing on, op.headers holds the trace context to send.
   * `start`: now() when it was sent, for a hook that starts the operation just after.
   */
  client(rawMethod: string | undefined, origin: Origin, path: string, start?: number): ClientOp {
    const op = new ClientOp(this, rawMethod, origin);
    if (start !== undefined) op.start = start;
    if (origin.provider !== undefined) {
      op.ai = this.aiOf()?.call(origin.provider, path, origin.address, origin.port);
      if (op.ai !== undefined && start !== undefined) op.ai.start = start;
    }
    if (tracing !== undefined) tracing.startClient(op, path);
    return op;
  }

  /** Called by ClientOp.end(); never throws. */
  recordClient(op: ClientOp, status: number, errorType: string | undefined): void {
    if (!this.guard.enabled) return;
    try {
      const o = op.origin;
      const attrs = this.clientSeries.get(
        buildClient,
        op.method,
        status,
        o.address,
        o.port,
        o.scheme,
        errorType,
      );
      this.clientDuration.recordSpan(op.elapsed(), attrs, op.span);
    } catch (error) {
      fail(this.guard, error);
    }
  }
}
