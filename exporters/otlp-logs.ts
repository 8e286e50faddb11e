// Log records over OTLP (OTEL_LOGS_EXPORTER=otlp), loaded only then; sent by ./otlp.ts. What arrives here is the JSON
// line each record already is — the app's pino logger and tapwire's own lines share one shape
// (level label, time, msg, fields) — with the span context that was active when it was written.
// The hot path only stores the line in a bounded ring; parsing, batching and encoding happen when a
// batch is sent, off the request that logged. Why not the SDK's BatchLogRecordProcessor: it drops
// the newest record when its queue is full, and the newest is the one that says what went wrong.
import type { Attributes, HrTime, SpanContext } from '@opentelemetry/api';
import { ExportResultCode } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableLogRecord } from '@opentelemetry/sdk-logs';

/** Where a written record goes: the line as written, the span it was written in. */
export interface LogSink {
  push(line: string, span: SpanContext | undefined): void;
}

export type DropReason = 'queue_full' | 'export_failed';

/** What sends a batch: OtlpExports.logExporter() (./otlp.ts). */
export interface RecordExporter {
  export(records: ReadableLogRecord[], done: (result: { code: number; error?: Error }) => void): void;
  shutdown(): Promise<void>;
}

// pino's levels to OpenTelemetry severity numbers
// (https://opentelemetry.io/docs/specs/otel/logs/data-model-appendix/#appendix-b-severitynumber-example-mappings).
const SEVERITY: Readonly<Record<string, number>> = {
  trace: 1,
  debug: 5,
  info: 9,
  warn: 13,
  error: 17,
  fatal: 21,
};
const LABELS: Readonly<Record<number, string>> = {
  10: 'trace',
  20: 'debug',
  30: 'info',
  40: 'warn',
  50: 'error',
  60: 'fatal',
};

// Fields of the line that are the record's own fields (time, severity, body, trace context) or
// the resource's (the same on every record, sent once per request).
const NOT_ATTRIBUTES = new Set([
  'level',
  'time',
  'msg',
  'trace_id',
  'span_id',
  'pid',
  'service.name',
  'deployment.environment.name',
]);

function hrTime(ms: number): HrTime {
  const s = Math.floor(ms / 1000);
  return [s, Math.round((ms - s * 1000) * 1e6)];
}

/**
 * The record of one line. An error under `err` (pino's serializer: type, message, stack) becomes
 * the semantic conventions' exception.type, exception.message, exception.stacktrace.
 */
export function toLogRecord(
  line: string,
  span: SpanContext | undefined,
  resource: Resource,
  scope: ReadableLogRecord['instrumentationScope'],
): ReadableLogRecord | undefined {
  let fields: Record<string, unknown>;
  try {
    fields = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (fields === null || typeof fields !== 'object') return undefined;
  const attributes: Attributes = {};
  for (const key of Object.keys(fields)) {
    if (!NOT_ATTRIBUTES.has(key)) attributes[key] = fields[key] as never;
  }
  const err = fields.err as Record<string, unknown> | undefined;
  if (err !== null && typeof err === 'object' && typeof err.message === 'string') {
    const { type, message, stack, ...rest } = err;
    if (typeof type === 'string') attributes['exception.type'] = type;
    attributes['exception.message'] = message;
    if (typeof stack === 'string') attributes['exception.stacktrace'] = stack;
    if (Object.keys(rest).length > 0) attributes.err = rest as never;
    else delete attributes.err;
  }
  const level = typeof fields.level === 'number' ? LABELS[fields.level] : fields.level;
  const time = hrTime(typeof fields.time === 'number' ? fields.time : Date.now());
  return {
    hrTime: time,
    hrTimeObserved: time,
    spanContext: span,
    severityNumber: typeof level === 'string' ? SEVERITY[level] : undefined,
    severityText: typeof level === 'string' ? level : undefined,
    body: typeof fields.msg === 'string' ? fields.msg : undefined,
    resource,
    instrumentationScope: scope,
    attributes,
    droppedAttributesCount: 0,
  } as ReadableLogRecord;
}

export interface ShipperOptions {
  resource: Resource;
  scope: { name: string; version: string };
  capacity: number;
  batchSize: number;
  delayMs: number;
  /** Records lost: the oldest when the queue was full, a batch the receiver did not take. */
  onDropped(reason: DropReason, count: number, error?: Error): void;
}

/** A bounded queue of written lines, sent in batches; the oldest goes when it is full. */
export class LogShipper implements LogSink {
  private readonly lines: (string | undefined)[];
  private readonly spans: (SpanContext | undefined)[];
  private head = 0;
  private size = 0;
  private timer: NodeJS.Timeout | undefined;
  private sending: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly exporter: RecordExporter,
    private readonly options: ShipperOptions,
  ) {
    this.lines = new Array(options.capacity);
    this.spans = new Array(options.capacity);
  }

  push(line: string, span: SpanContext | undefined): void {
    if (this.closed) return;
    const capacity = this.options.capacity;
    const full = this.size === capacity;
    if (full) {
      this.head = (this.head + 1) % capacity;
      this.size--;
    }
    const at = (this.head + this.size) % capacity;
    this.lines[at] = line;
    this.spans[at] = span;
    this.size++;
    // Said once the record is in: what onDropped logs comes back here as a record of its own.
    if (full) this.options.onDropped('queue_full', 1);
    if (this.sending !== undefined) return;
    if (this.size >= this.options.batchSize) this.schedule(0);
    else if (this.timer === undefined) this.schedule(this.options.delayMs);
  }

  /** Sends everything queued; resolves when the receiver answered (or the exporter gave up). */
  async forceFlush(): Promise<void> {
    await this.sending;
    this.cancel();
    this.sending = this.send(true);
    await this.sending;
    this.sending = undefined;
  }

  async shutdown(): Promise<void> {
    await this.forceFlush();
    this.closed = true;
    await this.exporter.shutdown();
  }

  private schedule(ms: number): void {
    this.cancel();
    // Never the reason a process stays alive: a normal exit flushes (../exporters/otlp.ts).
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.sending = this.send(false).finally(() => {
        this.sending = undefined;
        if (this.size > 0 && !this.closed) {
          this.schedule(this.size >= this.options.batchSize ? 0 : this.options.delayMs);
        }
      });
    }, ms);
    this.timer.unref?.();
  }

  private cancel(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** One batch, or (all) batch after batch until the queue is empty. */
  private async send(all: boolean): Promise<void> {
    do {
      const records = this.take();
      if (records.length === 0) return;
      const result = await new Promise<{ code: number; error?: Error }>((resolve) => {
        try {
          this.exporter.export(records, resolve);
        } catch (error) {
          resolve({ code: ExportResultCode.FAILED, error: error as Error });
        }
      });
      if (result.code !== ExportResultCode.SUCCESS) {
        this.options.onDropped('export_failed', records.length, result.error);
      }
    } while (all && this.size > 0);
  }

  private take(): ReadableLogRecord[] {
    const { capacity, batchSize, resource, scope } = this.options;
    const records: ReadableLogRecord[] = [];
    while (this.size > 0 && records.length < batchSize) {
      const line = this.lines[this.head]!;
      const span = this.spans[this.head];
      this.lines[this.head] = undefined;
      this.spans[this.head] = undefined;
      this.head = (this.head + 1) % capacity;
      this.size--;
      const record = toLogRecord(line, span, resource, scope);
      if (record !== undefined) records.push(record);
    }
    return records;
  }
}
