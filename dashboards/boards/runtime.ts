// Runtime, per process: event-loop delay and utilisation, heap, GC, CPU and RSS. Per-process series
// carry `tapwire_process` (a slot: 0 for the process serving /metrics, 1.. for its siblings on the
// host); workers pushing to the sidecar have an `instance` each instead.
import { label, metric } from '../../rules/names.js';
import type { BoardContext } from '../context.js';
import type { Board } from '../model.js';
import { gauge, legend, rate, sumBy } from '../promql.js';

const PROCESS = label('heapUsed', 'tapwire.process');
const SPACE = label('heapUsed', 'v8js.heap.space.name');
const GC_TYPE = label('gcDuration', 'v8js.gc.type');
const CPU_MODE = label('cpuTime', 'cpu.mode');
const PER_PROCESS = ['job', 'instance', PROCESS];
const WHO = legend('instance', PROCESS);

export function runtimeBoard(ctx: BoardContext): Board {
  const delay = (key: 'eventLoopDelayP50' | 'eventLoopDelayP99' | 'eventLoopDelayMax', name: string) => ({
    expr: `max by (${PER_PROCESS.join(', ')}) (${gauge(metric(key))})`,
    legend: `${name} ${WHO}`,
  });
  return {
    name: 'runtime',
    uid: 'tapwire-runtime',
    title: 'tapwire / Runtime',
    description:
      'Node.js and Bun runtime metrics of each process: event loop, memory, garbage collection, CPU.',
    rows: [
      {
        title: 'Event loop',
        panels: [
          {
            title: 'Event-loop delay per process (p50, p99, max)',
            description:
              'How late timers fire, since the previous collection; the line is the event-loop alert’s p99 threshold. About 10 ms is the timer resolution, not a problem.',
            kind: 'timeseries',
            unit: 's',
            queries: [
              delay('eventLoopDelayP50', 'p50'),
              delay('eventLoopDelayP99', 'p99'),
              delay('eventLoopDelayMax', 'max'),
            ],
            links: ctx.runbooks(['TapwireEventLoopDelayHigh']),
            threshold: ctx.threshold('TapwireEventLoopDelayHigh'),
          },
          {
            title: 'Event-loop utilisation per process',
            description:
              'Share of time the event loop was busy (Node only): near 1 the process is saturated.',
            kind: 'timeseries',
            unit: 'percentunit',
            queries: [
              {
                expr: `max by (${PER_PROCESS.join(', ')}) (${gauge(metric('eventLoopUtilization'))})`,
                legend: WHO,
              },
            ],
          },
        ],
      },
      {
        title: 'Memory',
        panels: [
          {
            title: 'Heap used and reserved per process',
            description: 'JavaScript heap in use and reserved (all heap spaces).',
            kind: 'timeseries',
            unit: 'bytes',
            queries: [
              { expr: sumBy(PER_PROCESS, gauge(metric('heapUsed'))), legend: `used ${WHO}` },
              { expr: sumBy(PER_PROCESS, gauge(metric('heapSpaceSize'))), legend: `reserved ${WHO}` },
            ],
          },
          {
            title: 'Heap used by space',
            description: 'Which heap space grows (old space: long-lived objects; large objects; code).',
            kind: 'timeseries',
            unit: 'bytes',
            stacked: true,
            queries: [{ expr: sumBy([SPACE], gauge(metric('heapUsed'))), legend: legend(SPACE) }],
          },
          {
            title: 'Resident memory (RSS) per process',
            description: 'Memory the operating system holds for the process: heap, buffers, native code.',
            kind: 'timeseries',
            unit: 'bytes',
            queries: [{ expr: sumBy(PER_PROCESS, gauge(metric('memoryRss'))), legend: WHO }],
          },
        ],
      },
      {
        title: 'GC and CPU',
        panels: [
          {
            title: 'Time in GC per process',
            description: 'Share of time spent in garbage-collection pauses, by kind (Node only).',
            kind: 'timeseries',
            unit: 'percentunit',
            stacked: true,
            queries: [
              {
                expr: sumBy([...PER_PROCESS, GC_TYPE], rate(`${metric('gcDuration')}_sum`)),
                legend: `${WHO} ${legend(GC_TYPE)}`,
              },
            ],
          },
          {
            title: 'GC pauses per second by kind',
            description: 'Garbage collections per second (minor: young generation; major: the whole heap).',
            kind: 'timeseries',
            unit: 'short',
            queries: [
              { expr: sumBy([GC_TYPE], rate(`${metric('gcDuration')}_count`)), legend: legend(GC_TYPE) },
            ],
          },
          {
            title: 'CPU by mode',
            description:
              'CPU seconds per second (1 = one core), user and system, per instance (summed over its processes).',
            kind: 'timeseries',
            unit: 'short',
            stacked: true,
            queries: [
              {
                expr: sumBy(['job', 'instance', CPU_MODE], rate(metric('cpuTime'))),
                legend: legend('instance', CPU_MODE),
              },
            ],
          },
        ],
      },
    ],
  };
}
