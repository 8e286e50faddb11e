// Deployment profiles, picked by TAPWIRE_ENV, else by NODE_ENV when it names one, else development
// (load.ts): debug in development, info in staging, warn in production and in tests (quiet test
// output). LOG_LEVEL overrides the level. docs/configuration.md's profile table is generated from this.
import type { LogLevel, Profile } from './variables.js';

export interface ProfileDefaults {
  logLevel: LogLevel;
  /** Human-readable logs when stdout is a terminal. */
  prettyOnTTY: boolean;
}

export const PROFILE_DEFAULTS: Record<Profile, ProfileDefaults> = {
  development: { logLevel: 'debug', prettyOnTTY: true },
  test: { logLevel: 'warn', prettyOnTTY: false },
  staging: { logLevel: 'info', prettyOnTTY: false },
  production: { logLevel: 'warn', prettyOnTTY: false },
};
