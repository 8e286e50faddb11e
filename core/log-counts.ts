/** Records written per level label by the app's logger; read by the tapwire_log_records_total callback. */
export const logCounts: Record<string, number> = Object.create(null);
/** Log records lost on the way to the OTLP receiver, per reason; read by tapwire_log_records_dropped_total. */
export const logDrops: Record<string, number> = Object.create(null);
