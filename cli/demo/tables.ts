// The demo's summary: a table per area from two live snapshots of the demo service (before and
// after its traffic), with the numbers of the live page (exporters/live/summary.ts) — the same
// rows, the same p95, the same formatting.
import type { LiveSnapshot } from '../../exporters/live/model.js';
import {
  aiRows,
  dbRows,
  formatCount,
  formatRate,
  formatRatio,
  formatSeconds,
  formatUsd,
  httpRows,
} from '../../exporters/live/summary.js';

/** Columns padded to their widest cell; `right` columns (numbers) aligned right. */
export function table(header: string[], rows: string[][], right: readonly number[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    `  ${cells
      .map((c, i) => (right.includes(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd()}`;
  return [line(header), ...rows.map(line)].join('\n');
}

const withRatio = (errors: number, ratio: number) =>
  errors === 0 ? '0' : `${formatCount(errors)} (${formatRatio(ratio)})`;

export function summary(before: LiveSnapshot, after: LiveSnapshot): string {
  const out: string[] = [];
  const http = httpRows(after, before);
  out.push('Inbound HTTP, per route');
  out.push(
    http.length === 0
      ? '  (none)'
      : table(
          ['method', 'route', 'rate', 'requests', 'errors', 'p95'],
          http.map((r) => [
            r.cells[0]!,
            r.cells[1]!,
            formatRate(r.window?.rate ?? Number.NaN),
            formatCount(r.requests),
            withRatio(r.errors, r.errorRatio),
            formatSeconds(r.p95),
          ]),
          [2, 3, 4, 5],
        ),
  );
  if (after.http.some((g) => g.route === null)) {
    out.push(
      '  (no route): plain node:http names no routes; Express, Fastify, Hono, Koa, NestJS, Next.js and Bun.serve routes do.',
    );
  }

  const db = dbRows(after, before);
  out.push('', 'Database operations');
  out.push(
    db.length === 0
      ? '  (none)'
      : table(
          ['system', 'operation', 'collection', 'operations', 'errors', 'p95'],
          db.map((r) => [
            r.cells[0]!,
            r.cells[1]!,
            r.cells[2]!,
            formatCount(r.operations),
            formatCount(r.errors),
            formatSeconds(r.p95),
          ]),
          [3, 4, 5],
        ),
  );

  const ai = aiRows(after, before);
  out.push('', 'AI calls');
  out.push(
    ai.length === 0
      ? '  (none)'
      : table(
          [
            'provider',
            'model',
            'calls',
            'errors',
            'input tokens',
            'output tokens',
            'cost',
            'first chunk p95',
          ],
          ai.map((r) => [
            r.cells[0]!,
            r.cells[1]!,
            formatCount(r.calls),
            formatCount(r.errors),
            formatCount(r.input),
            formatCount(r.output),
            formatUsd(r.cost),
            formatSeconds(r.firstChunkP95),
          ]),
          [2, 3, 4, 5, 6, 7],
        ),
  );
  return `${out.join('\n')}\n`;
}
