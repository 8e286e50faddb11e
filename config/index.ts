export {
  CONFIG_ERROR_CODE,
  type Config,
  type ConfigProblem,
  type LoadedConfig,
  loadConfig,
  mask,
} from './load.js';
export type { AiAttribute, AiEndpoint, GatewayProvider } from './parse.js';
export { PROFILE_DEFAULTS } from './profiles.js';
export {
  LOG_LEVELS,
  type LogLevel,
  PROFILES,
  type Profile,
  VARIABLES,
} from './variables.js';
