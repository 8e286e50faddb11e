// The README's commands, run as written, so the quick start cannot drift from what works.
//
// Blocks marked `<!-- doc-test ... -->` run line by line through `sh -c`, unchanged, in fresh apps:
// - `npm install tapwire` and `bun add tapwire` install the packed tarball: npm and bun are pointed
//   (npm_config_registry, BUN_CONFIG_REGISTRY) at a registry on loopback that serves tapwire from the
//   tarball and redirects every other package to registry.npmjs.org;
// - every other line runs in a private network namespace (`ip netns`), so the README's fixed ports
//   (:9464 for /metrics, the app's :3000) are the README's own, whatever else runs on the machine.
//   A line that starts a service (node, bun --preload, npm start) runs until the next one starts;
//   meanwhile the test sends it requests, as a user's clients would, and reads /metrics.
// JavaScript blocks run as modules of the app under the preload; a `// name{labels} value` comment
// in them is a line /metrics must show.
// Unmarked blocks are listed below with the reason they are not run, so a new block cannot go
// unnoticed.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BUN, NODE, ROOT } from './support/index.js';
import { npmEnv, type Packed, pack, readJson, removeTemporaries, temporary } from './support/package.js';

interface Block {
  lang: string;
  lines: string[];
  run: boolean;
}

/** The README's fenced blocks, each with whether the line before its fence marks it runnable. */
function readmeBlocks(): Block[] {
  const lines = readFileSync(join(ROOT, 'README.md'), 'utf8').split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w+)$/.exec(lines[i]!);
    if (!open) continue;
    const end = lines.indexOf('```', i + 1);
    blocks.push({
      lang: open[1]!,
      lines: lines.slice(i + 1, end),
      run: /^<!-- doc-test\b.*-->$/.test(lines[i - 1] ?? ''),
    });
    i = end;
  }
  return blocks;
}

/** Blocks that are not run, by first line, and why. */
const NOT_RUN: Record<string, string> = {
  'scripts/setup   # installs everything':
    'installs the machine and runs this very suite; checked below against what CI runs',
  'npm run demo                # build, then `tapwire demo`':
    'rebuilds dist/ under the running suite; `npm pack` is tests/package.test.ts',
};

const SERVICE = /^(?:\w+=(?:"[^"]*"|\S+)\s+)*(?:node\s|bun\s+--preload\s|npm\s+start\b)/;
const INSTALL = /^(?:npm\s+install|bun\s+add)\s/;
const COUNT = 'http_server_request_duration_seconds_count';
const GET_200 = `${COUNT}{http_request_method="GET",http_response_status_code="200",url_scheme="http"}`;

const NS = `tapwire-readme-${process.pid}`;

function netnsUnavailable(): string | undefined {
  const add = spawnSync('ip', ['netns', 'add', NS], { encoding: 'utf8' });
  if (add.error || add.status !== 0) {
    return `cannot create a network namespace (ip netns add: ${add.error?.message ?? add.stderr.trim()}); run as root with iproute2 (scripts/setup installs it)`;
  }
  spawnSync('ip', ['netns', 'exec', NS, 'ip', 'link', 'set', 'lo', 'up']);
  return undefined;
}

const reason = netnsUnavailable();
if (reason) process.stderr.write(`tests/readme.test.ts skipped: ${reason}\n`);

let packed: Packed;
let registry: Server;
let registryUrl: string;
let env: NodeJS.ProcessEnv;
const services: ChildProcess[] = [];

/** Runs `argv` inside the namespace (harness probes: curl against the README's ports). */
function inNs(argv: string[]): { code: number | null; stdout: string } {
  const r = spawnSync('ip', ['netns', 'exec', NS, ...argv], { encoding: 'utf8', env, timeout: 10_000 });
  return { code: r.status, stdout: r.stdout };
}

/** GET from inside the namespace; undefined when nothing answers. */
function get(url: string): string | undefined {
  const r = inNs(['curl', '-s', '-f', '--max-time', '3', url]);
  return r.code === 0 ? r.stdout : undefined;
}

async function until<T>(what: string, probe: () => T | undefined, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * A README line that ends by itself: run it and return what it printed. Asynchronous: the registry
 * npm and bun install from is served from this process.
 */
function command(
  line: string,
  cwd: string,
  extra: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const argv = INSTALL.test(line) ? ['sh', '-c', line] : ['ip', 'netns', 'exec', NS, 'sh', '-c', line];
  const child = spawn(argv[0]!, argv.slice(1), {
    cwd,
    env: { ...env, ...extra },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 180_000);
  return new Promise((resolve) =>
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    }),
  );
}

/** A README line that starts a service: started in the namespace, stopped by stopServices(). */
function service(line: string, cwd: string): ChildProcess {
  const child = spawn('ip', ['netns', 'exec', NS, 'sh', '-c', line], {
    cwd,
    env,
    detached: true,
    stdio: ['ignore', 'ignore', 'ignore'],
  });
  services.push(child);
  return child;
}

async function stopServices(): Promise<void> {
  for (const child of services.splice(0)) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    const gone = new Promise((r) => child.once('exit', r));
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
    await gone;
  }
  // The README's ports are free again before the next service starts.
  await until('ports free', () =>
    (get('http://127.0.0.1:9464/metrics') ?? get('http://127.0.0.1:3000/')) === undefined ? true : undefined,
  );
}

/** The app answers on :3000 and /metrics on :9464: the successful requests sent, then the count. */
async function drive(requests: number, expected: number): Promise<string> {
  await until('the app on :3000', () => get('http://127.0.0.1:3000/'));
  for (let i = 1; i < requests; i++) expect(get('http://127.0.0.1:3000/')).toBe('hello\n');
  // Processes that push (launchers, cluster workers) show their numbers within a second or two.
  return until(`${GET_200} ${expected}`, () => {
    const text = get('http://127.0.0.1:9464/metrics');
    return text?.split('\n').includes(`${GET_200} ${expected}`) ? text : undefined;
  });
}

const APP_JS = `import { createServer } from 'node:http';
createServer((req, res) => res.end('hello\\n')).listen(3000);
`;
const CLUSTER_JS = `import cluster from 'node:cluster';
import { createServer } from 'node:http';
if (cluster.isPrimary) for (let i = 0; i < 2; i++) cluster.fork();
else createServer((req, res) => res.end('hello\\n')).listen(3000);
`;
const APP_TS = `Bun.serve({ port: 3000, fetch: () => new Response('hello\\n') });
`;

/** A registry for npm and bun: tapwire from the packed tarball, everything else from npmjs.org. */
function startRegistry(tarball: Buffer): Promise<void> {
  const pkg = readJson<Record<string, unknown> & { version: string }>(join(ROOT, 'package.json'));
  const file = `/tapwire/-/tapwire-${pkg.version}.tgz`;
  registry = createServer((req, res) => {
    if (req.url === '/tapwire') {
      const version = {
        name: 'tapwire',
        version: pkg.version,
        dependencies: pkg.dependencies,
        engines: pkg.engines,
        bin: pkg.bin,
        dist: {
          tarball: `${registryUrl}${file.slice(1)}`,
          integrity: `sha512-${createHash('sha512').update(tarball).digest('base64')}`,
          shasum: createHash('sha1').update(tarball).digest('hex'),
        },
      };
      res.setHeader('content-type', 'application/json');
      res.setHeader('cache-control', 'no-store');
      res.end(
        JSON.stringify({
          name: 'tapwire',
          'dist-tags': { latest: pkg.version },
          versions: { [pkg.version]: version },
        }),
      );
    } else if (req.url === file) {
      res.setHeader('content-type', 'application/octet-stream');
      res.end(tarball);
    } else {
      res.writeHead(302, { location: `https://registry.npmjs.org${req.url}` });
      res.end();
    }
  });
  return new Promise((resolve) =>
    registry.listen(0, '127.0.0.1', () => {
      registryUrl = `http://127.0.0.1:${(registry.address() as { port: number }).port}/`;
      resolve();
    }),
  );
}

const blocks = readmeBlocks();
const runnable = blocks.filter((b) => b.run);
let nodeApp: string;
let bunApp: string;

beforeAll(async () => {
  if (reason) return;
  packed = pack();
  await startRegistry(readFileSync(packed.tarball));
  // The user's `node` and `bun`: the ones the suite runs apps on (TAPWIRE_TEST_NODE / _BUN).
  const bin = temporary('tapwire-readme-bin-');
  symlinkSync(NODE, join(bin, 'node'));
  symlinkSync(BUN, join(bin, 'bun'));
  // Bun installs `bunx` beside `bun`: the same binary, which acts on the name it was started by.
  symlinkSync(BUN, join(bin, 'bunx'));
  const cache = temporary('tapwire-readme-bun-cache-');
  // The user's shell: this process's environment (its CA settings reach the registry) without what
  // npm, vitest or the suite put there, which would change what tapwire or npm do.
  const shell = npmEnv();
  for (const key of Object.keys(shell)) {
    if (/^(NODE_OPTIONS|NODE_ENV|VITEST.*|TEST|OTEL_.*|TAPWIRE_.*|LOG_LEVEL|PORT)$/.test(key))
      delete shell[key];
  }
  env = {
    ...shell,
    PATH: `${bin}:${process.env.PATH}`,
    TMPDIR: process.env.TMPDIR,
    npm_config_registry: registryUrl,
    npm_config_audit: 'false',
    npm_config_fund: 'false',
    npm_config_update_notifier: 'false',
    BUN_CONFIG_REGISTRY: registryUrl,
    // A cache of its own: Bun's shared one may hold an older tapwire 0.1.0.
    BUN_INSTALL_CACHE_DIR: cache,
  };
  const manifest = (name: string) =>
    `${JSON.stringify({ name, private: true, type: 'module', scripts: { start: 'node app.js' } }, null, 2)}\n`;
  nodeApp = temporary('tapwire-readme-node-');
  writeFileSync(join(nodeApp, 'package.json'), manifest('shop'));
  writeFileSync(join(nodeApp, 'app.js'), APP_JS);
  writeFileSync(join(nodeApp, 'cluster.js'), CLUSTER_JS);
  bunApp = temporary('tapwire-readme-bun-');
  writeFileSync(join(bunApp, 'package.json'), manifest('shop'));
  writeFileSync(join(bunApp, 'app.ts'), APP_TS);
}, 120_000);

afterAll(async () => {
  if (!reason) {
    await stopServices().catch(() => undefined);
    spawnSync('ip', ['netns', 'del', NS]);
    await new Promise((r) => registry?.close(r));
  }
  removeTemporaries();
});

it('every block is either run or listed with the reason it is not', () => {
  expect(
    Object.fromEntries(blocks.filter((b) => !b.run).map((b) => [b.lines[0], NOT_RUN[b.lines[0]!]])),
  ).toEqual(NOT_RUN);
  expect(runnable.map((b) => b.lines[0])).toEqual([
    'npm install tapwire',
    'NODE_OPTIONS="--import=tapwire/register" npm start      # npm holds :9464, the app pushes to it',
    'bun add tapwire',
    "import { logger } from 'tapwire';",
    "import { metrics } from '@opentelemetry/api';",
    'npx tapwire demo            # a small service under the preload, with traffic: tables of its numbers, and its live page',
    'npx tapwire dashboards --out grafana/         # add --slo slo.yaml to use the SLO file of `tapwire rules`',
  ]);
});

it('the set-up block is what CI runs', () => {
  const setup = blocks.find((b) => b.lines[0]?.startsWith('scripts/setup'))!;
  const commands = setup.lines.map((l) => l.replace(/\s*#.*$/, ''));
  expect(commands).toEqual(['scripts/setup', 'npm test']);
  const ci = readFileSync(join(ROOT, '.ci/run'), 'utf8').split('\n');
  expect(ci.filter((l) => commands.includes(l))).toEqual(commands);
  const workflow = readFileSync(join(ROOT, '.github/workflows/ci.yml'), 'utf8');
  expect(workflow.match(/^\s+- run: (.*)$/gm)?.map((l) => l.replace(/^\s+- run: /, ''))).toEqual(commands);
});

describe.skipIf(reason !== undefined)('the README, run as written', () => {
  // A test that failed half-way leaves no service holding the README's ports for the next one.
  afterEach(stopServices);

  /** The lines of a block that do something (sh ignores the rest too). */
  const linesOf = (first: string) =>
    runnable.find((b) => b.lines[0] === first)!.lines.filter((l) => l.trim() !== '' && !l.startsWith('#'));

  it('Node quick start: npm install tapwire, both ways of preloading, curl /metrics', async () => {
    const [install, ...rest] = linesOf('npm install tapwire');
    const installed = await command(install!, nodeApp);
    expect(installed.code, installed.stderr).toBe(0);
    expect(readJson<{ version: string }>(join(nodeApp, 'node_modules/tapwire/package.json')).version).toBe(
      readJson<{ version: string }>(join(ROOT, 'package.json')).version,
    );
    const curl = rest.pop()!;
    expect(rest.map((l) => SERVICE.test(l))).toEqual([true, true]);
    for (const line of rest) {
      await stopServices();
      service(line, nodeApp);
      await drive(3, 3);
    }
    const shown = await command(curl, nodeApp);
    expect(shown.code).toBe(0);
    expect(shown.stdout.split('\n')).toContain(`${GET_200} 3`);
    await stopServices();
  }, 120_000);

  it('several processes: npm start and a node:cluster app, one /metrics summing them', async () => {
    const lines = linesOf(
      'NODE_OPTIONS="--import=tapwire/register" npm start      # npm holds :9464, the app pushes to it',
    );
    const grep = lines.pop()!;
    expect(lines.map((l) => SERVICE.test(l))).toEqual([true, true]);
    // npm start: npm holds the port, the app's three requests arrive by push.
    service(lines[0]!, nodeApp);
    await drive(3, 3);
    await stopServices();
    // The cluster: two workers share :3000; four requests, summed on the primary's endpoint.
    service(lines[1]!, nodeApp);
    await drive(4, 4);
    const shown = await command(grep, nodeApp);
    expect(shown.code).toBe(0);
    expect(shown.stdout.split('\n')).toContain(`${GET_200} 4`);
    await stopServices();
  }, 120_000);

  it('Bun quick start: bun add tapwire, tapwire precompile, bun --preload, curl /metrics', async () => {
    const [install, precompile, start, curl] = linesOf('bun add tapwire');
    const installed = await command(install!, bunApp);
    expect(installed.code, installed.stderr).toBe(0);
    expect(
      readJson<{ dependencies: Record<string, string> }>(join(bunApp, 'package.json')).dependencies,
    ).toHaveProperty('tapwire');
    // The installed package's own bin, on the user's Bun: the tree lands in the package's dist/.
    const compiled = await command(precompile!, bunApp);
    expect([compiled.code, compiled.stderr]).toEqual([0, '']);
    expect(compiled.stdout).toMatch(/^tapwire precompile: \d+ files compiled for Bun /);
    expect(readdirSync(join(bunApp, 'node_modules/tapwire/dist/bun'))).toHaveLength(1);
    expect(SERVICE.test(start!)).toBe(true);
    service(start!, bunApp);
    await drive(3, 3);
    const shown = await command(curl!, bunApp);
    expect(shown.code).toBe(0);
    expect(shown.stdout.split('\n')).toContain(`${GET_200} 3`);
    await stopServices();
  }, 120_000);

  it('the logger example writes its JSON line on stdout', async () => {
    const block = runnable.find(
      (b) => b.lang === 'js' && b.lines[0] === "import { logger } from 'tapwire';",
    )!;
    writeFileSync(join(nodeApp, 'readme-logger.mjs'), `${block.lines.join('\n')}\n`);
    const r = await command('node --import tapwire/register readme-logger.mjs', nodeApp);
    expect(r.code, r.stderr).toBe(0);
    const records = r.stdout
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records.map((l) => [l.msg, l.orderId, l['service.name']])).toEqual([
      ['order placed', 'A-1042', 'shop'],
    ]);
  });

  it("the app's own metrics example: every `// name{labels} value` it promises is on /metrics", async () => {
    const block = runnable.find((b) => b.lines[0] === "import { metrics } from '@opentelemetry/api';")!;
    const promised = block.lines.flatMap((l) => /\/\/ ([a-z_]+(?:\{[^}]*\})? \d+)$/.exec(l)?.[1] ?? []);
    expect(promised.length).toBe(2);
    // What a user installs today: npm's latest of each.
    const deps = await command('npm install @opentelemetry/api prom-client', nodeApp);
    expect(deps.code, deps.stderr).toBe(0);
    writeFileSync(join(nodeApp, 'readme-metrics.mjs'), `${block.lines.join('\n')}\n`);
    writeFileSync(join(nodeApp, 'stay.mjs'), 'setInterval(() => {}, 1 << 30);\n');
    // The example as a module of an app that keeps running, so /metrics can be read.
    service('node --import tapwire/register --import ./readme-metrics.mjs stay.mjs', nodeApp);
    // /metrics may answer before the example's module has run: wait for its lines, then compare.
    const shows = (text: string | undefined) => promised.every((l) => text?.split('\n').includes(l));
    const text = await until('the promised lines', () => {
      const t = get('http://127.0.0.1:9464/metrics');
      return shows(t) ? t : undefined;
    }).catch(() => get('http://127.0.0.1:9464/metrics') ?? '');
    const lines = text.split('\n');
    for (const line of promised) expect(lines).toContain(line);
    await stopServices();
  }, 120_000);

  it('npx tapwire demo and npx tapwire config', async () => {
    const [demo, config] = linesOf(
      'npx tapwire demo            # a small service under the preload, with traffic: tables of its numbers, and its live page',
    );
    const shown = await command(demo!, nodeApp);
    expect([shown.code, shown.stderr]).toEqual([0, '']);
    expect(shown.stdout).toContain('tapwire demo: node service with tapwire preloaded at http://127.0.0.1:');
    // 12 GETs answered 200 (10 sent and the 2 readiness probes) and 3 answered 500.
    expect(shown.stdout).toMatch(/\n +GET +\(no route\) +\S+ +15 +3 \(20%\) /);
    const effective = await command(config!, nodeApp);
    expect([effective.code, effective.stderr]).toEqual([0, '']);
    expect(effective.stdout).toMatch(/\nOTEL_SERVICE_NAME +shop +package\.json\n/);
    // "exits non-zero on a bad value"
    expect((await command(config!, nodeApp, { OTEL_EXPORTER_PROMETHEUS_PORT: 'ninety' })).code).toBe(1);
  }, 120_000);

  it('npx tapwire dashboards --out grafana/ writes the boards committed in deploy/dashboards/', async () => {
    const [line] = linesOf(
      'npx tapwire dashboards --out grafana/         # add --slo slo.yaml to use the SLO file of `tapwire rules`',
    );
    const r = await command(line!, nodeApp);
    expect([r.code, r.stderr]).toEqual([0, '']);
    const committed = readdirSync(join(ROOT, 'deploy/dashboards')).sort();
    expect(readdirSync(join(nodeApp, 'grafana')).sort()).toEqual(committed);
    expect(committed.filter((f) => f.endsWith('.json')).length).toBe(7);
    for (const file of committed) {
      expect(readFileSync(join(nodeApp, 'grafana', file), 'utf8'), file).toBe(
        readFileSync(join(ROOT, 'deploy/dashboards', file), 'utf8'),
      );
    }
  }, 60_000);
});
