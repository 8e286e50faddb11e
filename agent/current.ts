// The running agent, if `tapwire/register` started one in this process. Kept on a global symbol so
// that two copies of tapwire in one process (a monorepo, a bundled and an installed one) share it.
// Imports no hook: `import { logger } from 'tapwire'` must not load the instrumentations.
import type { Agent } from './start.js';

export const kAgent: unique symbol = Symbol.for('tapwire.agent') as never;
export type AgentSlot = typeof globalThis & { [kAgent]?: Agent | null };

export function currentAgent(): Agent | undefined {
  return (globalThis as AgentSlot)[kAgent] ?? undefined;
}
