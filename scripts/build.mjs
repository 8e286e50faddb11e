// Bundles the published entry points into dist/ with esbuild.
//
// Why a bundle: resolving and compiling the ~300 small files of @opentelemetry/api,
// @opentelemetry/sdk-metrics and pino one by one costs ~120 ms of start-up on this machine
// (measured: api 23 ms, sdk-metrics 78 ms, pino 22 ms); the same code bundled loads in ~8 ms.
// Start-up overhead is a target (docs/benchmarks.md), so the preload ships as one graph.
// Entry points share chunks (code splitting) so `tapwire` and `tapwire/register` see one
// agent instance.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, readdirSync, readFileSync, renameSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
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
  define: { __TAPWIRE_VERSION__: JSON.stringify(pkg.version) },
  banner: {
    // Some bundled CommonJS dependencies call require() for Node built-ins.
    js: "import { createRequire as __tapwireCreateRequire } from 'node:module'; const require = __tapwireCreateRequire(import.meta.url);",
  },
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
  entryPoints: { index: 'index.ts', register: 'register.ts' },
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
  plugins: [minifyGrafanaSdk],
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

// dist/ is self-contained (the container image copies it alone): mark its .js files as ESM.
writeFileSync(
  `${out}/package.json`,
  `${JSON.stringify({ type: 'module', version: pkg.version }, null, 2)}\n`,
);

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
