// Which tapwire and which runtime this process runs, decided once when the module loads.
import { AGENT_SCOPE } from '../exporters/catalogue.js';

declare const __TAPWIRE_VERSION__: string;
/** Defined by scripts/build.mjs; the sources run unbundled (tests) have no version. */
export const VERSION: string = typeof __TAPWIRE_VERSION__ === 'string' ? __TAPWIRE_VERSION__ : '0.0.0-dev';

export type Runtime = 'bun' | 'node';

export const RUNTIME: Runtime = typeof (globalThis as { Bun?: unknown }).Bun === 'object' ? 'bun' : 'node';

export const RUNTIME_VERSION: string =
  RUNTIME === 'bun'
    ? ((globalThis as { Bun?: { version: string } }).Bun?.version ?? '')
    : process.versions.node;

/** The instrumentation scope of everything tapwire records. */
export const SCOPE = { name: AGENT_SCOPE, version: VERSION };
