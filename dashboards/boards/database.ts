// Database: operations per second, p95/p99 per system, operation and collection, errors by type,
// and the app's connection pools (used, idle, waiting).
import { label, metric } from '../../rules/names.js';
import type { BoardContext } from '../context.js';
import type { Board, Query } from '../model.js';
import { gauge, legend, quantile, rate, ratio, sumBy } from '../promql.js';

const OPS = metric('dbDuration');
const CONNECTIONS = metric('dbConnectionCount');
const PENDING = metric('dbConnectionPending');
const SYSTEM = label('dbDuration', 'db.system.name');
const OPERATION = label('dbDuration', 'db.operation.name');
const COLLECTION = label('dbDuration', 'db.collection.name');
const NAMESPACE = label('dbDuration', 'db.namespace');
const ERROR = label('dbDuration', 'error.type');
const STATE = label('dbConnectionCount', 'db.client.connection.state');

const ops = (by: string[], matchers: string[] = []) => sumBy(by, rate(`${OPS}_count`, matchers));
const percentiles = (by: string[]): Query[] =>
  [0.95, 0.99].map((q) => ({ expr: quantile(q, OPS, by), legend: `p${q * 100} ${legend(...by)}` }));

export function databaseBoard(ctx: BoardContext): Board {
  const latency = {
    kind: 'timeseries' as const,
    unit: 's',
    links: ctx.runbooks(['TapwireDBHighLatency']),
    threshold: ctx.threshold('TapwireDBHighLatency'),
  };
  return {
    name: 'database',
    uid: 'tapwire-database',
    title: 'tapwire / Database',
    description:
      'Database client operations the services make (PostgreSQL, MySQL/MariaDB, SQLite, Redis, …) and their connection pools.',
    rows: [
      {
        title: 'Operations',
        panels: [
          {
            title: 'Operations per second by system and operation',
            description: 'Per `db_system_name` and `db_operation_name` (SELECT, INSERT, GET, …).',
            kind: 'timeseries',
            unit: 'ops',
            stacked: true,
            queries: [{ expr: ops([SYSTEM, OPERATION]), legend: legend(SYSTEM, OPERATION) }],
          },
          {
            title: 'Operations per second by collection',
            description: 'Per table or key space, where the statement names one (`db_collection_name`).',
            kind: 'timeseries',
            unit: 'ops',
            stacked: true,
            queries: [{ expr: ops([SYSTEM, COLLECTION]), legend: legend(SYSTEM, COLLECTION) }],
          },
          {
            title: 'Latency by system (p95, p99)',
            description:
              'Operation duration per database system; the line is the DB latency alert’s p99 threshold.',
            ...latency,
            queries: percentiles([SYSTEM]),
          },
          {
            title: 'Latency by operation (p95, p99)',
            description: 'Operation duration per system and operation.',
            ...latency,
            queries: percentiles([SYSTEM, OPERATION]),
          },
          {
            title: 'Latency by collection (p95, p99)',
            description: 'Operation duration per system and collection: which table is slow.',
            ...latency,
            queries: percentiles([SYSTEM, COLLECTION]),
          },
        ],
      },
      {
        title: 'Errors',
        panels: [
          {
            title: 'Errors per second by type',
            description:
              'Failed operations per `error_type`: the SQLSTATE, driver or SQLite code (42601, ER_DUP_ENTRY, SQLITE_ERROR), never a message.',
            kind: 'timeseries',
            unit: 'ops',
            queries: [{ expr: ops([SYSTEM, ERROR], [`${ERROR}!=""`]), legend: legend(SYSTEM, ERROR) }],
            links: ctx.runbooks(['TapwireDBHighErrorRatio']),
          },
          {
            title: 'Error ratio by system',
            description: 'Share of operations that failed; the line is the DB error-ratio alert’s threshold.',
            kind: 'timeseries',
            unit: 'percentunit',
            queries: [
              { expr: ratio(ops([SYSTEM], [`${ERROR}!=""`]), ops([SYSTEM])), legend: legend(SYSTEM) },
            ],
            links: ctx.runbooks(['TapwireDBHighErrorRatio']),
            threshold: ctx.threshold('TapwireDBHighErrorRatio'),
          },
        ],
      },
      {
        title: 'Connection pools',
        panels: [
          {
            title: 'Pool connections used and idle',
            description:
              'Connections of the app’s pools (pg-pool, mysql2) by state, per system and database; pools with the same target add up.',
            kind: 'timeseries',
            unit: 'short',
            stacked: true,
            queries: [
              {
                expr: sumBy([SYSTEM, NAMESPACE, STATE], gauge(CONNECTIONS)),
                legend: legend(SYSTEM, NAMESPACE, STATE),
              },
            ],
          },
          {
            title: 'Requests waiting for a connection',
            description:
              'Queries queued because every pool connection is in use: a pool too small or held too long.',
            kind: 'timeseries',
            unit: 'short',
            queries: [
              { expr: sumBy([SYSTEM, NAMESPACE], gauge(PENDING)), legend: legend(SYSTEM, NAMESPACE) },
            ],
          },
        ],
      },
    ],
  };
}
