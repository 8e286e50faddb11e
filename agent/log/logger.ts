// The pino logger tapwire gives the app (`import { logger } from 'tapwire'`), on stdout. (The
// agent's own lines do not go through pino: core/log.ts.) Configured once from the environment
// (profile, LOG_LEVEL); the per-record work is pino's plus: trace context (only when a span is
// active), secret redaction, and a per-level counter behind tapwire_log_records_total. With
// OTEL_LOGS_EXPORTER=otlp each line is also handed to the agent's log shipper
// (exporters/otlp-logs.ts) with the active span; TAPWIRE_LOG_STDOUT=off leaves stdout out.
import { createRequire } from 'node:module';
import { context, trace } from '@opentelemetry/api';
import pino, { type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import type { Config } from '../../config/index.js';
import { logCounts } from '../../core/log-counts.js';
import type { LogSink } from '../../exporters/otlp-logs.js';

const CENSOR = '[Redacted]';

// Field paths that hold secrets in the shapes people log: request/response headers, options
// objects, error objects from HTTP clients. One level of nesting via `*.` (fast-redact paths).
export const REDACT_PATHS = [
  'authorization',
  'cookie',
  'password',
  'passwd',
  'secret',
  'token',
  'apiKey',
  'api_key',
  'accessToken',
  'access_token',
  'refreshToken',
  'connectionString',
  'headers.authorization',
  'headers.cookie',
  'headers["set-cookie"]',
  'headers["x-api-key"]',
  'headers["api-key"]',
  'headers["proxy-authorization"]',
  '*.authorization',
  '*.cookie',
  '*.password',
  '*.passwd',
  '*.secret',
  '*.token',
  '*.apiKey',
  '*.api_key',
  '*.accessToken',
  '*.access_token',
  '*.connectionString',
  '*.headers.authorization',
  '*.headers.cookie',
  '*.headers["set-cookie"]',
  '*.headers["x-api-key"]',
  '*.headers["api-key"]',
  '*.headers["proxy-authorization"]',
];

// `scheme://user:password@host` -> `scheme://user:[Redacted]@host`, in messages and top-level
// string fields; field paths cannot match a password inside a value.
const URL_PASSWORD = /\b([a-z][a-z0-9+.-]*:\/\/[^\s:@/]*:)[^\s@/]+@/gi;

export function redactUrls(s: string): string {
  return s.includes('://') ? s.replace(URL_PASSWORD, `$1${CENSOR}@`) : s;
}

function countingLogMethod(
  this: Logger,
  args: unknown[],
  method: (...a: unknown[]) => void,
  level: number,
): void {
  const label = this.levels.labels[level] ?? String(level);
  logCounts[label] = (logCounts[label] ?? 0) + 1;
  logMethod.call(this, args, method);
}

function logMethod(this: Logger, args: unknown[], method: (...a: unknown[]) => void): void {
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (typeof a === 'string') {
      args[i] = redactUrls(a);
    } else if (a !== null && typeof a === 'object' && !(a instanceof Error) && i === 0) {
      args[i] = redactObjectUrls(a as Record<string, unknown>);
    }
  }
  method.apply(this, args);
}

function redactObjectUrls(obj: Record<string, unknown>): Record<string, unknown> {
  let copy: Record<string, unknown> | undefined;
  for (const key of Object.keys(obj)) {
    const v = obj[key];
    if (typeof v === 'string' && v.includes('://')) {
      const r = redactUrls(v);
      if (r !== v) {
        copy ??= { ...obj };
        copy[key] = r;
      }
    }
  }
  return copy ?? obj;
}

// trace_id / span_id of the active span. With tracing off no context manager is registered and
// this is one cheap lookup returning undefined.
function traceMixin(): Record<string, string> {
  const span = trace.getSpan(context.active());
  if (span === undefined) return {};
  const sc = span.spanContext();
  return { trace_id: sc.traceId, span_id: sc.spanId };
}

function loggerOptions(config: Config): LoggerOptions {
  return {
    level: config.logLevel,
    base: {
      pid: process.pid,
      'service.name': config.serviceName,
      'deployment.environment.name': config.environment,
    },
    formatters: { level: (label) => ({ level: label }) },
    mixin: traceMixin,
    redact: { paths: REDACT_PATHS, censor: CENSOR },
    hooks: { logMethod: countingLogMethod },
  };
}

/** The app's logger, writing to stdout (unless TAPWIRE_LOG_STDOUT=off) and to `sink` when given. */
export function createLogger(config: Config, sink?: LogSink): Logger {
  const stdout = config.logStdout === 'on' ? destination(config) : undefined;
  if (sink === undefined) return pino(loggerOptions(config), stdout ?? { write() {} });
  return pino(loggerOptions(config), new Shipping(sink, stdout));
}

/** pino's stream: each line to the shipper with the span it was written in, then to stdout. */
class Shipping implements DestinationStream {
  constructor(
    private readonly sink: LogSink,
    private readonly stdout: DestinationStream | undefined,
  ) {}

  write(line: string): void {
    this.sink.push(line, trace.getSpan(context.active())?.spanContext());
    this.stdout?.write(line);
  }
}

function destination(config: Config): DestinationStream {
  if (config.logPretty) {
    try {
      // Loaded on demand: only development on a terminal pays for it. Resolved from the app's
      // directory first, then tapwire's own.
      const req = createRequire(`${process.cwd()}/`);
      let pretty: (opts: object) => DestinationStream;
      try {
        pretty = req('pino-pretty');
      } catch {
        pretty = createRequire(import.meta.url)('pino-pretty');
      }
      return pretty({ sync: true, colorize: true, destination: 1 });
    } catch {
      // pino-pretty is not installed: JSON is still correct output.
    }
  }
  // Synchronous writes: a record logged just before process.exit() is not lost.
  return pino.destination({ dest: 1, sync: true });
}
