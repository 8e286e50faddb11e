// Turns raw measurements into rows (overheads, ratios, target verdicts) and markdown.
// Everything shown is computed here from the numbers of this run; nothing is hard-coded.
import { fmt, MODES, RUNTIMES, SCENARIOS, TARGETS } from '../scenarios.mjs';
import { spread, spreadText } from './common.mjs';

/** Derive the comparison numbers for every mode of one (runtime, scenario). */
export function deriveRows(byMode) {
  const bare = byMode.bare;
  const otel = byMode.otel;
  const overhead = (m) =>
    m?.startupMs != null && bare?.startupMs != null ? m.startupMs - bare.startupMs : null;
  const otelOverhead = overhead(otel);
  return MODES.filter((mode) => byMode[mode.id]).map((mode) => {
    const m = byMode[mode.id];
    const startupOverheadMs = mode.id === 'bare' ? null : overhead(m);
    const row = {
      mode: mode.id,
      error: m.error ?? null,
      startupMs: m.startupMs ?? null,
      startupOverheadMs,
      // Fraction of OpenTelemetry's overhead; meaningless when OTel adds ~nothing.
      startupVsOtel:
        mode.id === 'bare' || startupOverheadMs == null || otelOverhead == null || otelOverhead <= 0
          ? null
          : startupOverheadMs / otelOverhead,
      rps: m.rps ?? null,
      rpsRatio: mode.id === 'bare' || m.rps == null || bare?.rps == null ? null : m.rps / bare.rps,
      rpsSlices: mode.id === 'bare' ? null : sliceRatios(m.slices, bare?.slices),
      p99Ms: m.p99Ms ?? null,
      rssMb: m.rssMb ?? null,
      rssDeltaMb: mode.id === 'bare' || m.rssMb == null || bare?.rssMb == null ? null : m.rssMb - bare.rssMb,
      // Of that difference, the part in pages of mapped files (the runtime's own code it runs).
      rssFileDeltaMb:
        mode.id === 'bare' || m.rssFileMb == null || bare?.rssFileMb == null
          ? null
          : m.rssFileMb - bare.rssFileMb,
      loadErrors: m.loadErrors ?? 0,
      metrics: m.metrics ?? null,
    };
    row.targets = mode.id === 'tapwire' ? TARGETS.map((t) => ({ target: t, result: t.check(row) })) : null;
    return row;
  });
}

/**
 * The same slice round's req/s of a mode over bare's, round by round (each round runs every mode
 * once, one after another): median, lowest and highest. The ratio of the medians is the verdict;
 * this shows how far one run's rounds spread around it, so a verdict near its limit reads as such.
 */
function sliceRatios(slices, bareSlices) {
  if (!slices?.length || !bareSlices?.length) return null;
  const ratios = [];
  for (let i = 0; i < Math.min(slices.length, bareSlices.length); i++) {
    if (slices[i].rps > 0 && bareSlices[i].rps > 0) ratios.push(slices[i].rps / bareSlices[i].rps);
  }
  return spread(ratios);
}

const slicesCell = (row) => (row.mode === 'bare' ? '—' : spreadText(row.rpsSlices));

function verdictCell(row) {
  if (!row.targets) return row.mode === 'bare' ? 'baseline' : 'reference';
  if (row.error) return 'miss (failed)';
  const results = row.targets.map((t) => t.result);
  const misses = row.targets.filter((t) => t.result && !t.result.ok).map((t) => t.target.name);
  const na = results.filter((r) => r == null).length;
  if (misses.length) return `**miss**: ${misses.join(', ')}`;
  return na ? `pass (${na} n/a)` : 'pass';
}

function signed(n, digits, unit = '') {
  if (n == null || !Number.isFinite(n)) return 'n/a';
  return `${n >= 0 ? '+' : ''}${n.toFixed(digits)}${unit}`;
}

function rssDeltaCell(row) {
  const delta = signed(row.rssDeltaMb, 1, ' MB');
  return row.rssDeltaMb == null || row.rssFileDeltaMb == null
    ? delta
    : `${delta} (files ${signed(row.rssFileDeltaMb, 1)})`;
}

function metricsCell(row) {
  if (row.mode === 'bare') return '—';
  if (!row.metrics) return 'n/a';
  return row.metrics.ok ? 'ok' : `**no**: ${row.metrics.detail}`;
}

/** One markdown table for one runtime: every scenario × mode. */
export function runtimeTable(runtimeId, results) {
  const lines = [
    '| scenario | mode | start-up ms (median) | start-up overhead | ÷ OTel overhead | req/s (median) | vs bare | per round vs bare: median (range) | p99 latency | RSS MB | ΔRSS vs bare | agent /metrics | targets |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |',
  ];
  for (const scenario of SCENARIOS) {
    const rows = results[runtimeId]?.[scenario.id];
    if (!rows) continue;
    for (const row of rows) {
      if (row.error && row.startupMs == null) {
        lines.push(
          `| ${scenario.id} | ${row.mode} | not measured: ${escapeCell(row.error)} | | | | | | | | | | ${verdictCell(row)} |`,
        );
        continue;
      }
      lines.push(
        `| ${scenario.id} | ${row.mode} | ${fmt(row.startupMs, 1)} | ${signed(row.startupOverheadMs, 1, ' ms')} | ${fmt(row.startupVsOtel, 2)} | ` +
          `${fmt(row.rps, 0)}${row.loadErrors ? ` (${row.loadErrors} errors)` : ''} | ${fmt(row.rpsRatio, 3)} | ${slicesCell(row)} | ${fmt(row.p99Ms, 2)} ms | ` +
          `${fmt(row.rssMb, 1)} | ${rssDeltaCell(row)} | ${metricsCell(row)} | ${verdictCell(row)}${row.error ? ` (${escapeCell(row.error)})` : ''} |`,
      );
    }
  }
  return lines.join('\n');
}

/** Target-by-target verdicts for the tapwire rows of one runtime. */
export function targetsTable(runtimeId, results) {
  const lines = ['| scenario | target | measured | limit | result |', '| --- | --- | ---: | --- | --- |'];
  for (const scenario of SCENARIOS) {
    const tap = results[runtimeId]?.[scenario.id]?.find((r) => r.mode === 'tapwire');
    if (!tap) continue;
    for (const { target, result } of tap.targets) {
      const verdict = result == null ? 'n/a' : result.ok ? 'pass' : '**miss**';
      lines.push(
        `| ${scenario.id} | ${target.name} | ${result?.value ?? 'n/a'} | ${target.limit} | ${verdict} |`,
      );
    }
  }
  return lines.length > 2 ? lines.join('\n') : '_No tapwire rows in this run._';
}

function escapeCell(text) {
  return String(text).replaceAll('|', '\\|').replaceAll('\n', ' ').slice(0, 160);
}

/** The whole markdown document. */
export function renderMarkdown({ results, meta, settings }) {
  const out = [
    '# Benchmarks',
    '',
    `<!-- Generated by \`${meta.command}\` (bench/run.mjs). Re-run it instead of editing by hand. -->`,
    '',
    'tapwire compared side by side with the app alone (`bare`) and with the OpenTelemetry',
    'reference agent (`otel`), in one run on one machine.',
    '',
    '## How it was run',
    '',
    `- Command: \`${meta.command}\`${settings.quick ? ' — **quick mode: short runs, numbers are indicative only**' : ''}`,
    `- Date: ${meta.date}`,
    `- Machine: ${meta.nproc} CPUs (nproc), ${meta.cpuModel}, ${meta.memGb} GB RAM, ${meta.os}; load average (1/5/15 min) ${meta.loadAvgAtStart} at start, ${meta.loadAvgAtEnd} at end`,
    `- Runtimes: Node.js ${meta.versions.node ?? 'n/a'}, Bun ${meta.versions.bun ?? 'n/a'} (from node_modules/.bin); wrk ${meta.wrkVersion}`,
    `- Modes: \`bare\` (the app alone); \`tapwire\` (\`node --import ${meta.tapwireRegister}\` / \`bun --preload ${meta.tapwireRegisterBun ?? meta.tapwireRegister}\`: the files \`tapwire/register\` resolves to); ` +
      `\`otel\` (\`@opentelemetry/auto-instrumentations-node/register\` ${meta.otelVersion}, same flags); ` +
      "`otel-esm` (Node only: `otel` plus `--experimental-loader=@opentelemetry/instrumentation/hook.mjs`, OpenTelemetry's documented setup for ESM apps; " +
      "without it OTel does not instrument an ESM app's `node:http` server — see the agent /metrics column). " +
      'The "÷ OTel overhead" column and the 1/5 target use the plain `otel` row.',
    '- Agent environment (tapwire and otel): `OTEL_METRICS_EXPORTER=prometheus`, `OTEL_TRACES_EXPORTER=none`, ' +
      '`OTEL_LOGS_EXPORTER=none`; otel also gets `OTEL_NODE_RESOURCE_DETECTORS=env,host,os,process` (no cloud detectors). ' +
      'Every process (bare included) runs with `NODE_ENV=production`, its own free `PORT` and its own free `OTEL_EXPORTER_PROMETHEUS_PORT`.',
    `- Start-up: wall time from spawn to the first HTTP 200 (raw HTTP probe every ${settings.pollMs} ms), median of ${settings.startupRuns} runs per mode, modes interleaved. ` +
      'Overhead = mode − bare; "÷ OTel overhead" = tapwire overhead / otel overhead.',
    `- Throughput: the servers of every mode run side by side and take the load in turns: a ${settings.warmupSeconds} s warm-up each, then ` +
      `${settings.slices} slices of \`wrk -t1 -c32 -d${settings.sliceSeconds}s --latency\` per mode, the mode order rotated each slice, the median slice reported; ` +
      '"per round vs bare" divides each round\'s slice by bare\'s slice of the same round and gives the median and the range of those ratios: ' +
      'how far the rounds of this one run spread around the verdict, which is the ratio of the medians (a verdict within that spread of its limit can flip from run to run); ' +
      'a server waits for its turn stopped (SIGSTOP), so its timers take nothing from the one measured, and resumes 200 ms before its slice. ' +
      "Interleaved, the machine's own speed (it moves by tens of percent within minutes on a shared VM) falls on every mode alike. " +
      (settings.pinned
        ? "The server is pinned to CPU 1 for the load (all its threads, `taskset`) and wrk to CPU 0, so neither takes the other's time slice; the scraper runs unpinned. "
        : 'wrk and the server share the 2 cores (not pinned: `taskset` or a second CPU missing, or `TAPWIRE_BENCH_PIN=0`). ') +
      "During the measured load the agent's `/metrics` (tapwire, otel) is scraped every second, as Prometheus would; the bare app has none.",
    "- Memory: VmRSS of the server process (/proc/<pid>/status) right after each slice of the load, median over the slices. In brackets beside ΔRSS, how much of the difference is pages of mapped files (RssFile: mostly the runtime's own executable, whose code the agent runs besides the app's; clean, shared with every process that maps the same file, and reclaimable); the rest is the process's own memory (heap, allocations, stacks).",
    "- Agent /metrics: after the load, the agent's Prometheus endpoint must answer 200 with `http_server_*` series " +
      '(guards against a row that looks fast because the agent did not load or did not instrument the server).',
    '',
    '## Targets (tapwire rows)',
    '',
    "- start-up overhead ≤ 15 ms and ≤ 1/5 of OpenTelemetry's start-up overhead",
    '- requests/s ≥ 0.95 of bare, with /metrics scraped every second',
    '- RSS overhead ≤ 12 MB',
    '',
  ];
  for (const runtimeId of Object.keys(results)) {
    out.push(`## ${RUNTIMES[runtimeId].label}`, '');
    for (const scenario of SCENARIOS) {
      if (results[runtimeId][scenario.id]) out.push(`- \`${scenario.id}\`: ${scenario.title}`);
    }
    out.push(
      '',
      runtimeTable(runtimeId, results),
      '',
      `### ${RUNTIMES[runtimeId].label}: targets`,
      '',
      targetsTable(runtimeId, results),
      '',
    );
  }
  return out.join('\n');
}
