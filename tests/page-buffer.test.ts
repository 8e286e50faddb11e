// The /metrics page in pieces and its bytes in a reused buffer (exporters/prometheus/serialize.ts
// serializePieces(), exporters/prometheus/page-buffer.ts): the same text as one string, UTF-8
// right, the buffer used again only once the answer that held it has been written.
import { createServer, type Server } from 'node:http';
import { Duplex } from 'node:stream';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { afterEach, describe, expect, it } from 'vitest';
import { DataPointType } from '../core/metric-data.js';
import { PageBuffer, sendPage } from '../exporters/prometheus/page-buffer.js';
import { serializeAll, serializePieces } from '../exporters/prometheus/serialize.js';

/** A gauge with `n` series whose label value is `value(i)`. */
function gauge(n: number, value: (i: number) => string): ResourceMetrics {
  return {
    resource: { attributes: { 'service.name': 'page' } },
    scopeMetrics: [
      {
        scope: { name: 'app' },
        metrics: [
          {
            descriptor: { name: 'queue.depth', description: 'Depth', unit: '', type: 'GAUGE', valueType: 1 },
            dataPointType: DataPointType.GAUGE,
            aggregationTemporality: 1,
            dataPoints: Array.from({ length: n }, (_, i) => ({
              startTime: [0, 0],
              endTime: [0, 0],
              attributes: { queue: value(i) },
              value: i,
            })),
          },
        ],
      },
    ],
  } as unknown as ResourceMetrics;
}

describe('serializePieces', () => {
  it('joins to the page serializeAll() gives, in pieces of about 16 K characters', () => {
    const rm = gauge(3000, (i) => `queue-${i}`);
    const pieces = serializePieces([{ resourceMetrics: rm }]);
    expect(pieces.join('')).toBe(serializeAll([{ resourceMetrics: rm }]));
    expect(pieces.length).toBeGreaterThan(4);
    for (const piece of pieces) {
      expect(piece.endsWith('\n')).toBe(true);
      expect(piece.length).toBeLessThan(16 * 1024 + 200);
    }
    expect(
      serializePieces([{ resourceMetrics: rm }], { openMetrics: true })
        .at(-1)!
        .endsWith('# EOF\n'),
    ).toBe(true);
  });
});

describe('PageBuffer', () => {
  it('writes the UTF-8 bytes of the pieces, growing past labels outside ASCII', () => {
    const pages = new PageBuffer();
    const pieces = serializePieces([{ resourceMetrics: gauge(2000, (i) => `ünïcödé—${i}`) }]);
    const bytes = pages.write(pieces);
    expect(bytes.equals(Buffer.from(pieces.join(''), 'utf8'))).toBe(true);
    // The spare, grown for the first page, takes an ASCII page of the same size.
    pages.release(bytes);
    const ascii = serializePieces([{ resourceMetrics: gauge(2000, (i) => `queue-${i}`) }]);
    const again = pages.write(ascii);
    expect(again.buffer).toBe(bytes.buffer);
    expect(again.toString('utf8')).toBe(ascii.join(''));
  });

  it('uses its buffer again only after release, and keeps none over 4 MiB', () => {
    const pages = new PageBuffer();
    const pieces = serializePieces([{ resourceMetrics: gauge(500, (i) => `q${i}`) }]);
    const a = pages.write(pieces);
    const b = pages.write(pieces);
    expect(b.buffer).not.toBe(a.buffer);
    pages.release(a);
    expect(pages.write(pieces).buffer).toBe(a.buffer);
    const huge = serializePieces([{ resourceMetrics: gauge(100_000, (i) => `queue-number-${i}`) }]);
    const big = pages.write(huge);
    expect(big.length).toBeGreaterThan(4 * 1024 * 1024);
    pages.release(big);
    expect(pages.write(huge).buffer).not.toBe(big.buffer);
  });
});

/** A connection whose writes complete only when `flush()` is called: a peer that reads slowly. */
class SlowPeer extends Duplex {
  readonly received: Buffer[] = [];
  private held: (() => void)[] = [];
  constructor(request: string) {
    super();
    this.push(request);
  }
  override _read(): void {}
  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    this.received.push(chunk);
    this.held.push(done);
  }
  flush(): void {
    for (const done of this.held.splice(0)) done();
  }
  text(): string {
    const all = Buffer.concat(this.received).toString('utf8');
    return all.slice(all.indexOf('\r\n\r\n') + 4);
  }
}

describe('sendPage', () => {
  let server: Server | undefined;
  afterEach(() => server?.close());

  it('a page whose write is still pending keeps its bytes while later pages are written', async () => {
    const pages = new PageBuffer();
    let next = 'a';
    server = createServer((req, res) => {
      const page = serializePieces([{ resourceMetrics: gauge(2000, () => next) }]);
      sendPage(res, pages, page, 'text/plain; version=0.0.4', req.method === 'HEAD');
    });
    const request = 'GET /metrics HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n';
    const slow = new SlowPeer(request);
    server.emit('connection', slow);
    await new Promise((r) => setTimeout(r, 50));
    expect(slow.received.length).toBeGreaterThan(0);
    // Later scrapes, answered at once, while the first answer's write is pending.
    for (const letter of ['b', 'c']) {
      next = letter;
      const fast = new SlowPeer(request);
      fast.on('data', () => {});
      server.emit('connection', fast);
      await new Promise((r) => setTimeout(r, 20));
      fast.flush();
      await new Promise((r) => setTimeout(r, 20));
      expect(fast.text()).toBe(serializeAll([{ resourceMetrics: gauge(2000, () => letter) }]));
    }
    slow.flush();
    expect(slow.text()).toBe(serializeAll([{ resourceMetrics: gauge(2000, () => 'a') }]));
  });
});
