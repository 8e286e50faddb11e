// The live page's and the demo's arithmetic (exporters/live/summary.ts): the p95 is Prometheus'
// histogram_quantile over the same buckets, windows between two snapshots, the formatting.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HTTP_BUCKETS } from '../exporters/catalogue.js';
import type { LiveSnapshot } from '../exporters/live/model.js';
import {
  formatBytes,
  formatRate,
  formatRatio,
  formatSeconds,
  formatUsd,
  httpRows,
  quantile,
  windowOf,
} from '../exporters/live/summary.js';
import { histogramQuantile } from './support/index.js';

const cumulative = (bounds: readonly number[], counts: number[]): [number, number][] => {
  let n = 0;
  return [...bounds, Number.POSITIVE_INFINITY].map((le, i) => {
    n += counts[i] ?? 0;
    return [le, n];
  });
};

describe('quantile', () => {
  it('is histogram_quantile over the same buckets, for any counts and q', () => {
    fc.assert(
      fc.property(
        fc.array(fc.nat({ max: 50 }), {
          minLength: HTTP_BUCKETS.length + 1,
          maxLength: HTTP_BUCKETS.length + 1,
        }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (counts, q) => {
          const want = histogramQuantile(q, cumulative(HTTP_BUCKETS, counts));
          expect(Object.is(quantile(q, HTTP_BUCKETS, counts), want)).toBe(true);
        },
      ),
      { numRuns: 2000, seed: 13 },
    );
  });

  it('interpolates inside the bucket, from 0 in the first, the top bound above every bound', () => {
    expect(quantile(0.95, [0.005, 0.01], [10, 0, 0])).toBe(0.00475);
    expect(quantile(0.5, [1, 2], [1, 1, 0])).toBe(1);
    expect(quantile(0.75, [1, 2], [1, 1, 0])).toBe(1.5);
    expect(quantile(0.95, [1, 2], [0, 0, 5])).toBe(2);
    expect(quantile(0.95, [1, 2], [0, 0, 0])).toBeNaN();
  });
});

const snap = (time: number, count: number, errors: number, counts: number[]): LiveSnapshot => ({
  time,
  service: 's',
  processes: 1,
  bounds: { http: [0.1, 1], db: [], ai: [] },
  http: [{ method: 'GET', route: '/a', count, errors, sum: 0, counts }],
  db: [],
  ai: [],
  runtime: [],
});

describe('windows', () => {
  it('rate, error ratio and p95 of what happened between two snapshots', () => {
    const [row] = httpRows(snap(3000, 30, 6, [20, 10, 0]), snap(1000, 10, 1, [10, 0, 0]));
    expect(row!.window).toEqual({ rate: 10, errorRatio: 0.25, p95: quantile(0.95, [0.1, 1], [10, 10, 0]) });
    expect([row!.requests, row!.errors, row!.errorRatio]).toEqual([30, 6, 0.2]);
  });

  it('a count that went down started over: the window is all of it', () => {
    const w = windowOf(
      { count: 4, errors: 1, sum: 0, counts: [4, 0, 0] },
      { count: 9, errors: 3, sum: 0, counts: [9, 0, 0] },
      [0.1, 1],
      2,
    );
    expect([w.rate, w.errorRatio]).toEqual([2, 0.25]);
  });

  it('nothing in the window reads as no value, not as zero', () => {
    const w = windowOf(
      { count: 4, errors: 0, sum: 0, counts: [4, 0, 0] },
      { count: 4, errors: 0, sum: 0, counts: [4, 0, 0] },
      [0.1, 1],
      1,
    );
    expect(w.rate).toBe(0);
    expect(w.errorRatio).toBeNaN();
    expect(w.p95).toBeNaN();
  });
});

it('formats as a person reads it', () => {
  expect([
    formatSeconds(0.00475),
    formatSeconds(0.00095),
    formatSeconds(1.25),
    formatSeconds(Number.NaN),
  ]).toEqual(['4.75 ms', '950 µs', '1.25 s', '–']);
  expect([formatRate(12.345), formatRate(250.4), formatRate(0)]).toEqual(['12.3/s', '250/s', '0/s']);
  expect([formatRatio(0.2), formatRatio(1 / 3), formatRatio(Number.NaN)]).toEqual(['20%', '33.3%', '–']);
  expect([formatUsd(0.0065), formatUsd(123.456)]).toEqual(['$0.006500', '$123.46']);
  expect([formatBytes(71_700_000), formatBytes(512), formatBytes(null)]).toEqual(['71.7 MB', '512 B', '–']);
});
