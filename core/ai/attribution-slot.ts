// The global slot where the running agent keeps its attribution (./attribution.ts), so the public
// `withAttributes` (../../agent/attributes.ts) reaches it without importing it, and two copies of
// tapwire in one process share one.
import type { Attribution } from './attribution.js';

export const kAttribution: unique symbol = Symbol.for('tapwire.ai.attribution') as never;
export type AttributionSlot = typeof globalThis & { [kAttribution]?: Attribution | undefined };
