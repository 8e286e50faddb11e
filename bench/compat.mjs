// The compatibility run: another project's own test suite, run as its maintainers run it, once
// bare and once with every process under the preload (NODE_OPTIONS=--import=tapwire/register, as
// a user's `npm test` would inherit it), and the per-test outcomes compared. A test that passes
// bare and fails under the preload is tapwire changing the app; the reverse, or a count that
// differs, is reported as well. Not part of `npm test` (the checkouts and their dependencies are
// fetched by hand); docs/compatibility.md holds the table and how it was made.
//
//   node bench/compat.mjs <project> <checkout> [--rounds N] [--json out.json]
//
// <project> names a row of PROJECTS (how to run that suite and read its results); <checkout> is a
// git checkout with its dependencies installed. Each run gets a free metrics port and its own
// databases where the suite needs them (PostgreSQL for node-postgres, redis-server on 6379 for
// ioredis, whose suite assumes the default port). With --rounds N, both sides run N times and a
// difference counts only when it shows in every round (the suites have flaky tests of their own).
import { execFileSync, spawn } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './lib/procs.mjs';
import { startPostgres, startRedis } from './lib/servers.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const REGISTER = path.join(ROOT, 'dist/register.js');
const BIN = path.join(ROOT, 'node_modules/.bin');

/** Per-test outcomes from a reporter's file: Map<test id, 'pass' | 'fail' | 'skip'>. */
const readers = {
  /** mocha --reporter json --reporter-option output=FILE */
  mocha(file, base) {
    const report = JSON.parse(readFileSync(file, 'utf8'));
    const out = new Map();
    const id = (t) => `${path.relative(base, t.file ?? '')} :: ${t.fullTitle}`;
    for (const t of report.passes) out.set(id(t), 'pass');
    for (const t of report.pending) out.set(id(t), 'skip');
    for (const t of report.failures) out.set(id(t), 'fail');
    return out;
  },
  /** node --test --test-reporter=junit --test-reporter-destination=FILE */
  junit(file) {
    const xml = readFileSync(file, 'utf8');
    const out = new Map();
    // <testcase name=".." classname=".." ...> (self-closed, or with <failure>/<skipped> inside)
    const re = /<testcase\b([^>]*?)(\/>|>([\s\S]*?)<\/testcase>)/g;
    const attr = (s, n) => s.match(new RegExp(`\\b${n}="([^"]*)"`))?.[1] ?? '';
    const seen = new Map();
    for (const m of xml.matchAll(re)) {
      const base = `${attr(m[1], 'file')} :: ${attr(m[1], 'classname')} :: ${attr(m[1], 'name')}`;
      const n = (seen.get(base) ?? 0) + 1;
      seen.set(base, n);
      const body = m[3] ?? '';
      out.set(
        n > 1 ? `${base} #${n}` : base,
        /<failure\b/.test(body) ? 'fail' : /<skipped\b/.test(body) ? 'skip' : 'pass',
      );
    }
    return out;
  },
  /** vitest --reporter=json --outputFile=FILE (jest's --json has the same shape) */
  vitest(file, base) {
    const report = JSON.parse(readFileSync(file, 'utf8'));
    const out = new Map();
    for (const suite of report.testResults) {
      const rel = path.relative(base, suite.name);
      for (const t of suite.assertionResults) {
        const state = t.status === 'passed' ? 'pass' : t.status === 'failed' ? 'fail' : 'skip';
        out.set(`${rel} :: ${t.fullName ?? t.title}`, state);
      }
      // A file that failed to load has no assertions: count it as one failed test.
      if (suite.assertionResults.length === 0 && suite.status === 'failed')
        out.set(`${rel} :: (file)`, 'fail');
    }
    return out;
  },
};

/**
 * How each project's maintainers run its suite (its package.json scripts), with a reporter that
 * writes per-test results to OUT. `files` runs each file by itself, as node-postgres' Makefile does:
 * one test per file, passed when it exits 0.
 */
const PROJECTS = {
  express: {
    reader: 'mocha',
    cmd: (out) => [
      'npx',
      [
        'mocha',
        '--require',
        'test/support/env',
        '--check-leaks',
        '--reporter',
        'json',
        '--reporter-option',
        `output=${out}`,
        'test/',
        'test/acceptance/',
      ],
    ],
  },
  koa: {
    reader: 'junit',
    cmd: (out) => ['node', ['--test', '--test-reporter=junit', `--test-reporter-destination=${out}`]],
  },
  ioredis: {
    reader: 'mocha',
    redis: 6379,
    env: { TS_NODE_TRANSPILE_ONLY: 'true', NODE_ENV: 'test' },
    cmd: (out) => [
      'npx',
      [
        'mocha',
        '--no-experimental-strip-types',
        '--reporter',
        'json',
        '--reporter-option',
        `output=${out}`,
        'test/helpers/*.ts',
        'test/unit/**/*.ts',
        'test/functional/**/*.ts',
      ],
    ],
  },
  hono: {
    reader: 'vitest',
    cmd: (out) => ['npx', ['vitest', 'run', '--project', 'main', '--reporter=json', `--outputFile=${out}`]],
  },
  'openai-node': {
    reader: 'vitest',
    cmd: (out) => [
      'npx',
      ['vitest', 'run', '--config', 'vitest.config.mts', '--reporter=json', `--outputFile=${out}`],
    ],
  },
  'node-postgres': {
    reader: 'files',
    cwd: 'packages/pg',
    postgres: true,
    // The Makefile's `node file postgres://`: the connection comes from PGHOST, PGPORT, ...
    args: ['postgres://'],
    // As the Makefile's test-unit does first: git checks the file out 0644, and the pgpass reader
    // refuses a password file others can read.
    prepare: (cwd) => chmodSync(path.join(cwd, 'test/unit/client/pgpass.file'), 0o600),
    files: (cwd) =>
      ['test/unit', 'test/integration']
        .flatMap((d) => readdirSync(path.join(cwd, d), { recursive: true }).map((f) => path.join(d, f)))
        .filter((f) => f.endsWith('-tests.js'))
        .sort(),
  },
};

function run(cmd, args, { cwd, env, timeoutMs = 30 * 60_000 }) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {}
    }, timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

async function runSuite(project, checkout, preload) {
  const spec = PROJECTS[project];
  const cwd = path.join(checkout, spec.cwd ?? '');
  const metricsPort = await freePort();
  const env = {
    ...process.env,
    PATH: `${BIN}${path.delimiter}${path.join(cwd, 'node_modules/.bin')}${path.delimiter}${process.env.PATH}`,
    ...spec.env,
    OTEL_EXPORTER_PROMETHEUS_PORT: String(metricsPort),
  };
  delete env.NODE_OPTIONS;
  if (preload) env.NODE_OPTIONS = `--import=${REGISTER}`;
  spec.prepare?.(cwd);
  const servers = [];
  try {
    if (spec.postgres) {
      const pg = await startPostgres();
      servers.push(pg);
      execFileSync('/usr/lib/postgresql/15/bin/createdb', [
        '-h',
        '127.0.0.1',
        '-p',
        String(pg.port),
        '-U',
        'postgres',
        'test',
      ]);
      Object.assign(env, {
        PGHOST: '127.0.0.1',
        PGPORT: String(pg.port),
        PGUSER: 'postgres',
        PGDATABASE: 'test',
      });
    }
    if (spec.redis) servers.push(await startRedis(spec.redis));
    const started = Date.now();
    const watch = preload ? watchMetrics(metricsPort) : undefined;
    let outcomes;
    let stderr = '';
    if (spec.reader === 'files') {
      outcomes = new Map();
      for (const file of spec.files(cwd)) {
        const r = await run('node', [file, ...(spec.args ?? [])], { cwd, env, timeoutMs: 120_000 });
        outcomes.set(file, r.code === 0 ? 'pass' : 'fail');
        if (r.code !== 0) stderr += `--- ${file} (exit ${r.code ?? r.signal})\n${r.stderr.slice(-2000)}\n`;
      }
    } else {
      const dir = mkdtempSync(path.join(tmpdir(), 'tapwire-compat-'));
      const out = path.join(dir, 'results');
      const [cmd, args] = spec.cmd(out);
      const r = await run(cmd, args, { cwd, env });
      stderr = r.stderr;
      if (!existsSync(out))
        throw new Error(`${project}: no results (exit ${r.code}):\n${r.stderr.slice(-3000)}`);
      outcomes = readers[spec.reader](out, cwd);
      rmSync(dir, { recursive: true, force: true });
    }
    return { outcomes, seconds: (Date.now() - started) / 1000, stderr, seen: await watch?.stop() };
  } finally {
    for (const s of servers) await s.stop();
  }
}

/**
 * Proof that the preload ran and measured: /metrics is scraped every 250 ms while the suite runs,
 * and the most server requests and SQL/Redis operations seen in one scrape are kept.
 */
function watchMetrics(port) {
  const seen = { scrapes: 0, httpServerRequests: 0, dbOperations: 0 };
  const total = (text, name) => {
    let n = 0;
    for (const line of text.split('\n'))
      if (line.startsWith(`${name}{`) || line.startsWith(`${name} `))
        n += Number(line.slice(line.lastIndexOf(' ') + 1));
    return n;
  };
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      try {
        const text = await (
          await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(2000) })
        ).text();
        seen.scrapes++;
        seen.httpServerRequests = Math.max(
          seen.httpServerRequests,
          total(text, 'http_server_request_duration_seconds_count'),
        );
        seen.dbOperations = Math.max(
          seen.dbOperations,
          total(text, 'db_client_operation_duration_seconds_count'),
        );
      } catch {
        // no process holds the port at this moment
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return seen;
    },
  };
}

const count = (m) => {
  const c = { pass: 0, fail: 0, skip: 0 };
  for (const v of m.values()) c[v]++;
  return c;
};

/** Tests whose outcome differs between the two maps (a test present on one side only included). */
function differences(bare, under) {
  const diff = new Map();
  for (const id of new Set([...bare.keys(), ...under.keys()])) {
    const a = bare.get(id) ?? 'absent';
    const b = under.get(id) ?? 'absent';
    if (a !== b) diff.set(id, `${a} -> ${b}`);
  }
  return diff;
}

async function main() {
  const args = process.argv.slice(2);
  const opt = (name, dflt) => {
    const i = args.indexOf(name);
    if (i === -1) return dflt;
    const [, v] = args.splice(i, 2);
    return v;
  };
  const rounds = Number(opt('--rounds', '1'));
  const jsonOut = opt('--json', undefined);
  const [project, checkout] = args;
  if (!PROJECTS[project] || !checkout) {
    console.error(
      `usage: node bench/compat.mjs <${Object.keys(PROJECTS).join('|')}> <checkout> [--rounds N] [--json FILE]`,
    );
    process.exit(2);
  }
  const git = (a) => execFileSync('git', a, { cwd: checkout, encoding: 'utf8' }).trim();
  const pkg = JSON.parse(
    readFileSync(path.join(checkout, PROJECTS[project].cwd ?? '', 'package.json'), 'utf8'),
  );
  const result = {
    project,
    version: pkg.version,
    commit: git(['rev-parse', '--short=10', 'HEAD']),
    committed: git(['log', '-1', '--format=%cs']),
    node: execFileSync(path.join(BIN, 'node'), ['--version'], { encoding: 'utf8' }).trim(),
    rounds: [],
  };
  let persistent;
  for (let i = 0; i < rounds; i++) {
    const bare = await runSuite(project, checkout, false);
    const under = await runSuite(project, checkout, true);
    const diff = differences(bare.outcomes, under.outcomes);
    result.rounds.push({
      bare: { ...count(bare.outcomes), seconds: bare.seconds },
      preload: { ...count(under.outcomes), seconds: under.seconds, seen: under.seen },
      differences: Object.fromEntries(diff),
      failingBare: [...bare.outcomes].filter(([, v]) => v === 'fail').map(([id]) => id),
      preloadStderrTail: diff.size > 0 ? under.stderr.slice(-4000) : undefined,
    });
    persistent = persistent === undefined ? diff : new Map([...persistent].filter(([id]) => diff.has(id)));
    console.error(
      `${project} round ${i + 1}: bare ${JSON.stringify(count(bare.outcomes))} ${bare.seconds}s, preload ${JSON.stringify(count(under.outcomes))} ${under.seconds}s (seen ${JSON.stringify(under.seen)}), ${diff.size} differences`,
    );
  }
  result.verdict = persistent.size === 0 ? 'identical' : `${persistent.size} differ`;
  result.persistent = Object.fromEntries(persistent);
  const text = JSON.stringify(result, null, 2);
  if (jsonOut) writeFileSync(jsonOut, `${text}\n`);
  console.log(text);
}

await main();
