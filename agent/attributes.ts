// `withAttributes({ tenant: 'acme' }, fn)`: runs fn with attribution values for the AI token and
// cost series of every provider call it makes, awaits or schedules (core/ai/attribution.ts). Found
// through a global symbol, so it imports nothing and works with two copies of tapwire in one
// process; without the preload, or with TAPWIRE_AI_ATTRIBUTES unset, it just calls fn.
import { type AttributionSlot, kAttribution } from '../core/ai/attribution-slot.js';

export function withAttributes<R>(
  attributes: Readonly<Record<string, string | number | boolean>>,
  fn: () => R,
): R {
  const a = (globalThis as AttributionSlot)[kAttribution];
  return a === undefined ? fn() : a.with(attributes, fn);
}
