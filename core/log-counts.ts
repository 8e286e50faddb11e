// The app's logger and the agent can be two copies of this module: `import { logger } from 'tapwire'`
// resolves to the app's own copy of the package, and the preload may come from another (installed
// elsewhere, or on Bun the tree `tapwire precompile` compiled). So the counts live in one global
// slot that every copy finds, as the agent itself does (agent/current.ts).
const kLogCounts = Symbol.for('tapwire.log-counts.v1');
type Slot = { [kLogCounts]?: { counts: Record<string, number>; drops: Record<string, number> } };
const g = globalThis as Slot;
g[kLogCounts] ??= { counts: Object.create(null), drops: Object.create(null) };
const slot = g[kLogCounts];

/** Records written per level label by the app's logger; read by the tapwire_log_records_total callback. */
export const logCounts: Record<string, number> = slot.counts;
/** Log records lost on the way to the OTLP receiver, per reason; read by tapwire_log_records_dropped_total. */
export const logDrops: Record<string, number> = slot.drops;
