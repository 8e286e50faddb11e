// Deployment profiles, picked by TAPWIRE_ENV, else by NODE_ENV when it names one, else development
// (load.ts): debug in development, info in staging, warn in production and in tests (quiet test
// output); the live page at `/` in development only. LOG_LEVEL overrides the level,
// TAPWIRE_DASHBOARD the page. docs/configuration.md's profile table is generated from this.
import type { LogLevel, Profile } from './variables.js';

export interface ProfileDefaults {
  logLevel: LogLevel;
  /** Human-readable logs when stdout is a terminal. */
  prettyOnTTY: boolean;
  /** The live page at `/` of the metrics port (TAPWIRE_DASHBOARD). */
  dashboard: boolean;
}

export const PROFILE_DEFAULTS: Record<Profile, ProfileDefaults> = {
  development: { logLevel: 'debug', prettyOnTTY: true, dashboard: true },
  test: { logLevel: 'warn', prettyOnTTY: false, dashboard: false },
  staging: { logLevel: 'info', prettyOnTTY: false, dashboard: false },
  production: { logLevel: 'warn', prettyOnTTY: false, dashboard: false },
};
