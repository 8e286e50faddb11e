// Service overview: inbound HTTP (rate, 5xx ratio, latency percentiles per route and status,
// requests in flight, top routes) and the outbound HTTP calls the service depends on.
import { label, metric } from '../../rules/names.js';
import type { BoardContext } from '../context.js';
import type { Board } from '../model.js';
import { gauge, increase, legend, quantile, rate, ratio, sumBy } from '../promql.js';

const SERVER = metric('httpServerDuration');
const ACTIVE = metric('httpServerActive');
const CLIENT = metric('httpClientDuration');
const ROUTE = label('httpServerDuration', 'http.route');
const STATUS = label('httpServerDuration', 'http.response.status_code');
const METHOD = label('httpServerDuration', 'http.request.method');
const ADDRESS = label('httpClientDuration', 'server.address');
const FIVE_XX = `${STATUS}=~"5.."`;

const requests = (by: string[], matchers: string[] = []) => sumBy(by, rate(`${SERVER}_count`, matchers));
const errorRatio = (by: string[]) => ratio(requests(by, [FIVE_XX]), requests(by));

const ERROR_ALERTS = [
  'TapwireHTTPHighErrorRatio',
  'TapwireHTTPAvailabilityFastBurn',
  'TapwireHTTPAvailabilitySlowBurn',
];
const LATENCY_ALERTS = ['TapwireHTTPHighLatency', 'TapwireHTTPLatencyFastBurn', 'TapwireHTTPLatencySlowBurn'];

export function overviewBoard(ctx: BoardContext): Board {
  return {
    name: 'overview',
    uid: 'tapwire-overview',
    title: 'tapwire / Service overview',
    description: 'Inbound HTTP of the services tapwire measures, and the outbound calls they make.',
    rows: [
      {
        title: 'Now',
        panels: [
          {
            title: 'Requests per second',
            description: 'Inbound HTTP requests per second, all routes and statuses.',
            kind: 'stat',
            unit: 'reqps',
            width: 6,
            queries: [{ expr: requests([]), legend: 'requests/s', instant: true }],
          },
          {
            title: '5xx ratio',
            description: 'Share of inbound requests answered 5xx.',
            kind: 'stat',
            unit: 'percentunit',
            width: 6,
            queries: [{ expr: errorRatio([]), legend: '5xx', instant: true }],
            links: ctx.runbooks(ERROR_ALERTS),
            threshold: ctx.threshold('TapwireHTTPHighErrorRatio'),
          },
          {
            title: 'p99 latency',
            description: '99th percentile of inbound request duration.',
            kind: 'stat',
            unit: 's',
            width: 6,
            queries: [{ expr: quantile(0.99, SERVER, []), legend: 'p99', instant: true }],
            links: ctx.runbooks(LATENCY_ALERTS),
            threshold: ctx.threshold('TapwireHTTPHighLatency'),
          },
          {
            title: 'In flight',
            description: 'Inbound requests being served now.',
            kind: 'stat',
            unit: 'short',
            width: 6,
            queries: [{ expr: sumBy([], gauge(ACTIVE)), legend: 'in flight', instant: true }],
          },
        ],
      },
      {
        title: 'Inbound HTTP',
        panels: [
          {
            title: 'Requests per second by route and status',
            description:
              'Per route template (`http_route`, from the router; requests no router matched have none) and status code.',
            kind: 'timeseries',
            unit: 'reqps',
            stacked: true,
            queries: [{ expr: requests([ROUTE, STATUS]), legend: legend(ROUTE, STATUS) }],
          },
          {
            title: '5xx ratio by route',
            description:
              'Share of each route’s requests answered 5xx; the line is the error-ratio alert’s threshold.',
            kind: 'timeseries',
            unit: 'percentunit',
            queries: [{ expr: errorRatio([ROUTE]), legend: legend(ROUTE) }],
            links: ctx.runbooks(ERROR_ALERTS),
            threshold: ctx.threshold('TapwireHTTPHighErrorRatio'),
          },
          {
            title: 'Latency by route (p50, p95, p99)',
            description: 'Percentiles of inbound request duration per route, from the histogram buckets.',
            kind: 'timeseries',
            unit: 's',
            queries: [0.5, 0.95, 0.99].map((q) => ({
              expr: quantile(q, SERVER, [ROUTE]),
              legend: `p${q * 100} ${legend(ROUTE)}`,
            })),
            links: ctx.runbooks(LATENCY_ALERTS),
            threshold: ctx.threshold('TapwireHTTPHighLatency'),
          },
          {
            title: 'Latency by status (p95, p99)',
            description:
              'Percentiles of inbound request duration per status code: fast errors and slow successes look different.',
            kind: 'timeseries',
            unit: 's',
            queries: [0.95, 0.99].map((q) => ({
              expr: quantile(q, SERVER, [STATUS]),
              legend: `p${q * 100} ${legend(STATUS)}`,
            })),
            links: ctx.runbooks(LATENCY_ALERTS),
          },
          {
            title: 'In flight by method',
            description: 'Inbound requests being served, per HTTP method.',
            kind: 'timeseries',
            unit: 'short',
            queries: [{ expr: sumBy([METHOD], gauge(ACTIVE)), legend: legend(METHOD) }],
          },
          {
            title: 'Top routes',
            description: 'The ten routes with the most requests over the dashboard’s time range.',
            kind: 'table',
            unit: 'short',
            queries: [
              {
                expr: `topk(10, ${sumBy([ROUTE, METHOD], increase(`${SERVER}_count`, [], '$__range'))})`,
                legend: legend(METHOD, ROUTE),
                instant: true,
              },
            ],
          },
        ],
      },
      {
        title: 'Outbound HTTP',
        panels: [
          {
            title: 'Outbound requests per second by server and status',
            description:
              'Requests the service makes (fetch, http.request, undici), per `server_address` and status; no status when no response arrived.',
            kind: 'timeseries',
            unit: 'reqps',
            queries: [
              {
                expr: sumBy([ADDRESS, STATUS], rate(`${CLIENT}_count`)),
                legend: legend(ADDRESS, STATUS),
              },
            ],
          },
          {
            title: 'Outbound latency by server (p95)',
            description: 'Time until the response headers arrive, per server.',
            kind: 'timeseries',
            unit: 's',
            queries: [{ expr: quantile(0.95, CLIENT, [ADDRESS]), legend: `p95 ${legend(ADDRESS)}` }],
          },
        ],
      },
    ],
  };
}
