// `import { logger } from 'tapwire'`

export type { Agent } from './agent/current.js';
export { currentAgent } from './agent/current.js';
export { logger } from './agent/log/app.js';
export type { Config, ConfigProblem } from './config/index.js';
export { loadConfig } from './config/index.js';
