// The label-value rule (core/series.ts): at most LABEL_VALUE_MAX characters with a visible cut,
// control characters, bidirectional-text controls and lone surrogates replaced by U+FFFD; applied
// to every string of every label set a SeriesCache builds and to every database target. And the
// bounded error.type of an HTTP status.
import { describe, expect, it } from 'vitest';
import { DbTargets } from '../core/db/target.js';
import { clientStatusErrorType, serverErrorType } from '../core/http/semconv.js';
import {
  LABEL_VALUE_CUT,
  LABEL_VALUE_MAX,
  labelValue,
  OVERFLOW_ATTRIBUTES,
  overflowCounts,
  SeriesCache,
} from '../core/series.js';

const R = '\uFFFD';

describe('labelValue', () => {
  it('keeps a value that keeps the rule, the same string', () => {
    for (const v of ['gpt-4o-mini', '/users/:id', 'ünïcödé ✓', '😀 emoji', 'x'.repeat(LABEL_VALUE_MAX), '']) {
      expect(labelValue(v)).toBe(v);
    }
  });

  it('cuts a longer value to LABEL_VALUE_MAX characters ending in the cut marker', () => {
    const out = labelValue('m'.repeat(100_000));
    expect(LABEL_VALUE_MAX).toBe(256);
    expect(LABEL_VALUE_CUT).toBe('...');
    expect(out).toBe(`${'m'.repeat(253)}...`);
    expect(labelValue('m'.repeat(LABEL_VALUE_MAX + 1))).toBe(`${'m'.repeat(253)}...`);
  });

  it('counts characters, not UTF-16 units, and never cuts a surrogate pair in two', () => {
    // 256 emoji are 512 UTF-16 units and 256 characters: kept whole.
    expect(labelValue('😀'.repeat(256))).toBe('😀'.repeat(256));
    expect(labelValue(`a${'😀'.repeat(300)}`)).toBe(`a${'😀'.repeat(252)}...`);
  });

  it('replaces control characters, bidirectional controls and lone surrogates by U+FFFD', () => {
    expect(labelValue('a\u0000b\tc\nd\u007fe\u0085f')).toBe(`a${R}b${R}c${R}d${R}e${R}f`);
    expect(labelValue('evil\u202Egnp.exe\u2066\u200F')).toBe(`evil${R}gnp.exe${R}${R}`);
    expect(labelValue('lone \uD800 high, lone \uDC00 low, pair \uD83D\uDE00, end \uD83D')).toBe(
      `lone ${R} high, lone ${R} low, pair 😀, end ${R}`,
    );
    // A replacement character from a decoder is an ordinary character.
    expect(labelValue(`bytes ${R}`)).toBe(`bytes ${R}`);
    expect(labelValue(`${'\u0007'.repeat(300)}`)).toBe(`${R.repeat(253)}...`);
  });

  it('is idempotent', () => {
    for (const v of ['m'.repeat(100_000), 'a\u0000\uD800', `${'😀'.repeat(300)}`]) {
      expect(labelValue(labelValue(v))).toBe(labelValue(v));
    }
  });
});

describe('label sets keep the rule', () => {
  const build = (model: string, route: string | undefined) => {
    const a: Record<string, string | number> = { 'gen_ai.request.model': model, 'server.port': 443 };
    if (route !== undefined) a['http.route'] = route;
    return a;
  };

  it('every string value of a label set a SeriesCache builds', () => {
    const series = new SeriesCache('m', 10);
    const long = 'm'.repeat(100_000);
    const a = series.get(build, long, '/a\nb');
    expect(a).toEqual({
      'gen_ai.request.model': `${'m'.repeat(253)}...`,
      'server.port': 443,
      'http.route': `/a${R}b`,
    });
    // Two long values that agree on what is kept are one label set, and one cache entry.
    expect(series.get(build, `${long}x`, '/a\nb')).toBe(a);
  });

  it('the last label set is remembered, and each measurement past the limit is still counted', () => {
    const series = new SeriesCache('tapwire_test_remembered', 2);
    const a = series.get(build, 'a', '/x');
    const b = series.get(build, 'b', '/x');
    // Alternating and repeated tuples find their own label set, whether remembered or walked.
    expect([
      series.get(build, 'a', '/x'),
      series.get(build, 'a', '/x'),
      series.get(build, 'b', '/x'),
    ]).toEqual([a, a, b]);
    expect(series.get(build, 'a', undefined)).toEqual(OVERFLOW_ATTRIBUTES);
    expect(series.get(build, 'a', undefined)).toEqual(OVERFLOW_ATTRIBUTES);
    expect(overflowCounts.get('tapwire_test_remembered')).toBe(2);
    expect(series.get(build, 'b', '/x')).toBe(b);
  });

  it('database targets (the pool metrics read them directly)', () => {
    const targets = new DbTargets(10);
    const t = targets.of('postgresql', `db\u0000${'n'.repeat(1000)}`, 'h'.repeat(300), 5432);
    expect(t).toEqual({
      system: 'postgresql',
      namespace: `db${R}${'n'.repeat(250)}...`,
      address: `${'h'.repeat(253)}...`,
      port: 5432,
    });
  });
});

describe('error.type of an HTTP status', () => {
  it('is the status for 100-599, `_OTHER` past that range, and no error under 500 (400 for clients)', () => {
    expect(serverErrorType(503, true)).toBe('503');
    expect(serverErrorType(599, true)).toBe('599');
    expect(serverErrorType(503, true)).toBe('503'); // the second time from its cache
    expect(serverErrorType(600, true)).toBe('_OTHER');
    expect(serverErrorType(5000, true)).toBe('_OTHER');
    expect(serverErrorType(500.5, true)).toBe('_OTHER');
    expect(serverErrorType(499, true)).toBeUndefined();
    expect(serverErrorType(200, false)).toBe('aborted');
    expect(clientStatusErrorType(404)).toBe('404');
    expect(clientStatusErrorType(1000)).toBe('_OTHER');
    expect(clientStatusErrorType(399)).toBeUndefined();
  });
});
