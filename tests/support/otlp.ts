// A real OTLP/HTTP receiver for tests: a node:http server on a free port that keeps every body
// POSTed to /v1/traces, /v1/metrics and /v1/logs, and flattens them into spans, data points and log
// records. Bodies (protobuf or JSON, gzipped or not) are decoded by ./otlp_decode.py with the
// official OTLP protobuf definitions, never by tapwire's own code, into OTLP JSON. A request is
// answered once its body is decoded and kept, so whatever an exporter saw acknowledged is here.
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { gunzipSync } from 'node:zlib';
import { ROOT } from './index.js';

interface AnyValue {
  stringValue?: string;
  intValue?: number | string;
  doubleValue?: number;
  boolValue?: boolean;
  arrayValue?: { values?: AnyValue[] };
  kvlistValue?: { values?: KeyValue[] };
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

type Value = string | number | boolean | undefined | Value[] | { [key: string]: Value };

function value(v: AnyValue): string | number | boolean | undefined {
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue;
  return v.boolValue;
}

/** Any OTLP AnyValue as plain JSON: arrays and key-value lists too. */
function deepValue(v: AnyValue | undefined): Value {
  if (v === undefined) return undefined;
  if (v.arrayValue !== undefined) return (v.arrayValue.values ?? []).map(deepValue);
  if (v.kvlistValue !== undefined) return deepAttributes(v.kvlistValue.values);
  return value(v);
}

function deepAttributes(list: KeyValue[] | undefined): { [key: string]: Value } {
  const out: { [key: string]: Value } = {};
  for (const kv of list ?? []) out[kv.key] = deepValue(kv.value);
  return out;
}

export interface OtlpLogRecord {
  /** The resource's attributes, as sent with the record's batch. */
  resource: { [key: string]: Value };
  scope: string;
  timeUnixNano: string;
  observedTimeUnixNano: string;
  severityNumber: number;
  severityText: string | undefined;
  body: Value;
  attributes: { [key: string]: Value };
  traceId: string | undefined;
  spanId: string | undefined;
  flags: number;
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
  /** How the body came: `protobuf` or `json`, from its content-type. */
  format: 'protobuf' | 'json';
  // biome-ignore lint/suspicious/noExplicitAny: OTLP JSON as decoded
  body: any;
}

/** One python3 process running ./otlp_decode.py, bodies decoded in the order they are given. */
class Decoder {
  private child: ChildProcessWithoutNullStreams | undefined;
  private readonly waiting: ((line: string) => void)[] = [];

  decode(
    path: string,
    format: string,
    data: Buffer,
  ): Promise<{ ok: boolean; body?: unknown; error?: string }> {
    if (this.child === undefined) {
      const child = spawn('python3', [join(ROOT, 'tests/support/otlp_decode.py')], { stdio: 'pipe' });
      let said = '';
      child.stderr.setEncoding('utf8').on('data', (d: string) => {
        said += d;
      });
      createInterface({ input: child.stdout }).on('line', (line) => this.waiting.shift()?.(line));
      // A decoder that cannot start (no python3, no opentelemetry-proto) fails the bodies waiting.
      const gone = (why: string) => {
        const error = `the OTLP decoder stopped (${why}; scripts/setup installs python3's opentelemetry-proto): ${said.trim()}`;
        for (const w of this.waiting.splice(0)) w(JSON.stringify({ ok: false, error }));
        if (this.child === child) this.child = undefined;
      };
      child.on('error', (e) => gone(e.message));
      child.on('exit', (code) => gone(`exit ${code}`));
      this.child = child;
    }
    const header = `${JSON.stringify({ path, format, length: data.length })}\n`;
    this.child.stdin.write(Buffer.concat([Buffer.from(header), data]));
    return new Promise((resolve) => this.waiting.push((line) => resolve(JSON.parse(line))));
  }

  close(): void {
    const child = this.child;
    this.child = undefined;
    child?.kill();
  }
}

export class OtlpReceiver {
  readonly requests: OtlpRequest[] = [];
  /** Bodies that could not be decoded: waitFor() throws them. */
  readonly errors: string[] = [];
  private server: Server | undefined;
  private readonly decoder = new Decoder();
  port = 0;

  async start(): Promise<this> {
    // Bodies are decoded one at a time in arrival order, so `requests` keeps the order they came in.
    let queue = Promise.resolve();
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (d: Buffer) => chunks.push(d));
      req.on('end', () => {
        const path = req.url ?? '';
        const format = String(req.headers['content-type']).startsWith('application/json')
          ? 'json'
          : 'protobuf';
        queue = queue.then(async () => {
          let data = Buffer.concat(chunks);
          if (req.headers['content-encoding'] === 'gzip') data = gunzipSync(data);
          const r = await this.decoder.decode(path, format, data);
          if (r.ok) this.requests.push({ path, headers: req.headers, format, body: r.body });
          else this.errors.push(`${path} (${format}): ${r.error}`);
          // An empty ExportServiceResponse: full success, in the encoding of the request.
          res.writeHead(r.ok ? 200 : 400, {
            'content-type': format === 'json' ? 'application/json' : 'application/x-protobuf',
          });
          res.end(format === 'json' ? '{}' : '');
        });
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

  /** Every log record received, in arrival order. */
  logs(): OtlpLogRecord[] {
    const out: OtlpLogRecord[] = [];
    for (const r of this.requests) {
      if (r.path !== '/v1/logs') continue;
      for (const rl of r.body.resourceLogs ?? []) {
        const resource = deepAttributes(rl.resource?.attributes);
        for (const sl of rl.scopeLogs ?? []) {
          for (const l of sl.logRecords ?? []) {
            out.push({
              resource,
              scope: sl.scope?.name,
              timeUnixNano: l.timeUnixNano,
              observedTimeUnixNano: l.observedTimeUnixNano,
              severityNumber: l.severityNumber ?? 0,
              severityText: l.severityText,
              body: deepValue(l.body),
              attributes: deepAttributes(l.attributes),
              traceId: l.traceId || undefined,
              spanId: l.spanId || undefined,
              flags: l.flags ?? 0,
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

  /** Sum (counter) points of `metric` from the newest push of `service` that holds it. */
  sumPoints(metric: string, service: string): { attributes: ReturnType<typeof attributes>; value: number }[] {
    let latest: { attributes: ReturnType<typeof attributes>; value: number }[] = [];
    for (const r of this.requests) {
      if (r.path !== '/v1/metrics') continue;
      for (const rm of r.body.resourceMetrics ?? []) {
        if (attributes(rm.resource?.attributes)['service.name'] !== service) continue;
        for (const sm of rm.scopeMetrics ?? []) {
          for (const m of sm.metrics ?? []) {
            if (m.name !== metric || !m.sum) continue;
            latest = (m.sum.dataPoints ?? []).map(
              (p: { attributes?: KeyValue[]; asDouble?: number; asInt?: string }) => ({
                attributes: attributes(p.attributes),
                value: Number(p.asDouble ?? p.asInt ?? 0),
              }),
            );
          }
        }
      }
    }
    return latest;
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
      if (this.errors.length > 0)
        throw new Error(`OTLP receiver: undecodable bodies: ${this.errors.join('; ')}`);
      if (Date.now() > deadline) {
        throw new Error(`OTLP receiver: ${what} did not arrive within ${timeoutMs} ms`);
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  async close(): Promise<void> {
    this.decoder.close();
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  }
}
