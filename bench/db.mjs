// Database client overhead per operation, side by side in one run:
//   - `SELECT 1` over `pg` against a real PostgreSQL 15 started here,
//   - `SELECT 1` over `mysql2` against a real MariaDB 10.11 started here,
//   - `GET` over `ioredis` against a real redis-server started here,
//   - a primary-key point query on an in-memory `node:sqlite` (Node) / `bun:sqlite` (Bun) database,
// each in a child process (bench/lib/db-child.mjs) run bare, under tapwire, and under the
// OpenTelemetry reference where it instruments the library (pg, mysql2 and ioredis; it has no SQLite
// instrumentation). The modes' processes run side by side and take turns of one batch each (order
// rotated, the others stopped), op counts are fixed, and the median of all batches is reported.
// Targets: network drivers >= 0.95 of bare ops/s; in-memory SQLite <= 1 µs added per operation.
//
//   node bench/db.mjs [--quick] [--runtime node,bun] [--out FILE] [--json FILE] [--timeout-min N]

import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  fmt,
  guard,
  machineLine,
  median,
  rotate,
  signed,
  spread,
  spreadText,
  startTalkingChild,
  verdict,
  writeOut,
} from './lib/common.mjs';
import { CPU, killTree, PINNED, signal, sleep } from './lib/procs.mjs';
import { startMariadb, startPostgres, startRedis } from './lib/servers.mjs';
import { BENCH_DIR, RUNTIMES, TAPWIRE_REGISTER } from './scenarios.mjs';

const { values: opts } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    runtime: { type: 'string', multiple: true },
    out: { type: 'string' },
    json: { type: 'string' },
    'timeout-min': { type: 'string' },
  },
});

const QUICK = opts.quick;
/** Fresh processes per mode, one after another; each process runs SLICES batches, a mode at a time. */
const ROUNDS = QUICK ? 1 : 3;
const SLICES = QUICK ? 3 : 7;
/** A process waits for its turn stopped; resumed this long before its batch. */
const RESUME_MS = 100;
/** Network drivers: operations per second against the bare app's. */
const NETWORK_TARGET = {
  name: 'ops/s vs bare',
  limit: '≥ 0.95',
  check: (r) => r.ratio >= 0.95,
  value: (r) => fmt(r.ratio, 3),
};
const LIBS = [
  {
    id: 'pg',
    title: '`pg` `SELECT 1` (PostgreSQL 15, loopback TCP)',
    ops: QUICK ? 1500 : 8000,
    otel: true,
    target: NETWORK_TARGET,
  },
  {
    id: 'mysql2',
    title: '`mysql2` `SELECT 1` (MariaDB 10.11, loopback TCP)',
    ops: QUICK ? 1500 : 8000,
    otel: true,
    target: NETWORK_TARGET,
  },
  {
    id: 'ioredis',
    title: '`ioredis` `GET` (redis-server, loopback TCP)',
    ops: QUICK ? 2000 : 10000,
    otel: true,
    target: NETWORK_TARGET,
  },
  {
    id: 'sqlite',
    title: 'in-memory `node:sqlite` (Node) / `bun:sqlite` (Bun) point query by primary key, prepared once',
    ops: QUICK ? 50000 : 300000,
    otel: false,
    target: {
      name: 'added time per operation',
      limit: '≤ 1 µs',
      check: (r) => r.addedUs <= 1,
      value: (r) => `${signed(r.addedUs, 2)} µs`,
    },
  },
];
const runtimeIds = (opts.runtime ?? Object.keys(RUNTIMES)).flatMap((r) => r.split(','));
const CHILD = path.join(BENCH_DIR, 'lib/db-child.mjs');
const SERVERS = {
  pg: {
    start: () => startPostgres({ cpu: CPU.load }),
    env: (port) => ({ PGHOST: '127.0.0.1', PGPORT: String(port) }),
  },
  mysql2: { start: () => startMariadb({ cpu: CPU.load }), env: (port) => ({ MYSQL_PORT: String(port) }) },
  ioredis: {
    start: () => startRedis(undefined, { cpu: CPU.load }),
    env: (port) => ({ REDIS_PORT: String(port) }),
  },
};
const log = (m) => console.error(m);

const servers = [];
guard(Number(opts['timeout-min'] ?? (QUICK ? 10 : 45)), () => {
  for (const s of servers) s.killSync();
});

function modesFor(lib) {
  return lib.otel ? ['bare', 'tapwire', 'otel'] : ['bare', 'tapwire'];
}

async function main() {
  if (!existsSync(TAPWIRE_REGISTER)) throw new Error('dist/register.js missing (run npm run build)');
  const loadAtStart = os.loadavg();
  log(`db bench: ${QUICK ? 'quick' : 'full'} run, ${ROUNDS} rounds, runtimes ${runtimeIds.join(',')}`);
  const raw = Object.fromEntries(runtimeIds.map((r) => [r, {}]));
  for (const lib of LIBS) {
    // One server at a time, started for its library and stopped after it: MariaDB initialising its
    // files in the background took CPU and disk from PostgreSQL's rounds when all three ran at once.
    const server = await SERVERS[lib.id]?.start();
    if (server !== undefined) servers.push(server);
    const env = server === undefined ? {} : SERVERS[lib.id].env(server.port);
    try {
      for (const runtimeId of runtimeIds) {
        const modes = modesFor(lib);
        const rec = Object.fromEntries(
          modes.map((m) => [m, { samples: [], cpu: [], recorded: [], errors: [] }]),
        );
        raw[runtimeId][lib.id] = rec;
        for (let round = 0; round < ROUNDS; round++) {
          await interleaved(runtimeId, lib, modes, env, rec, round);
          log(
            `  [${runtimeId}] ${lib.id} round ${round + 1}/${ROUNDS}: ` +
              modes.map((m) => `${m}=${fmt(median(rec[m].samples.slice(-SLICES)), 0)}`).join(' '),
          );
        }
      }
    } finally {
      for (const s of servers.splice(0)) await s.stop();
    }
  }
  const results = derive(raw);
  const md = render(results, loadAtStart);
  writeOut(opts.out, md);
  writeOut(
    opts.json,
    `${JSON.stringify({ quick: QUICK, rounds: ROUNDS, slices: SLICES, raw, results }, null, 2)}\n`,
  );
  process.stdout.write(md);
}

/**
 * One round: a fresh process per mode, all alive side by side, each warmed up; then SLICES turns
 * in which every mode runs one batch, the order rotated each turn, the others stopped (SIGSTOP)
 * meanwhile. The VM's speed moves by tens of percent within minutes: turns of a second or so put
 * each mode in the same minutes instead of one after another.
 */
async function interleaved(runtimeId, lib, modes, env, rec, round) {
  const live = [];
  try {
    for (const m of modes) {
      try {
        const talking = await startTalkingChild(
          runtimeId,
          m,
          CHILD,
          { ...env, LIB: lib.id, OPS: String(lib.ops), INTERLEAVED: '1' },
          { cpu: CPU.measured },
        );
        live.push({ m, talking });
        await talking.ready;
        signal(talking.child, 'SIGSTOP');
      } catch (error) {
        rec[m].errors.push(error.message);
      }
    }
    for (let slice = 0; slice < SLICES; slice++) {
      for (const { m, talking } of rotate(live, slice + round)) {
        signal(talking.child, 'SIGCONT');
        await sleep(RESUME_MS);
        try {
          const { opsPerSec, cpuUsPerOp } = await talking.ask('batch');
          rec[m].samples.push(opsPerSec);
          rec[m].cpu.push(cpuUsPerOp);
        } catch (error) {
          rec[m].errors.push(error.message);
        }
        signal(talking.child, 'SIGSTOP');
      }
    }
    for (const { m, talking } of live) {
      signal(talking.child, 'SIGCONT');
      try {
        const r = await talking.ask('end');
        rec[m].recorded.push({ recorded: r.recorded, total: r.total, metrics: r.metrics });
      } catch (error) {
        rec[m].errors.push(error.message);
      }
    }
  } finally {
    for (const { talking } of live) {
      signal(talking.child, 'SIGCONT');
      await killTree(talking.child);
    }
  }
}

const turnsCell = (row) => (row.mode === 'bare' ? '—' : spreadText(row.turns));
const cpuAddedCell = (s) =>
  s == null ? 'n/a' : `${signed(s.median, 2)} (${signed(s.min, 2)} to ${signed(s.max, 2)})`;

function derive(raw) {
  const out = {};
  for (const [runtimeId, libs] of Object.entries(raw)) {
    out[runtimeId] = {};
    for (const lib of LIBS) {
      const rec = libs[lib.id];
      const bare = median(rec.bare.samples);
      out[runtimeId][lib.id] = Object.entries(rec).map(([m, r]) => {
        const ops = median(r.samples);
        // The k-th batches of two modes are the same turn's only where every batch of both came back.
        const aligned =
          r.errors.length === 0 &&
          rec.bare.errors.length === 0 &&
          r.samples.length === rec.bare.samples.length;
        const row = {
          mode: m,
          opsPerSec: ops,
          usPerOp: ops ? 1e6 / ops : null,
          ratio: m === 'bare' || !ops || !bare ? null : ops / bare,
          // Turn by turn (the modes of a turn run one batch each, one after another): this mode's
          // batch over bare's of the same turn.
          turns: m === 'bare' || !aligned ? null : spread(r.samples.map((x, k) => x / rec.bare.samples[k])),
          addedUs: m === 'bare' || !ops || !bare ? null : 1e6 / ops - 1e6 / bare,
          // The client process's own CPU per operation (all its threads), and what a mode adds to
          // bare's, batch by batch of the same turn: what the agent costs the app whatever the
          // server's and the network's share of the wall time.
          cpuUsPerOp: median(r.cpu),
          cpuAdded: m === 'bare' || !aligned ? null : spread(r.cpu.map((x, k) => x - rec.bare.cpu[k])),
          error: r.samples.length ? null : (r.errors[0] ?? 'no samples'),
          errors: r.errors.length,
          // The agent really measured every operation (histogram count >= operations run).
          recordedAll:
            m === 'bare' ? null : r.recorded.length ? r.recorded.every((x) => x.recorded >= x.total) : null,
          recorded: r.recorded.at(-1)?.recorded ?? null,
          total: r.recorded.at(-1)?.total ?? null,
          metrics: r.recorded.length ? r.recorded.every((x) => x.metrics) : null,
        };
        if (m === 'tapwire') {
          const measured =
            row.error == null && (lib.id === 'sqlite' ? row.addedUs != null : row.ratio != null);
          row.target = {
            ...lib.target,
            measured: measured ? lib.target.value(row) : 'n/a',
            ok: !measured ? null : row.recordedAll === false ? false : lib.target.check(row),
          };
        }
        return row;
      });
    }
  }
  return out;
}

function recordedCell(row) {
  if (row.mode === 'bare') return '—';
  if (row.metrics === false || row.recorded == null) return row.mode === 'otel' ? 'no db series' : '**none**';
  return `${row.recorded} of ${row.total}${row.recordedAll === false && row.mode === 'tapwire' ? ' **(missing)**' : ''}`;
}

function render(results, loadAtStart) {
  const otelVersion = JSON.parse(
    readFileSync(
      new URL('../node_modules/@opentelemetry/auto-instrumentations-node/package.json', import.meta.url),
    ),
  ).version;
  const out = [
    '## Database clients (bench/db.mjs)',
    '',
    `<!-- Generated by \`node bench/db.mjs${QUICK ? ' --quick' : ''}\`. -->`,
    '',
    `- ${machineLine(loadAtStart)}${QUICK ? ' — **quick mode: short runs, numbers are indicative only**' : ''}`,
    '- Each row: a process running one client, one operation at a time (each awaited), warmed up with half a batch. ' +
      `Every mode's process runs side by side and they take turns: ${SLICES} turns in which each mode runs one timed batch, ` +
      "the order rotated each turn, the others stopped (SIGSTOP) meanwhile, so that the VM's own speed, which moves by tens " +
      `of percent within minutes, falls on every mode alike; ${ROUNDS} such rounds with fresh processes; ` +
      `the median of the ${ROUNDS * SLICES} batches of each mode is reported. ` +
      '"per turn vs bare" divides each batch by bare\'s batch of the same turn: the median and range of those ratios show how far one run\'s turns spread around the verdict (the ratio of the medians). ' +
      '"client CPU": the measured process\'s own CPU time over each batch (user + system, all its threads, `process.cpuUsage()`) per operation, and what a mode adds to bare\'s batch by batch of the same turn: ' +
      "the agent's cost to the app, apart from the server's and the loopback's share of each operation's wall time, which moves from turn to turn with the machine. " +
      'One database server runs at a time, started for its library and stopped after it. ' +
      (PINNED
        ? "The measured process is pinned to CPU 1 and the database server (with all it forks) to CPU 0 (`taskset`), so neither takes the other's time slice."
        : 'Not pinned (`taskset` or a second CPU missing, or `TAPWIRE_BENCH_PIN=0`): the client and the server share the cores.'),
    '- Modes: `bare`; `tapwire` (`--import dist/register.js` / `--preload dist/register-bun.js`, what `tapwire/register` is on each runtime); `otel` ' +
      `(\`@opentelemetry/auto-instrumentations-node/register\` ${otelVersion}, same flag) for pg, mysql2 and ioredis — ` +
      'OpenTelemetry has no node:sqlite / bun:sqlite instrumentation. Agent env: `OTEL_METRICS_EXPORTER=prometheus`, ' +
      "`OTEL_TRACES_EXPORTER=none`, `OTEL_LOGS_EXPORTER=none`. The drivers are loaded with `require()` (OpenTelemetry's " +
      'register instruments that path without a loader hook).',
    '- "recorded": operations counted by the agent\'s `db_client_operation_duration_seconds` histogram on its own ' +
      '/metrics after the loop, of the operations the process ran (set-up and warm-up included); a tapwire row that ' +
      'did not record every operation is a miss whatever its speed.',
    '',
    '### Targets (tapwire rows)',
    '',
    '- network drivers (pg, mysql2, ioredis): ops/s ≥ 0.95 of bare',
    '- in-memory SQLite: ≤ 1 µs added per operation',
    '',
  ];
  for (const [runtimeId, libs] of Object.entries(results)) {
    out.push(
      `### ${RUNTIMES[runtimeId].label}`,
      '',
      '| library | mode | ops/s (median) | vs bare | per turn vs bare: median (range) | µs/op | added µs/op | client CPU µs/op | CPU added µs/op, per turn: median (range) | recorded | target | measured | result |',
      '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | ---: | --- |',
    );
    for (const lib of LIBS) {
      for (const row of libs[lib.id]) {
        const t = row.target;
        out.push(
          `| ${lib.id} | ${row.mode} | ${row.error ? `not measured: ${String(row.error).replaceAll('|', '\\|')}` : fmt(row.opsPerSec, 0)} | ` +
            `${fmt(row.ratio, 3)} | ${turnsCell(row)} | ${fmt(row.usPerOp, 2)} | ${row.mode === 'bare' ? '—' : signed(row.addedUs, 2)} | ` +
            `${fmt(row.cpuUsPerOp, 2)} | ${row.mode === 'bare' ? '—' : cpuAddedCell(row.cpuAdded)} | ${recordedCell(row)} | ` +
            `${t ? `${t.name} ${t.limit}` : row.mode === 'bare' ? 'baseline' : 'reference'} | ${t ? t.measured : ''} | ${t ? verdict(t.ok) : ''} |`,
        );
      }
    }
    out.push('');
    for (const lib of LIBS) out.push(`- \`${lib.id}\`: ${lib.title}, ${lib.ops} operations per batch`);
    out.push('');
  }
  return `${out.join('\n')}\n`;
}

try {
  await main();
} catch (error) {
  console.error(`db bench failed: ${error.stack ?? error}`);
  process.exitCode = 1;
} finally {
  for (const s of servers) await s.stop();
}
