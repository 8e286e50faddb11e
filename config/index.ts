export {
  CONFIG_ERROR_CODE,
  type Config,
  type ConfigProblem,
  type LoadedConfig,
  loadConfig,
  mask,
  problemMessage,
} from './load.js';
export {
  AI_PROVIDERS,
  type AiAttribute,
  type AiEndpoint,
  type AiShape,
  type GatewayProvider,
} from './parse.js';
export { PROFILE_DEFAULTS } from './profiles.js';
export {
  AI_PRICE_MAX,
  LOG_LEVELS,
  type LogLevel,
  type OtlpCompression,
  type OtlpProtocol,
  PROFILES,
  type Profile,
  type RuntimePart,
  VARIABLES,
} from './variables.js';
