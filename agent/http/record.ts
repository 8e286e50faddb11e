// The one place HTTP measurements become OpenTelemetry recordings. Instrumentations (Node
// diagnostics channels, Bun patches, framework route hooks) only gather raw values and call
// these functions; attribute objects come from capped caches (../series.ts).
import type { Attributes, Histogram, Meter, ObservableResult } from '@opentelemetry/api';
import { METRICS } from '../../exporters/catalogue.js';
import { prometheusName } from '../../exporters/prometheus/naming.js';
import { SeriesCache } from '../series.js';
import { normalizeMethod } from './semconv.js';

function promName(def: {
  name: string;
  unit: string;
  kind: 'histogram' | 'counter' | 'updowncounter' | 'gauge';
}) {
  return prometheusName(def.name, def.unit, def.kind);
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

export class HttpRecorder {
  private readonly serverSeries: SeriesCache;
  private readonly clientSeries: SeriesCache;
  private readonly activeSeries: SeriesCache;
  /** In-flight counts per attribute set, observed at collection (cheaper than an UpDownCounter). */
  private readonly active = new Map<Attributes, number>();

  constructor(
    meter: Meter,
    private readonly serverDuration: Histogram,
    private readonly clientDuration: Histogram,
    limit: number,
  ) {
    this.serverSeries = new SeriesCache(promName(METRICS.httpServerDuration), limit);
    this.clientSeries = new SeriesCache(promName(METRICS.httpClientDuration), limit);
    this.activeSeries = new SeriesCache(promName(METRICS.httpServerActive), limit);
    meter
      .createObservableUpDownCounter(METRICS.httpServerActive.name, {
        unit: METRICS.httpServerActive.unit,
        description: METRICS.httpServerActive.description,
      })
      .addCallback((r: ObservableResult) => {
        for (const [attrs, n] of this.active) r.observe(n, attrs);
      });
  }

  /** A request arrived; returns the active-requests key to hand back to serverEnd. */
  serverStart(rawMethod: string | undefined, scheme: string): Attributes {
    const method = normalizeMethod(rawMethod);
    const key = this.activeSeries.get(buildActive, method, scheme);
    this.active.set(key, (this.active.get(key) ?? 0) + 1);
    return key;
  }

  serverEnd(
    activeKey: Attributes,
    seconds: number,
    status: number,
    route: string | undefined,
    errorType: string | undefined,
  ): void {
    this.active.set(activeKey, (this.active.get(activeKey) ?? 1) - 1);
    const method = activeKey['http.request.method'];
    const scheme = activeKey['url.scheme'];
    const attrs = this.serverSeries.get(buildServer, method, status, route, scheme, errorType);
    this.serverDuration.record(seconds, attrs);
  }

  client(
    rawMethod: string | undefined,
    seconds: number,
    status: number,
    address: string,
    port: number,
    scheme: string,
    errorType: string | undefined,
  ): void {
    const method = normalizeMethod(rawMethod);
    const attrs = this.clientSeries.get(buildClient, method, status, address, port, scheme, errorType);
    this.clientDuration.record(seconds, attrs);
  }
}

function buildActive(method: string, scheme: string): Attributes {
  return { 'http.request.method': method, 'url.scheme': scheme };
}
