// One /metrics per host and service, whatever the process tree: a launcher (npm, npx, a shell
// script) above the app, node:cluster or PM2 workers, Bun processes sharing a port, children the
// app spawns. Every process under the preload tries the configured port and asks who holds it (one
// loopback connection) when it is taken; on a Node without net.BoundSocket, one that a holder may
// sit above asks first and opens the port itself when nobody answers. Asking, and on Node trying
// the port, wait for the first turn of the event loop: a process that ends before it
// (`node -e 0`, a short CLI) pays nothing for them (see "When" below):
//
// - The one that gets it holds the endpoint. It answers GET /tapwire (who it is) and takes the
//   metrics its siblings push (POST /v1/metrics, from this host only), and serves its own metrics
//   and theirs as one (exporters/merge.ts: counters and histograms summed, the totals of processes
//   that are gone kept, per-process series labelled `tapwire_process`).
// - One that finds the port held (asking first, or its listen failing in a race) follows a sibling (tapwire, same service name):
//   it pushes its metrics there every second and once more when it exits, and says so at debug
//   level only — a launcher then serves the app it started, a cluster primary its workers. Anything
//   else on the port is one warning, as before. When the holder goes away, a sibling takes the
//   port over; a holder that ends (its 'exit') hands its totals on through the spool first, so
//   they stay in the sums (one killed by a signal cannot: Prometheus sees a counter reset).
// - Nobody waits for the answer: a holder whose loop is blocked (a parent in execFileSync) answers
//   only later. One that ends before the answer writes its last push behind the question; the
//   holder keeps it only when it is of its own service (../exporters/workers.ts). One that ends
//   before its connection is open (it recorded synchronously and exited, or called process.exit()
//   while connecting) leaves its last push in a file for the holder (../exporters/spool.ts).
// - A short-lived child that recorded nothing pushes nothing and leaves nothing behind.
import { readFileSync, readlinkSync } from 'node:fs';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { Config } from '../config/index.js';
import { requireEntry } from '../core/entries.js';
import { onFirstTurn } from '../core/first-turn.js';
import { internalServers } from '../core/http/server.js';
import { agentLog, agentLogs } from '../core/log.js';
import { RUNTIME, SCOPE, VERSION } from '../core/runtime.js';
import type { Telemetry } from '../core/telemetry.js';
import { AGENT_SCOPE, METRICS, PER_PROCESS } from '../exporters/catalogue.js';
import type { Live } from '../exporters/live/index.js';
import type { ProcessMerge } from '../exporters/merge.js';
import {
  type BunServe,
  bindsAtOnce,
  type MetricsServer,
  startMetricsServer,
} from '../exporters/prometheus/server.js';
import type { Pusher } from '../exporters/push.js';
import type { Worker, WorkerStore } from '../exporters/workers.js';

/** Milliseconds between a sibling's pushes; the holder forgets one silent for three of them. */
const PUSH_INTERVAL_MS = 1000;
/**
 * How long the holder of a taken port has to say who it is before this process says (at debug)
 * that it is still waiting. Silence is not taken for a foreign holder: an HTTP server that is not
 * tapwire answers at once, and a silent one is nearly always a parent blocked in execFileSync
 * while this process runs; a warning then would be a line on the app's stderr for nothing.
 */
const IDENTIFY_TIMEOUT_MS = 300;
/** How long the port is tried again after its holder left mid-question, before it counts as taken. */
const GONE_RETRY_MS = 5000;
/** Data points kept per sibling: its own cardinality limit across a dozen metrics. */
const POINTS_PER_PROCESS_FACTOR = 10;

interface Identity {
  tapwire: string;
  service: string;
  pid: number;
}

export interface Endpoint {
  /**
   * The app is about to listen on `port` (undefined: 0, a path, a handle). On the port this process
   * holds for /metrics, the endpoint closes now (the port is free when the app's listen runs) and
   * says so once. On Bun, any other listen opens /metrics now when it still waits for the first
   * turn of the event loop (see "When" below).
   */
  appListens(port: number | undefined): void;
  close(): void;
}

/** Hosts whose holder is asked on loopback before this process tries the port. */
const LOOPBACK_OR_ANY = new Set(['0.0.0.0', '::', '', '127.0.0.1', '::1']);

/** The environment entries through which the preload reaches a child (NODE_OPTIONS, BUN_OPTIONS). */
function preloadEntries(): string[] {
  const out: string[] = [];
  for (const name of ['NODE_OPTIONS', 'BUN_OPTIONS']) {
    const value = process.env[name];
    if (value !== undefined && value !== '') out.push(`${name}=${value}`);
  }
  return out;
}

/** Ancestors looked at, at most: a launcher's shell and the launcher (npm start) are two. */
const MAX_ANCESTORS = 8;

/**
 * Whether a tapwire process may sit above this one, to hold the port for it: the parent that
 * forked it (an IPC channel: child_process.fork, node:cluster and PM2 workers; the preload came
 * with its execArgv), or the nearest ancestor that is Node or Bun among those that run under the
 * same NODE_OPTIONS or BUN_OPTIONS (that is how the preload reaches any other child: the shell
 * `npm start` runs the app with, and above it npm; an app's children). A shell that exported the
 * variable, with no Node or Bun above it, answers no. Read from Linux's /proc (~0.1 ms a process
 * looked at); where it cannot be read, no. A process started from a shell or a service manager
 * answers no.
 */
function tapwireAbove(): boolean {
  if (process.channel !== undefined) return true;
  const entries = preloadEntries();
  if (entries.length === 0) return false;
  try {
    let pid = process.ppid;
    for (let i = 0; i < MAX_ANCESTORS && pid > 1; i++) {
      const environ = readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0');
      if (!entries.some((e) => environ.includes(e))) return false;
      if (/(?:node|bun)[^/]*$/.test(readlinkSync(`/proc/${pid}/exe`))) return true;
      // The parent's pid: the field after the command, which is in parentheses and may hold any.
      const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
      pid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    }
  } catch {
    // Not Linux, or not ours to read.
  }
  return false;
}

/**
 * Whether a socket of this host (this network namespace) listens on `port`: Linux's /proc/net/tcp
 * and tcp6, state 0A. Where they cannot be read, no. Read only at exit, by a process that recorded
 * something and never tried the port.
 */
function listened(port: number): boolean {
  const suffix = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    try {
      for (const line of readFileSync(file, 'latin1').split('\n')) {
        // sl local_address rem_address st ...
        const fields = line.trim().split(/\s+/);
        if (fields[3] === '0A' && fields[1]?.endsWith(suffix)) return true;
      }
    } catch {
      // Not Linux, or no IPv6.
    }
  }
  return false;
}

let followerEntry: ReturnType<typeof requireEntry<'follower'>> | undefined;
/**
 * The pusher, the OTLP JSON of pushes and the spool (../exporters/follower.ts): a bundle entry,
 * loaded the first time a process follows the holder, reads the spool or hands its counts on.
 */
function follower(): ReturnType<typeof requireEntry<'follower'>> {
  followerEntry ??= requireEntry('follower');
  return followerEntry;
}

/** Where a sibling reaches the holder: loopback when the endpoint listens on every address. */
function pushHost(host: string): string {
  return host === '0.0.0.0' || host === '::' || host === '' ? '127.0.0.1' : host;
}

export function openEndpoint(config: Config, telemetry: Telemetry, bunServe: BunServe | undefined): Endpoint {
  let server: MetricsServer | undefined;
  let pusher: Pusher | undefined;
  /** Closed for good: stopped, yielded to the app, or its listen failed. */
  let closed = false;
  /** The port is someone else's (not tapwire of this service): nothing is pushed or spooled. */
  let foreign = false;
  let collectFailed = false;
  /** Set while this endpoint's own listen runs (the app-listen watcher must not take it for the app's). */
  let binding = false;
  /** When the port was first found taken with nobody answering on it (its holder was leaving). */
  let gone: number | undefined;
  /**
   * Whether a tapwire process may sit above this one (tapwireAbove()), read from /proc only when
   * the answer is needed: to choose the order on a Node without net.BoundSocket, to say it listens,
   * at exit. A child on Node 24 reads nothing during its start; on Bun node:fs costs ~2 ms.
   */
  let above: boolean | undefined;
  const aboveNow = (): boolean => (above ??= tapwireAbove());

  // Holding the port: siblings' pushes, their slots, and the totals of those that are gone. Made,
  // and their code loaded (../core/entries.ts), at the first scrape or push.
  const slots = new Map<string, number>();
  let holding: { merge: ProcessMerge; store: WorkerStore } | undefined;
  const held = (): { merge: ProcessMerge; store: WorkerStore } => {
    if (holding !== undefined) return holding;
    const { ProcessMerge, WorkerStore } = requireEntry('holder');
    const merge = new ProcessMerge(PER_PROCESS, config.cardinalityLimit);
    const store = new WorkerStore(PUSH_INTERVAL_MS, config.cardinalityLimit * POINTS_PER_PROCESS_FACTOR, {
      // A sibling that ends before this process answered who it is pushes unanswered (../exporters/push.ts).
      service: config.serviceName,
      warn: (code, message) => agentLog(code, message),
      onForget: (w: Worker) => {
        merge.retire(w.resourceMetrics);
        slots.delete(w.instance);
      },
      // It was only silent (blocked): its pushes count again, and what it was retired with no more.
      onReturn: (w: Worker) => merge.unretire(w.resourceMetrics),
    });
    holding = { merge, store };
    return holding;
  };
  const slotOf = (instance: string): number => {
    let slot = slots.get(instance);
    if (slot === undefined) {
      const taken = new Set(slots.values());
      for (slot = 1; taken.has(slot); slot++);
      slots.set(instance, slot);
    }
    return slot;
  };

  /**
   * The pushes siblings that ended before connecting left (../exporters/spool.ts), taken as final
   * pushes, and the copies of its siblings' last pushes a holder that ended handed on (adopted),
   * read at each scrape and each push received. No timer: a first setInterval in a Bun preload
   * cost its start ~2 ms (measured), and what is spooled counts only when scraped.
   */
  const readSpool = (): void => {
    if (server === undefined) return;
    follower().drainSpool(config.prometheusPort, (body, handed) => {
      const holder = requireEntry('holder');
      if (!handed) {
        holder.acceptOtlp(held().store, 'application/json', undefined, body, true);
        return;
      }
      try {
        const self = holder.instanceOf(telemetry.resource.attributes as Record<string, unknown>);
        held().store.adopt(JSON.parse(new TextDecoder().decode(body)), self);
      } catch {
        // A copy that cannot be read adds nothing; the sibling, if alive, pushes its own.
      }
    });
  };

  async function render(openMetrics: boolean): Promise<string[]> {
    readSpool();
    const { merge, store } = held();
    const own = await telemetry.collect();
    keep(own); // what it hands on if it ends (handOver())
    const sources = [{ slot: 0, resourceMetrics: own }];
    for (const w of store.live())
      sources.push({ slot: slotOf(w.instance), resourceMetrics: w.resourceMetrics });
    return requireEntry('holder').serializePieces([{ resourceMetrics: merge.merge(sources) }], {
      onDuplicate: clash,
      openMetrics,
    });
  }

  // A name the app's metrics share with tapwire's (or with another of the app's): said once per name.
  const clashes = new Set<string>();
  function clash(name: string, scope: string): void {
    if (clashes.has(name) || clashes.size >= 100) return;
    clashes.add(name);
    agentLog(
      'TAPWIRE_APP_METRIC_CLASH',
      `the metric ${name} of scope ${scope} is not served: another metric has that name on /metrics`,
      { metric: name, scope },
    );
  }

  const identity = (): Identity => ({ tapwire: VERSION, service: config.serviceName, pid: process.pid });

  // The live page (TAPWIRE_DASHBOARD): its code is imported when the page is first asked for, so a
  // process nobody looks at never loads it. It reads what /metrics reads, without a collection.
  let live: Promise<Live> | undefined;
  const loadLive = (): Promise<Live> =>
    (live ??= import('../exporters/live/index.js').then(({ createLive }) =>
      createLive({
        catalogue: { scope: AGENT_SCOPE, metrics: METRICS },
        service: config.serviceName,
        own: () => ({
          resource: telemetry.resource,
          scopeMetrics: [{ scope: SCOPE, metrics: telemetry.histograms.collectNow() }],
        }),
        siblings: () => {
          readSpool();
          return held()
            .store.live()
            .map((w) => ({ slot: slotOf(w.instance), resourceMetrics: w.resourceMetrics }));
        },
        merge: (sources) => held().merge.merge(sources),
      }),
    ));
  const livePage = config.dashboard
    ? { page: async () => (await loadLive()).page(), data: async () => (await loadLive()).data() }
    : undefined;

  function listen(): void {
    if (closed) return;
    binding = true;
    // Bun.serve reports a taken port before startMetricsServer returns: that server is not kept.
    let failed = false;
    const started = startMetricsServer(
      {
        host: config.prometheusHost,
        port: config.prometheusPort,
        render,
        identity,
        receive: (type, encoding, body, final) => {
          readSpool();
          return requireEntry('holder').acceptOtlp(held().store, type, encoding, body, final);
        },
        live: livePage,
        onHttpServer: (http) => internalServers.add(http),
        onListenError: (error) => {
          failed = true;
          server = undefined;
          if (error.code === 'EADDRINUSE') followLater();
          else portWarning(error);
        },
        onListening: ({ host, port }) => {
          const page = livePage === undefined ? '' : `, live page on http://${host}:${port}/`;
          // Holding the port for a parent that runs it before taking the port (spawnSync), said at
          // debug: the parent says where the metrics are. A forked worker (an IPC channel: PM2)
          // holds it for its service.
          const forAbove =
            agentLogs('TAPWIRE_METRICS_LISTENING') && process.channel === undefined && aboveNow();
          agentLog(
            forAbove ? 'TAPWIRE_METRICS_HOLDING' : 'TAPWIRE_METRICS_LISTENING',
            `metrics on http://${host}:${port}/metrics${page}`,
            { host, port },
          );
        },
        onRenderError: (error) => {
          if (collectFailed) return;
          collectFailed = true;
          agentLog('TAPWIRE_ERR_COLLECT', 'collecting metrics for /metrics failed; that scrape got a 500', {
            err: error,
          });
        },
      },
      bunServe,
    );
    if (!failed) server = started;
    binding = false;
  }

  /**
   * listen() from the event loop (the first turn, after asking who holds the port, or to take it
   * over): a failure must not reach the app. It turns the endpoint off and says so.
   */
  function listenLater(): void {
    try {
      listen();
    } catch (error) {
      binding = false;
      server = undefined;
      closed = true;
      agentLog(
        'TAPWIRE_ERR_METRICS_PORT',
        `opening /metrics on ${config.prometheusHost}:${config.prometheusPort} failed; the metrics endpoint is off, the app runs on`,
        { host: config.prometheusHost, port: config.prometheusPort, err: error },
      );
    }
  }

  function portWarning(error: NodeJS.ErrnoException): void {
    foreign = true;
    // Taken or privileged: the port is at fault. Anything else (no such name, not an address of
    // this machine) is the host's.
    const fix =
      error.code === 'EADDRINUSE' || error.code === 'EACCES'
        ? 'Set OTEL_EXPORTER_PROMETHEUS_PORT to a free port.'
        : `OTEL_EXPORTER_PROMETHEUS_HOST=${config.prometheusHost} is not an address of this machine: set it to one, or unset it to listen on all (0.0.0.0).`;
    agentLog(
      'TAPWIRE_ERR_METRICS_PORT',
      `cannot serve /metrics on ${config.prometheusHost}:${config.prometheusPort} (${error.code ?? error.message}); metrics endpoint is off, the app runs on. ${fix}`,
      { host: config.prometheusHost, port: config.prometheusPort },
    );
  }

  /**
   * Whether a collection (a periodic push, a scrape, 'beforeExit') has run; the scopes it saw that
   * are not tapwire's own (the app's meters, prom-client), which 'exit' cannot collect (they are
   * read asynchronously); whether one was pushed. tapwire's own scope is not kept: 'exit' reads it
   * anew, and a collection's data points kept from one scrape or push to the next lived long
   * enough for V8 to promote them (~6 kB a scrape of a hello app, --trace-gc-nvp on Node 24).
   */
  let collected = false;
  let appScopes: ResourceMetrics['scopeMetrics'] = [];
  let pushed = false;
  const keep = (rm: ResourceMetrics): void => {
    collected = true;
    appScopes = rm.scopeMetrics.filter((s) => s.scope.name !== SCOPE.name);
  };

  /**
   * This process's metrics as they are in 'exit': nothing asynchronous runs there, so tapwire's
   * own instruments are read now (their callbacks are synchronous) and the app's scopes are those
   * the last collection saw. Undefined for a process that recorded nothing (no request-path value)
   * and never collected.
   */
  function lastMetrics(): ResourceMetrics | undefined {
    if (!collected && telemetry.histograms.collectNow().length === 0) return undefined;
    const own = telemetry.meter.collectNowWithCallbacks().metrics;
    return { resource: telemetry.resource, scopeMetrics: [{ scope: SCOPE, metrics: own }, ...appScopes] };
  }

  /** A follower's last push, in 'exit' (to the holder, or to the spool). */
  function lastPush(): string | undefined {
    const metrics = lastMetrics();
    return metrics === undefined ? undefined : JSON.stringify(follower().encodeResourceMetrics(metrics));
  }

  /**
   * What a holder that ends hands on, in 'exit': its own metrics with the totals of the siblings
   * that are gone, as one last push; and, apart (not final), the last push of each sibling that may
   * be alive: those it holds and those it forgot for their silence (a sibling only blocked pushes
   * again, to whoever holds the port next, and must not be counted there twice: once in the totals
   * handed on, once live). A copy of one that is alive is replaced by its own next push; of one
   * that is not, forgotten in its time with its totals kept.
   */
  function handOver(): { own?: string; siblings?: string } {
    const out: { own?: string; siblings?: string } = {};
    // Siblings silent past their time are retired first; those that may be alive go on apart.
    const store = holding?.store;
    const siblings = store === undefined ? [] : [...store.live(), ...store.silentOnes()];
    for (const w of store?.silentOnes() ?? []) holding!.merge.unretire(w.resourceMetrics);
    if (siblings.length > 0) {
      out.siblings = JSON.stringify({
        resourceMetrics: siblings.flatMap(
          (w) => follower().encodeResourceMetrics(w.resourceMetrics).resourceMetrics,
        ),
      });
    }
    const own = telemetry.quiet() ? undefined : lastMetrics();
    const all =
      holding === undefined
        ? own
        : holding.merge.merge([
            { slot: 0, resourceMetrics: own ?? { resource: telemetry.resource, scopeMetrics: [] } },
          ]);
    if (all !== undefined && all.scopeMetrics.length > 0)
      out.own = JSON.stringify(follower().encodeResourceMetrics(all));
    return out;
  }

  /**
   * Follow a sibling that holds the port (one connection asks who holds it, then carries the
   * pushes), or warn about anyone else. `probe`: asked before this process has tried the port —
   * nobody there (the connection refused, or closed before an answer) means try it now.
   */
  function whoHolds(probe = false): void {
    if (closed) return;
    pusher = new (follower().Pusher)({
      host: pushHost(config.prometheusHost),
      port: config.prometheusPort,
      intervalMs: PUSH_INTERVAL_MS,
      identifyTimeoutMs: IDENTIFY_TIMEOUT_MS,
      follows: (holder) => holder.service === config.serviceName,
      onConnect: (holder) => {
        agentLog(
          'TAPWIRE_METRICS_FOLLOWING',
          `metrics go to pid ${holder.pid}, which serves them on port ${config.prometheusPort}`,
          { holder_pid: holder.pid, port: config.prometheusPort },
        );
      },
      onForeign: () => {
        pusher = undefined;
        portWarning(Object.assign(new Error('address in use'), { code: 'EADDRINUSE' }));
      },
      onSilent: () =>
        agentLog(
          'TAPWIRE_METRICS_HOLDER_SILENT',
          `the holder of port ${config.prometheusPort} has not said who it is yet (its event loop is busy); this process waits for it`,
          { port: config.prometheusPort },
        ),
      onGone: () => {
        pusher = undefined;
        if (probe) {
          listenLater();
          return;
        }
        // The holder left while we asked: try the port again, a bounded number of times.
        gone ??= Date.now();
        if (Date.now() - gone > GONE_RETRY_MS) {
          portWarning(Object.assign(new Error('address in use'), { code: 'EADDRINUSE' }));
          return;
        }
        const retry = setTimeout(listenLater, 20 + Math.floor(Math.random() * 80));
        retry.unref();
      },
      collect: async (ending) => {
        // A process that ends having recorded nothing has nothing to say: a short child (`-e 0`, a
        // CLI that made no request) neither collects nor leaves its runtime series in the holder.
        if (ending && !pushed && telemetry.quiet()) return undefined;
        const rm = await telemetry.collect();
        keep(rm);
        pushed = true;
        return JSON.stringify(follower().encodeResourceMetrics(rm));
      },
      collectNow: lastPush,
      onLost: () => {
        pusher = undefined;
        // The holder is gone: take the port over (one sibling wins, the others follow it).
        const retry = setTimeout(listenLater, 50 + Math.floor(Math.random() * 200));
        retry.unref();
      },
    });
  }

  // When. Following a holder (a connection, and on Node node:net: ~2 ms of a Bun child's start,
  // ~4 ms of a Node child's here) waits for the first turn of the event loop
  // (../core/first-turn.ts): a child that ends before it (`-e 0`, a CLI that only computes) never
  // connects, and its last push, if it recorded anything, goes to the spool. Trying the port waits
  // for it too: on Node a listen loads node:net (~4 ms); on Bun, holding the port from the start
  // (Bun.serve, then at exit the look above for a process to hand the counts to) cost ~5 ms of wall
  // time and ~7 ms of CPU of every `bun -e 0` (Bun 1.4.5, 41 interleaved runs). A `-e 0` or a short
  // CLI never opens /metrics (nobody could have scraped it). An app that serves has it open before
  // its first answer: Node runs the timers that are due before it polls for connections; Bun does
  // not promise that order (a scrape right after the first 200 of an app that made 2,000 SQLite
  // tables at start was refused), so there any listen of the app opens it at once. Children a
  // parent runs before its loop first turns (spawnSync at the top of a script) find the port free:
  // one that ends before its own first turn spools its last push; one that lives on takes the port,
  // and hands its counts on when it ends (handOver()); the parent takes the port at its first turn
  // and reads them.
  //
  // Handing on. A holder that ends spools its own counts and the totals of its gone siblings when
  // a tapwire process may hold the port after it: a live sibling (one takes the port over) or a
  // process above it (tapwireAbove(): a parent that will take the port). Without it a takeover
  // reads as a counter reset. A process alone hands nothing on: nobody would read it. A
  // process that ends before it tried the port spools only where it may be read: something above
  // it, or something listening on the port already (a holder).
  //
  // Order. The port is tried first. Where Node binds at once (net.BoundSocket), a taken port is
  // known before node:cluster loads, so that order costs nothing. On a Node without it, a listen
  // loads node:cluster and node:dns and compiles the IPv6 pattern (~4 ms) before it fails: there a
  // process that one above it may hold the port for asks first on loopback, and listens only when
  // nobody answers (a refused question, ~3 ms). Either order ends the same way. A host of its own
  // (an address, a name) is listened on first, as its errors (not an address of this machine) are
  // the listen's to report.
  /** Cancels trying the port at the first turn (pending only until then). */
  let opening: (() => void) | undefined;
  /** Cancels following the holder at the first turn (pending only until then). */
  let toFollow: (() => void) | undefined;
  const open = (): void => {
    opening = undefined;
    if (closed) return;
    const askFirst =
      RUNTIME === 'node' && LOOPBACK_OR_ANY.has(config.prometheusHost) && !bindsAtOnce() && aboveNow();
    if (askFirst) whoHolds(true);
    else listenLater();
  };
  function followLater(): void {
    toFollow = onFirstTurn(() => {
      toFollow = undefined;
      whoHolds();
    });
  }

  /** Whether a tapwire process may read what this one spools as it ends (see "Handing on"). */
  const readerAfter = (): boolean => {
    if (server !== undefined) {
      // A follower (or one taken for gone that was only blocked) takes the port over.
      const store = holding?.store;
      return (
        (store !== undefined && (store.live().length > 0 || store.silentOnes().length > 0)) || aboveNow()
      );
    }
    return opening === undefined || aboveNow() || listened(config.prometheusPort);
  };
  // The last push of a follower whose connection is not open (it never turned its event loop, or
  // ends while connecting, or its holder is not listening yet), or what a holder hands on, goes to
  // the spool.
  const onExit = (): void => {
    if (closed || foreign || pusher?.opened) return;
    try {
      if (server === undefined) {
        const body = lastPush();
        if (body !== undefined && readerAfter()) follower().spoolLast(config.prometheusPort, body);
      } else if (readerAfter()) {
        const { own, siblings } = handOver();
        if (siblings !== undefined) follower().spoolLast(config.prometheusPort, siblings, true);
        if (own !== undefined) follower().spoolLast(config.prometheusPort, own);
      }
    } catch {
      // Nothing more can be done for a process that is exiting.
    }
  };
  // A natural end (the event loop ran empty) with no open connection, or of a holder that hands
  // its counts on: the last push is collected asynchronously now, so that it carries the app's own
  // instruments too, as a connected follower's does (../exporters/push.ts); 'exit' then spools
  // it. Once: the collection's own work brings 'beforeExit' back. (Seen on Bun: a child ended with its connection still opening.)
  let endCollected = false;
  const onBeforeExit = (): void => {
    if (endCollected || closed || foreign || pusher?.opened) return;
    endCollected = true;
    if (!pushed && telemetry.quiet()) return;
    if (!readerAfter()) return;
    telemetry.collect().then(
      (rm) => {
        keep(rm);
        pushed = true;
      },
      () => {
        // The synchronous last push in 'exit' still carries the request histograms.
      },
    );
  };
  process.on('exit', onExit);
  process.on('beforeExit', onBeforeExit);
  try {
    opening = onFirstTurn(open);
  } catch (error) {
    process.removeListener('exit', onExit);
    process.removeListener('beforeExit', onBeforeExit);
    throw error;
  }

  return {
    appListens(port) {
      if (binding || closed) return;
      if (port !== config.prometheusPort) {
        if (RUNTIME === 'bun' && opening !== undefined) {
          opening();
          open();
        }
        return;
      }
      if (opening !== undefined) {
        // Not opened yet: it never will be.
        opening();
        opening = undefined;
      } else if (server !== undefined) {
        server.close();
        server = undefined;
        live?.then((l) => l.close()).catch(() => {});
      } else return;
      closed = true; // for good: no takeover later either
      agentLog(
        'TAPWIRE_METRICS_PORT_YIELDED',
        `the app listens on port ${port} itself: tapwire's /metrics there is closed for it. Set OTEL_EXPORTER_PROMETHEUS_PORT to another port to keep tapwire's metrics.`,
        { port },
      );
    },
    close() {
      closed = true;
      opening?.();
      opening = undefined;
      toFollow?.();
      toFollow = undefined;
      process.removeListener('exit', onExit);
      process.removeListener('beforeExit', onBeforeExit);
      server?.close();
      pusher?.stop();
      live?.then((l) => l.close()).catch(() => {});
    },
  };
}
