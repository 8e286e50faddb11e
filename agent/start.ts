// Starting the agent: read the configuration, report bad values once, build the meter provider,
// install the instrumentations that apply to this runtime, open the /metrics endpoint.
// Never throws: whatever fails is logged and the app runs on.
import { type Config, loadConfig } from '../config/index.js';
import { type BunServe, type MetricsServer, startMetricsServer } from '../exporters/prometheus/server.js';
import { installDb } from './db/index.js';
import { FastHistograms } from './histogram.js';
import { installFrameworkRoutes } from './http/frameworks/index.js';
import { installNodeHttpClient } from './http/node-client.js';
import { installNodeHttpServer, internalServers } from './http/node-server.js';
import { HttpRecorder } from './http/record.js';
import { agentLog, configureAgentLog } from './log/agent.js';
import { installRuntimeMetrics } from './runtime/index.js';
import { agentResource, createTelemetry, RUNTIME, SCOPE, type Telemetry } from './telemetry.js';
import type { Tracing } from './trace/index.js';

export interface Agent {
  config: Config;
  telemetry: Telemetry;
  http: HttpRecorder;
  tracing: Tracing | undefined;
  metricsServer: MetricsServer | undefined;
}

const kAgent = Symbol.for('tapwire.agent');
type Global = typeof globalThis & { [kAgent]?: Agent | null };

/** The running agent, if `tapwire/register` started one in this process. */
export function currentAgent(): Agent | undefined {
  return (globalThis as Global)[kAgent] ?? undefined;
}

export async function start(): Promise<Agent | undefined> {
  const g = globalThis as Global;
  // One agent per process, even when two copies of tapwire are loaded.
  if (g[kAgent] !== undefined) return g[kAgent] ?? undefined;
  g[kAgent] = null;
  try {
    const { config, problems } = loadConfig(process.env);
    configureAgentLog(config);
    for (const p of problems) {
      agentLog('warn', p.code, p.message, { variable: p.variable, value: p.value, accepted: p.accepted });
    }
    if (config.disabled) return undefined;
    if (config.logsExporters.length > 0) {
      agentLog(
        'warn',
        'TAPWIRE_ERR_UNSUPPORTED',
        `OTEL_LOGS_EXPORTER=${config.logsExporters.join(',')}: log shipping is not implemented yet; logs stay on stdout`,
        { variable: 'OTEL_LOGS_EXPORTER' },
      );
    }

    // The endpoint's own Bun.serve, taken before the Bun hooks replace it.
    const bun = (globalThis as { Bun?: { serve: BunServe } }).Bun;
    const bunServe = RUNTIME === 'bun' && bun !== undefined ? bun.serve.bind(bun) : undefined;
    const resource = agentResource(config);
    // Optional parts are imported on demand: OTLP exporters bring https, http2, zlib and more
    // (~20 ms of start-up), Bun's hooks are of no use on Node.
    const histograms = new FastHistograms(SCOPE);
    const otlpMetrics = config.metricsExporters.includes('otlp')
      ? (await import('../exporters/otlp.js')).otlpReader(config, [histograms])
      : undefined;
    const telemetry = createTelemetry(config, otlpMetrics, resource, histograms);
    const http = new HttpRecorder(
      telemetry.meter,
      telemetry.httpServerDuration,
      telemetry.httpClientDuration,
      config.cardinalityLimit,
    );
    // node:http clients publish diagnostics channels on both runtimes.
    installNodeHttpClient(http);
    if (RUNTIME === 'node') installNodeHttpServer(http);
    else (await import('./http/bun/index.js')).installBunHttp(http);
    installFrameworkRoutes();
    await (await import('./ai/index.js')).installAi(config, telemetry, RUNTIME); // issue 4
    if (config.runtimeMetrics) installRuntimeMetrics(telemetry.meter, RUNTIME);
    let tracing: Tracing | undefined;
    if (config.tracesExporters.length > 0 || otlpMetrics !== undefined) {
      const t = await import('./trace/index.js');
      t.excludeOtlpTraffic(config);
      tracing = t.installTracing(config, resource, RUNTIME);
      t.flushOnExit(telemetry, tracing);
    }

    await installDb(telemetry, config, RUNTIME, tracing !== undefined);
    const agent: Agent = { config, telemetry, http, tracing, metricsServer: undefined };
    if (telemetry.pull) agent.metricsServer = openMetricsEndpoint(config, telemetry, bunServe);
    g[kAgent] = agent;
    return agent;
  } catch (error) {
    agentLog('error', 'TAPWIRE_ERR_START', 'tapwire failed to start and is off; the app is unaffected', {
      err: error,
    });
    return undefined;
  }
}

function openMetricsEndpoint(
  config: Config,
  telemetry: Telemetry,
  bunServe: BunServe | undefined,
): MetricsServer {
  const server = startMetricsServer(
    {
      host: config.prometheusHost,
      port: config.prometheusPort,
      render: () => telemetry.render(),
      onListenError: (error) => {
        agentLog(
          'warn',
          'TAPWIRE_ERR_METRICS_PORT',
          `cannot serve /metrics on ${config.prometheusHost}:${config.prometheusPort} (${error.code ?? error.message}); metrics endpoint is off, the app runs on. Set OTEL_EXPORTER_PROMETHEUS_PORT to a free port.`,
          { host: config.prometheusHost, port: config.prometheusPort },
        );
      },
      onListening: ({ host, port }) =>
        agentLog('info', 'TAPWIRE_METRICS_LISTENING', `metrics on http://${host}:${port}/metrics`, {
          host,
          port,
        }),
    },
    bunServe,
  );
  if (server.node !== undefined) internalServers.add(server.node);
  return server;
}
