// Next.js 15 on a production build: http_route is the route Next's router matched, read from the
// request meta Next keeps on each request (agent/http/frameworks/next.ts). The app in
// tests/fixtures/nextjs has app router pages (dynamic, catch-all, optional catch-all, a route group,
// one that throws), route handlers, pages router pages and API routes, middleware (a redirect, a
// rewrite, an answer of its own), next.config redirects and rewrites, and public/ files. It is
// built once (`next build`, standalone output too) into a temporary directory, then started the
// ways users start it — `next start`, the standalone server.js and a custom server, under
// NODE_OPTIONS or --import on Node and with --preload on Bun, and `npm start` (npm holds /metrics,
// `next start` pushes to it) — and the same traffic must give the same exact counts per route on
// the one /metrics endpoint.
import { spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PUBLIC_ROUTE, routeFromMeta, STATIC_ROUTE } from '../agent/http/frameworks/next.js';
import {
  type App,
  DIST_REGISTER,
  FIXTURES,
  find,
  jsonLines,
  NODE,
  parseMetrics,
  promtoolCheckMetrics,
  ROOT,
  type Runtime,
  type Sample,
  startApp,
  stopAll,
  sum,
  value,
} from './support/index.js';

const COUNT = 'http_server_request_duration_seconds_count';
const BIN = join(ROOT, 'node_modules/.bin');

let dir: string;
let buildId: string;
let staticFiles: string[];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tapwire-next-'));
  cpSync(join(FIXTURES, 'nextjs'), dir, { recursive: true });
  symlinkSync(realpathSync(join(ROOT, 'node_modules')), join(dir, 'node_modules'), 'dir');
  const build = spawnSync(NODE, [join(dir, 'node_modules/next/dist/bin/next'), 'build'], {
    cwd: dir,
    env: {
      PATH: `${BIN}${delimiter}${process.env.PATH}`,
      TMPDIR: process.env.TMPDIR,
      HOME: process.env.HOME,
      NEXT_TELEMETRY_DISABLED: '1',
      STANDALONE: '1',
    },
    encoding: 'utf8',
  });
  if (build.status !== 0) throw new Error(`next build failed:\n${build.stdout}\n${build.stderr}`);
  // The standalone server serves public/ and .next/static/ only when they are copied beside it,
  // as Next's documentation tells users to do.
  cpSync(join(dir, 'public'), join(dir, '.next/standalone/public'), { recursive: true });
  cpSync(join(dir, '.next/static'), join(dir, '.next/standalone/.next/static'), { recursive: true });
  buildId = readFileSync(join(dir, '.next/BUILD_ID'), 'utf8').trim();
  staticFiles = (readdirSync(join(dir, '.next/static'), { recursive: true }) as string[])
    .filter((f) => f.endsWith('.js'))
    .slice(0, 3)
    .map((f) => `/_next/static/${f.split('\\').join('/')}`);
  expect(staticFiles.length).toBe(3);
}, 600_000);

afterAll(() => {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

afterEach(stopAll);

interface Mode {
  label: string;
  runtime: Runtime;
  /** How many processes run tapwire (each one a tapwire_agent_info series on the one endpoint). */
  processes: number;
  start(): Promise<App>;
}

const NEXT_ENV = { NEXT_TELEMETRY_DISABLED: '1' };
const UNDER_NODE_OPTIONS = { ...NEXT_ENV, NODE_OPTIONS: `--import=${DIST_REGISTER}` };

/** The processes below `pid`, from /proc (Linux), each before its own children. */
function descendants(pid: number): number[] {
  let children: string;
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8');
  } catch {
    return [];
  }
  return children
    .split(' ')
    .filter((c) => c !== '')
    .flatMap((c) => [Number(c), ...descendants(Number(c))]);
}

/**
 * startApp's stop() kills the process it started; npm runs the script through a shell, and a
 * killed npm leaves the shell and `next start` running. Stopping kills those first.
 */
function withChildren(app: App): App {
  const stop = app.stop;
  app.stop = async () => {
    for (const pid of descendants(app.child.pid!)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await stop();
  };
  return app;
}

/** `npm`'s own script, run by the project's Node (so npm loads the preload too, as in production). */
function npmCli(): string {
  for (const d of (process.env.PATH ?? '').split(delimiter)) {
    const npm = join(d, 'npm');
    if (existsSync(npm)) return join(realpathSync(npm), '../npm-cli.js');
  }
  throw new Error('npm is not on PATH');
}

const MODES: Mode[] = [
  {
    label: 'next start, NODE_OPTIONS (Node)',
    runtime: 'node',
    // Next 15's CLI serves in its own process: nothing is forked.
    processes: 1,
    start: () =>
      startApp({
        runtime: 'node',
        preload: false,
        file: join(dir, 'node_modules/.bin/next'),
        args: ['start'],
        cwd: dir,
        env: UNDER_NODE_OPTIONS,
      }),
  },
  {
    label: 'standalone, NODE_OPTIONS (Node)',
    runtime: 'node',
    processes: 1,
    start: () =>
      startApp({
        runtime: 'node',
        preload: false,
        file: join(dir, '.next/standalone/server.js'),
        cwd: join(dir, '.next/standalone'),
        env: UNDER_NODE_OPTIONS,
      }),
  },
  {
    // npm holds /metrics, `next start` pushes to it.
    label: 'npm start, NODE_OPTIONS (Node)',
    runtime: 'node',
    processes: 2,
    start: async () =>
      withChildren(
        await startApp({
          runtime: 'node',
          preload: false,
          file: npmCli(),
          args: ['start'],
          cwd: dir,
          env: {
            ...UNDER_NODE_OPTIONS,
            // npm's script shell finds `next` and, through its shebang, the project's Node.
            PATH: `${BIN}${delimiter}${process.env.PATH}`,
            TMPDIR: process.env.TMPDIR,
            npm_config_update_notifier: 'false',
          },
        }),
      ),
  },
  {
    label: 'custom server, ESM (Node)',
    runtime: 'node',
    processes: 1,
    start: () =>
      startApp({
        runtime: 'node',
        file: join(dir, 'custom-server.mjs'),
        cwd: dir,
        env: { ...NEXT_ENV, NODE_ENV: 'production' },
      }),
  },
  {
    label: 'next start, --preload (Bun)',
    runtime: 'bun',
    processes: 1,
    start: () =>
      startApp({
        runtime: 'bun',
        file: join(dir, 'node_modules/.bin/next'),
        args: ['start'],
        cwd: dir,
        env: NEXT_ENV,
      }),
  },
  {
    label: 'standalone, --preload (Bun)',
    runtime: 'bun',
    processes: 1,
    start: () =>
      startApp({
        runtime: 'bun',
        file: join(dir, '.next/standalone/server.js'),
        cwd: join(dir, '.next/standalone'),
        env: NEXT_ENV,
      }),
  },
  {
    label: 'custom server, ESM (Bun)',
    runtime: 'bun',
    processes: 1,
    start: () =>
      startApp({
        runtime: 'bun',
        file: join(dir, 'custom-server.mjs'),
        cwd: dir,
        env: { ...NEXT_ENV, NODE_ENV: 'production' },
      }),
  },
];

interface Request {
  path: string;
  status: number;
  times?: number;
  init?: RequestInit;
}

/** Everything the test sends after startApp's readiness GET / (which is counted too). */
function traffic(): Request[] {
  return [
    { path: '/blog/a', status: 200, times: 3 },
    { path: '/blog/b', status: 200, times: 2 },
    // A client-side navigation of the app router (an RSC payload of the same page).
    { path: '/blog/a', status: 200, init: { headers: { RSC: '1' } } },
    { path: '/api/items/7', status: 200, times: 2 },
    { path: '/api/items/4', status: 201, init: { method: 'POST' } },
    { path: '/docs/intro', status: 200 }, // prerendered at build
    { path: '/docs/x/y', status: 200 },
    { path: '/shop', status: 200 },
    { path: '/shop/a/b', status: 200 },
    { path: '/about', status: 200 }, // app/(marketing)/about
    { path: '/boom', status: 500 },
    { path: '/api/boom', status: 500 },
    { path: '/posts/1', status: 200, times: 2 },
    // A client-side navigation of the pages router (the page's getServerSideProps as JSON).
    { path: `/_next/data/${buildId}/posts/9.json`, status: 200 },
    { path: '/posts/fail', status: 500 },
    { path: '/api/hello', status: 200, times: 2 },
    { path: '/api/users/3', status: 200 },
    { path: '/api/users/fail', status: 500 },
    { path: '/nope', status: 404, times: 2 },
    // Next's own pages asked for by name: its not-found page answers.
    { path: '/404', status: 404 },
    { path: '/_error', status: 404 },
    { path: '/_not-found', status: 404 },
    { path: '/_next/static/missing.js', status: 404 },
    { path: '/robots.txt', status: 200, times: 2 },
    { path: '/images/logo.svg', status: 200 },
    ...staticFiles.map((path) => ({ path, status: 200 })),
    // Middleware: a redirect, an answer of its own, a rewrite to /blog/[slug].
    { path: '/old-blog/z', status: 307, init: { redirect: 'manual' } },
    { path: '/mw-answer', status: 200 },
    { path: '/mw-rewrite/q', status: 200 },
    // next.config: a redirect, and a rewrite to /api/items/[id].
    { path: '/legacy/k', status: 307, init: { redirect: 'manual' } },
    { path: '/r/items/5', status: 200 },
    // Next's image optimizer refuses SVG unless told otherwise: a 400 of its own route.
    { path: '/_next/image?url=%2Fimages%2Flogo.svg&w=64&q=75', status: 400 },
  ];
}

interface Expect {
  method?: string;
  status: string;
  route?: string;
  count: number;
}

function expected(): Expect[] {
  return [
    { status: '200', route: '/', count: 1 },
    // 3 + 2 + the RSC request + the middleware rewrite.
    { status: '200', route: '/blog/[slug]', count: 7 },
    // 2 + the next.config rewrite.
    { status: '200', route: '/api/items/[id]', count: 3 },
    { method: 'POST', status: '201', route: '/api/items/[id]', count: 1 },
    { status: '200', route: '/docs/[...slug]', count: 2 },
    { status: '200', route: '/shop/[[...path]]', count: 2 },
    { status: '200', route: '/about', count: 1 },
    { status: '500', route: '/boom', count: 1 },
    { status: '500', route: '/api/boom', count: 1 },
    // 2 + the /_next/data request.
    { status: '200', route: '/posts/[id]', count: 3 },
    // getServerSideProps threw: Next renders its error page, the route stays the page's.
    { status: '500', route: '/posts/[id]', count: 1 },
    { status: '200', route: '/api/hello', count: 2 },
    { status: '200', route: '/api/users/[id]', count: 1 },
    { status: '500', route: '/api/users/[id]', count: 1 },
    // No route matched: Next's not-found page (5), and its plain 404 for a missing static file.
    { status: '404', count: 6 },
    { status: '200', route: PUBLIC_ROUTE, count: 3 },
    { status: '200', route: STATIC_ROUTE, count: 3 },
    // Redirects by middleware and by next.config: no route of the app ran.
    { status: '307', count: 2 },
    // Answered by middleware itself.
    { status: '200', count: 1 },
    { status: '400', route: '/_next/image', count: 1 },
  ];
}

function labelsOf(e: Expect): Record<string, string> {
  const labels: Record<string, string> = {
    http_request_method: e.method ?? 'GET',
    http_response_status_code: e.status,
    url_scheme: 'http',
  };
  if (e.route !== undefined) labels.http_route = e.route;
  if (e.status.startsWith('5')) labels.error_type = e.status;
  return labels;
}

interface Answer {
  path: string;
  status: number;
  location: string | null;
  /** Bodies that do not change from one run to the next (not HTML, which carries error digests). */
  body?: string;
}

async function send(app: App): Promise<Answer[]> {
  const answers: Answer[] = [];
  for (const r of traffic()) {
    for (let i = 0; i < (r.times ?? 1); i++) {
      const res = await fetch(app.url(r.path), r.init);
      const text = await res.text();
      const type = res.headers.get('content-type') ?? '';
      answers.push({
        path: r.path,
        status: res.status,
        location: res.headers.get('location'),
        ...(type.startsWith('text/html') || type.startsWith('text/x-component') ? {} : { body: text }),
      });
    }
  }
  return answers;
}

function sent(): number {
  return 1 + traffic().reduce((n, r) => n + (r.times ?? 1), 0);
}

/**
 * /metrics once every request is counted there. A process that follows another one's endpoint
 * pushes every second, so its numbers can take that long to show; the total is known exactly.
 */
async function settled(app: App): Promise<{ text: string; samples: Sample[] }> {
  const total = sent();
  for (let i = 0; ; i++) {
    const text = await app.metrics();
    const samples = parseMetrics(text);
    if (sum(samples, COUNT) >= total || i === 100) return { text, samples };
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Every http_route value must be one of the templates the test expects: never a raw path. */
function routesSeen(samples: Sample[]): string[] {
  return [...new Set(find(samples, COUNT).flatMap((s) => s.labels.http_route ?? []))].sort();
}

describe.each(MODES)('$label', (mode) => {
  it('labels each request with the route Next matched: exact counts, no route on 404s, never a raw path', async () => {
    const app = await mode.start();
    const answers = await send(app);
    expect(answers.map((a) => a.status)).toEqual(
      traffic().flatMap((r) => Array<number>(r.times ?? 1).fill(r.status)),
    );
    const { text, samples } = await settled(app);
    const got = find(samples, COUNT).map((s) => ({ labels: s.labels, value: s.value }));
    for (const e of expected()) {
      expect(
        value(samples, COUNT, labelsOf(e)),
        `${JSON.stringify(labelsOf(e))} in ${JSON.stringify(got)}`,
      ).toBe(e.count);
    }
    // Nothing else was counted, and nothing twice.
    expect(find(samples, COUNT).length, JSON.stringify(got)).toBe(expected().length);
    expect(sum(samples, COUNT)).toBe(sent());
    expect(routesSeen(samples)).toEqual([...new Set(expected().flatMap((e) => e.route ?? []))].sort());
    expect(sum(samples, 'http_server_active_requests')).toBe(0);
    // The processes of the mode, all on the runtime it names.
    expect(find(samples, 'tapwire_agent_info').map((s) => s.labels.runtime)).toEqual(
      Array<string>(mode.processes).fill(mode.runtime),
    );
    expect(promtoolCheckMetrics(text)).toEqual({ status: 0, output: '' });
    // tapwire said nothing (the test profile logs warnings and above).
    expect(jsonLines(app.stderr()).filter((l) => l.component === 'tapwire')).toEqual([]);
  }, 120_000);
});

it('answers every request exactly as without the preload (`next start`, Node)', async () => {
  const baseline = await startApp({
    runtime: 'node',
    preload: false,
    file: join(dir, 'node_modules/.bin/next'),
    args: ['start'],
    cwd: dir,
    env: NEXT_ENV,
  });
  const without = await send(baseline);
  await stopAll();
  const app = await MODES[0]!.start();
  const withTapwire = await send(app);
  expect(withTapwire).toEqual(without);
  expect(without.filter((a) => a.body !== undefined).length).toBeGreaterThan(10);
}, 120_000);

describe('routeFromMeta: what the fixture app cannot show', () => {
  it('a route whose fallback gave up (NoFallbackError) ends in the router 404: no route', () => {
    // The router keeps the first attempt's invokeOutput when it renders its 404 page.
    const meta = { invokePath: '/_not-found', invokeOutput: '/posts/[id]', invokeStatus: 404 };
    expect(routeFromMeta(meta, '/posts/x', 404)).toBeUndefined();
  });

  it('without the router server (minimal mode): the route the render matched, never an error page', () => {
    const page = (pathname: string) => ({ invokePath: '/x', match: { definition: { pathname } } });
    expect(routeFromMeta(page('/blog/[slug]'), '/blog/a', 200)).toBe('/blog/[slug]');
    for (const p of ['/_not-found', '/_error', '/404', '/500', '/_app', '/_document'])
      expect(routeFromMeta(page(p), '/x', 500)).toBeUndefined();
  });

  it('middleware that throws: Next renders /500 with no route', () => {
    const meta = {
      invokePath: '/500',
      invokeOutput: '',
      invokeStatus: 500,
      middlewareInvoke: false,
      match: { definition: { pathname: '/_error' } },
    };
    expect(routeFromMeta(meta, '/old-blog/z', 500)).toBeUndefined();
  });

  it('answered by the router itself: only /_next/static/ files and public files get a route', () => {
    const router = { relativeProjectDir: '' };
    expect(routeFromMeta(router, '/_next/static/chunks/a.js?v=1', 200)).toBe(STATIC_ROUTE);
    expect(routeFromMeta(router, '/_next/static/chunks/a.js', 304)).toBe(STATIC_ROUTE);
    expect(routeFromMeta(router, '/_next/static/chunks/a.js', 404)).toBeUndefined();
    // A next.config redirect, an external rewrite (proxied; no such file in public/).
    expect(routeFromMeta(router, '/legacy/k', 308)).toBeUndefined();
    expect(routeFromMeta(router, '/ext/anything', 200)).toBeUndefined();
    expect(routeFromMeta(router, '/../package.json', 200)).toBeUndefined();
  });

  it('public files: files only, inside public/, whatever the path looks like', () => {
    const fixture = { relativeProjectDir: 'tests/fixtures/nextjs' };
    expect(routeFromMeta(fixture, '/robots.txt', 200)).toBe(PUBLIC_ROUTE);
    expect(routeFromMeta(fixture, '/images/logo.svg?v=2', 304)).toBe(PUBLIC_ROUTE);
    expect(routeFromMeta(fixture, '/images/logo%2Esvg', 200)).toBe(PUBLIC_ROUTE);
    expect(routeFromMeta(fixture, '/images', 200)).toBeUndefined();
    expect(routeFromMeta(fixture, '/robots.txt/x', 200)).toBeUndefined();
    expect(routeFromMeta(fixture, `/${'x'.repeat(5000)}`, 200)).toBeUndefined();
    expect(routeFromMeta(fixture, '/%E0%A4%A', 200)).toBeUndefined();
    expect(routeFromMeta(fixture, '/robots.txt', 307)).toBeUndefined();
  });

  it('with a basePath, static files are found under it', () => {
    const key = Symbol.for('@next/router-server-methods');
    const g = globalThis as { [key]?: unknown };
    g[key] = { based: { nextConfig: { basePath: '/shop' } } };
    try {
      const router = { relativeProjectDir: 'based' };
      expect(routeFromMeta(router, '/shop/_next/static/chunks/a.js', 200)).toBe(STATIC_ROUTE);
      expect(routeFromMeta(router, '/_next/static/chunks/a.js', 200)).toBeUndefined();
    } finally {
      delete g[key];
    }
  });
});
