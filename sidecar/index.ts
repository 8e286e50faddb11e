// `tapwire sidecar`: one process beside the app in its pod, configured by the environment.
//   TAPWIRE_PROXY_PORT    inbound reverse proxy to TAPWIRE_UPSTREAM, measured as http.server.*
//   TAPWIRE_GATEWAY_PORT  AI egress gateway on 127.0.0.1, measured as gen_ai.* (./gateway.ts)
//   OTEL_EXPORTER_PROMETHEUS_PORT  /metrics (merged with pushing workers), /healthz, /readyz,
//                         POST /v1/metrics (./admin.ts)
// It records through the same recorders as the preload (core/) but installs none of its hooks:
// its own sockets are not the app's traffic.
//
// SIGTERM/SIGINT start the drain: /readyz turns 503, the listeners close (new connections are
// refused, idle keep-alive ones closed), requests in flight run to their end, and after
// TAPWIRE_DRAIN_SECONDS whatever is left (long streams, websockets) is cut and the process exits.
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { type Config, loadConfig, problemMessage, VARIABLES } from '../config/index.js';
import { Attribution } from '../core/ai/attribution.js';
import { aiRecorder } from '../core/ai/entry.js';
import { type PriceFile, Prices, readPriceFile } from '../core/ai/prices.js';
import { agentLog, configureAgentLog } from '../core/log.js';
import { createRecorders } from '../core/recorders.js';
import { createTelemetry } from '../core/telemetry.js';
import { WorkerStore } from '../exporters/workers.js';
import { createAdminServer } from './admin.js';
import { AiGateway } from './gateway.js';
import { upstreamAccepts } from './health.js';
import { InboundProxy } from './proxy.js';
import { compileRoutes } from './routes.js';
import { UpgradeTunnels } from './upgrade.js';

/** Data points kept per pushing worker: its own cardinality limit across a dozen metrics. */
const POINTS_PER_WORKER_FACTOR = 10;

export interface Sidecar {
  proxy: Server;
  gateway: Server;
  admin: Server;
  drain(): Promise<void>;
}

async function listen(server: Server, host: string, port: number, what: string): Promise<number> {
  server.listen({ host, port });
  try {
    await once(server, 'listening');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    const hint =
      code === 'EADDRINUSE' || code === 'EACCES' || host === '0.0.0.0' || host === '127.0.0.1'
        ? ''
        : `: ${host} is not an address of this machine`;
    throw Object.assign(new Error(`cannot listen for the ${what} on ${host}:${port} (${code})${hint}`), {
      code: 'TAPWIRE_ERR_LISTEN',
    });
  }
  const address = server.address();
  return typeof address === 'object' && address ? address.port : port;
}

export async function startSidecar(config: Config, priceFile?: PriceFile): Promise<Sidecar> {
  const upstream = new URL(config.upstream);
  const telemetry = createTelemetry({ ...config, metricsExporters: ['prometheus'] }, undefined);
  const ai = aiRecorder(telemetry, config.cardinalityLimit, new Prices(priceFile));
  const { http } = createRecorders(telemetry, config, () => ai);
  const routeOf = compileRoutes(config.routes);
  const proxy = new InboundProxy({ upstream, routeOf, http, timeoutSeconds: config.proxyTimeoutSeconds });
  const tunnels = new UpgradeTunnels(upstream, http, routeOf, config.proxyTimeoutSeconds * 1000);
  const gateway = new AiGateway(
    config.gatewayProviders,
    config.aiEndpoints,
    http,
    config.proxyTimeoutSeconds,
    config.aiAttributes.length > 0
      ? new Attribution(config.aiAttributes, config.aiAttributeValues)
      : undefined,
    config.gatewayIncludeUsage,
  );
  const workers = new WorkerStore(
    config.metricExportIntervalMs,
    config.cardinalityLimit * POINTS_PER_WORKER_FACTOR,
    { warn: (code, message) => agentLog(code, message) },
  );

  let draining = false;
  const proxyServer = createServer((req, res) => proxy.handle(req, res));
  // The proxy adds no time limits of its own beyond TAPWIRE_PROXY_TIMEOUT_SECONDS: long uploads
  // and streams are the app's business.
  proxyServer.requestTimeout = 0;
  proxyServer.on('upgrade', (req, socket, head) => tunnels.handle(req, socket, head));
  proxyServer.on('clientError', (_error, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
  });
  const gatewayServer = createServer((req, res) => gateway.handle(req, res));
  gatewayServer.requestTimeout = 0;
  const admin = createAdminServer({
    telemetry,
    workers,
    ready: async () => !draining && (await upstreamAccepts(upstream)),
  });

  let proxyPort: number;
  let gatewayPort: number;
  let adminPort: number;
  try {
    proxyPort = await listen(proxyServer, '0.0.0.0', config.proxyPort, 'proxy (TAPWIRE_PROXY_PORT)');
    gatewayPort = await listen(
      gatewayServer,
      '127.0.0.1',
      config.gatewayPort,
      'AI gateway (TAPWIRE_GATEWAY_PORT)',
    );
    adminPort = await listen(
      admin,
      config.prometheusHost,
      config.prometheusPort,
      'metrics endpoint (OTEL_EXPORTER_PROMETHEUS_HOST, _PORT)',
    );
  } catch (error) {
    for (const s of [proxyServer, gatewayServer, admin]) if (s.listening) s.close();
    await Promise.allSettled([proxy.close(), gateway.close()]);
    throw error;
  }
  agentLog(
    'TAPWIRE_SIDECAR_LISTENING',
    `sidecar: proxy :${proxyPort} -> ${upstream.origin}, AI gateway 127.0.0.1:${gatewayPort}, metrics :${adminPort}/metrics`,
    {
      proxy_port: proxyPort,
      gateway_port: gatewayPort,
      metrics_port: adminPort,
      upstream: upstream.origin,
      gateway_prefixes: gateway.prefixes(),
    },
  );

  let drained: Promise<void> | undefined;
  const drain = (): Promise<void> => {
    drained ??= (async () => {
      draining = true;
      const started = Date.now();
      agentLog(
        'TAPWIRE_SIDECAR_DRAINING',
        `draining: ${proxy.inFlight + gateway.inFlight} requests in flight, up to ${config.drainSeconds} s`,
      );
      const idle = new Promise<void>((resolve) => {
        const check = () => {
          // Keep-alive connections that just finished a response are closed now, not reused.
          proxyServer.closeIdleConnections();
          gatewayServer.closeIdleConnections();
          if (proxy.inFlight === 0 && gateway.inFlight === 0) resolve();
        };
        proxy.onIdle = check;
        gateway.onIdle = check;
        check();
      });
      proxyServer.close();
      gatewayServer.close();
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<'deadline'>((resolve) => {
        timer = setTimeout(() => resolve('deadline'), config.drainSeconds * 1000);
      });
      const outcome = await Promise.race([idle.then(() => 'idle' as const), deadline]);
      clearTimeout(timer);
      const left = proxy.inFlight + gateway.inFlight + tunnels.open.size;
      tunnels.closeAll();
      proxyServer.closeAllConnections();
      gatewayServer.closeAllConnections();
      await Promise.allSettled([proxy.close(), gateway.close()]);
      admin.closeAllConnections();
      admin.close();
      agentLog(
        'TAPWIRE_SIDECAR_DRAINED',
        `drained in ${Date.now() - started} ms${outcome === 'deadline' ? `; ${left} still open at the deadline were closed` : ''}`,
        {
          cut: outcome === 'deadline' ? left : 0,
        },
      );
    })();
    return drained;
  };

  return { proxy: proxyServer, gateway: gatewayServer, admin, drain };
}

/**
 * The CLI entry: exit code 1 on bad configuration or a port that cannot be opened. Unlike the
 * preload, the sidecar runs with no default in place of a bad value: it is a container of its
 * own, where refusing to start (CrashLoopBackOff with the reason in its log) is the safe answer.
 */
export async function runSidecar(_args: string[]): Promise<number> {
  const { config, problems } = loadConfig(process.env, { isTTY: false });
  configureAgentLog(config, false);
  const refuse = (p: Parameters<typeof problemMessage>[0]) =>
    agentLog('TAPWIRE_ERR_SIDECAR_CONFIG', problemMessage(p, 'the sidecar does not start'), {
      variable: p.variable,
      value: p.value,
      accepted: p.accepted,
    });
  for (const p of problems) refuse(p);
  let priceFile: PriceFile | undefined;
  if (config.aiPrices !== undefined) {
    try {
      priceFile = readPriceFile(config.aiPrices);
    } catch (error) {
      refuse({
        variable: 'TAPWIRE_AI_PRICES',
        value: config.aiPrices,
        why: (error as Error).message,
        accepted: VARIABLES.TAPWIRE_AI_PRICES.accepted,
        instead: '',
      });
      return 1;
    }
  }
  if (problems.length > 0) return 1;
  if ((globalThis as Record<symbol, unknown>)[Symbol.for('tapwire.agent')] !== undefined) {
    agentLog(
      'TAPWIRE_SIDECAR_PRELOADED',
      'the sidecar runs under the tapwire preload (NODE_OPTIONS?): its own traffic would be measured twice. Unset NODE_OPTIONS for the sidecar container.',
    );
  }
  let sidecar: Sidecar;
  try {
    sidecar = await startSidecar(config, priceFile);
  } catch (error) {
    const code =
      (error as { code?: unknown }).code === 'TAPWIRE_ERR_LISTEN'
        ? 'TAPWIRE_ERR_LISTEN'
        : 'TAPWIRE_ERR_START';
    agentLog(code, (error as Error).message, code === 'TAPWIRE_ERR_START' ? { err: error } : undefined);
    return 1;
  }
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  agentLog('TAPWIRE_SIDECAR_SIGNAL', `${signal} received`);
  await sidecar.drain();
  return 0;
}
