// The /metrics page as bytes (node:http), written into one buffer that serves again once its
// answer has been written. A page of a few thousand series is a few hundred kilobytes: a fresh
// buffer for each scrape is fresh memory each time, and touching it costs page faults (about
// 0.5 ms per 265 kB on a 2-core VM, measured), more than writing the page into it (~3 µs).
import type { ServerResponse } from 'node:http';

/** A buffer larger than this is not kept between scrapes: what stays allocated is bounded. */
const KEEP_MAX = 4 * 1024 * 1024;
/** Room for a few label values outside ASCII before the buffer grows (UTF-8: up to 3 bytes per UTF-16 unit). */
const SLACK = 1024;

export class PageBuffer {
  /** The buffer of a page whose answer has been written; undefined while one is out. */
  private spare: ArrayBuffer | undefined;

  /** The pieces (./serialize.ts serializePieces()) as UTF-8, in the spare buffer when it is free and large enough. */
  write(pieces: readonly string[]): Buffer {
    let chars = 0;
    for (const piece of pieces) chars += piece.length;
    let buf: Buffer;
    if (this.spare !== undefined && this.spare.byteLength >= chars) buf = Buffer.from(this.spare);
    else buf = Buffer.allocUnsafeSlow(chars + SLACK);
    this.spare = undefined;
    let at = 0;
    for (let i = 0; i < pieces.length; i++) {
      const piece = pieces[i]!;
      // write() would stop short of a piece that does not fit: first room for it and the rest.
      if (buf.length - at < piece.length * 3) {
        let need = at;
        for (let j = i; j < pieces.length; j++) need += Buffer.byteLength(pieces[j]!);
        if (need > buf.length) {
          const larger = Buffer.allocUnsafeSlow(need + SLACK);
          buf.copy(larger, 0, 0, at);
          buf = larger;
        }
      }
      at += buf.write(piece, at);
    }
    return buf.subarray(0, at);
  }

  /** The bytes write() returned are no longer read (their answer written, or not sent): their buffer serves again. */
  release(page: Buffer): void {
    const whole = page.buffer as ArrayBuffer;
    if (whole.byteLength > KEEP_MAX) return;
    if (this.spare === undefined || this.spare.byteLength < whole.byteLength) this.spare = whole;
  }
}

/**
 * Answers a scrape (node:http) with the page: 200, its type and byte length, and its bytes unless
 * the method was HEAD. The buffer serves again once the answer is written ('finish': the last
 * write is done and the socket holds no reference to it); a connection that closes first never
 * finishes, and that buffer is left to the collector.
 */
export function sendPage(
  res: ServerResponse,
  pages: PageBuffer,
  pieces: readonly string[],
  contentType: string,
  head: boolean,
): void {
  const body = pages.write(pieces);
  res.writeHead(200, { 'content-type': contentType, 'content-length': body.length });
  if (head) {
    pages.release(body);
    res.end();
    return;
  }
  res.on('finish', () => pages.release(body));
  res.end(body);
}
