// The latest metrics each pushing process sent, for the two places that serve them beside their
// own: the sidecar (workers push OTLP/HTTP JSON with OTEL_METRICS_EXPORTER=otlp and
// OTEL_EXPORTER_OTLP_METRICS_ENDPOINT=http://127.0.0.1:9464/v1/metrics; it labels each worker's
// series with `instance`) and the process holding a host's /metrics port (its siblings push there;
// ./merge.ts sums them). Cumulative pushes make "latest wins" exact: a lost or repeated push never
// skews a count.
//
// Bounded on every axis, because whatever a worker sends becomes series Prometheus keeps:
// at most MAX_WORKERS workers, at most `maxPoints` data points per worker, bodies up to
// MAX_BODY_BYTES, and a worker not heard from for EXPIRE_INTERVALS of its own push interval is
// forgotten (a restarted worker comes back under its new pid). A push marked final (a process
// that exits) is forgotten at once. Whoever keeps a forgotten worker's totals hears of it through
// `onForget`; and, when a worker forgotten for its silence pushes again (it was alive, only blocked:
// a parent waiting in execFileSync, a long synchronous task), through `onReturn`, with the metrics
// it was forgotten with, so that they are not counted twice. Given onReturn, the last MAX_WORKERS
// forgotten for silence are remembered for that.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { type OtlpAnswer, reply } from './otlp-answer.js';
import { convertResourceMetrics, OtlpFormatError, type OtlpResourceMetrics } from './otlp-json.js';
import { decodeMetricsRequest, encodeMetricsResponse } from './otlp-proto.js';

export const MAX_WORKERS = 64;
export const MAX_BODY_BYTES = 16 * 1024 * 1024;
export const EXPIRE_INTERVALS = 3;
const MIN_INTERVAL_MS = 1000;

export interface Worker {
  instance: string;
  resourceMetrics: ResourceMetrics;
  lastSeen: number;
  /** Gap between its last two pushes; until there are two, the configured export interval. */
  interval: number;
}

/**
 * The `instance` label a worker's series carry: `service.instance.id` when the worker sets one
 * (OTEL_RESOURCE_ATTRIBUTES), else service name and pid — unique among the processes of a pod,
 * which is the sidecar's whole world.
 */
export function instanceOf(attributes: Record<string, unknown>): string {
  const id = attributes['service.instance.id'];
  if (typeof id === 'string' && id !== '') return id;
  const service =
    typeof attributes['service.name'] === 'string' ? attributes['service.name'] : 'unknown_service';
  const pid = attributes['process.pid'];
  return pid === undefined ? String(service) : `${String(service)}/${String(pid)}`;
}

export interface WorkerStoreOptions {
  /** A warning a person should see, said once each (workers full, a worker with too many points). */
  warn?: (code: 'TAPWIRE_ERR_WORKERS_FULL' | 'TAPWIRE_ERR_WORKER_SERIES', message: string) => void;
  /** A worker that expired or sent its final push, with its last metrics. */
  onForget?: (worker: Worker) => void;
  /** A worker forgotten for its silence pushes again: `worker` as it was forgotten (onForget). */
  onReturn?: (worker: Worker) => void;
  /** Only pushes of this `service.name` are kept; the others' points count as rejected. */
  service?: string;
  now?: () => number;
}

export class WorkerStore {
  private readonly workers = new Map<string, Worker>();
  /** Forgotten for their silence, oldest first, at most MAX_WORKERS: one may still push again. */
  private readonly silent = new Map<string, Worker>();
  /** Forgotten after their final push, at most MAX_WORKERS: a copy of one handed on is not adopted. */
  private readonly ended = new Set<string>();
  private warnedFull = false;
  private warnedPoints = false;
  private readonly now: () => number;

  constructor(
    private readonly defaultIntervalMs: number,
    private readonly maxPoints: number,
    private readonly options: WorkerStoreOptions = {},
  ) {
    this.now = options.now ?? Date.now;
  }

  /**
   * Stores a decoded OTLP ExportMetricsServiceRequest; returns the data points rejected. `final`:
   * the sender's last push (it exits), forgotten once stored.
   */
  accept(body: { resourceMetrics?: OtlpResourceMetrics[] }, final = false): number {
    if (body === null || typeof body !== 'object' || !Array.isArray(body.resourceMetrics)) {
      throw new OtlpFormatError('body has no resourceMetrics array');
    }
    const now = this.now();
    this.expire(now);
    let rejected = 0;
    for (const rm of body.resourceMetrics) {
      const { resourceMetrics, dropped } = convertResourceMetrics(rm, this.maxPoints);
      rejected += dropped;
      if (dropped > 0 && !this.warnedPoints) {
        this.warnedPoints = true;
        this.options.warn?.(
          'TAPWIRE_ERR_WORKER_SERIES',
          `a worker pushed more than ${this.maxPoints} data points; the rest are dropped`,
        );
      }
      const { service } = this.options;
      if (service !== undefined && resourceMetrics.resource.attributes['service.name'] !== service) {
        rejected += points(resourceMetrics);
        continue;
      }
      const instance = instanceOf(resourceMetrics.resource.attributes);
      const known = this.workers.get(instance);
      if (known) {
        // A flush right after a periodic push must not make a live worker look overdue.
        known.interval = Math.max(MIN_INTERVAL_MS, now - known.lastSeen);
        known.lastSeen = now;
        known.resourceMetrics = resourceMetrics;
        if (final) this.forget(instance, known, true);
        continue;
      }
      if (this.workers.size >= MAX_WORKERS) {
        rejected += points(resourceMetrics);
        if (!this.warnedFull) {
          this.warnedFull = true;
          this.options.warn?.(
            'TAPWIRE_ERR_WORKERS_FULL',
            `more than ${MAX_WORKERS} workers push metrics; new ones are ignored until others expire`,
          );
        }
        continue;
      }
      const back = this.silent.get(instance);
      if (back !== undefined) {
        this.silent.delete(instance);
        // The same process, not a new one that got its pid: series that began before it went
        // silent (a push that gives no start times is taken for the same process).
        const started = earliestStart(rm);
        if (started === undefined || started <= back.lastSeen) this.options.onReturn?.(back);
      }
      const worker = { instance, resourceMetrics, lastSeen: now, interval: this.defaultIntervalMs };
      this.workers.set(instance, worker);
      if (final) this.forget(instance, worker, true);
    }
    return rejected;
  }

  /**
   * Copies of workers a holder that ended handed on (their last pushes, in its spool): each one not
   * known here, not `self` and not ended is kept as if it had just pushed. One that is alive pushes
   * its own again (latest wins); one that is not is forgotten in its time, its totals kept.
   */
  adopt(body: { resourceMetrics?: OtlpResourceMetrics[] }, self: string): void {
    if (body === null || typeof body !== 'object' || !Array.isArray(body.resourceMetrics)) return;
    const now = this.now();
    for (const rm of body.resourceMetrics) {
      const { resourceMetrics } = convertResourceMetrics(rm, this.maxPoints);
      const { service } = this.options;
      if (service !== undefined && resourceMetrics.resource.attributes['service.name'] !== service) continue;
      const instance = instanceOf(resourceMetrics.resource.attributes);
      if (instance === self || this.workers.has(instance) || this.ended.has(instance)) continue;
      if (this.workers.size >= MAX_WORKERS) continue;
      this.workers.set(instance, {
        instance,
        resourceMetrics,
        lastSeen: now,
        interval: this.defaultIntervalMs,
      });
    }
  }

  /** Those forgotten for their silence that may still push again (onReturn), oldest first. */
  silentOnes(): readonly Worker[] {
    return [...this.silent.values()];
  }

  /** The live workers, oldest first. */
  live(): readonly Worker[] {
    this.expire(this.now());
    return [...this.workers.values()];
  }

  /** The live workers with the label that keeps them apart (the sidecar's page). */
  sources(): { resourceMetrics: ResourceMetrics; options: { extraLabels: Record<string, string> } }[] {
    return this.live().map((w) => ({
      resourceMetrics: w.resourceMetrics,
      options: { extraLabels: { instance: w.instance } },
    }));
  }

  private forget(key: string, worker: Worker, final = false): void {
    this.workers.delete(key);
    if (final) {
      if (this.ended.size >= MAX_WORKERS) this.ended.delete(this.ended.values().next().value as string);
      this.ended.add(key);
    }
    this.options.onForget?.(worker);
  }

  get size(): number {
    return this.workers.size;
  }

  private expire(now: number): void {
    for (const [key, w] of this.workers) {
      if (now - w.lastSeen <= EXPIRE_INTERVALS * w.interval) continue;
      if (this.options.onReturn !== undefined) {
        if (this.silent.size >= MAX_WORKERS) this.silent.delete(this.silent.keys().next().value as string);
        this.silent.set(key, w);
      }
      this.forget(key, w);
    }
  }
}

/** When the earliest series of a pushed `rm` began (epoch milliseconds); undefined if none says. */
function earliestStart(rm: OtlpResourceMetrics): number | undefined {
  let min: number | undefined;
  for (const scope of rm.scopeMetrics ?? []) {
    for (const m of scope.metrics ?? []) {
      for (const p of m.sum?.dataPoints ?? m.histogram?.dataPoints ?? m.gauge?.dataPoints ?? []) {
        const t = (p as { startTimeUnixNano?: unknown }).startTimeUnixNano;
        let ms: number;
        if (typeof t === 'number') ms = t / 1e6;
        else if (typeof t === 'string' && /^\d+$/.test(t)) ms = Number(BigInt(t) / 1_000_000n);
        else continue;
        if (ms > 0 && (min === undefined || ms < min)) min = ms;
      }
    }
  }
  return min;
}

function points(rm: ResourceMetrics): number {
  return rm.scopeMetrics.reduce((n, s) => n + s.metrics.length, 0);
}

const utf8 = new TextDecoder();

/**
 * A pushed ExportMetricsServiceRequest, OTLP/HTTP protobuf (the specification's default) or JSON,
 * gzipped or not. zlib is loaded on the first gzipped push, and inflates at most MAX_BODY_BYTES.
 */
export function acceptOtlp(
  store: WorkerStore,
  contentType: string,
  encoding: string | undefined,
  raw: Uint8Array,
  final: boolean,
): OtlpAnswer {
  const proto = contentType.startsWith('application/x-protobuf');
  if (!proto && !contentType.startsWith('application/json')) {
    return {
      status: 415,
      body: {
        error: 'OTLP/HTTP protobuf or JSON only (content-type: application/x-protobuf or application/json)',
        error_type: 'unsupported_media_type',
      },
    };
  }
  let data = raw;
  if (encoding === 'gzip') {
    try {
      const zlib = process.getBuiltinModule('node:zlib') as typeof import('node:zlib');
      data = zlib.gunzipSync(raw, { maxOutputLength: MAX_BODY_BYTES });
    } catch {
      return {
        status: 400,
        body: { error: 'body is not gzip, or inflates too large', error_type: 'bad_request' },
      };
    }
  } else if (encoding !== undefined && encoding !== '' && encoding !== 'identity') {
    return {
      status: 415,
      body: { error: 'content-encoding gzip or none only', error_type: 'unsupported_media_type' },
    };
  }
  try {
    const request = proto ? decodeMetricsRequest(data) : JSON.parse(utf8.decode(data));
    const rejected = store.accept(request, final);
    if (proto) return { status: 200, body: {}, proto: encodeMetricsResponse(rejected) };
    return { status: 200, body: rejected > 0 ? { partialSuccess: { rejectedDataPoints: rejected } } : {} };
  } catch (error) {
    const message = error instanceof OtlpFormatError ? error.message : 'body is not JSON';
    return { status: 400, body: { error: message, error_type: 'bad_request' } };
  }
}

/** The final push of a process that exits carries this header. */
export const FINAL_HEADER = 'x-tapwire-final';

/** POST /v1/metrics on a node:http server: the body read up to MAX_BODY_BYTES, then acceptOtlp(). */
export function receiveOtlp(store: WorkerStore, req: IncomingMessage, res: ServerResponse): void {
  const type = req.headers['content-type'] ?? '';
  if (!type.startsWith('application/json') && !type.startsWith('application/x-protobuf')) {
    reply(res, acceptOtlp(store, type, undefined, new Uint8Array(0), false));
    req.resume();
    return;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  req.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) {
      reply(res, {
        status: 413,
        body: { error: `body larger than ${MAX_BODY_BYTES} bytes`, error_type: 'too_large' },
      });
      req.destroy();
      return;
    }
    chunks.push(chunk);
  });
  req.on('end', () => {
    if (res.headersSent) return;
    const final = req.headers[FINAL_HEADER] === '1';
    reply(res, acceptOtlp(store, type, req.headers['content-encoding'], Buffer.concat(chunks), final));
  });
}
