// The metrics merge: preloaded workers push cumulative OTLP/HTTP JSON (OTEL_METRICS_EXPORTER=otlp,
// OTEL_EXPORTER_OTLP_METRICS_ENDPOINT=http://127.0.0.1:9464/v1/metrics) and the sidecar keeps the
// latest push of each, to serve beside its own metrics on one /metrics. Cumulative pushes make
// "latest wins" exact: nothing is summed here, so a lost or repeated push never skews a count.
//
// Bounded on every axis, because whatever a worker sends becomes series Prometheus keeps:
// at most MAX_WORKERS workers, at most `maxPoints` data points per worker, bodies up to
// MAX_BODY_BYTES, and a worker not heard from for EXPIRE_INTERVALS of its own push interval is
// forgotten (a restarted worker comes back under its new pid).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { agentLog } from '../core/log.js';
import { convertResourceMetrics, OtlpFormatError, type OtlpResourceMetrics } from './otlp-json.js';

export const MAX_WORKERS = 64;
export const MAX_BODY_BYTES = 16 * 1024 * 1024;
export const EXPIRE_INTERVALS = 3;
const MIN_INTERVAL_MS = 1000;

interface Worker {
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

export class WorkerStore {
  private readonly workers = new Map<string, Worker>();
  private warnedFull = false;
  private warnedPoints = false;

  constructor(
    private readonly defaultIntervalMs: number,
    private readonly maxPoints: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Stores a decoded OTLP ExportMetricsServiceRequest; returns the data points rejected. */
  accept(body: { resourceMetrics?: OtlpResourceMetrics[] }): number {
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
        agentLog(
          'TAPWIRE_ERR_WORKER_SERIES',
          `a worker pushed more than ${this.maxPoints} data points; the rest are dropped`,
        );
      }
      const instance = instanceOf(resourceMetrics.resource.attributes);
      const known = this.workers.get(instance);
      if (known) {
        // A flush right after a periodic push must not make a live worker look overdue.
        known.interval = Math.max(MIN_INTERVAL_MS, now - known.lastSeen);
        known.lastSeen = now;
        known.resourceMetrics = resourceMetrics;
        continue;
      }
      if (this.workers.size >= MAX_WORKERS) {
        rejected += resourceMetrics.scopeMetrics.reduce((n, s) => n + s.metrics.length, 0);
        if (!this.warnedFull) {
          this.warnedFull = true;
          agentLog(
            'TAPWIRE_ERR_WORKERS_FULL',
            `more than ${MAX_WORKERS} workers push metrics; new ones are ignored until others expire`,
          );
        }
        continue;
      }
      this.workers.set(instance, {
        instance,
        resourceMetrics,
        lastSeen: now,
        interval: this.defaultIntervalMs,
      });
    }
    return rejected;
  }

  /** The live workers, oldest first, with the label that keeps them apart. */
  sources(): { resourceMetrics: ResourceMetrics; options: { extraLabels: Record<string, string> } }[] {
    this.expire(this.now());
    return [...this.workers.values()].map((w) => ({
      resourceMetrics: w.resourceMetrics,
      options: { extraLabels: { instance: w.instance } },
    }));
  }

  get size(): number {
    return this.workers.size;
  }

  private expire(now: number): void {
    for (const [key, w] of this.workers) {
      if (now - w.lastSeen > EXPIRE_INTERVALS * w.interval) this.workers.delete(key);
    }
  }
}

/** POST /v1/metrics with an OTLP JSON body. Protobuf is refused with 415 (the preload pushes JSON). */
export function receiveOtlp(store: WorkerStore, req: IncomingMessage, res: ServerResponse): void {
  const type = req.headers['content-type'] ?? '';
  if (!type.startsWith('application/json')) {
    reply(res, 415, {
      error: 'OTLP/HTTP JSON only (content-type: application/json)',
      error_type: 'unsupported_media_type',
    });
    req.resume();
    return;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  req.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) {
      reply(res, 413, { error: `body larger than ${MAX_BODY_BYTES} bytes`, error_type: 'too_large' });
      req.destroy();
      return;
    }
    chunks.push(chunk);
  });
  req.on('end', () => {
    if (res.headersSent) return;
    try {
      const rejected = store.accept(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      reply(res, 200, rejected > 0 ? { partialSuccess: { rejectedDataPoints: rejected } } : {});
    } catch (error) {
      const message = error instanceof OtlpFormatError ? error.message : 'body is not JSON';
      reply(res, 400, { error: message, error_type: 'bad_request' });
    }
  });
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
