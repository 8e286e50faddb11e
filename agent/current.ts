// The running agent, if `tapwire/register` started one in this process. Kept on a global symbol so
// that two copies of tapwire in one process (a monorepo, a bundled and an installed one) share it.
// Imports no hook: `import { logger } from 'tapwire'` must not load the instrumentations.
import type { Config } from '../config/index.js';

/**
 * The agent as the app sees it (`currentAgent()` from 'tapwire'). Deliberately small: the
 * published type declarations stop here, so they name no package the app does not install
 * (the agent's OpenTelemetry SDK is bundled, not a dependency).
 */
export interface Agent {
  readonly config: Config;
  /**
   * Takes back everything tapwire installed (every patched function, subscription, loader hook and
   * global is the original again), closes /metrics and shuts the meter provider down.
   */
  stop(): void;
}

export const kAgent: unique symbol = Symbol.for('tapwire.agent') as never;
/** While the preload's start is deferred (./defer.ts): starts it now, saying why. */
export const kStartNow: unique symbol = Symbol.for('tapwire.startNow') as never;

type Slots = { [kAgent]?: Agent | null; [kStartNow]?: (trigger: string) => void };

export function currentAgent(): Agent | undefined {
  const g = globalThis as Slots;
  // The app asking for the agent (or importing tapwire's logger) starts a deferred one.
  if (g[kAgent] === undefined) g[kStartNow]?.('tapwire imported');
  return g[kAgent] ?? undefined;
}
