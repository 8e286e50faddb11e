// Bundles the published entry points into dist/ with esbuild.
//
// Why a bundle: resolving and compiling the ~300 small files of @opentelemetry/api,
// @opentelemetry/sdk-metrics and pino one by one costs ~120 ms of start-up on this machine
// (measured: api 23 ms, sdk-metrics 78 ms, pino 22 ms); the same code bundled loads in ~8 ms.
// Start-up overhead is a target (docs/benchmarks.md), so the preload ships as one graph.
// Entry points share chunks (code splitting) so `tapwire` and `tapwire/register` see one
// agent instance.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve as resolvePath } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build, transform } from 'esbuild';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));

// Build into a private folder and swap it in at the end, so a test run that is reading dist/
// never sees it half-written or missing while a rebuild runs.
const out = `.build-tmp/${process.pid}`;
rmSync(out, { recursive: true, force: true });
execFileSync(
  process.execPath,
  ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json', '--outDir', out],
  {
    stdio: 'inherit',
  },
);

// Node's built-in modules reached through process.getBuiltinModule rather than an ESM import. An ESM
// import of a built-in makes Node build its ESM facade, which reads every export once: fs's
// `promises` and stream getters, util's lazy `parseArgs`, `TextDecoder`, `diff` and what they load
// (fs/promises, streams, worker_threads, readline...). esbuild's CommonJS interop would do the
// same (it copies every property descriptor, and util loads on that too). So each importer gets a
// small module of its own that reads only the names it imports: measured 7.5 ms of CPU at start for
// the built-ins the preload imports, 2.4 ms this way (Node 24).
//
// A module an importer takes only plain functions from (lower-case names, no property of them read,
// no default import) is not even loaded until one is called: OpenTelemetry's core takes util's
// `inspect` for a warning it rarely prints, and node:util costs Bun ~5 MB of memory and ~2.5 ms
// to load (measured on Bun 1.4.5).
const BUILTINS = new Set(builtinModules);
const sources = new Map();
/**
 * What `importer` takes from `specifier` in import statements: { names, lazy }, or undefined for the
 * whole module (a namespace import, a re-export).
 */
function importedNames(importer, specifier) {
  if (!sources.has(importer)) sources.set(importer, readFileSync(importer, 'utf8'));
  const text = sources.get(importer);
  const quoted = specifier.replace(/[/]/g, '\\/');
  const names = new Set();
  const locals = [];
  let withDefault = false;
  for (const m of text.matchAll(
    new RegExp(`\\b(import|export)\\s+([^'";]*?)\\s*from\\s*['"]${quoted}['"]`, 'g'),
  )) {
    const clause = m[2];
    if (m[1] === 'export' || clause.includes('*')) return undefined;
    if (/^type\s/.test(clause)) continue; // erased by the compiler
    if (/^[\w$]+/.test(clause)) withDefault = true;
    const braces = /\{([^}]*)\}/.exec(clause);
    for (const part of braces ? braces[1].split(',') : []) {
      const [name, local] = part
        .trim()
        .replace(/^type\s+/, '')
        .split(/\s+as\s+/);
      if (!name) continue;
      if (name === 'default') withDefault = true;
      else names.add(name);
      locals.push(local ?? name);
    }
  }
  const mod = process.getBuiltinModule(specifier);
  const lazy =
    !withDefault &&
    names.size > 0 &&
    [...names].every((n) => /^[a-z]/.test(n) && typeof mod?.[n] === 'function') &&
    locals.every((l) => !new RegExp(`\\b${l}\\s*\\.`).test(text));
  return { names, lazy };
}
const builtins = {
  name: 'builtins',
  setup(b) {
    b.onResolve({ filter: /^(node:)?[a-z0-9_/]+$/ }, (args) => {
      const name = args.path.replace(/^node:/, '');
      if (!BUILTINS.has(name) && !args.path.startsWith('node:')) return undefined;
      // Paid only when it runs (OTLP, tracing): left to the runtime, as a chunk of its own would be a file more.
      if (args.kind === 'dynamic-import') return { path: args.path, external: true };
      const taken = args.kind === 'import-statement' ? importedNames(args.importer, args.path) : undefined;
      // '+' joins the names ('~' first when lazy): a '#' or '?' in a module's path could read as part of its URL.
      const parts =
        taken === undefined ? [] : [...(taken.lazy ? ['~'] : ['default']), ...[...taken.names].sort()];
      return { path: ['node:' + name, ...parts].join('+'), namespace: 'builtin' };
    });
    b.onLoad({ filter: /.*/, namespace: 'builtin' }, (args) => {
      const [name, ...names] = args.path.split('+');
      const get = `process.getBuiltinModule(${JSON.stringify(name)})`;
      if (names.length === 0) return { contents: `module.exports = ${get};`, loader: 'js' };
      if (names[0] === '~') {
        const wrappers = names
          .slice(1)
          .map((n) => `export function ${n}() {\n  return (m ??= ${get}).${n}.apply(this, arguments);\n}\n`);
        return { contents: `let m;\n${wrappers.join('')}`, loader: 'js' };
      }
      const named = names.filter((n) => n !== 'default');
      return {
        contents: `const m = ${get};\nexport default m;\n${named.map((n) => `export const ${n} = m.${n};\n`).join('')}`,
        loader: 'js',
      };
    });
  },
};

// The preload's start graph as few files as possible. esbuild puts a module shared between entry
// points (the static ones below, and every dynamic import()) into the chunk of the set of entries
// that reach it, so the modules the agent starts with were spread over as many files as there are
// such sets: 13. Each file is a module the preload loads at start, at a cost of its own whatever its
// size (~0.3 ms each on Node 24 without the compile cache, measured). So every part loaded after start (an entry, or the target of a dynamic import
// in the agent) imports the start module too: all of the start graph is then reached from the same
// entries and lands in one chunk (with the part the public `tapwire` import shares, 5 files). The
// import costs nothing where it runs: the start module is loaded by then. Measured in a 15-run A/B:
// Node `-e 0` -3.8 ms, spawn to first 200 -2.8 ms, each short child -3.7 ms; Bun within noise
// (+0.4 ms for the import alone: Bun's cost is the code's size, not its files).
// tests/startup.test.ts counts the files; a new dynamic import in the agent belongs in this list.
const LATE = [
  'core/sdk.ts',
  'core/ai/entry.ts',
  'exporters/holder.ts',
  'core/db/sql.ts',
  'exporters/follower.ts',
  'exporters/live/index.ts',
  'exporters/otlp.ts',
  'exporters/otlp-logs.ts',
  'agent/trace/index.ts',
  'agent/bun-hooks.ts',
];
const lateImportsStart = {
  name: 'late-imports-start',
  setup(b) {
    const late = new Set(LATE.map((f) => resolvePath(f)));
    const start = JSON.stringify(resolvePath('agent/start.ts'));
    b.onLoad({ filter: /\.ts$/ }, (args) => {
      if (!late.has(args.path)) return undefined;
      return { contents: `${readFileSync(args.path, 'utf8')}\nimport ${start};\n`, loader: 'ts' };
    });
  },
};

const bundle = {
  outdir: out,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node22',
  mainFields: ['module', 'main'],
  // pino-pretty is only used in development on a TTY and is loaded on demand.
  external: ['pino-pretty', 'bun', 'bun:*'],
  define: {
    __TAPWIRE_VERSION__: JSON.stringify(pkg.version),
    // The bundled @opentelemetry/api's version, for its global slot (core/otel-global.ts).
    __OTEL_API_VERSION__: JSON.stringify(
      JSON.parse(readFileSync('node_modules/@opentelemetry/api/package.json', 'utf8')).version,
    ),
  },
  banner: {
    // Some bundled CommonJS dependencies call require() for Node built-ins.
    js: "const require = process.getBuiltinModule('node:module').createRequire(import.meta.url);",
  },
  plugins: [builtins, lateImportsStart],
  legalComments: 'none',
  logLevel: 'warning',
};

// The live page (exporters/live/): one HTML document with its script and style inlined, so it
// needs nothing from any network and the endpoint serves it in one answer. It becomes a string in
// the chunk exporters/live/index.ts is bundled into, which the endpoint imports only when the page
// is first asked for: the preload's start-up never loads it. The Content-Security-Policy allows
// exactly this script and this style (by hash) and requests to the page's own origin.
async function livePage() {
  const script = (
    await build({
      entryPoints: ['exporters/live/page/main.ts'],
      bundle: true,
      write: false,
      minify: true,
      format: 'iife',
      platform: 'browser',
      target: 'es2022',
      legalComments: 'none',
      logLevel: 'warning',
    })
  ).outputFiles[0].text.trim();
  const style = (
    await transform(readFileSync('exporters/live/page/style.css', 'utf8'), { loader: 'css', minify: true })
  ).code.trim();
  if (script.includes('</script') || style.includes('</style'))
    throw new Error('live page: closing tag inside');
  const html = readFileSync('exporters/live/page/index.html', 'utf8')
    .replace('/*STYLE*/', () => style)
    .replace('/*SCRIPT*/', () => script);
  const hash = (text) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;
  const csp = [
    "default-src 'none'",
    `script-src ${hash(script)}`,
    `style-src ${hash(style)}`,
    "connect-src 'self'",
    'img-src data:',
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
  return { html, csp };
}

const page = await livePage();

// The agent's two entry points share their chunks, so `tapwire` and `tapwire/register` see one
// logger counter and one configuration module.
await build({
  ...bundle,
  // Two strings, inlined where they are read: an object here would become a module of its own that
  // esbuild initialises from every chunk, the preload's included.
  define: {
    ...bundle.define,
    __TAPWIRE_LIVE_HTML__: JSON.stringify(page.html),
    __TAPWIRE_LIVE_CSP__: JSON.stringify(page.csp),
  },
  // Entries of their own with fixed names, which core/entries.ts loads with require() when first
  // needed: out of the preload's start-up graph, and reachable synchronously. The OpenTelemetry
  // SDK's MeterProvider (when the app first asks for a meter), the AI measurement (at the first
  // provider call), the metrics port holder's merge and serializer (at its first scrape or push) and
  // the reading of SQL statements (at the first statement a database hook sees), and a follower's
  // pusher with the spool (when a process follows the holder, reads the spool or hands counts on).
  entryPoints: {
    index: 'index.ts',
    register: 'register.ts',
    'chunks/sdk': 'core/sdk.ts',
    'chunks/ai': 'core/ai/entry.ts',
    'chunks/holder': 'exporters/holder.ts',
    'chunks/sql': 'core/db/sql.ts',
    'chunks/follower': 'exporters/follower.ts',
    // The Bun hooks, required by agent/instrumentations.ts on Bun (synchronously: a deferred start).
    'chunks/bun-hooks': 'agent/bun-hooks.ts',
  },
  chunkNames: 'chunks/[name]-[hash]',
});

// Grafana's dashboard builder (used by `tapwire dashboards` only, loaded on demand) is CommonJS, so
// esbuild cannot drop the parts tapwire never calls (the v2 dashboard schema alone is a third of it):
// its files are minified as they load: the command's chunk is about 0.6 MB instead of 0.9 MB (measured).
const minifyGrafanaSdk = {
  name: 'minify-grafana-sdk',
  setup(b) {
    b.onLoad({ filter: /[\\/]@grafana[\\/]grafana-foundation-sdk[\\/]dist[\\/].*\.js$/ }, async (args) => {
      const { code } = await transform(readFileSync(args.path, 'utf8'), {
        minify: true,
        format: 'cjs',
        target: 'node22',
        legalComments: 'none',
      });
      return { contents: code, loader: 'js' };
    });
  },
};

// The CLI is bundled on its own: sharing chunks with it split the preload's graph into many small
// files, and every file is a module the preload loads at start-up (measured: 24 files instead of 14,
// +5 ms on Node). The CLI never runs the agent in its own process, so it needs none of its state.
await build({
  ...bundle,
  entryPoints: {
    'cli/main': 'cli/main.ts',
    // The AI provider stand-in as a process of its own, for bench/ai.mjs.
    'cli/standin': 'cli/demo/standin/main.ts',
  },
  chunkNames: 'chunks/cli-[name]-[hash]',
  plugins: [builtins, minifyGrafanaSdk],
});

// Bun's file of the preload (register-bun.ts: package.json gives it to Bun for `tapwire/register`,
// and register.js imports it on Bun): a bundle of its own, sharing no chunk with the agent (the
// table of packages and the read of the app's package.json it shares with the agent's code are
// copied into it), so that a Bun process that never starts the agent loads this one file.
await build({
  ...bundle,
  splitting: false,
  entryPoints: { 'register-bun': 'register-bun.ts' },
  plugins: [builtins],
});

// The service `tapwire demo` runs under the preload. It is TypeScript so tsc checks it with the
// rest, and ships compiled because Node strips no types under node_modules. Built on its own and
// not bundled: it is a plain app, not part of the agent, and must share no chunk with it (an
// import of tapwire code would fail to resolve here rather than be pulled in).
await build({
  entryPoints: { 'cli/demo-app': 'cli/demo/app.ts' },
  outdir: out,
  bundle: false,
  format: 'esm',
  platform: 'node',
  target: 'node22',
  logLevel: 'warning',
});

// tsc declared every module; the package publishes only the declarations its two entry points
// reach (an app's TypeScript reads no others), so internal modules are not part of the package's
// surface and their types are not shipped. tests/package.test.ts checks the list.
pruneDeclarations(out, ['index.d.ts', 'register.d.ts']);

// Each .js file as it loads fastest (finish()).
for (const e of readdirSync(out, { withFileTypes: true, recursive: true })) {
  if (!e.isFile() || !e.name.endsWith('.js')) continue;
  const file = join(e.parentPath, e.name);
  const text = readFileSync(file, 'utf8');
  const isCli = e.name.startsWith('cli-') || file.startsWith(join(out, 'cli'));
  const done = finish(text, isCli);
  if (done !== text) writeFileSync(file, done);
}

// dist/ is self-contained (the container image copies it alone): mark its .js files as ESM.
writeFileSync(
  `${out}/package.json`,
  `${JSON.stringify({ type: 'module', version: pkg.version }, null, 2)}\n`,
);

skipFacade(out);
eagerStart(out);

const cli = `${out}/cli/main.js`;
writeFileSync(cli, `#!/usr/bin/env node\n${readFileSync(cli, 'utf8')}`);
chmodSync(cli, 0o755);

const old = `.build-tmp/old-${process.pid}`;
try {
  renameSync('dist', old);
} catch {
  // no previous build
}
renameSync(out, 'dist');
rmSync(old, { recursive: true, force: true });

/**
 * One output file, finished:
 * - The banner's require is for bundled CommonJS code (esbuild's __require helper, in one chunk); in
 *   every other file it is one createRequire() more at load (~0.05 ms each, a dozen files at start).
 * - ASCII only. esbuild escapes what is not ASCII in strings and regular expressions but keeps
 *   comments as written, and one dash in a comment makes Node decode the whole file into a two-byte
 *   string (twice the memory, the slow decoder): measured 1.3 ms of start-up on Node 24.
 * - The agent's files tell Bun they are plain JavaScript it can run as they are (the `// @bun`
 *   pragma of `bun build`'s own output): Bun otherwise transpiles every file it loads, measured
 *   1.6 ms of CPU at start on Bun 1.4.5. A comment to Node. Not the CLI's (its first line is a shebang).
 */
function finish(text, cli) {
  const line = `${bundle.banner.js}\n`;
  // A use of the banner's `require`: the name, not a property (`.require`), a string (`"require"`,
  // `"--require="`) or part of another name (`require2`). A comment that names it keeps the
  // banner: harmless.
  const used = /(?<![-\w$.'"`])require(?![\w$'"`])/;
  let done = text;
  if (done.startsWith(line) && !used.test(done.slice(line.length))) done = done.slice(line.length);
  done = done.replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return cli ? done : `// @bun\n${done}`;
}

/**
 * register.ts's `import('./agent/start.js')` makes esbuild write a facade, chunks/start-*.js: the
 * start module lives in the chunk the start graph shares with `import 'tapwire'`, so the facade
 * re-exports it from there and imports, for their side effects, the graph's other chunk (which
 * that chunk imports itself) and esbuild's helpers chunk (declarations only; nothing at start calls
 * them). Two modules more in every process under the preload: without them `node -e 0` took
 * 1.0-1.5 ms less wall time and 1.8-4.7 ms less CPU (three A/Bs of 41-81 interleaved runs, Node
 * 24.21), `bun -e 0` 0.4-1.2 / 1.5-3.0 ms. So register.js imports the chunk itself and the facade
 * is not shipped; the build fails when the facade is ever more than that (another export, a side
 * effect the chunk does not bring in itself).
 */
function skipFacade(dir) {
  const registerFile = join(dir, 'register.js');
  const register = readFileSync(registerFile, 'utf8');
  const found = /import\("\.\/chunks\/(start-[\w-]+\.js)"\)/.exec(register);
  if (found === null) throw new Error('build: register.js imports no start module');
  const facadeFile = join(dir, 'chunks', found[1]);
  const facade = readFileSync(facadeFile, 'utf8').replace(/^\/\/ @bun\n/, '');
  const shape =
    /^import \{([^}]*)\} from "\.\/(chunk-[\w-]+\.js)";\n((?:import "\.\/chunk-[\w-]+\.js";\n)*)export \{([^}]*)\};\n$/.exec(
      facade,
    );
  const names = (list) =>
    list
      .split(',')
      .map((n) => n.trim())
      .filter(Boolean)
      .sort()
      .join(',');
  if (shape === null || names(shape[1]) !== names(shape[4])) {
    throw new Error(`build: ${found[1]} is not a plain re-export of one chunk:\n${facade}`);
  }
  const target = shape[2];
  const targetText = readFileSync(join(dir, 'chunks', target), 'utf8');
  for (const [, side] of shape[3].matchAll(/import "\.\/(chunk-[\w-]+\.js)";/g)) {
    if (targetText.includes(`from "./${side}";`) || targetText.includes(`import "./${side}";`)) continue;
    if (!helpersOnly(join(dir, 'chunks', side))) {
      throw new Error(`build: ${found[1]} imports ${side} for its side effects`);
    }
  }
  // The deferred start (agent/defer.ts) requires the same chunk by the source's
  // name for it.
  const required = '"./agent/start.js"';
  if (!register.includes(required)) throw new Error('build: register.js requires no start module');
  let done = register
    .replace(found[0], `import("./chunks/${target}")`)
    .replaceAll(required, `"./chunks/${target}"`);
  // register.js itself imports esbuild's helpers chunk for its side effects (it imports agent/defer.ts
  // statically) and calls none of them: one module less in every process.
  for (const [line, side] of register.matchAll(/^import "\.\/chunks\/(chunk-[\w-]+\.js)";\n/gm)) {
    if (!helpersOnly(join(dir, 'chunks', side))) {
      throw new Error(`build: register.js imports ${side} for its side effects`);
    }
    done = done.replace(line, '');
  }
  writeFileSync(registerFile, done);
  rmSync(facadeFile);
  // Bun's file of the preload names the start module the same way, for its deferred start and its
  // start with the preload.
  const bunFile = join(dir, 'register-bun.js');
  const bun = readFileSync(bunFile, 'utf8');
  if (!bun.includes(required)) throw new Error('build: register-bun.js names no start module');
  writeFileSync(bunFile, bun.replaceAll(required, `"./chunks/${target}"`));
}

/**
 * esbuild's helpers: every top-level line a comment, the banner, a `var __name` declaration, the
 * end of one, or the export list.
 */
function helpersOnly(file) {
  return readFileSync(file, 'utf8')
    .split('\n')
    .every((l) => l === '' || /^(?:\s|\/\/|var __\w+ = |[})\]]|export \{)/.test(l) || l === bundle.banner.js);
}

/** Deletes every .d.ts under `dir` that the `entries` do not reach through relative imports. */
function pruneDeclarations(dir, entries) {
  const reached = new Set();
  const visit = (file) => {
    if (reached.has(file)) return;
    reached.add(file);
    const text = readFileSync(join(dir, file), 'utf8');
    for (const m of text.matchAll(/(?:from|import\()\s*'(\.[^']+)\.js'/g)) {
      visit(join(dirname(file), `${m[1]}.d.ts`));
    }
  };
  for (const entry of entries) visit(entry);
  const sweep = (sub) => {
    for (const e of readdirSync(join(dir, sub), { withFileTypes: true })) {
      const path = join(sub, e.name);
      if (e.isDirectory()) {
        sweep(path);
        if (readdirSync(join(dir, path)).length === 0) rmdirSync(join(dir, path));
      } else if (e.name.endsWith('.d.ts') && !reached.has(path)) rmSync(join(dir, path));
    }
  };
  sweep('.');
}

/**
 * The functions the preload runs when a service starts, compiled with their file: V8 compiles a
 * function when it is first called, and Node's compile cache (register.ts) holds only what was
 * compiled with the file, so every process compiled the same ~75 functions again at start (start,
 * loadConfig, openEndpoint, each hook's install...: ~7 ms of V8's own time, --log-function-events).
 * A function written in parentheses is compiled with its file (V8's PIFE heuristic), so its
 * bytecode is in the cache. Which ones: those a probe run of this build compiles lazily (`node
 * --import register.js` with --log-function-events, of a script that lets the event loop turn,
 * which starts the agent, agent/defer.ts, until the agent's first-turn work has run:
 * scripts/start-probe.cjs). Only top-level function declarations; each becomes `var NAME = (function NAME(...) {...});`
 * at the top of its file, so it is assigned before any other code of the file runs, as a
 * declaration is. Measured on Node 24.21 (instructions of `-e 0` under callgrind, which a busy
 * machine does not move): the preload's share 49 -> 38 million. Not more than start runs: with the
 * functions a first request runs as well it was 41 million, with every function no faster at all
 * (the cache to read grows by what the process never calls). Bun parses the parentheses and
 * nothing changes there (measured). tests/startup.test.ts checks that start leaves none to compile.
 */
function eagerStart(dir) {
  const probe = mkdtempSync(join(tmpdir(), 'tapwire-build-probe-'));
  try {
    writeFileSync(join(probe, 'package.json'), '{ "name": "probe", "private": true }\n');
    const log = join(probe, 'v8.log');
    const run = spawnSync(
      process.execPath,
      [
        '--log-function-events',
        '--no-logfile-per-isolate',
        `--logfile=${log}`,
        '--import',
        pathToFileURL(resolvePath(dir, 'register.js')).href,
        // Keeps the event loop turning until the agent's start and what it leaves for the first
        // turn have run (scripts/start-probe.cjs), from the probe's own folder: an app of no
        // dependencies.
        copyProbe(probe),
      ],
      {
        cwd: probe,
        encoding: 'utf8',
        timeout: 60_000,
        env: {
          PATH: process.env.PATH,
          TAPWIRE_ENV: 'production',
          OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1',
          OTEL_EXPORTER_PROMETHEUS_PORT: '0',
          NODE_DISABLE_COMPILE_CACHE: '1',
        },
      },
    );
    if (run.status !== 0) {
      // The build is still right, only its start slower: said, and tests/startup.test.ts fails on it.
      process.stderr.write(
        `build: the start probe failed (${run.status ?? run.error}), no function made eager:\n${run.stderr}\n`,
      );
      return;
    }
    const eager = startFunctions(readFileSync(log, 'utf8'), resolvePath(dir));
    for (const [file, ranges] of eager) {
      writeFileSync(file, withEager(readFileSync(file, 'utf8'), ranges));
    }
  } finally {
    rmSync(probe, { recursive: true, force: true });
  }
}

/** scripts/start-probe.cjs copied into `dir`: its path there. */
function copyProbe(dir) {
  const app = join(dir, 'start-probe.cjs');
  writeFileSync(app, readFileSync(new URL('./start-probe.cjs', import.meta.url)));
  return app;
}

/**
 * From a --log-function-events log: file -> the functions compiled lazily in it, as V8 gives their
 * range (from their parameter list to just after their closing brace).
 */
function startFunctions(log, dir) {
  const files = new Map();
  const lazy = new Map();
  for (const line of log.split('\n')) {
    const f = line.split(',');
    if (f[0] === 'script-details' && f[2]?.startsWith('file:')) {
      const file = fileURLToPath(f[2]);
      if (file.startsWith(dir + '/')) files.set(f[1], file);
    } else if (f[0] === 'function' && f[1] === 'interpreter') {
      const ranges = lazy.get(f[2]) ?? new Map();
      ranges.set(Number(f[3]), Number(f[4]));
      lazy.set(f[2], ranges);
    }
  }
  const out = new Map();
  for (const [id, file] of files) if (lazy.has(id)) out.set(file, lazy.get(id));
  return out;
}

/**
 * `text` with the top-level function declarations among `ranges` moved to the top (after the first
 * line, Bun's pragma) as parenthesized function expressions. esbuild writes a top-level declaration
 * from the start of a line and ends it with a line that is `}`; anything else is left as it is.
 */
function withEager(text, ranges) {
  const moved = [];
  for (const [at, end] of ranges) {
    const lineStart = text.lastIndexOf('\n', at - 1) + 1;
    const m = /^(?:async )?function\*? ?([\w$]+)$/.exec(text.slice(lineStart, at));
    if (m === null) continue; // a method, an arrow, a nested function
    if (text.slice(end - 2, end + 1) !== '\n}\n') continue;
    moved.push({ name: m[1], from: lineStart, to: end + 1 });
  }
  if (moved.length === 0) return text;
  moved.sort((a, b) => a.from - b.from);
  const firstLine = text.indexOf('\n') + 1;
  let rest = '';
  let last = firstLine;
  for (const f of moved) {
    rest += text.slice(last, f.from);
    last = f.to;
  }
  rest += text.slice(last);
  const eager = moved.map((f) => `var ${f.name} = (${text.slice(f.from, f.to - 1)});\n`).join('');
  return text.slice(0, firstLine) + eager + rest;
}
