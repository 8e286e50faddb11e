// Multi-window, multi-burn-rate alerting as data (Google SRE workbook, "Alerting on SLOs", table 5-8):
// each tier fires when the long AND the short window both burn the error budget faster than
// `budgetConsumed` of the whole SLO window would allow in `long`. The factor is derived, so a 28-day
// window gets its own factors: factor = budgetConsumed × window / long (30d: 14.4, 6, 3, 1).
// https://sre.google/workbook/alerting-on-slos/#6-multiwindow-multi-burn-rate-alerts

export interface BurnWindow {
  long: string;
  short: string;
  /** Fraction of the whole error budget spent within `long` when this fires. */
  budgetConsumed: number;
}

export interface BurnTier {
  /** Alert name suffix. */
  tier: 'FastBurn' | 'SlowBurn';
  severity: 'critical' | 'warning';
  /** `for:` of the alert; the short window already stops it flapping, so this is short. */
  for: string;
  windows: readonly BurnWindow[];
}

export const BURN_TIERS: readonly BurnTier[] = [
  {
    tier: 'FastBurn',
    severity: 'critical',
    for: '2m',
    windows: [
      { long: '1h', short: '5m', budgetConsumed: 0.02 },
      { long: '6h', short: '30m', budgetConsumed: 0.05 },
    ],
  },
  {
    tier: 'SlowBurn',
    severity: 'warning',
    for: '15m',
    windows: [
      { long: '1d', short: '2h', budgetConsumed: 0.1 },
      { long: '3d', short: '6h', budgetConsumed: 0.1 },
    ],
  },
];

/** Every window some rule needs a ratio for, shortest first. */
export const SLO_WINDOWS: readonly string[] = ['5m', '30m', '1h', '2h', '6h', '1d', '3d'];

const UNIT_SECONDS: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

/** Seconds in a Prometheus duration made of one unit (`5m`, `30d`); NaN when it is not one. */
export function seconds(duration: string): number {
  const m = /^(\d+)(s|m|h|d|w)$/.exec(duration);
  return m ? Number(m[1]) * UNIT_SECONDS[m[2]!]! : Number.NaN;
}

export function burnFactor(w: BurnWindow, sloWindow: string): number {
  // Rounded so 30d gives the workbook's 14.4 rather than 14.399999999999999.
  return Math.round(((w.budgetConsumed * seconds(sloWindow)) / seconds(w.long)) * 1e6) / 1e6;
}
