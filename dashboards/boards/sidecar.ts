// Sidecar (`tapwire sidecar`): what its inbound proxy and AI gateway measure, and the workers that
// push their metrics to it. Choose the sidecar's job. Its own series carry the scrape target's
// `instance`; the pushed workers' series keep theirs, so `OWN` and `PUSHED` tell them apart.
import { label, metric } from '../../rules/names.js';
import type { BoardContext } from '../context.js';
import type { Board } from '../model.js';
import { gauge, legend, OWN, PUSHED, quantile, rate, sel, sumBy } from '../promql.js';

const SERVER = metric('httpServerDuration');
const ACTIVE = metric('httpServerActive');
const CLIENT = metric('httpClientDuration');
const CALLS = metric('genAiDuration');
const INFO = metric('agentInfo');
const STATUS = label('httpServerDuration', 'http.response.status_code');
const ERROR = label('httpServerDuration', 'error.type');
const ROUTE = label('httpServerDuration', 'http.route');
const ADDRESS = label('httpClientDuration', 'server.address');
const PROVIDER = label('genAiDuration', 'gen_ai.provider.name');
const AI_ERROR = label('genAiDuration', 'error.type');

const own = (inner: string) => `${inner} ${OWN}`;

export function sidecarBoard(ctx: BoardContext): Board {
  return {
    name: 'sidecar',
    uid: 'tapwire-sidecar',
    title: 'tapwire / Sidecar',
    description:
      'tapwire sidecar: its inbound proxy, its AI egress gateway and the metrics merge. Choose the job that scrapes the sidecars.',
    rows: [
      {
        title: 'Inbound proxy',
        panels: [
          {
            title: 'Proxied requests per second by status',
            description:
              'Requests through the proxy to the app, per status code (routes from TAPWIRE_ROUTES).',
            kind: 'timeseries',
            unit: 'reqps',
            stacked: true,
            queries: [{ expr: sumBy([STATUS], own(rate(`${SERVER}_count`))), legend: legend(STATUS) }],
          },
          {
            title: 'Proxy latency (p50, p99)',
            description: 'Time from the request to the end of the app’s response, as the proxy sees it.',
            kind: 'timeseries',
            unit: 's',
            queries: [0.5, 0.99].map((q) => ({
              expr: quantile(q, SERVER, [ROUTE], [], OWN),
              legend: `p${q * 100} ${legend(ROUTE)}`,
            })),
            links: ctx.runbooks(['TapwireHTTPHighLatency']),
          },
          {
            title: 'Answers the app did not give (502, 504, cut)',
            description:
              '502: the proxy could not reach the app; 504: no response headers within TAPWIRE_PROXY_TIMEOUT_SECONDS; aborted: a response cut mid-way. An app’s own 502 or 504 counts here too.',
            kind: 'timeseries',
            unit: 'reqps',
            queries: [
              {
                expr: sumBy([ERROR], own(rate(`${SERVER}_count`, [`${ERROR}=~"502|504|aborted"`]))),
                legend: legend(ERROR),
              },
            ],
            links: ctx.runbooks(['TapwireHTTPHighErrorRatio']),
          },
          {
            title: 'In flight through the proxy',
            description: 'Requests the proxy is forwarding now.',
            kind: 'timeseries',
            unit: 'short',
            queries: [{ expr: sumBy(['instance'], own(gauge(ACTIVE))), legend: legend('instance') }],
          },
        ],
      },
      {
        title: 'AI gateway',
        panels: [
          {
            title: 'Gateway calls per second by provider and error',
            description: 'AI provider calls through the gateway (`/openai/…`, `/anthropic/…`, `/gemini/…`).',
            kind: 'timeseries',
            unit: 'reqps',
            stacked: true,
            queries: [
              {
                expr: sumBy([PROVIDER, AI_ERROR], own(rate(`${CALLS}_count`))),
                legend: legend(PROVIDER, AI_ERROR),
              },
            ],
            links: ctx.runbooks(['TapwireAIProviderHighErrorRatio', 'TapwireAIProviderRateLimited']),
          },
          {
            title: 'Gateway call duration (p95)',
            description: 'Whole calls through the gateway, per provider.',
            kind: 'timeseries',
            unit: 's',
            queries: [
              { expr: quantile(0.95, CALLS, [PROVIDER], [], OWN), legend: `p95 ${legend(PROVIDER)}` },
            ],
          },
          {
            title: 'Gateway requests to providers by server and status',
            description: 'The gateway’s outbound HTTP requests, per provider host and status code.',
            kind: 'timeseries',
            unit: 'reqps',
            queries: [
              {
                expr: sumBy([ADDRESS, STATUS], own(rate(`${CLIENT}_count`))),
                legend: legend(ADDRESS, STATUS),
              },
            ],
          },
        ],
      },
      {
        title: 'Metrics merge',
        panels: [
          {
            title: 'Workers pushing to the sidecar',
            description:
              'Preloaded processes that push OTLP metrics to the sidecar (`instance` = `<service.name>/<pid>`); one silent for three push intervals is dropped.',
            kind: 'timeseries',
            unit: 'short',
            queries: [{ expr: `count by (job) (${gauge(INFO)} ${PUSHED})`, legend: legend('job') }],
          },
          {
            title: 'Requests per second per pushing worker',
            description: 'Inbound requests each pushing worker served: how evenly the work spreads.',
            kind: 'timeseries',
            unit: 'reqps',
            queries: [
              {
                expr: sumBy(['instance'], `${rate(`${SERVER}_count`)} ${PUSHED}`),
                legend: legend('instance'),
              },
            ],
          },
          {
            title: 'Sidecars up',
            description: 'Whether Prometheus can scrape each sidecar target (1) or not (0).',
            kind: 'timeseries',
            unit: 'short',
            queries: [
              {
                // A target that exposed tapwire within the last day, so a sidecar that is down reads 0.
                expr: `${sel('up')} and on (job, instance) max_over_time(${sel('target_info', ['service_name=~"$service_name"'])}[1d])`,
                legend: legend('instance'),
              },
            ],
            links: ctx.runbooks(['TapwireTargetDown']),
          },
        ],
      },
    ],
  };
}
