// OTLP/HTTP export of spans, metrics and log records, protobuf or JSON per signal
// (OTEL_EXPORTER_OTLP_*_PROTOCOL), loaded only when an OTLP exporter is configured: it brings
// http(s), zlib and the SDK's serializers, start-up nobody else should pay.
//
// The SDK's serializers, queue and exporter classes are used as they are; the transport (one POST,
// and the retries) is ours, because the SDK's retries what it cannot deliver (connection refused
// included) on ref'd timers for up to the whole export timeout: 1 + 1.5 + 2.25 + 3.4 s of backoff,
// so a normal exit with the receiver down waited ~8 s, and ~10 s when it never answered (its first
// attempt alone takes the timeout), saying only that a flush failed. Here:
// - retry waits never hold the process open, and when the process ends the waits end at once with
//   one last attempt and no further retries: a refused receiver costs the exit a connect, one
//   that hangs at most OTEL_EXPORTER_OTLP_TIMEOUT;
// - the headers are tapwire's validated OTEL_EXPORTER_OTLP_HEADERS and the signal's own
//   OTEL_EXPORTER_OTLP_{TRACES,METRICS,LOGS}_HEADERS (the SDK would add its own parse of the same
//   variables, which a bad value must not reach);
// - what could not be delivered is counted, and said: once at the first failure while the process
//   runs, and once at the end with the totals.
import type { IncomingMessage } from 'node:http';
import type { ExportResult } from '@opentelemetry/core';
import {
  AggregationTemporalityPreference,
  OTLPMetricExporterBase,
} from '@opentelemetry/exporter-metrics-otlp-http';
import {
  createOtlpNetworkExportDelegate,
  type ExportResponse,
  type IExporterTransport,
  OTLPExporterBase,
} from '@opentelemetry/otlp-exporter-base';
import {
  convertLegacyHttpOptions,
  createOtlpHttpExporterMetrics,
} from '@opentelemetry/otlp-exporter-base/node-http';
import {
  type ISerializer,
  JsonLogsSerializer,
  JsonMetricsSerializer,
  JsonTraceSerializer,
  LogsExporterMetricsHelper,
  MetricsExporterMetricsHelper,
  ProtobufLogsSerializer,
  ProtobufMetricsSerializer,
  ProtobufTraceSerializer,
  TraceExporterMetricsHelper,
} from '@opentelemetry/otlp-transformer';
import type { ReadableLogRecord } from '@opentelemetry/sdk-logs';
import {
  type MetricProducer,
  PeriodicExportingMetricReader,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import type { Config, OtlpCompression, OtlpProtocol } from '../config/index.js';

/** Where the agent's lines go; the codes are the agent's (exporters/ does not log itself). */
export interface OtlpReport {
  /** The first export that fails while the process runs; later ones are only counted. */
  failing(message: string, fields: Record<string, unknown>): void;
  /** Everything that was not delivered in the process's life, said when it ends. */
  lost(message: string, fields: Record<string, unknown>): void;
}

// The SDK's backoff (otlp-exporter-base retrying-transport): 5 retries from 1 s, x1.5, at most
// 5 s, +-20 % jitter, never past the export's deadline.
const MAX_RETRIES = 5;
const FIRST_BACKOFF_MS = 1000;
const MAX_BACKOFF_MS = 5000;
// A receiver's error body is read for nothing but its end; more than this is not waited for.
const MAX_RESPONSE_BYTES = 4 * 1024 * 1024;
// As the SDK (and the specification's retryable list): throttled or unavailable.
const RETRYABLE_STATUS = new Set([429, 502, 503, 504]);
const RETRYABLE_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'ENOTFOUND',
  'ENETUNREACH',
  'EHOSTUNREACH',
]);

type Kind = 'spans' | 'metric points';

/**
 * The process's OTLP exports: the exporters for spans and metrics, the state they share when the
 * process ends, and what they could not deliver.
 */
export class OtlpExports {
  /** Set when the process is ending: no more retries, and pending retry waits end now. */
  private exiting = false;
  private readonly wakers = new Set<() => void>();
  private readonly dropped = { spans: 0, 'metric points': 0 };
  private readonly reasons = new Set<string>();
  private saidFailing = false;
  private saidLost = false;

  constructor(
    private readonly config: Config,
    private readonly report: OtlpReport,
  ) {}

  /** Spans for a BatchSpanProcessor. */
  spanExporter(): SpanExporter {
    const c = this.config;
    const protocol = c.otlpTracesProtocol;
    const options = this.options(
      'TRACES',
      'v1/traces',
      c.otlpTracesEndpoint,
      protocol,
      c.otlpTracesCompression,
    );
    const delegate = createOtlpNetworkExportDelegate(
      options,
      protocol === 'http/json' ? JsonTraceSerializer : ProtobufTraceSerializer,
      createOtlpHttpExporterMetrics(
        'otlp_http_span_exporter',
        TraceExporterMetricsHelper,
        options.url,
        undefined,
      ),
      this.transport(options, protocol, c.otlpTracesHeaders),
    );
    const exports = this;
    return new (class extends OTLPExporterBase<ReadableSpan[]> {
      override export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
        super.export(spans, (result) => {
          exports.settled('spans', spans.length, result);
          done(result);
        });
      }
    })(delegate);
  }

  /** OTLP push every OTEL_METRIC_EXPORT_INTERVAL, cumulative like Prometheus; the SDK unrefs its timer. */
  reader(metricProducers: MetricProducer[] = []): PeriodicExportingMetricReader {
    const c = this.config;
    const protocol = c.otlpMetricsProtocol;
    const options = this.options(
      'METRICS',
      'v1/metrics',
      c.otlpMetricsEndpoint,
      protocol,
      c.otlpMetricsCompression,
    );
    const delegate = createOtlpNetworkExportDelegate(
      options,
      (protocol === 'http/json' ? JsonMetricsSerializer : ProtobufMetricsSerializer) as ISerializer<
        ResourceMetrics,
        unknown
      >,
      createOtlpHttpExporterMetrics(
        'otlp_http_metric_exporter',
        MetricsExporterMetricsHelper,
        options.url,
        undefined,
      ),
      this.transport(options, protocol, c.otlpMetricsHeaders),
    );
    const exports = this;
    const exporter = new (class extends OTLPMetricExporterBase {
      override export(metrics: ResourceMetrics, done: (result: ExportResult) => void): void {
        super.export(metrics, (result) => {
          exports.settled('metric points', pointsIn(metrics), result);
          done(result);
        });
      }
    })(delegate, { temporalityPreference: AggregationTemporalityPreference.CUMULATIVE });
    return new PeriodicExportingMetricReader({
      metricProducers,
      exporter,
      exportIntervalMillis: this.config.metricExportIntervalMs,
      exportTimeoutMillis: Math.min(30_000, this.config.metricExportIntervalMs),
      // As in the Prometheus reader (./prometheus/reader.ts): the app's instruments capped at the limit.
      cardinalityLimits: { default: this.config.cardinalityLimit + 1 },
    });
  }

  /**
   * Log records for ./otlp-logs.ts, over the same transport (no retry holds the exit). Their
   * losses are counted and said by the log shipper, with the records the queue dropped.
   */
  logExporter(): OTLPExporterBase<ReadableLogRecord[]> {
    const c = this.config;
    const protocol = c.otlpLogsProtocol;
    const options = this.options('LOGS', 'v1/logs', c.otlpLogsEndpoint, protocol, c.otlpLogsCompression);
    const delegate = createOtlpNetworkExportDelegate(
      options,
      protocol === 'http/json' ? JsonLogsSerializer : ProtobufLogsSerializer,
      createOtlpHttpExporterMetrics(
        'otlp_http_log_exporter',
        LogsExporterMetricsHelper,
        options.url,
        undefined,
      ),
      this.transport(options, protocol, c.otlpLogsHeaders),
    );
    return new OTLPExporterBase<ReadableLogRecord[]>(delegate);
  }

  /**
   * The process is ending (its event loop emptied): retries stop, and exports waiting to retry
   * make their last attempt now instead of after the wait.
   */
  ending(): void {
    this.exiting = true;
    for (const wake of this.wakers) wake();
    this.wakers.clear();
  }

  lostAny(): boolean {
    return this.dropped.spans + this.dropped['metric points'] > 0;
  }

  /** Says what was not delivered in the process's life, once, if anything was. */
  sayLost(): void {
    if (this.saidLost) return;
    const spans = this.dropped.spans;
    const points = this.dropped['metric points'];
    if (spans === 0 && points === 0) return;
    this.saidLost = true;
    this.report.lost(`${counted(spans, points)} not exported: ${[...this.reasons].join('; ')}`, {
      spans,
      metric_points: points,
      reasons: [...this.reasons],
    });
  }

  private settled(kind: Kind, n: number, result: ExportResult): void {
    if (result.code === 0 || n === 0) return; // ExportResultCode.SUCCESS; an empty batch loses nothing
    this.dropped[kind] += n;
    const reason = result.error?.message ?? 'export failed';
    if (this.reasons.size < 5) this.reasons.add(reason);
    if (this.exiting || this.saidFailing) return;
    this.saidFailing = true;
    this.report.failing(
      `OTLP export failing: ${n} ${kind} not exported: ${reason}; further losses are counted and said when the process ends`,
      { [kind === 'spans' ? 'spans' : 'metric_points']: n, reason },
    );
  }

  /**
   * The SDK's options for a signal (agent with OTEL_EXPORTER_OTLP_CERTIFICATE and friends, the
   * concurrency limit), with tapwire's URL, timeout and compression.
   */
  private options(
    signal: string,
    path: string,
    url: string,
    protocol: OtlpProtocol,
    compression: OtlpCompression,
  ) {
    const c = this.config;
    const timeoutMillis =
      signal === 'TRACES'
        ? c.otlpTracesTimeoutMs
        : signal === 'METRICS'
          ? c.otlpMetricsTimeoutMs
          : c.otlpLogsTimeoutMs;
    return convertLegacyHttpOptions({ url, timeoutMillis, compression: compression as never }, signal, path, {
      'Content-Type': contentType(protocol),
    });
  }

  /** `signalHeaders`: OTEL_EXPORTER_OTLP_HEADERS with the signal's own on top (config/load.ts). */
  private transport(
    options: ReturnType<typeof convertLegacyHttpOptions>,
    protocol: OtlpProtocol,
    signalHeaders: Record<string, string>,
  ): IExporterTransport {
    const url = new URL(options.url);
    const headers = {
      ...signalHeaders,
      'Content-Type': contentType(protocol),
      'User-Agent': 'tapwire OTel-OTLP-Exporter-JavaScript',
      ...(options.compression === 'gzip' ? { 'Content-Encoding': 'gzip' } : {}),
    };
    let agent: unknown;
    const post = async (data: Uint8Array, timeoutMs: number): Promise<ExportResponse> => {
      agent ??= await options.agentFactory(url.protocol);
      const body = options.compression === 'gzip' ? await gzip(data) : data;
      return send(url, headers, agent, body, timeoutMs);
    };
    return {
      send: async (data, timeoutMs) => {
        const deadline = Date.now() + timeoutMs;
        let result = await post(data, timeoutMs);
        let backoff = FIRST_BACKOFF_MS;
        for (let retry = 0; result.status === 'retryable' && !this.exiting && retry < MAX_RETRIES; retry++) {
          const wait =
            result.retryInMillis ?? Math.min(backoff, MAX_BACKOFF_MS) * (0.8 + Math.random() * 0.4);
          backoff *= 1.5;
          if (wait > deadline - Date.now()) break;
          await this.pause(wait);
          const left = deadline - Date.now();
          if (left <= 0) break;
          result = await post(data, left);
        }
        return result;
      },
      shutdown: () => {
        (agent as { destroy?: () => void } | undefined)?.destroy?.();
      },
    };
  }

  /** A retry's wait: unref'd (it never holds the process open), and over at once when it ends. */
  private pause(ms: number): Promise<void> {
    if (this.exiting) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.wakers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      timer.unref();
      this.wakers.add(wake);
    });
  }
}

function contentType(protocol: OtlpProtocol): string {
  return protocol === 'http/json' ? 'application/json' : 'application/x-protobuf';
}

function counted(spans: number, points: number): string {
  const parts: string[] = [];
  if (spans > 0) parts.push(`${spans} span${spans === 1 ? '' : 's'}`);
  if (points > 0) parts.push(`${points} metric point${points === 1 ? '' : 's'}`);
  return parts.join(', ');
}

function pointsIn(metrics: ResourceMetrics): number {
  let n = 0;
  for (const scope of metrics.scopeMetrics) for (const m of scope.metrics) n += m.dataPoints.length;
  return n;
}

async function gzip(data: Uint8Array): Promise<Uint8Array> {
  const zlib = await import('node:zlib');
  return new Promise((resolve, reject) =>
    zlib.gzip(data, (error, out) => (error ? reject(error) : resolve(out))),
  );
}

/** One POST, settled within `timeoutMs` whatever the receiver does; the reason a person reads is the error's message. */
async function send(
  url: URL,
  headers: Record<string, string>,
  agent: unknown,
  body: Uint8Array,
  timeoutMs: number,
): Promise<ExportResponse> {
  const { request } = url.protocol === 'https:' ? await import('node:https') : await import('node:http');
  const where = url.host;
  return new Promise<ExportResponse>((resolve) => {
    let settled = false;
    const settle = (response: ExportResponse) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(response);
    };
    const req = request(
      url,
      {
        method: 'POST',
        headers: { ...headers, 'Content-Length': String(body.byteLength) },
        agent: agent as import('node:http').Agent,
      },
      (res: IncomingMessage) => {
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_RESPONSE_BYTES) {
            settle(failure(`an answer over ${MAX_RESPONSE_BYTES} bytes from ${where}`));
            res.destroy();
          }
        });
        res.on('error', () => settle(failure(`the answer from ${where} broke off`)));
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) settle({ status: 'success' });
          else if (RETRYABLE_STATUS.has(status)) {
            settle({
              status: 'retryable',
              error: new Error(`HTTP ${status} from ${where}`),
              retryInMillis: retryAfter(res.headers['retry-after']),
            });
          } else settle(failure(`HTTP ${status} from ${where}`));
        });
      },
    );
    // The whole exchange, not an idle gap, is bounded: a receiver that trickles bytes is a hang too.
    const timer = setTimeout(() => {
      settle({ status: 'retryable', error: new Error(`no answer from ${where} within ${timeoutMs} ms`) });
      req.destroy();
    }, timeoutMs);
    req.on('error', (error: NodeJS.ErrnoException) => {
      const reason = networkReason(error, url);
      settle(
        RETRYABLE_CODES.has(error.code ?? '')
          ? { status: 'retryable', error: new Error(reason) }
          : failure(reason),
      );
    });
    req.end(body);
  });
}

function failure(reason: string): ExportResponse {
  return { status: 'failure', error: new Error(reason) };
}

function networkReason(error: NodeJS.ErrnoException, url: URL): string {
  switch (error.code) {
    case 'ECONNREFUSED':
      return `connection refused by ${url.host}`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `${url.hostname} not found (${error.code})`;
    case undefined:
      return `${error.message} (${url.host})`;
    default:
      return `${error.code} from ${url.host}`;
  }
}

/** Retry-After in seconds or as a date, in ms (as the SDK reads it). */
function retryAfter(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const seconds = Number.parseInt(value, 10);
  if (Number.isInteger(seconds)) return Math.max(0, seconds * 1000);
  const at = new Date(value).getTime();
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/**
 * Pushes what is buffered (OTLP metrics, spans) when the event loop empties on a normal exit.
 * 'beforeExit' fires again once the flush's requests finish; `once` lets the process end then.
 * No signal handlers: a signal's exit belongs to the app. process.exit() skips the flush (Node
 * emits no 'beforeExit' then); 'exit' still says what was lost. Returns the undo.
 */
export function flushOnExit(
  flushers: readonly (() => Promise<unknown>)[],
  exports: OtlpExports | undefined,
  onError: (error: unknown) => void,
): () => void {
  const flush = () => {
    exports?.ending();
    // Every flusher to its end (Promise.all would stop at the first failure and say too little).
    Promise.allSettled(flushers.map((f) => f())).then((results) => {
      // An export that failed is counted and said by sayLost; anything else is a fault here.
      const failed = results.find((r) => r.status === 'rejected');
      if (failed !== undefined && !exports?.lostAny()) onError(failed.reason);
      exports?.sayLost();
    });
  };
  const exit = () => exports?.sayLost();
  process.once('beforeExit', flush);
  process.once('exit', exit);
  return () => {
    process.removeListener('beforeExit', flush);
    process.removeListener('exit', exit);
  };
}
