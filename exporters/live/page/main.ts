/// <reference lib="dom" />
// The live page's script, bundled for the browser by scripts/build.mjs and inlined into the page:
// every second it reads live.json from the process that served it, fills the four tables and adds a
// point to each row's charts. It writes text only (textContent), never markup: routes and models
// are the app's strings. The numbers come from ../summary.ts, as `tapwire demo`'s do.
import type { LiveSnapshot, ProcessRuntime } from '../model.js';
import {
  aiRows,
  dbRows,
  formatBytes,
  formatCount,
  formatRate,
  formatRatio,
  formatSeconds,
  formatUsd,
  httpRows,
} from '../summary.js';

/** One point a second, a minute of them; a new chart spreads its first points over less. */
const INTERVAL_MS = 1000;
const POINTS = 60;
const MIN_WIDTH = 20;
const SVG = 'http://www.w3.org/2000/svg';
const HEIGHT = 20;

/** A cell: text shown, and the number behind it for whoever reads the page (tests, tools). */
type Cell =
  | { col: string; text: string; value?: number; bad?: boolean; numeric?: boolean }
  | { col: string; chart: number[] };

const series = new Map<string, number[]>();
/** Appends this second's value to a chart's series (NaN: nothing measured, a gap). */
function point(key: string, value: number | undefined): number[] {
  let s = series.get(key);
  if (s === undefined) {
    s = [];
    series.set(key, s);
  }
  s.push(value ?? Number.NaN);
  if (s.length > POINTS) s.shift();
  return s;
}

function chart(values: number[]): SVGSVGElement {
  const svg = document.createElementNS(SVG, 'svg');
  const width = Math.max(values.length, MIN_WIDTH) - 1;
  svg.setAttribute('viewBox', `0 0 ${width} ${HEIGHT}`);
  svg.setAttribute('preserveAspectRatio', 'none');
  let max = 0;
  for (const v of values) if (Number.isFinite(v) && v > max) max = v;
  let d = '';
  let pen = false;
  const offset = width + 1 - values.length;
  values.forEach((v, i) => {
    if (!Number.isFinite(v)) {
      pen = false;
      return;
    }
    const y = HEIGHT - 1 - (max > 0 ? (v / max) * (HEIGHT - 2) : 0);
    // A point after a gap starts a subpath of length 0, drawn as a dot (round caps).
    d += pen ? `L${offset + i} ${y.toFixed(2)}` : `M${offset + i} ${y.toFixed(2)}l0 0`;
    pen = true;
  });
  const path = document.createElementNS(SVG, 'path');
  path.setAttribute('d', d);
  svg.append(path);
  svg.dataset.points = String(values.length);
  return svg;
}

function fill(section: string, rows: { key: string; cells: Cell[] }[], columns: number): void {
  const body = document.querySelector(`#${section} tbody`);
  if (body === null) return;
  if (rows.length === 0) {
    const td = document.createElement('td');
    td.colSpan = columns;
    td.className = 'empty';
    td.textContent = 'nothing yet';
    const tr = document.createElement('tr');
    tr.append(td);
    body.replaceChildren(tr);
    return;
  }
  body.replaceChildren(
    ...rows.map(({ key, cells }) => {
      const tr = document.createElement('tr');
      tr.dataset.key = key;
      for (const c of cells) {
        const td = document.createElement('td');
        td.dataset.col = c.col;
        if ('chart' in c) {
          td.append(chart(c.chart));
        } else {
          td.textContent = c.text;
          if (c.value !== undefined) td.dataset.value = String(c.value);
          td.className = [c.numeric ? 'n' : '', c.bad ? 'bad' : ''].join(' ').trim();
        }
        tr.append(td);
      }
      return tr;
    }),
  );
}

const text = (col: string, t: string): Cell => ({ col, text: t });
const num = (col: string, value: number, t: string, bad = false): Cell => ({
  col,
  text: t,
  value,
  numeric: true,
  bad,
});

function render(now: LiveSnapshot, before: LiveSnapshot | undefined): void {
  const http = httpRows(now, before).map((r) => ({
    key: r.key,
    cells: [
      text('method', r.cells[0]!),
      text('route', r.cells[1]!),
      num('rate', r.window?.rate ?? Number.NaN, formatRate(r.window?.rate ?? Number.NaN)),
      num('requests', r.requests, formatCount(r.requests)),
      num('errors', r.errors, formatCount(r.errors), r.errors > 0),
      num('errorRatio', r.errorRatio, formatRatio(r.errorRatio), r.errors > 0),
      num('p95', r.p95, formatSeconds(r.p95)),
      { col: 'rateChart', chart: point(`h${r.key}r`, r.window?.rate) },
      { col: 'errorChart', chart: point(`h${r.key}e`, r.window?.errorRatio) },
      { col: 'p95Chart', chart: point(`h${r.key}p`, r.window?.p95) },
    ],
  }));
  fill('http', http, 10);

  const db = dbRows(now, before).map((r) => ({
    key: r.key,
    cells: [
      text('system', r.cells[0]!),
      text('operation', r.cells[1]!),
      text('collection', r.cells[2]!),
      num('rate', r.window?.rate ?? Number.NaN, formatRate(r.window?.rate ?? Number.NaN)),
      num('operations', r.operations, formatCount(r.operations)),
      num('errors', r.errors, formatCount(r.errors), r.errors > 0),
      num('p95', r.p95, formatSeconds(r.p95)),
      { col: 'rateChart', chart: point(`d${r.key}r`, r.window?.rate) },
      { col: 'p95Chart', chart: point(`d${r.key}p`, r.window?.p95) },
    ],
  }));
  fill('db', db, 9);

  const ai = aiRows(now, before).map((r) => ({
    key: r.key,
    cells: [
      text('provider', r.cells[0]!),
      text('model', r.cells[1]!),
      num('calls', r.calls, formatCount(r.calls)),
      num('errors', r.errors, formatCount(r.errors), r.errors > 0),
      num('input', r.input, formatCount(r.input)),
      num('output', r.output, formatCount(r.output)),
      num('cost', r.cost, formatUsd(r.cost)),
      num('firstChunkP95', r.firstChunkP95, formatSeconds(r.firstChunkP95)),
      { col: 'tokensChart', chart: point(`a${r.key}t`, r.window?.tokens) },
      { col: 'costChart', chart: point(`a${r.key}c`, r.window?.cost) },
    ],
  }));
  fill('ai', ai, 10);

  const runtime = now.runtime.map((p: ProcessRuntime) => ({
    key: String(p.process),
    cells: [
      text('process', p.process === 0 ? '0 (this one)' : String(p.process)),
      text('pid', p.pid === null ? '–' : String(p.pid)),
      num('eventLoopP99', p.eventLoopP99 ?? Number.NaN, formatSeconds(p.eventLoopP99 ?? Number.NaN)),
      num(
        'eventLoopUtilization',
        p.eventLoopUtilization ?? Number.NaN,
        formatRatio(p.eventLoopUtilization ?? Number.NaN),
      ),
      num('heapUsed', p.heapUsed ?? Number.NaN, formatBytes(p.heapUsed)),
      num('rss', p.rss ?? Number.NaN, formatBytes(p.rss)),
      { col: 'eventLoopChart', chart: point(`r${p.process}l`, p.eventLoopP99 ?? undefined) },
      { col: 'rssChart', chart: point(`r${p.process}m`, p.rss ?? undefined) },
    ],
  }));
  fill('runtime', runtime, 8);
}

const status = document.getElementById('status');
const service = document.getElementById('service');
let previous: LiveSnapshot | undefined;

async function tick(): Promise<void> {
  try {
    const res = await fetch('live.json', { cache: 'no-store' });
    if (!res.ok) throw new Error(String(res.status));
    const now = (await res.json()) as LiveSnapshot;
    render(now, previous);
    previous = now;
    if (service) service.textContent = now.service;
    document.title = `${now.service} · tapwire`;
    if (status) {
      status.textContent = `${now.processes} process${now.processes === 1 ? '' : 'es'} · ${new Date(now.time).toLocaleTimeString()}`;
      status.dataset.time = String(now.time);
    }
    document.body.dataset.ticks = String(Number(document.body.dataset.ticks ?? 0) + 1);
  } catch {
    if (status) status.textContent = 'the process does not answer';
  }
  setTimeout(tick, INTERVAL_MS);
}

void tick();
