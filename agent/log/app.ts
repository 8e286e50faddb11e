// The app's logger: pino to stdout, configured from the environment (the agent's configuration
// when the preload runs, the same variables read here otherwise). Its records go over OTLP only
// through a running agent's shipper (OTEL_LOGS_EXPORTER=otlp under the preload).
import type { Logger } from 'pino';
import { loadConfig } from '../../config/index.js';
import { currentAgent } from '../current.js';
import type { Agent } from '../start.js';
import { createLogger } from './logger.js';

// The agent's own view of itself: its log shipper is not part of what the app is shown.
const agent = currentAgent() as Agent | undefined;
export const logger: Logger = createLogger(agent?.config ?? loadConfig(process.env).config, agent?.logs);
