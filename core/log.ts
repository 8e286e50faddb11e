// The agent's own messages: one JSON line each on stderr with component "tapwire", never on the
// app's stdout. Same record shape as the app's pino logger (level label, time, pid, service.name,
// deployment.environment.name, msg) plus a stable `code` from ./codes.ts, which also fixes the
// level. Written synchronously by a few lines of code instead of a second pino instance: loading
// pino costs start-up time every app would pay, and the agent writes a handful of lines per
// process life.
import { writeSync } from 'node:fs';
import { type Config, loadConfig } from '../config/index.js';
import { LOG_CODES, type LogCode } from './codes.js';

const LEVEL_VALUES: Record<string, number> = {
  trace: 10,
  debug: 20,
  info: 30,
  warn: 40,
  error: 50,
  fatal: 60,
  silent: Number.POSITIVE_INFINITY,
};

let configured: Config | undefined;
let shipped: ((line: string) => void) | undefined;
let threshold = -1;
let base = '';
/** While the preload's start is timed (at debug, agent/start.ts): seconds spent writing lines. */
let clock: { seconds: number } | undefined;

/**
 * Called at start so messages use the (already validated) configuration. `inApp`: the preload,
 * whose lines share the app's stderr (config.agentLogLevel); else the sidecar (config.logLevel).
 */
export function configureAgentLog(config: Config, inApp = true): void {
  configured = config;
  threshold = LEVEL_VALUES[inApp ? config.agentLogLevel : config.logLevel] ?? 30;
  base = `"pid":${process.pid},"service.name":${JSON.stringify(config.serviceName)},"deployment.environment.name":${JSON.stringify(config.environment)},"component":"tapwire"`;
}

/** Whether a line of `code` would be written at the level in force. */
export function agentLogs(code: LogCode): boolean {
  if (configured === undefined) configureAgentLog(loadConfig(process.env).config);
  return (LEVEL_VALUES[LOG_CODES[code].level] ?? 0) >= threshold;
}

/**
 * The time spent writing lines from now on is added to `into` (undefined stops it): the start-up
 * breakdown reports it apart, since at the levels that do not write them it is not spent. On Bun the
 * first line loads node:fs (~2 ms; measured on Bun 1.4.5), which the preload's start otherwise never
 * does, so the endpoint that says it listens (a debug line) took ~3 ms more than it costs.
 */
export function timeAgentLog(into: { seconds: number } | undefined): void {
  clock = into;
}

/** Every line written from now on also goes to `ship` (OTLP logs); undefined stops it. */
export function shipAgentLog(ship: ((line: string) => void) | undefined): void {
  shipped = ship;
}

/** What a user can act on from an error: class, code, message, stack (pino's err shape). */
function serializeError(error: unknown): unknown {
  if (!(error instanceof Error)) return String(error);
  const out: Record<string, unknown> = { type: error.name, message: error.message, stack: error.stack };
  const code = (error as { code?: unknown }).code;
  if (code !== undefined) out.code = code;
  return out;
}

export function agentLog(code: LogCode, message: string, fields?: Record<string, unknown>): void {
  try {
    if (configured === undefined) configureAgentLog(loadConfig(process.env).config);
    const level = LOG_CODES[code].level;
    if ((LEVEL_VALUES[level] ?? 0) < threshold) return;
    const since = clock === undefined ? 0 : process.uptime();
    let extra = '';
    if (fields !== undefined) {
      for (const key of Object.keys(fields)) {
        const v = fields[key];
        if (v === undefined) continue;
        extra += `,${JSON.stringify(key)}:${JSON.stringify(v instanceof Error || key === 'err' ? serializeError(v) : v)}`;
      }
    }
    const line = `{"level":"${level}","time":${Date.now()},${base},"code":${JSON.stringify(code)}${extra},"msg":${JSON.stringify(message)}}\n`;
    shipped?.(line);
    writeSync(2, line);
    if (clock !== undefined) clock.seconds += process.uptime() - since;
  } catch {
    // The logging path never throws into the host (EAGAIN on a full pipe, a closed stderr).
  }
}
