// Workers: the processes behind each /metrics. A service with several processes on one host (node:cluster,
// PM2, Bun reusePort) is served by one of them: summed series have no process label, per-process ones
// carry `tapwire_process`. Workers pushing to the sidecar each have an `instance` of their own.
import { label, metric } from '../../rules/names.js';
import type { BoardContext } from '../context.js';
import type { Board } from '../model.js';
import { gauge, legend, rate, sumBy } from '../promql.js';

const INFO = metric('agentInfo');
const SERVER = metric('httpServerDuration');
const PROCESS = label('agentInfo', 'tapwire.process');
const PER_PROCESS = ['job', 'instance', PROCESS];
const WHO = legend('instance', PROCESS);

const perProcess = (key: Parameters<typeof metric>[0]) => ({
  expr: `max by (${PER_PROCESS.join(', ')}) (${gauge(metric(key))})`,
  legend: WHO,
});

export function workersBoard(ctx: BoardContext): Board {
  return {
    name: 'workers',
    uid: 'tapwire-workers',
    title: 'tapwire / Workers',
    description:
      'The processes of each service: how many report, which runtime they run, and whether the work and the load spread evenly.',
    rows: [
      {
        title: 'Processes',
        panels: [
          {
            title: 'Processes per instance',
            description:
              'Processes reporting through each /metrics endpoint: the one serving it and its siblings (node:cluster, PM2, children); a pushing worker is an instance of its own.',
            kind: 'timeseries',
            unit: 'short',
            queries: [
              { expr: `count by (job, instance) (${gauge(INFO)})`, legend: legend('job', 'instance') },
            ],
            links: ctx.runbooks(['TapwireAgentAbsent']),
          },
          {
            title: 'Runtimes and tapwire versions',
            description: 'Processes per tapwire version and runtime: a rollout half done shows as two rows.',
            kind: 'table',
            unit: 'short',
            queries: [
              {
                expr: `count by (job, version, runtime, runtime_version) (${gauge(INFO)})`,
                legend: legend('version', 'runtime', 'runtime_version'),
                instant: true,
              },
            ],
          },
          {
            title: 'Requests per second per instance',
            description:
              'Inbound requests per /metrics endpoint or pushing worker (a host’s processes are summed: HTTP series have no process label).',
            kind: 'timeseries',
            unit: 'reqps',
            queries: [
              {
                expr: sumBy(['job', 'instance'], rate(`${SERVER}_count`)),
                legend: legend('job', 'instance'),
              },
            ],
          },
        ],
      },
      {
        title: 'Load per process',
        panels: [
          {
            title: 'Event-loop utilisation per process',
            description:
              'Busy share of each process’s event loop (Node only): one worker near 1 while others idle is an imbalance.',
            kind: 'timeseries',
            unit: 'percentunit',
            queries: [perProcess('eventLoopUtilization')],
          },
          {
            title: 'Event-loop delay p99 per process',
            description: 'How late timers fire in each process.',
            kind: 'timeseries',
            unit: 's',
            queries: [perProcess('eventLoopDelayP99')],
            links: ctx.runbooks(['TapwireEventLoopDelayHigh']),
            threshold: ctx.threshold('TapwireEventLoopDelayHigh'),
          },
          {
            title: 'Resident memory per process',
            description: 'RSS of each process: a worker that only grows is leaking.',
            kind: 'timeseries',
            unit: 'bytes',
            queries: [perProcess('memoryRss')],
          },
          {
            title: 'Heap used per process',
            description: 'JavaScript heap in use in each process (all spaces).',
            kind: 'timeseries',
            unit: 'bytes',
            queries: [{ expr: sumBy(PER_PROCESS, gauge(metric('heapUsed'))), legend: WHO }],
          },
        ],
      },
    ],
  };
}
