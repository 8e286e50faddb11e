// OpenTelemetry name + unit + kind -> Prometheus name, the way Prometheus itself translates OTLP
// (prometheus/otlptranslator): dots become underscores, the unit becomes a suffix (`s` ->
// `_seconds`, `By` -> `_bytes`, annotations such as `{request}` are dropped), counters end in
// `_total`. The stock OpenTelemetry JS serializer skips the unit suffix, so a dashboard written
// against Prometheus' own OTLP ingestion would not match it; this module is the one place the
// translation happens.
import type { InstrumentKind } from '../catalogue.js';

const UNIT_WORDS: Readonly<Record<string, string>> = {
  d: 'days',
  h: 'hours',
  min: 'minutes',
  s: 'seconds',
  ms: 'milliseconds',
  us: 'microseconds',
  ns: 'nanoseconds',
  By: 'bytes',
  KiBy: 'kibibytes',
  MiBy: 'mebibytes',
  GiBy: 'gibibytes',
  KBy: 'kilobytes',
  MBy: 'megabytes',
  GBy: 'gigabytes',
  bit: 'bits',
  m: 'meters',
  V: 'volts',
  A: 'amperes',
  J: 'joules',
  W: 'watts',
  g: 'grams',
  Cel: 'celsius',
  Hz: 'hertz',
  '%': 'percent',
  // Not UCUM, but the currency tapwire's cost counter is counted in: tapwire_gen_ai_cost_usd_total.
  USD: 'usd',
};

const PER_WORDS: Readonly<Record<string, string>> = { s: 'second', m: 'minute', h: 'hour', d: 'day' };

/** A valid Prometheus metric or label name: invalid characters become `_`. */
export function sanitize(name: string): string {
  let out = name.replace(/[^a-zA-Z0-9_:]/g, '_');
  if (/^[0-9]/.test(out)) out = `_${out}`;
  return out;
}

export function labelName(key: string): string {
  const out = key.replace(/[^a-zA-Z0-9_]/g, '_');
  return /^[0-9]/.test(out) ? `key_${out}` : out;
}

export function unitSuffix(unit: string, kind: InstrumentKind): string {
  const u = unit.replace(/\{[^}]*\}/g, '').trim();
  if (u === '') return '';
  if (u === '1') return kind === 'gauge' || kind === 'updowncounter' ? 'ratio' : '';
  const slash = u.indexOf('/');
  // `{token}/s` (an annotation over a time): `per_second`, as Prometheus' OTLP translation names it.
  if (slash === 0) {
    const den = u.slice(1);
    return sanitize(`per_${PER_WORDS[den] ?? UNIT_WORDS[den] ?? den}`);
  }
  if (slash > 0) {
    const num = UNIT_WORDS[u.slice(0, slash)] ?? u.slice(0, slash);
    const den = PER_WORDS[u.slice(slash + 1)] ?? UNIT_WORDS[u.slice(slash + 1)] ?? u.slice(slash + 1);
    return sanitize(`${num}_per_${den}`);
  }
  return sanitize(UNIT_WORDS[u] ?? u);
}

export function prometheusName(name: string, unit: string, kind: InstrumentKind): string {
  let out = sanitize(name);
  const suffix = unitSuffix(unit, kind);
  if (suffix !== '' && !out.endsWith(`_${suffix}`)) out = `${out}_${suffix}`;
  if (kind === 'counter' && !out.endsWith('_total')) out = `${out}_total`;
  return out;
}

export function prometheusType(kind: InstrumentKind): 'histogram' | 'counter' | 'gauge' {
  if (kind === 'histogram') return 'histogram';
  if (kind === 'counter') return 'counter';
  return 'gauge';
}
