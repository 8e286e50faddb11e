// A process whose sibling holds the host's /metrics port pushes its metrics there (./merge.ts
// sums them): OTLP JSON in plain HTTP/1.1 requests written on one kept-alive TCP connection. The
// same connection first asks who holds the port (GET /tapwire): a process that answers as anything
// but tapwire of the same service is never pushed to. Only the last pushes of a process that ends
// before the answer came (its holder's event loop blocked, a parent in execFileSync) go out
// unanswered, written behind the question on the same connection: a sibling reads them in order
// once it runs again, and takes only its own service's (./workers.ts). The question and every
// push carry a random token of the connection: by then the process is gone, and the holder knows a
// push's address no longer (Bun.serve), only the token that came with a question from loopback.
//
// Why a raw socket and hand-written requests rather than an HTTP client: the last push of a
// process that exits happens in its 'exit' event, where nothing asynchronous runs any more. A
// socket write is tried at once (libuv writes to the kernel before returning when nothing is queued),
// so a request written in one piece reaches the holder even though the process is gone a moment
// later. It also keeps every HTTP client hook out of tapwire's own traffic, and loads nothing: a
// short child that follows its parent's endpoint pays one connection and one small answer (Node's
// HTTP client, loaded cold for that one request, cost such a child ~8 ms here). On Bun the socket
// is Bun's own (Bun.connect): node:net would be loaded for it, ~6 ms on Bun 1.4.5, and its refused
// or answered connection costs ~4 ms more there, against under 1 ms for Bun's.

/** Who holds the port, as its GET /tapwire answers. */
export interface HolderIdentity {
  tapwire: string;
  service: string;
  pid: number;
}

export interface PusherOptions {
  host: string;
  port: number;
  /** Milliseconds between periodic pushes. */
  intervalMs: number;
  /**
   * Milliseconds after which a holder that has not answered is said to be silent (onSilent); the
   * answer is still awaited.
   */
  identifyTimeoutMs: number;
  /** Whether to follow this holder (tapwire of the same service). */
  follows: (holder: HolderIdentity) => boolean;
  /** The holder answered as a sibling: the pusher follows it. */
  onConnect: (holder: HolderIdentity) => void;
  /** Not following: the holder is not a sibling, or did not answer like one. The pusher has stopped. */
  onForeign: () => void;
  /**
   * The holder took the connection and has not answered within identifyTimeoutMs: a sibling whose
   * event loop is blocked (a parent in execFileSync) answers only when it runs again, while an HTTP
   * server that is not tapwire answers at once. Called once; the answer is still awaited.
   */
  onSilent: () => void;
  /**
   * Not following: the connection was refused or closed before any answer — the holder went away
   * while this process was asking (a launcher that exits as its app starts). The pusher has stopped.
   */
  onGone: () => void;
  /**
   * The body of a push (collected asynchronously), or undefined for nothing to say. `last`: the
   * process is ending (its event loop ran empty).
   */
  collect: (last: boolean) => Promise<string | undefined>;
  /** The body of the last push, collected synchronously in 'exit'; undefined for nothing to say. */
  collectNow: () => string | undefined;
  /** The followed holder went away (the connection closed or failed): the pusher has stopped. */
  onLost: () => void;
}

/** The one connection a Pusher keeps to the holder, whichever socket carries it. */
interface Connection {
  /** Written now as far as the kernel takes it, the rest as it drains (lost if the process ends first). */
  write(text: string): void;
  /** The connection no longer keeps the process alive. */
  unref(): void;
  destroy(): void;
  /** Bytes written that the kernel has not taken yet (the holder is not reading). */
  queued(): number;
}

interface ConnectionEvents {
  open(): void;
  data(text: string): void;
  /** Refused, failed, or closed by either side: called once at least (the Pusher stops at the first). */
  closed(): void;
}

function connectNode(host: string, port: number, on: ConnectionEvents): Connection {
  const net = process.getBuiltinModule('node:net') as typeof import('node:net');
  const socket = net.connect({ host, port });
  socket.setEncoding('latin1');
  socket.on('data', (d: string) => on.data(d));
  socket.on('error', () => on.closed());
  socket.on('close', () => on.closed());
  socket.once('connect', () => on.open());
  return {
    write: (text) => socket.write(text),
    unref: () => socket.unref(),
    destroy: () => socket.destroy(),
    queued: () => socket.writableLength,
  };
}

/** The parts of Bun's TCP client (Bun.connect) used here. */
interface BunSocket {
  write(data: Uint8Array): number;
  unref(): void;
  end(): void;
}
interface BunConnect {
  connect(options: {
    hostname: string;
    port: number;
    socket: {
      open(s: BunSocket): void;
      data(s: BunSocket, d: Uint8Array): void;
      drain(s: BunSocket): void;
      close(): void;
      end(): void;
      error(): void;
      connectError(): void;
    };
  }): Promise<BunSocket>;
}

function connectBun(bun: BunConnect, host: string, port: number, on: ConnectionEvents): Connection {
  let socket: BunSocket | undefined;
  let held = true;
  /** What the kernel has not taken yet (Bun's write() returns what it took). */
  let pending: Buffer | undefined;
  const flush = (): void => {
    while (socket !== undefined && pending !== undefined) {
      const n = socket.write(pending);
      if (n <= 0) return;
      pending = n >= pending.length ? undefined : pending.subarray(n);
    }
  };
  const closed = (): void => on.closed();
  bun
    .connect({
      hostname: host,
      port,
      socket: {
        open(s) {
          socket = s;
          if (!held) s.unref();
          on.open();
        },
        data: (_s, d) => on.data(Buffer.from(d.buffer, d.byteOffset, d.byteLength).toString('latin1')),
        drain: flush,
        close: closed,
        end: closed,
        error: closed,
        connectError: closed,
      },
    })
    .catch(closed);
  return {
    write(text) {
      const bytes = Buffer.from(text);
      pending = pending === undefined ? bytes : Buffer.concat([pending, bytes]);
      flush();
    },
    unref() {
      held = false;
      socket?.unref();
    },
    // end(), not terminate(): terminate() resets the connection, and the holder (or whatever else
    // answered on the port) would see ECONNRESET; node:net's destroy() closes it cleanly too.
    destroy() {
      socket?.end();
    },
    queued: () => pending?.length ?? 0,
  };
}

/** Bytes of the identity answer read at most (head and body). */
const MAX_IDENTITY_BYTES = 4096;

/** The identity in a complete HTTP answer; undefined when it is not one, 'incomplete' while it may become one. */
export function parseIdentity(text: string): HolderIdentity | undefined | 'incomplete' {
  const end = text.indexOf('\r\n\r\n');
  if (end === -1) return text.length > MAX_IDENTITY_BYTES ? undefined : 'incomplete';
  const head = text.slice(0, end).toLowerCase();
  if (!/^http\/1\.[01] 200 /.test(head)) return undefined;
  const length = /\r\ncontent-length: *(\d+)/.exec(head);
  if (length === null || Number(length[1]) > MAX_IDENTITY_BYTES) return undefined;
  const body = text.slice(end + 4);
  if (body.length < Number(length[1])) return 'incomplete';
  try {
    const id = JSON.parse(body.slice(0, Number(length[1]))) as Partial<HolderIdentity>;
    return typeof id.tapwire === 'string' && typeof id.service === 'string'
      ? (id as HolderIdentity)
      : undefined;
  } catch {
    return undefined;
  }
}

function request(host: string, token: string, body: string, final: boolean): string {
  return (
    `POST /v1/metrics HTTP/1.1\r\nhost: ${host}\r\nx-tapwire-token: ${token}\r\ncontent-type: application/json\r\n` +
    `content-length: ${Buffer.byteLength(body)}\r\n${final ? 'x-tapwire-final: 1\r\n' : ''}\r\n${body}`
  );
}

/**
 * The connection's token: the holder takes a push whose address it no longer knows (the sibling
 * has gone, Bun.serve) when it carries the token of a question asked from loopback
 * (prometheus/server.ts). Random, so that no other host can guess one. On Node it is read from
 * /dev/urandom: node:crypto initialises OpenSSL, which cost each short child ~6 ms (20 children
 * under NODE_OPTIONS: 1,173 ms against 1,047 without, Node 24); Bun's crypto is built in.
 */
function connectionToken(): string {
  try {
    if ((globalThis as { Bun?: unknown }).Bun !== undefined) return globalThis.crypto.randomUUID();
    const fs = process.getBuiltinModule('node:fs') as typeof import('node:fs');
    const fd = fs.openSync('/dev/urandom', 'r');
    try {
      const bytes = Buffer.alloc(16);
      if (fs.readSync(fd, bytes, 0, 16, null) === 16) return bytes.toString('hex');
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    // No /dev/urandom (not Linux): below.
  }
  // Unknown to another host, if not unguessable.
  return `${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;
}

export class Pusher {
  private readonly socket: Connection;
  private timer: NodeJS.Timeout | undefined;
  /** Until the holder has answered: then it is said to be silent (onSilent). */
  private silence: NodeJS.Timeout | undefined;
  private done = false;
  private busy = false;
  /** Set once the holder answered as a sibling. */
  private following = false;
  /** Set once the connection is open and the question asked. */
  private open = false;
  private answer = '';
  private readonly token = connectionToken();

  constructor(private readonly options: PusherOptions) {
    // Held (ref'd) until the connection is open, so that a short-lived process that ends right away
    // still has the connection its last push needs; then it never keeps the process alive, not
    // even for the answer: a holder whose loop is blocked (a parent in execFileSync) answers only
    // after the process is gone, and waiting for it would be paid at every start.
    const events: ConnectionEvents = {
      open: () => {
        this.socket.write(
          `GET /tapwire HTTP/1.1\r\nhost: ${options.host}\r\nx-tapwire-token: ${this.token}\r\n\r\n`,
        );
        this.open = true;
        this.socket.unref();
      },
      data: (d) => this.read(d),
      closed: () => this.lost(),
    };
    const bun = (globalThis as { Bun?: BunConnect }).Bun;
    this.socket =
      bun === undefined
        ? connectNode(options.host, options.port, events)
        : connectBun(bun, options.host, options.port, events);
    // Decided after this loop turn's reads: the app's own start may have held the event loop past
    // the timeout while the answer waited unread, and timers run before reads in a turn.
    this.silence = setTimeout(() => setImmediate(() => this.unanswered()), options.identifyTimeoutMs);
    this.silence.unref();
    process.on('exit', this.onExit);
    process.once('beforeExit', this.onBeforeExit);
  }

  /** The connection is open and this pusher has not stopped: its own 'exit' handler writes the last push. */
  get opened(): boolean {
    return this.open && !this.done;
  }

  /** The identity answer; after it, the answers to pushes are read and dropped (a failed push shows as a lost connection). */
  private read(d: string): void {
    if (this.following || this.done) return;
    this.answer += d;
    const holder = parseIdentity(this.answer);
    if (holder === 'incomplete') return;
    this.answer = '';
    if (holder === undefined || !this.options.follows(holder)) {
      this.foreign();
      return;
    }
    this.following = true;
    clearTimeout(this.silence);
    this.options.onConnect(holder);
    this.timer = setInterval(() => this.tick(), this.options.intervalMs);
    this.timer.unref();
  }

  /**
   * A natural exit (the event loop ran empty) can still collect asynchronously: every metric,
   * including the app's own instruments that the synchronous last push only has as of the previous
   * periodic push (collectNow). Once: the push's own write would bring 'beforeExit' back.
   */
  private readonly onBeforeExit = (): void => {
    if (this.done || !this.open) return;
    this.tick(true);
  };

  private tick(last = false): void {
    // Bounded: while the holder does not read (its event loop blocked), a push still waiting is not
    // joined by another. Each push is the whole of the process's metrics, so the next one, sent
    // once the holder reads again, loses nothing.
    if (this.busy || this.done || this.socket.queued() > 0) return;
    this.busy = true;
    this.options.collect(last).then(
      (body) => {
        this.busy = false;
        if (body !== undefined && !this.done)
          this.socket.write(request(this.options.host, this.token, body, false));
      },
      () => {
        this.busy = false;
      },
    );
  }

  private readonly onExit = (): void => {
    if (this.done || !this.open) return;
    this.done = true;
    try {
      const body = this.options.collectNow();
      if (body !== undefined) this.socket.write(request(this.options.host, this.token, body, true));
    } catch {
      // Nothing more can be done for a process that is exiting.
    }
  };

  /** The identify timeout passed: no answer read yet (this loop turn's reads included). */
  private unanswered(): void {
    if (this.following || this.done) return;
    this.options.onSilent();
  }

  private foreign(): void {
    if (this.done) return;
    this.stop();
    this.options.onForeign();
  }

  private lost(): void {
    if (this.done) return;
    if (!this.following) {
      const answered = this.answer !== '';
      this.stop();
      if (answered) this.options.onForeign();
      else this.options.onGone();
      return;
    }
    this.stop();
    this.options.onLost();
  }

  stop(): void {
    this.done = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    clearTimeout(this.silence);
    process.removeListener('exit', this.onExit);
    process.removeListener('beforeExit', this.onBeforeExit);
    this.socket.destroy();
  }
}
