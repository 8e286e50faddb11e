// The sidecar's admin port (OTEL_EXPORTER_PROMETHEUS_HOST:PORT, 9464 by default): one /metrics
// with the sidecar's own series and every worker's (./workers.ts) on one page, /healthz (the
// process runs), /readyz (./health.ts; 503 while draining), and the OTLP/HTTP metrics receiver
// the preloaded workers push to (POST /v1/metrics).
import { createServer, type Server } from 'node:http';
import { agentLog } from '../core/log.js';
import type { Telemetry } from '../core/telemetry.js';
import { CONTENT_TYPE } from '../exporters/prometheus/content-type.js';
import { PageBuffer, sendPage } from '../exporters/prometheus/page-buffer.js';
import { serializePieces } from '../exporters/prometheus/serialize.js';
import { collectionFailed } from '../exporters/prometheus/server.js';
import { receiveOtlp, type WorkerStore } from '../exporters/workers.js';

export interface AdminOptions {
  telemetry: Telemetry;
  workers: WorkerStore;
  ready: () => Promise<boolean>;
}

export async function renderMerged(telemetry: Telemetry, workers: WorkerStore): Promise<string[]> {
  const own = telemetry.prometheus ? await telemetry.collect() : undefined;
  return serializePieces([...(own ? [{ resourceMetrics: own }] : []), ...workers.sources()]);
}

function text(res: import('node:http').ServerResponse, status: number, body: string): void {
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

let collectFailed = false;

export function createAdminServer(options: AdminOptions): Server {
  const pages = new PageBuffer();
  return createServer((req, res) => {
    const path = (req.url ?? '/').split('?', 1)[0];
    if (path === '/v1/metrics') {
      if (req.method !== 'POST') {
        res.writeHead(405, { allow: 'POST' }).end();
        return;
      }
      receiveOtlp(options.workers, req, res);
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/metrics') {
      renderMerged(options.telemetry, options.workers).then(
        (pieces) => sendPage(res, pages, pieces, CONTENT_TYPE, req.method === 'HEAD'),
        (error: unknown) => {
          if (!collectFailed) {
            collectFailed = true;
            agentLog('TAPWIRE_ERR_COLLECT', 'collecting metrics for /metrics failed; that scrape got a 500', {
              err: error,
            });
          }
          text(res, 500, collectionFailed(error));
        },
      );
      return;
    }
    if (path === '/healthz') {
      text(res, 200, 'ok\n');
      return;
    }
    if (path === '/readyz') {
      options.ready().then(
        (ok) =>
          text(
            res,
            ok ? 200 : 503,
            ok ? 'ready\n' : 'not ready: draining, or the app does not accept connections\n',
          ),
        () => text(res, 503, 'not ready\n'),
      );
      return;
    }
    text(res, 404, 'not found: /metrics, /healthz, /readyz, POST /v1/metrics\n');
  });
}
