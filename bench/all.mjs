// Every benchmark, one after another, into ONE docs/benchmarks.md (what `npm run bench` runs after
// the build): start-up (bench/startup.mjs), HTTP servers (bench/run.mjs, its own document demoted to a section), the sidecar
// (bench/sidecar.mjs), database clients (bench/db.mjs), the cost of a scrape (bench/scrape.mjs) and AI
// streams (bench/ai.mjs). Each script
// writes its section to a temp file; a script that fails becomes a "not measured" section and the
// others still run. Each section states its targets and pass/miss from its own numbers.
//
//   node bench/all.mjs [--quick] [--only startup,http,sidecar,db,scrape,ai] [--runtime node|bun] [--out FILE]
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { writeOut } from './lib/common.mjs';
import { BENCH_DIR, RUNTIMES } from './scenarios.mjs';

const { values: opts } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    runtime: { type: 'string' },
    out: { type: 'string', default: 'docs/benchmarks.md' },
  },
});

const QUICK = opts.quick;
const quickArg = QUICK ? ['--quick'] : [];
const runtimeArg = opts.runtime ? ['--runtime', opts.runtime] : [];

const BENCHES = [
  {
    id: 'startup',
    title: 'Start-up and short children (bench/startup.mjs)',
    script: 'startup.mjs',
    args: (out) => ['--runs', QUICK ? '5' : '15', ...(QUICK ? ['--children', '10'] : []), '--out', out],
    section: startupSection,
  },
  {
    id: 'http',
    title: 'HTTP servers (bench/run.mjs)',
    script: 'run.mjs',
    args: (out) => [...quickArg, ...runtimeArg, '--out', out],
    section: httpSection,
  },
  {
    id: 'sidecar',
    title: 'Sidecar (bench/sidecar.mjs)',
    script: 'sidecar.mjs',
    args: (out) => ['--seconds', QUICK ? '3' : '10', '--out', out],
    section: sidecarSection,
  },
  {
    id: 'db',
    title: 'Database clients (bench/db.mjs)',
    script: 'db.mjs',
    args: (out) => [...quickArg, ...runtimeArg, '--out', out, '--json', 'bench/results/db-last-run.json'],
    section: (text) => text.trim(),
  },
  {
    id: 'scrape',
    title: 'One scrape of /metrics (bench/scrape.mjs)',
    script: 'scrape.mjs',
    args: (out) => [...runtimeArg, '--out', out],
    section: (text) => text.trim(),
  },
  {
    id: 'ai',
    title: 'AI provider streams (bench/ai.mjs)',
    script: 'ai.mjs',
    args: (out) => [...quickArg, ...runtimeArg, '--out', out, '--json', 'bench/results/ai-last-run.json'],
    section: (text) => text.trim(),
  },
];
const only = opts.only ? opts.only.split(',') : BENCHES.map((b) => b.id);
for (const id of only) {
  if (!BENCHES.some((b) => b.id === id)) {
    console.error(`bench/all: unknown bench "${id}" (expected ${BENCHES.map((b) => b.id).join(', ')})`);
    process.exit(1);
  }
}

let current;
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    // Each script kills its own children on these signals.
    current?.kill(signal);
    process.exit(130);
  });
}

/** Run one script with Node 24, progress on our stderr; resolves to its exit code. */
function run(script, args) {
  return new Promise((resolve) => {
    const child = spawn(RUNTIMES.node.bin, [path.join(BENCH_DIR, script), ...args], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    current = child;
    child.once('error', () => resolve(-1));
    child.once('exit', (code, signal) => resolve(code ?? signal));
  });
}

/** run.mjs writes a whole document: its title becomes the section, its headings go one down. */
function httpSection(text, title) {
  const lines = text.trim().split('\n');
  if (lines[0].startsWith('# ')) lines[0] = `## ${title}`;
  return lines.map((l, i) => (i > 0 && /^#{1,5} /.test(l) ? `#${l}` : l)).join('\n');
}

/** sidecar.mjs writes a table and a summary line; the verdicts are computed here from it. */
function sidecarSection(text, title) {
  const ratio = Number(/peak throughput: \*\*([-\d.]+)\*\*/.exec(text)?.[1]);
  const added = Number(/p99 added at 1000 req\/s: \*\*([-\d.]+) ms\*\*/.exec(text)?.[1]);
  const v = (n, ok) => (Number.isFinite(n) ? (ok ? 'pass' : '**miss**') : 'n/a');
  return [
    `## ${title}`,
    '',
    'The hello-world app straight, through nginx as a plain reverse proxy, and through `tapwire sidecar`; for ' +
      'comparison, through a plain Node proxy that measures nothing (bench/apps/plain-proxy.mjs) and through the ' +
      'sidecar on Bun: peak throughput with wrk, and latency at a fixed 1000 requests/s (open loop).',
    '',
    text.trim(),
    '',
    targetsTable([
      `| sidecar ÷ nginx peak requests/s | ${Number.isFinite(ratio) ? ratio.toFixed(2) : 'n/a'} | ≥ 0.6 | ${v(ratio, ratio >= 0.6)} |`,
      `| p99 added at 1000 requests/s | ${Number.isFinite(added) ? `${added.toFixed(2)} ms` : 'n/a'} | ≤ 1 ms | ${v(added, added <= 1)} |`,
    ]),
  ].join('\n');
}

/** A section's closing table of verdicts, one markdown row per target. */
function targetsTable(rows) {
  return [
    '### Targets',
    '',
    '| target | measured | limit | result |',
    '| --- | ---: | --- | --- |',
    ...rows,
  ].join('\n');
}

/**
 * startup.mjs writes its table; the verdicts are computed here from its tapwire columns (and, on
 * Bun, the precompiled ones: the preload after `tapwire precompile`), found by their headers.
 */
function startupSection(text, title) {
  const rows = [];
  let columns = [];
  for (const line of text.split('\n')) {
    // | runtime · measure | bare | tapwire | [precompiled |] tapwire − bare | … | tapwire ÷ bare | … |
    const cells = line.split('|').map((c) => c.trim());
    if (cells[1] === 'runtime · measure') columns = cells;
    const m = /^(node|bun) (e0|first200|children|children-async) \(wall\)$/.exec(cells[1] ?? '');
    if (!m) continue;
    const [, runtime, measure] = m;
    for (const mode of ['tapwire', 'precompiled']) {
      const added = cells[columns.indexOf(`${mode} − bare`)];
      const ratio = cells[columns.indexOf(`${mode} ÷ bare`)];
      if (added === undefined || ratio === undefined || added === '—') continue;
      const name = `${runtime} ${measure}${mode === 'precompiled' ? ' (precompiled)' : ''}`;
      if (measure === 'e0' || measure === 'first200') {
        const ok = Number.parseFloat(added) <= 15;
        rows.push(`| ${name}: start-up overhead | ${added} | ≤ 15 ms | ${ok ? 'pass' : '**miss**'} |`);
      } else {
        const ok = Number.parseFloat(ratio) <= 1.3;
        rows.push(`| ${name}: parent's wall time ÷ bare | ${ratio} | ≤ 1.3 | ${ok ? 'pass' : '**miss**'} |`);
      }
    }
  }
  return [
    `## ${title}`,
    '',
    'In an app folder whose package.json declares pg, mysql2, ioredis, express and openai, `NODE_ENV=production`: ' +
      '`-e 0` (spawn to exit), spawn to the first HTTP 200 of a node:http hello app, and one process that spawns short ' +
      'children (`-e 0`) one after another under `NODE_OPTIONS` / `BUN_OPTIONS` — with `execFileSync` (`children`: the ' +
      'parent holds /metrics and, blocked, answers none of them) and with `spawn()` awaited (`children-async`). ' +
      '`precompiled` (Bun only): the same package after `bunx --bun tapwire precompile`, which compiles the preload to ' +
      "this Bun's bytecode (docs/cli.md); `tapwire` is the package as it installs; `empty` is a preload that is an " +
      'empty module (bench/apps/empty-preload.mjs): what the runtime charges for any preload, which no agent can ' +
      'take away (no target of its own); `otel` is the OpenTelemetry reference, `@opentelemetry/auto-instrumentations-node/register` ' +
      "with the environment of the HTTP benchmark's otel row (its Prometheus exporter on, traces and logs off), the same " +
      'flag and the same children (no target of its own).',
    '',
    text.trim(),
    '',
    targetsTable(rows),
  ].join('\n');
}

/** `3 min 05 s`: how long a person has waited so far. */
const minutes = (ms) => {
  const s = Math.round(ms / 1000);
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
};

const dir = mkdtempSync(path.join(os.tmpdir(), 'tapwire-bench-all-'));
const sections = [];
const summary = [];
const started = Date.now();
const chosen = BENCHES.filter((b) => only.includes(b.id));
try {
  for (const [i, bench] of chosen.entries()) {
    const out = path.join(dir, `${bench.id}.md`);
    // Progress on stderr (each script adds its own lines there); the document goes to --out.
    console.error(
      `\n=== [${i + 1}/${chosen.length}] ${bench.title}${QUICK ? ' (quick)' : ''} · ${minutes(Date.now() - started)} so far`,
    );
    const t0 = Date.now();
    const code = await run(bench.script, bench.args(out));
    const seconds = Math.round((Date.now() - t0) / 1000);
    console.error(
      `=== [${i + 1}/${chosen.length}] ${bench.title}: ${code === 0 ? 'done' : `exit ${code}`} in ${minutes(Date.now() - t0)}`,
    );
    if (code !== 0 || !existsSync(out)) {
      sections.push(
        `## ${bench.title}\n\n**Not measured**: \`node bench/${bench.script}\` exited with ${code} after ${seconds} s (see its output).`,
      );
      summary.push(`| ${bench.title} | **not measured** (exit ${code}) |`);
      continue;
    }
    const section = bench.section(readFileSync(out, 'utf8'), bench.title);
    sections.push(section);
    const misses = section.match(/\*\*miss/g)?.length ?? 0;
    summary.push(`| ${bench.title} | ${misses ? `**${misses} cell(s) marked miss**` : 'no miss'} |`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const doc = [
  '# Benchmarks',
  '',
  `<!-- Generated by \`node bench/all.mjs${process.argv.length > 2 ? ` ${process.argv.slice(2).join(' ')}` : ''}\` (\`npm run bench\`). Re-run it instead of editing by hand. -->`,
  '',
  'tapwire measured side by side with the app alone (and with the OpenTelemetry reference agent where it applies), ' +
    'one section per benchmark script, every verdict computed from the numbers of this run.' +
    (QUICK ? ' **Quick mode: short runs, numbers are indicative only.**' : '') +
    ' Where the time or memory of a target that misses goes, measured piece by piece: [overhead.md](overhead.md).',
  '',
  '| benchmark | targets (details in its section) |',
  '| --- | --- |',
  ...summary,
  '',
  sections.join('\n\n'),
  '',
].join('\n');
writeOut(opts.out, doc);
console.error(`\nwritten: ${opts.out} (${minutes(Date.now() - started)} in all)`);
