/** Records written per level label by the app's logger; read by the tapwire_log_records_total callback. */
export const logCounts: Record<string, number> = Object.create(null);
