// A large /metrics page, scraped the way Prometheus and people do: one after another, slowly,
// with HEAD, with label values outside ASCII. The page is written in pieces into a buffer the
// endpoint uses again (exporters/prometheus/page-buffer.ts); each answer must be its own page
// whole. (Over loopback the kernel takes a page of a few MB at once even from a peer that reads
// nothing, so the case of a write still pending is proven in page-buffer.test.ts.)
import { connect } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import {
  find,
  hit,
  parseMetrics,
  promtoolCheckMetrics,
  RUNTIMES,
  startApp,
  stopAll,
} from './support/index.js';

afterAll(stopAll);

// Four label sets per table pair (CREATE, SELECT; ASCII and UTF-8 names), ~1.6 kB each: a page of
// ~2.3 MB, within what the endpoint keeps a buffer for (4 MiB) and more than the sockets take
// while the reader reads nothing.
const TABLES = 350;
const COUNT = 'db_client_operation_duration_seconds_count';

/** Sends GET /metrics on a raw socket and reads nothing until `go` resolves; then the whole answer. */
function slowScrape(port: number, go: Promise<void>): Promise<{ head: string; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('error', reject);
    socket.on('connect', () => {
      socket.write('GET /metrics HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n');
      socket.pause();
      void go.then(() => socket.resume());
    });
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => {
      const all = Buffer.concat(chunks);
      const split = all.indexOf('\r\n\r\n');
      resolve({ head: all.subarray(0, split).toString('latin1'), body: all.subarray(split + 4) });
    });
  });
}

/** SELECT count by table on a page. */
function selects(text: string): Map<string, number> {
  const counts = find(parseMetrics(text), COUNT, { db_operation_name: 'SELECT' });
  return new Map(counts.map((s) => [s.labels.db_collection_name!, s.value]));
}

const tables = Array.from({ length: TABLES }, (_, i) => [`t${i}`, `ünïcödé_tâblé_${i}`]).flat();

describe.each(RUNTIMES)('a large /metrics page (%s)', (runtime) => {
  it('a scrape read slowly gets its own page whole while later pages are written', async () => {
    const app = await startApp({
      runtime,
      file: 'many-tables.mjs',
      env: { TABLES: String(TABLES), TAPWIRE_CARDINALITY_LIMIT: '5000' },
    });
    const first = await app.metrics();
    expect(selects(first)).toEqual(new Map(tables.map((t) => [t, 1])));
    expect(Buffer.byteLength(first)).toBeGreaterThan(2_000_000);

    let go!: () => void;
    const slow = slowScrape(app.metricsPort, new Promise<void>((r) => (go = r)));
    // The slow scrape's page is written (or being written) before the counts change.
    await new Promise((r) => setTimeout(r, 500));
    expect(await hit(app.url('/again'))).toEqual([200]);
    const later: string[] = [];
    for (let i = 0; i < 3; i++) later.push(await app.metrics());
    const head = await fetch(`http://127.0.0.1:${app.metricsPort}/metrics`, { method: 'HEAD' });
    go();
    const { head: slowHead, body } = await slow;

    expect(slowHead).toMatch(/^HTTP\/1\.1 200 /);
    expect(Number(/content-length: (\d+)/i.exec(slowHead)?.[1])).toBe(body.length);
    const slowText = body.toString('utf8');
    expect(selects(slowText)).toEqual(new Map(tables.map((t) => [t, 1])));
    expect(promtoolCheckMetrics(slowText)).toEqual({ status: 0, output: '' });
    for (const page of later) {
      expect(selects(page)).toEqual(new Map(tables.map((t) => [t, 2])));
      expect(promtoolCheckMetrics(page)).toEqual({ status: 0, output: '' });
    }
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
    // The HEAD page is the later page: its length within the few bytes the runtime's own values vary.
    const headLength = Number(head.headers.get('content-length'));
    expect(Math.abs(headLength - Buffer.byteLength(later[2]!))).toBeLessThan(200);
    await app.stop();
  });
});
