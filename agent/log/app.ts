// The app's logger: pino to stdout, configured from the environment (the agent's configuration
// when the preload runs, the same variables read here otherwise).
import type { Logger } from 'pino';
import { loadConfig } from '../../config/index.js';
import { currentAgent } from '../current.js';
import { createLogger } from './logger.js';

export const logger: Logger = createLogger(currentAgent()?.config ?? loadConfig(process.env).config);
