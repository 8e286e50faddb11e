// A real OTLP/HTTP (JSON) receiver for tests: a node:http server on a free port that keeps every
// body POSTed to /v1/traces and /v1/metrics, and flattens them into spans and data points.
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';

interface AnyValue {
  stringValue?: string;
  intValue?: number | string;
  doubleValue?: number;
  boolValue?: boolean;
}
interface KeyValue {
  key: string;
  value: AnyValue;
}

export interface OtlpSpan {
  service: string;
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  name: string;
  /** 1 internal, 2 server, 3 client. */
  kind: number;
  attributes: Record<string, string | number | boolean | undefined>;
  status: number;
}

export interface OtlpHistogramPoint {
  service: string;
  metric: string;
  attributes: Record<string, string | number | boolean | undefined>;
  count: number;
  /** Body index: points of one push share it. */
  push: number;
}

export const SPAN_KIND = { SERVER: 2, CLIENT: 3 } as const;

function value(v: AnyValue): string | number | boolean | undefined {
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue;
  return v.boolValue;
}

export function attributes(
  list: KeyValue[] | undefined,
): Record<string, string | number | boolean | undefined> {
  const out: Record<string, string | number | boolean | undefined> = {};
  for (const kv of list ?? []) out[kv.key] = value(kv.value);
  return out;
}

export interface OtlpRequest {
  path: string;
  headers: IncomingHttpHeaders;
  // biome-ignore lint/suspicious/noExplicitAny: OTLP JSON as received
  body: any;
}

export class OtlpReceiver {
  readonly requests: OtlpRequest[] = [];
  private server: Server | undefined;
  port = 0;

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      let text = '';
      req.setEncoding('utf8');
      req.on('data', (d: string) => {
        text += d;
      });
      req.on('end', () => {
        this.requests.push({ path: req.url ?? '', headers: req.headers, body: JSON.parse(text || '{}') });
        res.setHeader('content-type', 'application/json');
        res.end('{}');
      });
    });
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    this.port = (this.server.address() as { port: number }).port;
    return this;
  }

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  spans(): OtlpSpan[] {
    const out: OtlpSpan[] = [];
    for (const r of this.requests) {
      if (r.path !== '/v1/traces') continue;
      for (const rs of r.body.resourceSpans ?? []) {
        const service = String(attributes(rs.resource?.attributes)['service.name']);
        for (const ss of rs.scopeSpans ?? []) {
          for (const s of ss.spans ?? []) {
            out.push({
              service,
              traceId: s.traceId,
              spanId: s.spanId,
              parentSpanId: s.parentSpanId || undefined,
              name: s.name,
              kind: s.kind,
              attributes: attributes(s.attributes),
              status: s.status?.code ?? 0,
            });
          }
        }
      }
    }
    return out;
  }

  /** Histogram data points of `metric` from every push, oldest first. */
  histogramPoints(metric: string): OtlpHistogramPoint[] {
    const out: OtlpHistogramPoint[] = [];
    this.requests.forEach((r, push) => {
      if (r.path !== '/v1/metrics') return;
      for (const rm of r.body.resourceMetrics ?? []) {
        const service = String(attributes(rm.resource?.attributes)['service.name']);
        for (const sm of rm.scopeMetrics ?? []) {
          for (const m of sm.metrics ?? []) {
            if (m.name !== metric || !m.histogram) continue;
            for (const p of m.histogram.dataPoints ?? []) {
              out.push({
                service,
                metric,
                attributes: attributes(p.attributes),
                count: Number(p.count),
                push,
              });
            }
          }
        }
      }
    });
    return out;
  }

  /** Points of the newest push from `service` that holds `metric`. */
  latestHistogram(metric: string, service: string): OtlpHistogramPoint[] {
    const all = this.histogramPoints(metric).filter((p) => p.service === service);
    const last = all.at(-1)?.push;
    return all.filter((p) => p.push === last);
  }

  async waitFor(what: string, predicate: () => boolean, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      if (Date.now() > deadline) {
        throw new Error(`OTLP receiver: ${what} did not arrive within ${timeoutMs} ms`);
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  }
}
