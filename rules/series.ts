// Input series for the promtool cases: counters and histograms as tapwire would expose them,
// written in promtool's expanding notation (`0+10x60`: start at 0, add 10 each minute, 60 times).
import type { TestSeries } from './model.js';

export type Labels = Readonly<Record<string, string>>;

const fmt = (n: number): string => String(Math.round(n * 1e9) / 1e9);

export function selector(name: string, labels: Labels): string {
  const pairs = Object.entries(labels).map(([k, v]) => `${k}=${JSON.stringify(v)}`);
  return pairs.length === 0 ? name : `${name}{${pairs.join(', ')}}`;
}

export function counter(name: string, labels: Labels, perMinute: number, minutes: number): TestSeries {
  return { series: selector(name, labels), values: `0+${fmt(perMinute)}x${minutes}` };
}

export function gauge(name: string, labels: Labels, value: number, minutes: number): TestSeries {
  return { series: selector(name, labels), values: `${fmt(value)}x${minutes}` };
}

/** A histogram where `perMinute` observations of `value` seconds arrive each minute. */
export function histogram(
  name: string,
  labels: Labels,
  buckets: readonly number[],
  value: number,
  perMinute: number,
  minutes: number,
): TestSeries[] {
  const out = buckets.map((b) =>
    counter(`${name}_bucket`, { ...labels, le: String(b) }, b >= value ? perMinute : 0, minutes),
  );
  out.push(counter(`${name}_bucket`, { ...labels, le: '+Inf' }, perMinute, minutes));
  out.push(counter(`${name}_count`, labels, perMinute, minutes));
  out.push(counter(`${name}_sum`, labels, perMinute * value, minutes));
  return out;
}

/** A value whose p-quantile estimate lands above `threshold`: the bucket after the first bound >= it. */
export function above(buckets: readonly number[], threshold: number): number {
  const i = buckets.findIndex((b) => b >= threshold);
  const v = buckets[i + 1];
  if (i < 0 || v === undefined) throw new Error(`no bucket above ${threshold}`);
  return v;
}
