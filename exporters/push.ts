// A process whose sibling holds the host's /metrics port pushes its metrics there (./merge.ts
// sums them): OTLP JSON in plain HTTP/1.1 requests written on one kept-alive TCP connection.
//
// Why a raw socket and hand-written requests rather than an HTTP client: the last push of a
// process that exits happens in its 'exit' event, where nothing asynchronous runs any more. A
// socket write is tried at once (libuv writes to the kernel before returning when nothing is queued),
// so a request written in one piece reaches the holder even though the process is gone a moment
// later. It also keeps every HTTP client hook out of tapwire's own traffic, and loads nothing.
import type { Socket } from 'node:net';

export interface PusherOptions {
  host: string;
  port: number;
  /** Milliseconds between periodic pushes. */
  intervalMs: number;
  /** The connection is open: the last push of a process that exits can be written now. */
  onConnect: () => void;
  /** The body of a periodic push (collected asynchronously), or undefined for nothing to say. */
  collect: () => Promise<string | undefined>;
  /** The body of the last push, collected synchronously in 'exit'; undefined for nothing to say. */
  collectNow: () => string | undefined;
  /** The holder went away (the connection closed or failed): the pusher has stopped. */
  onLost: () => void;
}

function request(host: string, body: string, final: boolean): string {
  return (
    `POST /v1/metrics HTTP/1.1\r\nhost: ${host}\r\ncontent-type: application/json\r\n` +
    `content-length: ${Buffer.byteLength(body)}\r\n${final ? 'x-tapwire-final: 1\r\n' : ''}\r\n${body}`
  );
}

export class Pusher {
  private readonly socket: Socket;
  private timer: NodeJS.Timeout | undefined;
  private done = false;
  private busy = false;

  constructor(private readonly options: PusherOptions) {
    const net = process.getBuiltinModule('node:net') as typeof import('node:net');
    // Held (ref'd) until connected, so that a short-lived process that ends right away still has
    // the connection its last push needs; then it never keeps the process alive.
    this.socket = net.connect({ host: options.host, port: options.port });
    // Answers are read and dropped: a push that fails shows as a lost connection.
    this.socket.on('data', () => {});
    this.socket.on('error', () => this.lost());
    this.socket.on('close', () => this.lost());
    this.socket.once('connect', () => {
      this.socket.unref();
      options.onConnect();
      this.timer = setInterval(() => this.tick(), options.intervalMs);
      this.timer.unref();
    });
    process.on('exit', this.onExit);
    process.once('beforeExit', this.onBeforeExit);
  }

  /**
   * A natural exit (the event loop ran empty) can still collect asynchronously: every metric,
   * including the app's own instruments that the synchronous last push only has as of the previous
   * periodic push (collectNow). Once: the push's own write would bring 'beforeExit' back.
   */
  private readonly onBeforeExit = (): void => {
    if (this.done || this.socket.connecting) return;
    this.tick();
  };

  private tick(): void {
    if (this.busy || this.done) return;
    this.busy = true;
    this.options.collect().then(
      (body) => {
        this.busy = false;
        if (body !== undefined && !this.done) this.socket.write(request(this.options.host, body, false));
      },
      () => {
        this.busy = false;
      },
    );
  }

  private readonly onExit = (): void => {
    if (this.done || this.socket.connecting) return;
    this.done = true;
    try {
      const body = this.options.collectNow();
      if (body !== undefined) this.socket.write(request(this.options.host, body, true));
    } catch {
      // Nothing more can be done for a process that is exiting.
    }
  };

  private lost(): void {
    if (this.done) return;
    this.stop();
    this.options.onLost();
  }

  stop(): void {
    this.done = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    process.removeListener('exit', this.onExit);
    process.removeListener('beforeExit', this.onBeforeExit);
    this.socket.destroy();
  }
}
