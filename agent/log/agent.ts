// The agent's own messages: JSON on stderr with component "tapwire", never on the app's stdout.
// The pino instance is created on the first message, so a quiet start costs nothing.
import type { Logger } from 'pino';
import { type Config, loadConfig } from '../../config/index.js';
import { createLogger } from './logger.js';

let log: Logger | undefined;
let configured: Config | undefined;

/** Called by the agent at start so messages use its (already validated) configuration. */
export function configureAgentLog(config: Config): void {
  configured = config;
  log = undefined;
}

export type AgentLevel = 'debug' | 'info' | 'warn' | 'error';

export function agentLog(
  level: AgentLevel,
  code: string,
  message: string,
  fields?: Record<string, unknown>,
): void {
  try {
    if (log === undefined) {
      const config = configured ?? loadConfig(process.env).config;
      log = createLogger(config, { fd: 2 }).child({ component: 'tapwire' });
    }
    log[level]({ code, ...fields }, message);
  } catch {
    // The logging path never throws into the host.
  }
}
