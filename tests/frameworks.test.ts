// http_route from framework route templates (Express 5, Fastify 5, Hono 4, Koa 3 with
// @koa/router), for ESM and CommonJS apps under Node and, through their node:http servers, under
// Bun; Hono also on Bun.serve (an entry point's `export default app` and
// `Bun.serve({ fetch: app.fetch })`). Real apps under the preload; exact counts read from /metrics
// as a user would.
import { once } from 'node:events';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Hono } from 'hono';
import { LinearRouter } from 'hono/router/linear-router';
import { PatternRouter } from 'hono/router/pattern-router';
import { RegExpRouter } from 'hono/router/reg-exp-router';
import { SmartRouter } from 'hono/router/smart-router';
import { TrieRouter } from 'hono/router/trie-router';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { expressFallbackRoute } from '../agent/http/frameworks/express.js';
import { honoRoute, rewriteDispatch } from '../agent/http/frameworks/hono.js';
import {
  FIXTURES,
  find,
  hit,
  jsonLines,
  parseMetrics,
  promtoolCheckMetrics,
  ROOT,
  RUNTIMES,
  type Runtime,
  type Sample,
  startApp,
  stopAll,
  sum,
  value,
} from './support/index.js';

const COUNT = 'http_server_request_duration_seconds_count';

// express ships no types (and @types/express is not a dependency): the little used here.
type Handler = (
  req: never,
  res: { send(body: string): void; status(code: number): { send(body: string): void } },
  next: () => void,
) => void;
interface ExpressApp {
  use(path: string | Handler, handler?: unknown): void;
  get(path: string, handler: Handler): void;
  all(path: string, handler: Handler): void;
  listen(port: number, host: string): import('node:http').Server;
}
interface ExpressModule {
  (): ExpressApp;
  Router(options: { mergeParams: boolean }): ExpressApp;
}
const express = createRequire(import.meta.url)('express') as ExpressModule;

afterEach(stopAll);

interface Expect {
  method: string;
  status: string;
  route?: string;
  error?: string;
  count: number;
}

/** Traffic every fixture gets, after the one readiness GET / of startApp. */
async function commonTraffic(url: (path: string) => string): Promise<void> {
  expect(await hit(url('/users/1'), 3)).toEqual([200, 200, 200]);
  expect(await hit(url('/users/2'), 2)).toEqual([200, 200]);
  expect(await hit(url('/users'), 1, { method: 'POST' })).toEqual([201]);
  expect(await hit(url('/nope'), 1)).toEqual([404]);
  expect(await hit(url('/users/7/posts/9'), 2)).toEqual([200, 200]);
  expect(await hit(url('/boom'), 1)).toEqual([500]);
}

/** Raw paths the tests send that are not also templates: none may appear in any label. */
const RAW_PATHS = new Set([
  '/users/1',
  '/users/2',
  '/users/7/posts/9',
  '/users/7/posts/9/fail',
  '/nope',
  '/admin/stats/x',
  '/skip/3',
  '/files/a',
  '/files/a/b',
  '/inner/x/1',
]);

const WITH_ROUTES: Expect[] = [
  { method: 'GET', status: '200', route: '/', count: 1 },
  { method: 'GET', status: '200', route: '/users/:id', count: 5 },
  { method: 'POST', status: '201', route: '/users', count: 1 },
  { method: 'GET', status: '404', count: 1 },
  { method: 'GET', status: '200', route: '/users/:id/posts/:postId', count: 2 },
  { method: 'GET', status: '500', route: '/boom', error: '500', count: 1 },
  { method: 'GET', status: '500', route: '/async-boom', error: '500', count: 1 },
];

const FRAMEWORKS = [
  {
    name: 'express',
    async traffic(url: (path: string) => string) {
      await commonTraffic(url);
      expect(await hit(url('/async-boom'), 1)).toEqual([500]);
      expect(await hit(url('/users/7/posts/9/fail'), 1)).toEqual([500]);
      expect(await hit(url('/a/b/c'), 1)).toEqual([200]);
      expect(await hit(url('/admin/stats/x'), 2)).toEqual([200, 200]);
      expect(await hit(url('/skip/3'), 1)).toEqual([404]);
      expect(await hit(url('/any/3'), 2)).toEqual([200, 200]);
      expect(await hit(url('/api/x'), 2, { method: 'DELETE' })).toEqual([404, 404]);
    },
    expected: [
      ...WITH_ROUTES,
      // A throw inside the nested router: the router has already restored req.baseUrl.
      { method: 'GET', status: '500', route: '/users/:id/posts/:postId/fail', error: '500', count: 1 },
      // Router on '/a/b' after a middleware on '/a': the middleware's prefix is not carried over.
      { method: 'GET', status: '200', route: '/a/b/c', count: 1 },
      { method: 'GET', status: '200', route: '/admin/stats/:key', count: 2 },
      // The route matched and ran, then passed with next('route'); nothing else matched.
      { method: 'GET', status: '404', route: '/skip/:id', count: 1 },
      { method: 'GET', status: '200', route: '/any/:id', count: 2 },
      // The all('*path') not-found handler under '/api': no route.
      { method: 'DELETE', status: '404', count: 2 },
    ],
  },
  {
    name: 'fastify',
    async traffic(url: (path: string) => string) {
      await commonTraffic(url);
      expect(await hit(url('/async-boom'), 1)).toEqual([500]);
    },
    expected: WITH_ROUTES,
  },
  {
    name: 'hono',
    async traffic(url: (path: string) => string) {
      await commonTraffic(url);
      expect(await hit(url('/async-boom'), 1)).toEqual([500]);
      expect(await hit(url('/users/1'), 1, { method: 'POST' })).toEqual([404]);
      expect(await hit(url('/users/3'), 1, { method: 'HEAD' })).toEqual([200]);
      expect(await hit(url('/files/a'), 2)).toEqual([200, 200]);
      expect(await hit(url('/files/a/b'), 1)).toEqual([200]);
      expect(await hit(url('/any'), 1)).toEqual([200]);
      expect(await hit(url('/inner/x/1'), 1)).toEqual([200]);
    },
    expected: [
      ...WITH_ROUTES,
      // Only middleware matched (app.use, app.get('*') calling next): no route.
      { method: 'POST', status: '404', count: 1 },
      // Hono answers HEAD by dispatching GET.
      { method: 'HEAD', status: '200', route: '/users/:id', count: 1 },
      // '/files/*' matches too, but the first handler without `next` answers.
      { method: 'GET', status: '200', route: '/files/:name', count: 2 },
      { method: 'GET', status: '200', route: '/files/*', count: 1 },
      { method: 'GET', status: '200', route: '/any', count: 1 },
      // mount(): the outer app matched only the mount; the inner app's '/x/:id' lacks the prefix.
      { method: 'GET', status: '200', count: 1 },
    ],
  },
  {
    name: 'koa',
    async traffic(url: (path: string) => string) {
      await commonTraffic(url);
      expect(await hit(url('/async-boom'), 1)).toEqual([500]);
    },
    expected: WITH_ROUTES,
  },
] as const;

const HONO = FRAMEWORKS[2];
const HONO_ROOT = join(ROOT, 'node_modules/hono');

const CASES = [
  ...FRAMEWORKS.flatMap((framework) =>
    (['node', 'bun'] as Runtime[]).flatMap((runtime) =>
      (['mjs', 'cjs'] as const).map((ext) => ({
        framework,
        runtime,
        file: `${framework.name}-app.${ext}`,
        label: `${framework.name} ${ext === 'mjs' ? 'ESM' : 'CommonJS'} under ${runtime}`,
      })),
    ),
  ),
  {
    framework: HONO,
    runtime: 'bun' as Runtime,
    file: 'hono-bun-default.mjs',
    label: 'hono ESM `export default app` on Bun.serve',
  },
  {
    framework: HONO,
    runtime: 'bun' as Runtime,
    file: 'hono-bun-serve.cjs',
    label: 'hono CommonJS Bun.serve({ fetch: app.fetch })',
  },
];

function labelsOf(e: Expect): Record<string, string> {
  const labels: Record<string, string> = {
    http_request_method: e.method,
    http_response_status_code: e.status,
    url_scheme: 'http',
  };
  if (e.route !== undefined) labels.http_route = e.route;
  if (e.error !== undefined) labels.error_type = e.error;
  return labels;
}

function rawPathLabels(samples: Sample[]): string[] {
  const found: string[] = [];
  for (const s of samples) {
    for (const v of Object.values(s.labels)) {
      if (RAW_PATHS.has(v) || /\/\d/.test(v)) found.push(`${s.name}: ${v}`);
    }
  }
  return found;
}

describe.each(CASES)('$label', ({ framework, runtime, file }) => {
  it('labels requests with the route template, none on 404s, never a raw path', async () => {
    const app = await startApp({ runtime, file });
    await framework.traffic(app.url);
    const text = await app.metrics();
    const s = parseMetrics(text);
    const got = find(s, COUNT).map((x) => ({ labels: x.labels, value: x.value }));
    for (const e of framework.expected) {
      expect(value(s, COUNT, labelsOf(e)), `${JSON.stringify(labelsOf(e))} in ${JSON.stringify(got)}`).toBe(
        e.count,
      );
    }
    // Nothing else was counted: the expected series are all there is.
    expect(find(s, COUNT).length).toBe(framework.expected.length);
    expect(rawPathLabels(s)).toEqual([]);
    expect(promtoolCheckMetrics(text)).toEqual({ status: 0, output: '' });
  });
});

// A router that publishes no `express.router.request` channel (router < 2.3) is the same as one
// nobody subscribed to, which is the case in this test process: then only req.route of the app's
// own router is used, and a route reached through a mount path stays absent.
it('express without the router channel: req.route for top-level routes only', async () => {
  const seen: Record<string, string | undefined> = {};
  const app = express();
  app.use(((req: { originalUrl: string }, res: { on(e: string, f: () => void): void }, next: () => void) => {
    res.on('close', () => {
      seen[req.originalUrl] = expressFallbackRoute(req);
    });
    next();
  }) as unknown as Handler);
  app.get('/top/:id', (_req, res) => {
    res.send('top');
  });
  app.all('/any/:id', (_req, res) => {
    res.send('any');
  });
  app.all('/gone/:id', (_req, res) => {
    res.status(404).send('gone');
  });
  const posts = express.Router({ mergeParams: true });
  posts.get('/:postId', (_req, res) => {
    res.send('post');
  });
  posts.get('/:postId/fail', () => {
    throw new Error('nested failure');
  });
  app.use('/users/:id/posts', posts);
  const sub = express();
  sub.get('/stats/:key', (_req, res) => {
    res.send('stats');
  });
  app.use('/admin', sub);
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    const port = (server.address() as AddressInfo).port;
    for (const path of [
      '/top/1',
      '/any/1',
      '/gone/1',
      '/users/7/posts/9',
      '/users/7/posts/9/fail',
      '/admin/stats/x',
      '/nope',
    ]) {
      await hit(`http://127.0.0.1:${port}${path}`);
    }
    await new Promise((r) => setTimeout(r, 50));
    expect(seen).toEqual({
      '/top/1': '/top/:id',
      '/any/1': '/any/:id',
      // A route for every method that answers 404 is a not-found handler: no route.
      '/gone/1': undefined,
      // req.route is the nested router's own '/:postId' and req.baseUrl the raw '/users/7/posts'
      // (or already restored to '' after the throw): no template can be told, so none.
      '/users/7/posts/9': undefined,
      '/users/7/posts/9/fail': undefined,
      '/admin/stats/x': undefined,
      '/nope': undefined,
    });
  } finally {
    server.close();
  }
});

describe('hono dispatcher rewrite', () => {
  const files = ['dist/hono-base.js', 'dist/cjs/hono-base.js'].map((f) => join(HONO_ROOT, f));

  it.each(files)('rewrites the one match call of %s', (file) => {
    const source = readFileSync(file, 'utf8');
    const out = rewriteDispatch(source);
    expect(out).toBeDefined();
    // The original call stays only as the fallback inside the guard.
    expect(out!.split('this.router.match(method, path)').length).toBe(2);
    expect(out).toContain(
      'const matchResult = (__tapwireHonoMatch === undefined ? this.router.match(method, path) : __tapwireHonoMatch(this.router, method, path, request, env));',
    );
    // Nothing else moved: every line before the appended declaration keeps its number.
    expect(out!.split('\n').length).toBe(source.split('\n').length + 2);
    expect(rewriteDispatch(out!)).toBeUndefined();
  });

  it('leaves a dispatcher it does not recognise alone', () => {
    const source = readFileSync(files[0]!, 'utf8');
    expect(
      rewriteDispatch(source.replace('this.router.match(method, path)', 'this.router.match(method,path)')),
    ).toBe(undefined);
    // The call twice: which one is #dispatch's is not for a text search to guess.
    expect(rewriteDispatch(`${source}\nfunction f() { this.router.match(method, path) }`)).toBeUndefined();
    expect(
      rewriteDispatch(source.replace('#dispatch(request, executionCtx, env, method) {', '#go(r) {')),
    ).toBe(undefined);
  });
});

describe.each([
  ['RegExpRouter', () => new RegExpRouter()],
  ['TrieRouter', () => new TrieRouter()],
  ['LinearRouter', () => new LinearRouter()],
  ['PatternRouter', () => new PatternRouter()],
  ['SmartRouter', () => new SmartRouter({ routers: [new RegExpRouter(), new TrieRouter()] })],
])('hono route choice with %s', (_name, router) => {
  function build() {
    // biome-ignore lint/suspicious/noExplicitAny: each router has its own generic parameters
    const app = new Hono({ router: router() as any });
    app.use(async (_c, next) => {
      await next();
    });
    app.get('*', async (_c, next) => {
      await next();
    });
    app.get('/users/:id', (c) => c.text('user'));
    // Its handlers are wrapped for its own onError (and then take `next`).
    const sub = new Hono();
    sub.get('/:postId', (c) => c.text('post'));
    sub.onError((_e, c) => c.text('failed', 500));
    app.route('/users/:id/posts', sub);
    app.get('/users/*', (c) => c.text('users'));
    app.all('/any', (c) => c.text('any'));
    app.get('/next/:id', async (c, next) => {
      await next();
      return c.text('next');
    });
    return app;
  }
  const app = build();
  const route = (method: string, path: string) => honoRoute(app.router.match(method, path));

  it('picks the handler that answers, never middleware', () => {
    expect(route('GET', '/users/1')).toBe('/users/:id');
    expect(route('GET', '/users/1/x')).toBe('/users/*');
    expect(route('POST', '/any')).toBe('/any');
    expect(route('GET', '/next/1')).toBe('/next/:id');
    expect(route('GET', '/users/1/posts/2')).toBe('/users/:id/posts/:postId');
    expect(route('GET', '/nope')).toBeUndefined();
    expect(route('POST', '/users/1')).toBeUndefined();
  });
});

describe('hono version not recognised', () => {
  // A copy of Hono whose match call is worded differently, in a directory named like a package.
  const dir = mkdtempSync(join(tmpdir(), 'tapwire-hono-'));
  const hono = join(dir, 'node_modules/hono');
  cpSync(HONO_ROOT, hono, { recursive: true });
  for (const f of ['dist/hono-base.js', 'dist/cjs/hono-base.js']) {
    const file = join(hono, f);
    writeFileSync(
      file,
      readFileSync(file, 'utf8').replace('this.router.match(method, path)', 'this.router.match(method,path)'),
    );
  }
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each(
    (['node', 'bun'] as Runtime[]).flatMap((runtime) =>
      (['mjs', 'cjs'] as const).map((ext) => ({ runtime, ext })),
    ),
  )('$ext under $runtime: the app runs unchanged, no route, one debug line', async ({ runtime, ext }) => {
    const file = join(dir, `app.${ext}`);
    cpSync(join(FIXTURES, `hono-unrecognised.${ext}`), file);
    const app = await startApp({ runtime, file, cwd: dir, env: { LOG_LEVEL: 'debug' } });
    const res = await fetch(app.url('/users/1'));
    expect([res.status, await res.text()]).toEqual([200, 'user 1']);
    const s = parseMetrics(await app.metrics());
    expect(
      value(s, COUNT, { http_request_method: 'GET', http_response_status_code: '200', url_scheme: 'http' }),
    ).toBe(2);
    expect(find(s, COUNT).length).toBe(1);
    const lines = jsonLines(app.stderr()).filter((l) => l.code === 'TAPWIRE_HONO_UNRECOGNISED');
    expect(lines.map((l) => [l.level, l.file])).toEqual([
      [
        'debug',
        runtime === 'node'
          ? `file://${hono}/dist/${ext === 'cjs' ? 'cjs/' : ''}hono-base.js`
          : `${hono}/dist/${ext === 'cjs' ? 'cjs/' : ''}hono-base.js`,
      ],
    ]);
  });
});

describe.each(RUNTIMES)('express under the preload behaves as without it (%s)', (runtime) => {
  it('middleware gets req.next as its next, res.format answers the same, the route is still recorded', async () => {
    const answers = async (preload: boolean) => {
      const app = await startApp({ runtime, file: 'express-next.mjs', preload });
      const out: string[] = [];
      for (const accept of ['text/plain', 'application/json', 'image/png']) {
        const res = await fetch(app.url('/users/7'), { headers: { accept } });
        out.push(`${res.status} ${res.headers.get('content-type')} ${await res.text()}`);
      }
      return { app, out };
    };
    const bare = await answers(false);
    const under = await answers(true);
    expect(bare.out[0]).toContain('sameNext=true');
    expect(under.out).toEqual(bare.out);
    const s = parseMetrics(await under.app.metrics());
    expect(sum(s, COUNT, { http_route: '/users/:id' })).toBe(3);
  });
});
