// Starting the agent: read the configuration, report bad values once, build the meter provider and
// the recorders, plug in tracing when configured, install the instrumentations that apply to this
// runtime (./instrumentations.ts), open the /metrics endpoint. Never throws into the app: a hook
// whose install fails is taken out alone (TAPWIRE_ERR_HOOK); any other failure takes everything
// back out again (TAPWIRE_ERR_START) — every patch, subscription and global — and the app runs as
// without tapwire. stop() does the same on request.
import type { MeterProvider } from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';
import { type Config, loadConfig, problemMessage, VARIABLES } from '../config/index.js';
import { Attribution, setAttribution } from '../core/ai/attribution.js';
import type { Prices } from '../core/ai/prices.js';
import { Providers } from '../core/ai/providers.js';
import type { AiRecorder } from '../core/ai/recorder.js';
import { holdChannels, openChannels, Subscriptions } from '../core/channels.js';
import { Pools } from '../core/db/pools.js';
import type { DbRecorder } from '../core/db/recorder.js';
import { requireEntry } from '../core/entries.js';
import { fail, type Guard, guard, guarded } from '../core/guard.js';
import { FastHistograms } from '../core/histogram.js';
import { Origins } from '../core/http/origins.js';
import type { HttpRecorder } from '../core/http/recorder.js';
import { agentLog, configureAgentLog, shipAgentLog, timeAgentLog } from '../core/log.js';
import { logDrops } from '../core/log-counts.js';
import { OwnMeter } from '../core/meter.js';
import { registerMeterProvider, unregisterMeterProvider } from '../core/otel-global.js';
import { Patches } from '../core/patch.js';
import { createRecorders } from '../core/recorders.js';
import { RUNTIME, SCOPE } from '../core/runtime.js';
import { agentResource, createTelemetry, type Telemetry } from '../core/telemetry.js';
import type { OtlpExports } from '../exporters/otlp.js';
import type { LogShipper, LogSink } from '../exporters/otlp-logs.js';
import { PromClientProducer } from '../exporters/prom-client.js';
import type { BunServe } from '../exporters/prometheus/server.js';
import type { HookContext } from './context.js';
import { type Agent as AppAgent, kAgent } from './current.js';
import { type Endpoint, openEndpoint } from './endpoint.js';
import { watchAppListen } from './http/listen.js';
import { INSTRUMENTATIONS, type Instrumentation } from './instrumentations.js';
import { ModuleLoads } from './load.js';
import { CHANNEL_BUILTINS } from './packages.js';
import type { TracerSetup } from './trace/provider.js';

export interface Agent extends AppAgent {
  readonly telemetry: Telemetry;
  readonly http: HttpRecorder;
  readonly db: DbRecorder;
  readonly tracing: TracerSetup | undefined;
  /** Where the app's logger sends its records besides stdout (OTEL_LOGS_EXPORTER=otlp). */
  readonly logs: LogSink | undefined;
  /**
   * Hands a message published before the agent subscribed to its listeners on that channel: the
   * message that started a deferred agent (./defer.ts).
   */
  deliver(channel: string, message: unknown): void;
}

type AgentSlot = typeof globalThis & { [kAgent]?: Agent | null };

/** One instrumentation's share of the installation, taken back together. */
interface Part {
  patches: Patches;
  channels: Subscriptions;
  guards: Guard[];
}

/** Everything one start installed, so that all of it can be taken back. */
class Installation {
  /** What belongs to no single instrumentation: tracing, the module-load hook, flush at exit. */
  readonly patches = new Patches();
  readonly guards: Guard[] = [];
  private readonly parts: Part[] = [];

  guard(name: string, into: Guard[] = this.guards): Guard {
    const g = guard(name);
    into.push(g);
    return g;
  }

  /**
   * Installs one instrumentation; a failure takes its own part back and leaves the rest. Done when
   * it returns, unless the install is asynchronous (a Bun hook imported on demand): then the promise.
   */
  install(
    inst: Instrumentation,
    shared: Omit<HookContext, 'patches' | 'channels' | 'guard' | 'guardOf' | 'on'>,
  ): Promise<void> | undefined {
    const part: Part = { patches: new Patches(), channels: new Subscriptions(), guards: [] };
    this.parts.push(part);
    const own = this.guard(inst.name, part.guards);
    const ctx: HookContext = {
      ...shared,
      patches: part.patches,
      channels: part.channels,
      guard: own,
      guardOf: (p) => this.guard(`${inst.name}.${p}`, part.guards),
      on: (key, listener) => part.channels.subscribe(key, guarded(own, listener)),
    };
    const failed = (error: unknown) => {
      fail(own, error); // logs once and turns the guard off, before its part is taken back
      takeBack(part);
    };
    try {
      const done = inst.install(ctx);
      if (done instanceof Promise) return done.then(undefined, failed);
    } catch (error) {
      failed(error);
    }
    return undefined;
  }

  /** A message of the channel `name` to every listener on it (Agent.deliver). */
  deliver(name: string, message: unknown): void {
    for (const p of this.parts) p.channels.deliver(name, message);
  }

  /** Newest first; guards go off before anything is restored, so a wrapper left behind passes through. */
  undo(): void {
    for (const g of this.guards) g.enabled = false;
    for (const p of this.parts) for (const g of p.guards) g.enabled = false;
    for (const p of this.parts.splice(0).reverse()) takeBack(p);
    this.patches.restore();
  }
}

function takeBack(part: Part): void {
  for (const g of part.guards) g.enabled = false;
  part.channels.unsubscribeAll();
  part.patches.restore();
}

/** register.ts: the tree `tapwire precompile` wrote for this Bun failed to load (it started from this bundle). */
export function precompiledFailed(dir: string, error: unknown): void {
  agentLog('TAPWIRE_ERR_PRECOMPILED', 'the precompiled agent failed to load; started from the plain bundle', {
    dir,
    err: error,
  });
}

/** Where the preload's start went (TAPWIRE_STARTED at debug level): ms since the process started. */
class StartTimes {
  /** Each phase's end: process.uptime() and the seconds spent writing lines by then. */
  private readonly marks: [string, number, number][] = [];
  readonly hooks: Record<string, number> = {};
  /** Seconds spent writing tapwire's own lines during the start (core/log.ts timeAgentLog). */
  readonly log = { seconds: 0 };

  constructor(
    /** process.uptime() when the preload began (register.ts), or when start() was called. */
    private readonly began: number,
    private readonly entered: number,
  ) {}

  mark(name: string): void {
    this.marks.push([name, process.uptime(), this.log.seconds]);
  }

  /** A point to time a hook from: its start and the lines written by then. */
  stamp(): [number, number] {
    return [process.uptime(), this.log.seconds];
  }

  hook(name: string, [since, logged]: [number, number]): void {
    this.hooks[name] = ms(process.uptime() - since - (this.log.seconds - logged));
  }

  /**
   * Each phase without the lines written in it (they cost nothing at the levels that do not write
   * them), those lines as `log_ms`, and the whole start as `total_ms`: the phases and `log_ms` add
   * up to it.
   */
  fields(precompiled: boolean | undefined, trigger: string | undefined): Record<string, unknown> {
    const out: Record<string, unknown> = {
      runtime_ms: ms(this.began),
      load_ms: ms(this.entered - this.began),
    };
    let last = this.entered;
    let logged = 0;
    for (const [name, at, log] of this.marks) {
      out[`${name}_ms`] = ms(at - last - (log - logged));
      last = at;
      logged = log;
    }
    out.log_ms = ms(logged);
    out.total_ms = ms(last - this.began);
    out.hooks = this.hooks;
    if (precompiled !== undefined) out.precompiled = precompiled;
    if (trigger !== undefined) out.trigger = trigger;
    return out;
  }
}

const ms = (seconds: number): number => Math.round(seconds * 10_000) / 10;

/** How register.ts started the agent, for the start-up breakdown. */
export interface StartedFrom {
  /** process.uptime() when the preload's first line ran. */
  began: number;
  /** Bun: whether the agent came from the precompiled tree (cli/precompile.ts). */
  precompiled?: boolean;
  /** A deferred start (./defer.ts): what started it; `began` is then when it did. */
  trigger?: string;
}

export async function start(from?: StartedFrom): Promise<Agent | undefined> {
  const entered = process.uptime();
  const g = globalThis as AgentSlot;
  // One agent per process, even when two copies of tapwire are loaded.
  if (g[kAgent] !== undefined) return g[kAgent] ?? undefined;
  g[kAgent] = null;
  const installation = new Installation();
  let endpoint: Endpoint | undefined;
  try {
    const { config, problems } = loadConfig(process.env);
    configureAgentLog(config);
    // Timed only when it will be said: at debug level (LOG_LEVEL=debug).
    const times =
      config.agentLogLevel === 'debug' || config.agentLogLevel === 'trace'
        ? new StartTimes(from?.began ?? entered, entered)
        : undefined;
    timeAgentLog(times?.log);
    times?.mark('config');
    const resource = agentResource(config);
    // Optional parts are imported on demand: OTLP exporters bring https, http2, zlib and more
    // (~20 ms of start-up), tracing brings the trace SDK.
    const wantsOtlp =
      !config.disabled &&
      (config.metricsExporters.includes('otlp') ||
        config.tracesExporters.includes('otlp') ||
        config.logsExporters.includes('otlp'));
    const otlp = wantsOtlp ? await import('../exporters/otlp.js') : undefined;
    const exports = otlp && new otlp.OtlpExports(config, otlpReport);
    // Before the first line, so that the configuration's problems are shipped too.
    const logs =
      exports !== undefined && config.logsExporters.includes('otlp')
        ? await shipLogs(config, resource, exports, installation)
        : undefined;
    for (const p of problems) {
      agentLog(p.code, p.message, { variable: p.variable, value: p.value, accepted: p.accepted });
    }
    if (config.disabled) {
      timeAgentLog(undefined);
      return undefined;
    }
    if (config.logsExporters.includes('console')) {
      agentLog(
        'TAPWIRE_ERR_UNSUPPORTED',
        'OTEL_LOGS_EXPORTER=console: the log records are the JSON lines on stdout already; nothing more is written',
        { variable: 'OTEL_LOGS_EXPORTER' },
      );
    }

    // The endpoint's own Bun.serve, taken before the Bun hooks replace it.
    const bun = (globalThis as { Bun?: { serve: BunServe } }).Bun;
    const bunServe = RUNTIME === 'bun' && bun !== undefined ? bun.serve.bind(bun) : undefined;
    const histograms = new FastHistograms(SCOPE);
    const promClient = new PromClientProducer({
      limit: config.cardinalityLimit,
      keepDefaults: config.runtimeMetrics.length === 0,
      onDefaultsLeftOut: () =>
        agentLog(
          'TAPWIRE_PROM_CLIENT_DEFAULTS',
          "prom-client's default metrics are left out of /metrics: tapwire's runtime metrics measure the same",
        ),
      onError: (error) =>
        agentLog('TAPWIRE_ERR_PROM_CLIENT', "reading the app's prom-client registry failed", { err: error }),
    });
    const meter = new OwnMeter(histograms, SCOPE, config.cardinalityLimit + 16);
    const otlpMetrics = config.metricsExporters.includes('otlp')
      ? exports?.reader([meter, promClient])
      : undefined;
    const telemetry = createTelemetry(config, otlpMetrics, resource, histograms, [promClient], meter);
    // The app's own @opentelemetry/api instruments land in the SDK's provider beside tapwire's
    // instruments: same readers, names, cap. It is created (and the SDK loaded) when the app first
    // asks for a meter. The API keeps the first registration; a provider registered before tapwire stays.
    const appMeterProvider: MeterProvider = {
      getMeter: (name, version, options) => telemetry.app().provider.getMeter(name, version, options),
    };
    if (registerMeterProvider(appMeterProvider)) {
      installation.patches.onRestore(unregisterMeterProvider);
    }
    // The AI measurement loads at the first provider call; with a price file of the user's, now, so
    // that a bad one is said at start.
    const ai = aiOnDemand(telemetry, config);
    if (config.aiPrices !== undefined) ai();
    const { http, db } = createRecorders(telemetry, config, ai);
    if (config.aiAttributes.length > 0) {
      setAttribution(new Attribution(config.aiAttributes, config.aiAttributeValues));
      installation.patches.onRestore(() => setAttribution(undefined));
    }
    const internal: string[] = [];
    if (config.tracesExporters.includes('otlp')) internal.push(config.otlpTracesEndpoint);
    if (otlpMetrics !== undefined) internal.push(config.otlpMetricsEndpoint);
    if (logs !== undefined) internal.push(config.otlpLogsEndpoint);
    // Asking the holder of the host's /metrics port who it is (./endpoint.ts) is tapwire's own traffic.
    internal.push(`http://127.0.0.1:${config.prometheusPort}/`);

    let tracing: TracerSetup | undefined;
    if (config.tracesExporters.length > 0) {
      const spans = config.tracesExporters.includes('otlp') ? exports?.spanExporter() : undefined;
      tracing = (await import('./trace/index.js')).installTracing(config, resource, spans);
      if (tracing !== undefined) installation.patches.onRestore(tracing.stop);
    }
    if (otlpMetrics !== undefined || tracing !== undefined || logs !== undefined) {
      const flushers: (() => Promise<unknown>)[] = [];
      if (logs !== undefined) flushers.push(() => logs.forceFlush());
      if (tracing !== undefined) flushers.push(() => tracing.provider.forceFlush());
      if (otlpMetrics !== undefined) flushers.push(() => telemetry.app().provider.forceFlush());
      const { flushOnExit } = otlp ?? (await import('../exporters/otlp.js'));
      installation.patches.onRestore(
        flushOnExit(flushers, exports, (error) =>
          agentLog('TAPWIRE_ERR_OTLP_FLUSH', 'flushing telemetry at exit failed', { err: error }),
        ),
      );
    }

    times?.mark('setup');
    const shared = {
      config,
      runtime: RUNTIME,
      meter: telemetry.meter,
      http,
      db,
      pools: new Pools(telemetry.meter),
      promClient,
      origins: new Origins(new Providers(config.aiEndpoints), internal),
      loads: new ModuleLoads(installation.patches, RUNTIME, installation.guard('module loads')),
    };
    if (RUNTIME === 'bun' && !channelModulesTaken(from?.trigger)) {
      // Subscribed when the app first takes a module that can publish on them (core/channels.ts).
      holdChannels();
      shared.loads.watchChannelModules(openChannels);
    }
    for (const inst of INSTRUMENTATIONS) {
      if (!inst.runtimes.includes(RUNTIME)) continue;
      const since = times?.stamp();
      // Awaited only when asynchronous: without OTLP or tracing the whole start is synchronous,
      // which a deferred start relies on (./defer.ts).
      const installing = installation.install(inst, shared);
      if (installing !== undefined) await installing;
      if (since !== undefined) times?.hook(inst.name, since);
    }
    times?.mark('hooks');

    if (telemetry.prometheus) {
      // Opened at the first turn of the event loop (./endpoint.ts); the app's listen on its port
      // before or after that takes it (watchAppListen).
      const opened = openEndpoint(config, telemetry, bunServe);
      endpoint = opened;
      installation.patches.onRestore(watchAppListen((port) => opened.appListens(port)));
    }
    if (times !== undefined) {
      times.mark('endpoint');
      timeAgentLog(undefined);
      agentLog('TAPWIRE_STARTED', 'started', times.fields(from?.precompiled, from?.trigger));
    }
    const agent: Agent = {
      config,
      telemetry,
      http,
      db,
      tracing,
      logs,
      deliver: (name, message) => installation.deliver(name, message),
      stop() {
        installation.undo();
        endpoint?.close();
        telemetry
          .appIfCreated()
          ?.provider.shutdown()
          .catch(() => {
            // Nothing more to export while stopping.
          });
        if (g[kAgent] === agent) g[kAgent] = undefined;
      },
    };
    g[kAgent] = agent;
    return agent;
  } catch (error) {
    timeAgentLog(undefined);
    installation.undo();
    endpoint?.close();
    agentLog('TAPWIRE_ERR_START', 'tapwire failed to start and is off; the app is unaffected', {
      err: error,
    });
    return undefined;
  }
}

/**
 * Bun: whether something may already publish on the channels tapwire subscribes to, so that they
 * cannot wait (core/channels.ts): the start's own trigger took node:http, node:https or
 * node:diagnostics_channel (agent/defer-bun.ts names it), or a package that publishes was loaded
 * before tapwire (imported from the app's code rather than preloaded). A built-in the app's code
 * took before such an import is not seen (docs/instrumentation.md).
 */
function channelModulesTaken(trigger: string | undefined): boolean {
  if (trigger?.startsWith('builtin ') && CHANNEL_BUILTINS.has(trigger.slice('builtin '.length))) return true;
  const cache = (process.getBuiltinModule('node:module') as unknown as { _cache?: object })._cache;
  return cache !== undefined && Object.keys(cache).some((file) => PUBLISHERS.test(file));
}

/** The packages that publish on tapwire's channels on Bun, as their files' paths read. */
const PUBLISHERS = /[\\/]node_modules[\\/](?:mysql2|ioredis|@redis[\\/]client|fastify)[\\/]/;

/**
 * OTEL_LOGS_EXPORTER=otlp: the shipper the app's logger and tapwire's own lines go to, over the
 * process's OTLP exports (../exporters/otlp.ts). A loss is counted
 * (tapwire_log_records_dropped_total) and said once per reason; that line is shipped too, so it is
 * said once and not again for the loss it may itself cause.
 */
async function shipLogs(
  config: Config,
  resource: Resource,
  exports: OtlpExports,
  installation: Installation,
): Promise<LogShipper> {
  const { LogShipper } = await import('../exporters/otlp-logs.js');
  const { context, trace } = await import('@opentelemetry/api');
  const said = new Set<string>();
  const shipper = new LogShipper(exports.logExporter(), {
    resource,
    scope: SCOPE,
    capacity: config.logsQueueSize,
    batchSize: Math.min(config.logsBatchSize, config.logsQueueSize),
    delayMs: config.logsBatchDelayMs,
    onDropped(reason, count, error) {
      logDrops[reason] = (logDrops[reason] ?? 0) + count;
      if (said.has(reason)) return;
      said.add(reason);
      agentLog(
        'TAPWIRE_OTLP_LOGS_DROPPED',
        reason === 'queue_full'
          ? `the OTLP log queue is full (OTEL_BLRP_MAX_QUEUE_SIZE=${config.logsQueueSize}): the oldest records are dropped`
          : `the OTLP logs receiver (OTEL_EXPORTER_OTLP_LOGS_ENDPOINT) did not take ${count} records; they are lost`,
        { reason, err: error },
      );
    },
  });
  shipAgentLog((line) => shipper.push(line, trace.getSpan(context.active())?.spanContext()));
  installation.patches.onRestore(() => {
    shipAgentLog(undefined);
    shipper.shutdown().catch(() => {
      // Nothing more to send while stopping.
    });
  });
  return shipper;
}

const otlpReport = {
  failing: (message: string, fields: Record<string, unknown>) =>
    agentLog('TAPWIRE_ERR_OTLP_EXPORT', message, fields),
  lost: (message: string, fields: Record<string, unknown>) =>
    agentLog('TAPWIRE_ERR_OTLP_FLUSH', message, fields),
};

type AiEntry = typeof import('../core/ai/entry.js');

/**
 * The AI recorder, made the first time it is asked for (../core/ai/entry.ts is loaded then). A
 * failure to load it is said once (TAPWIRE_ERR_HOOK) and provider calls are measured as plain HTTP.
 */
function aiOnDemand(telemetry: Telemetry, config: Config): () => AiRecorder | undefined {
  const g = guard('ai');
  let recorder: AiRecorder | undefined;
  return () => {
    if (recorder !== undefined || !g.enabled) return recorder;
    try {
      const entry = requireEntry('ai');
      recorder = entry.aiRecorder(telemetry, config.cardinalityLimit, prices(entry, config));
    } catch (error) {
      fail(g, error);
    }
    return recorder;
  };
}

/** The built-in price table, with TAPWIRE_AI_PRICES over it when that file can be read and every price in it is usable. */
function prices({ Prices, readPriceFile }: AiEntry, config: Config): Prices {
  if (config.aiPrices === undefined) return new Prices();
  try {
    return new Prices(readPriceFile(config.aiPrices));
  } catch (error) {
    const problem = {
      code: 'TAPWIRE_ERR_AI_PRICES',
      variable: 'TAPWIRE_AI_PRICES',
      value: config.aiPrices,
      why: (error as Error).message,
      accepted: VARIABLES.TAPWIRE_AI_PRICES.accepted,
      instead: 'using the built-in price table only',
    } as const;
    agentLog(problem.code, problemMessage(problem), {
      variable: problem.variable,
      value: problem.value,
      accepted: problem.accepted,
    });
    return new Prices();
  }
}
