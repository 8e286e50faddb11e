// `import { logger } from 'tapwire'`
export { logger } from './agent/log/app.js';
export { currentAgent } from './agent/start.js';
export type { Config, ConfigProblem } from './config/index.js';
export { loadConfig } from './config/index.js';
