// AI streaming overhead, side by side in one run:
//   - a streamed chat completion of ~3000 chunks from the AI provider stand-in (cli/demo/standin/,
//     run as its own process: dist/cli/standin.js), read with fetch chunk by chunk by an app
//     (bench/lib/ai-child.mjs) run bare and under tapwire (TAPWIRE_AI_ENDPOINTS maps the stand-in
//     as `openai`), on Node and Bun: time to first chunk and total time, modes interleaved, median
//     of the rounds; the app pinned to one CPU and the stand-in to the other (lib/procs.mjs PINNED);
//   - the agent's SSE parser (core/ai/sse.ts, bundled here with esbuild) fed the same stream
//     repeated to tens of MB: parsing throughput in MB/s, alone and with the usage scan the
//     agent runs on every event (core/ai/usage.ts).
// Targets: tapwire at least 0.95 of bare for time to first chunk and total time, i.e.
// bare time / tapwire time >= 0.95. Throughput is reported (no target).
//
//   node bench/ai.mjs [--quick] [--runtime node,bun] [--out FILE] [--json FILE] [--timeout-min N]
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';
import {
  fmt,
  guard,
  machineLine,
  median,
  rotate,
  runChild,
  signed,
  spread,
  spreadText,
  writeOut,
} from './lib/common.mjs';
import { CPU, freePort, killTree, PINNED, sleep, spawnTracked } from './lib/procs.mjs';
import { BENCH_DIR, REPO, RUNTIMES, TAPWIRE_REGISTER } from './scenarios.mjs';

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
const CHUNKS = 3000;
const ROUNDS = QUICK ? 3 : 7;
const WARMUP = QUICK ? 3 : 5;
const REQUESTS = QUICK ? 8 : 20;
const SSE_MB = QUICK ? 8 : 48;
const SSE_PASSES = QUICK ? 3 : 7;
const STANDIN = path.join(REPO, 'dist/cli/standin.js');
// otel: the OpenTelemetry reference (bench/scenarios.mjs), which measures the call as an outbound
// HTTP request where it instruments fetch (undici, on Node) and knows nothing of AI providers.
const MODES = ['bare', 'tapwire', 'otel'];
const runtimeIds = (opts.runtime ?? Object.keys(RUNTIMES)).flatMap((r) => r.split(','));
const log = (m) => console.error(m);

guard(Number(opts['timeout-min'] ?? (QUICK ? 10 : 30)));

/**
 * The stand-in in a process of its own, so its CPU cost is the same for every mode and never lands
 * in the measured app. It answers at once, with usage of one output token per content chunk; each
 * event is its own write, and it yields to the event loop every 8 events so the stream arrives in
 * many pieces as a real one does. A 5 s keep-alive lets every call of a child reuse its connection.
 */
async function startStandin() {
  const port = await freePort();
  const options = {
    ports: { openai: port },
    models: [
      { model: 'gpt-4o-mini', responseModel: 'gpt-4o-mini-2024-07-18', input: 12, cached: 0, output: CHUNKS },
    ],
    pace: { every: 8, first: 0, ms: 0 },
    keepAliveMs: 5000,
  };
  const child = spawnTracked(RUNTIMES.node.bin, [STANDIN, JSON.stringify(options)], {
    env: { PATH: process.env.PATH, NODE_ENV: 'production' },
    cpu: CPU.load,
  });
  for (let i = 0; i < 200 && !child.stderrTail.includes('ready'); i++) {
    if (child.exitCode !== null) throw new Error(`stand-in exited: ${child.stderrTail.trim()}`);
    await sleep(50);
  }
  if (!child.stderrTail.includes('ready')) throw new Error('stand-in did not start');
  return { port, child };
}

/** core/ai/sse.ts and core/ai/usage.ts as one ESM file both runtimes can import. */
async function bundleParser(dir) {
  const outfile = path.join(dir, 'sse.mjs');
  await build({
    stdin: {
      contents:
        "export { StreamParser } from './core/ai/sse.ts';\nexport { Usage, streamEvent } from './core/ai/usage.ts';\n",
      resolveDir: REPO,
      loader: 'ts',
    },
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node22',
    logLevel: 'warning',
  });
  return outfile;
}

async function main() {
  for (const file of [TAPWIRE_REGISTER, STANDIN])
    if (!existsSync(file)) throw new Error(`${path.relative(REPO, file)} missing (run npm run build)`);
  const loadAtStart = os.loadavg();
  log(`ai bench: ${QUICK ? 'quick' : 'full'} run, ${ROUNDS} rounds, runtimes ${runtimeIds.join(',')}`);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tapwire-bench-ai-'));
  const standin = await startStandin();
  const raw = { stream: {}, sse: {} };
  try {
    const env = {
      // /nN: the stand-in's path prefix for N content chunks.
      URL: `http://127.0.0.1:${standin.port}/n${CHUNKS}/v1/chat/completions`,
      WARMUP: String(WARMUP),
      REQUESTS: String(REQUESTS),
      TAPWIRE_AI_ENDPOINTS: `127.0.0.1:${standin.port}=openai`,
    };
    for (const runtimeId of runtimeIds) {
      const rec = Object.fromEntries(MODES.map((m) => [m, { runs: [], errors: [] }]));
      raw.stream[runtimeId] = rec;
      for (let round = 0; round < ROUNDS; round++) {
        for (const m of rotate(MODES, round)) {
          try {
            rec[m].runs.push(
              await runChild(runtimeId, m, path.join(BENCH_DIR, 'lib/ai-child.mjs'), env, undefined, {
                cpu: CPU.measured,
              }),
            );
          } catch (error) {
            rec[m].errors.push(error.message);
          }
          await sleep(200);
        }
        log(
          `  [${runtimeId}] stream round ${round + 1}/${ROUNDS}: ` +
            MODES.map((m) => {
              const r = rec[m].runs.at(-1);
              return `${m}=ttfc ${fmt(r?.ttfcMs, 2)} ms, total ${fmt(r?.totalMs, 1)} ms`;
            }).join('; '),
        );
      }
    }
    const bundle = await bundleParser(dir);
    for (const runtimeId of runtimeIds) {
      try {
        raw.sse[runtimeId] = await runChild(runtimeId, 'bare', path.join(BENCH_DIR, 'lib/sse-child.mjs'), {
          URL: env.URL,
          CHUNKS: String(CHUNKS),
          BUNDLE: bundle,
          MB: String(SSE_MB),
          PASSES: String(SSE_PASSES),
        });
      } catch (error) {
        raw.sse[runtimeId] = { error: error.message };
      }
      log(`  [${runtimeId}] SSE parsing: ${JSON.stringify(raw.sse[runtimeId])}`);
    }
  } finally {
    await killTree(standin.child);
    rmSync(dir, { recursive: true, force: true });
  }
  const results = derive(raw);
  const md = render(results, loadAtStart);
  writeOut(opts.out, md);
  writeOut(opts.json, `${JSON.stringify({ quick: QUICK, rounds: ROUNDS, raw, results }, null, 2)}\n`);
  process.stdout.write(md);
}

/** bare's time over mode `m`'s, round by round: median, lowest and highest; null without pairs. */
function rounds(rec, m, key) {
  if (m === 'bare' || rec[m].errors.length || rec.bare.errors.length) return null;
  const runs = rec[m].runs;
  if (runs.length === 0 || runs.length !== rec.bare.runs.length) return null;
  return spread(runs.map((r, k) => rec.bare.runs[k][key] / r[key]));
}

const roundsCell = (r) => (r ? spreadText(r) : '—');

function derive(raw) {
  const stream = {};
  for (const [runtimeId, rec] of Object.entries(raw.stream)) {
    const bare = {
      ttfc: median(rec.bare.runs.map((r) => r.ttfcMs)),
      total: median(rec.bare.runs.map((r) => r.totalMs)),
    };
    stream[runtimeId] = MODES.map((m) => {
      const runs = rec[m].runs;
      const ttfc = median(runs.map((r) => r.ttfcMs));
      const total = median(runs.map((r) => r.totalMs));
      const row = {
        mode: m,
        ttfcMs: ttfc,
        totalMs: total,
        bytes: runs[0]?.bytes ?? null,
        error: runs.length ? null : (rec[m].errors[0] ?? 'no samples'),
        // Speed relative to bare: bare time / mode time (1 = as fast, 0.98 = 2% slower).
        ttfcRatio: m === 'bare' || !ttfc || !bare.ttfc ? null : bare.ttfc / ttfc,
        totalRatio: m === 'bare' || !total || !bare.total ? null : bare.total / total,
        // Round by round (each round runs one process of every mode, one after another): bare's
        // time over this mode's in the same round, where every process of both came back.
        ttfcRounds: rounds(rec, m, 'ttfcMs'),
        totalRounds: rounds(rec, m, 'totalMs'),
        addedTtfcMs: m === 'bare' || ttfc == null || bare.ttfc == null ? null : ttfc - bare.ttfc,
        addedTotalMs: m === 'bare' || total == null || bare.total == null ? null : total - bare.total,
        // The agent saw every call, its time to first chunk, and all 3000 output tokens.
        recordedAll:
          m !== 'tapwire' || !runs.length
            ? null
            : runs.every(
                (r) =>
                  r.recorded === r.requests &&
                  r.ttfcRecorded === r.requests &&
                  r.outputTokens === r.requests * CHUNKS,
              ),
        recorded: runs.at(-1)?.recorded ?? null,
        httpClient: runs.at(-1)?.httpClient ?? null,
        requests: runs.at(-1)?.requests ?? null,
      };
      if (m === 'tapwire') {
        const check = (v) => (v == null || row.error ? null : row.recordedAll === false ? false : v >= 0.95);
        row.targets = [
          {
            name: 'time to first chunk, bare ÷ tapwire',
            limit: '≥ 0.95',
            value: fmt(row.ttfcRatio, 3),
            ok: check(row.ttfcRatio),
          },
          {
            name: 'total time, bare ÷ tapwire',
            limit: '≥ 0.95',
            value: fmt(row.totalRatio, 3),
            ok: check(row.totalRatio),
          },
        ];
      }
      return row;
    });
  }
  return { stream, sse: raw.sse };
}

function render(results, loadAtStart) {
  const out = [
    '## AI provider streams (bench/ai.mjs)',
    '',
    `<!-- Generated by \`node bench/ai.mjs${QUICK ? ' --quick' : ''}\`. -->`,
    '',
    `- ${machineLine(loadAtStart)}${QUICK ? ' — **quick mode: short runs, numbers are indicative only**' : ''}`,
    `- Stream: a chat completion of ${CHUNKS} content chunks (${CHUNKS + 4} SSE events, OpenAI wire format with ` +
      '`stream_options.include_usage`) served by the AI provider stand-in in its own process (cli/demo/standin/) ' +
      `(${results.stream[runtimeIds[0]]?.[0]?.bytes ?? 'n/a'} bytes per stream), which answers at once: the times below are the client and agent cost alone, without the hundreds of ` +
      'milliseconds a real model takes, so they are the hardest case for a ratio. The app (bench/lib/ai-child.mjs) POSTs with `fetch` and reads the body chunk by chunk.',
    PINNED
      ? "- The measured app is pinned to CPU 1 (all its threads: Bun's fetch reads the socket on a thread of its own) and the stand-in to CPU 0 (`taskset`), so neither takes the other's time slice: unpinned, one process's median total moved between 7 and 14 ms from round to round on Bun."
      : '- Not pinned (`taskset` or a second CPU missing, or `TAPWIRE_BENCH_PIN=0`): the app and the stand-in share the cores.',
    `- Each row: ${ROUNDS} fresh processes per mode, modes interleaved (order rotated each round); each process makes ` +
      `${WARMUP} warm-up calls then ${REQUESTS} measured calls one after another and reports its medians; the table shows ` +
      'the median of the processes. Time to first chunk: from `fetch()` to the first body chunk read; total: to the end of the body. ' +
      '"per round" divides bare\'s process of each round by this mode\'s of the same round: the median and range of those ratios show how far the rounds spread around the verdict (the ratio of the medians).',
    '- `tapwire`: `--import dist/register.js` / `--preload dist/register-bun.js` (what `tapwire/register` is on each runtime), `TAPWIRE_AI_ENDPOINTS=127.0.0.1:PORT=openai`, ' +
      '`OTEL_METRICS_EXPORTER=prometheus`. "recorded": calls counted by `gen_ai_client_operation_duration_seconds` on the ' +
      "agent's /metrics; the row is only valid when every call, its time to first chunk and all output tokens were recorded. " +
      '`otel`: the OpenTelemetry reference, `@opentelemetry/auto-instrumentations-node/register` (same flag, the environment of ' +
      "the HTTP benchmark's otel row): it knows no AI provider, and counts the calls as outbound HTTP requests where it " +
      'instruments `fetch` (its undici instrumentation: Node; Bun\'s fetch is not undici); "recorded" gives those.',
    '',
    '### Targets (tapwire rows)',
    '',
    '- time to first chunk and total time: tapwire at least 0.95 of bare (bare time ÷ tapwire time ≥ 0.95)',
    '',
    '### Streamed completion',
    '',
    '| runtime | mode | time to first chunk (ms) | added | total time (ms) | added | added µs per chunk | recorded | TTFC bare÷tapwire | per round: median (range) | total bare÷tapwire | per round: median (range) | result |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | --- |',
  ];
  for (const [runtimeId, rows] of Object.entries(results.stream)) {
    for (const r of rows) {
      const rec =
        r.mode === 'bare'
          ? '—'
          : r.mode === 'otel'
            ? `no AI series; ${r.httpClient == null ? 'no' : `${r.httpClient} of ${r.requests}`} HTTP client calls`
            : r.recorded == null
              ? '**none**'
              : `${r.recorded} of ${r.requests}${r.recordedAll ? '' : ' **(incomplete)**'}`;
      const result = r.targets
        ? r.targets.some((t) => t.ok === false)
          ? `**miss**: ${r.targets
              .filter((t) => t.ok === false)
              .map((t) => t.name.split(',')[0])
              .join(', ')}`
          : r.targets.every((t) => t.ok)
            ? 'pass'
            : 'n/a'
        : r.mode === 'otel'
          ? 'reference'
          : 'baseline';
      out.push(
        `| ${RUNTIMES[runtimeId].label} | ${r.mode} | ${r.error ? `not measured: ${r.error.replaceAll('|', '\\|')}` : fmt(r.ttfcMs, 2)} | ` +
          `${r.mode === 'bare' ? '—' : signed(r.addedTtfcMs, 2)} | ${fmt(r.totalMs, 1)} | ${r.mode === 'bare' ? '—' : signed(r.addedTotalMs, 1)} | ` +
          `${r.mode === 'bare' ? '—' : signed(r.addedTotalMs == null ? null : (r.addedTotalMs * 1000) / CHUNKS, 2)} | ${rec} | ${fmt(r.ttfcRatio, 3)} | ${roundsCell(r.ttfcRounds)} | ${fmt(r.totalRatio, 3)} | ${roundsCell(r.totalRounds)} | ${result} |`,
      );
    }
  }
  out.push(
    '',
    '### SSE parsing throughput',
    '',
    `The agent's parser (core/ai/sse.ts, bundled with esbuild) fed the stream above repeated to ~${SSE_MB} MB in 16 KiB pieces, ` +
      `median of ${SSE_PASSES} passes after a warm-up; "with usage scan" adds what the agent does with each event ` +
      '(core/ai/usage.ts `streamEvent`, OpenAI shape). 1 MB = 10^6 bytes.',
    '',
    '| runtime | parser alone (MB/s) | parser + usage scan (MB/s) | µs per event (with usage scan) |',
    '| --- | ---: | ---: | ---: |',
  );
  for (const [runtimeId, s] of Object.entries(results.sse)) {
    if (s.error) {
      out.push(`| ${RUNTIMES[runtimeId].label} | not measured: ${s.error.replaceAll('|', '\\|')} | | |`);
      continue;
    }
    out.push(
      `| ${RUNTIMES[runtimeId].label} | ${fmt(s.parser, 0)} | ${fmt(s.parserAndUsage, 0)} | ${fmt(s.eventBytes / s.parserAndUsage, 3)} |`,
    );
  }
  out.push('');
  return `${out.join('\n')}\n`;
}

try {
  await main();
} catch (error) {
  console.error(`ai bench failed: ${error.stack ?? error}`);
  process.exitCode = 1;
}
