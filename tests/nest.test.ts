// NestJS 12 on its Express adapter (http_route from Express' router channel) and on its Fastify
// adapter (from Fastify's handler channel), under Node and Bun: a plain-JavaScript Nest app with a
// global prefix, an excluded path, controller prefixes, URI versioning, a guard and a middleware
// (tests/fixtures/nest-routes.mjs). Exact counts read from /metrics, and the app answers byte for
// byte as it does without the preload.
import { afterEach, describe, expect, it } from 'vitest';
import { find, parseMetrics, RUNTIMES, startApp, stopAll, value } from './support/index.js';

const COUNT = 'http_server_request_duration_seconds_count';

afterEach(stopAll);

/** [method, path, times]: sent in this order, after the readiness GET /health of startApp. */
const TRAFFIC: [string, string, number][] = [
  ['GET', '/api', 1],
  ['GET', '/api/users/1', 3],
  ['GET', '/api/users/2', 2],
  ['GET', '/api/users/404', 1],
  ['POST', '/api/users', 1],
  ['GET', '/api/users/7/posts/9', 2],
  ['GET', '/api/v2/users/7/posts', 1],
  ['GET', '/api/admin/stats', 1],
  ['GET', '/api/boom', 1],
  ['GET', '/api/async-boom', 1],
  ['GET', '/nope', 1],
  ['GET', '/api/nope', 1],
  // A version no route has.
  ['GET', '/api/v1/users/1', 1],
  // A method no route has, under the prefix and on the excluded path.
  ['DELETE', '/api/users/1', 1],
  ['POST', '/health', 1],
];

interface Expect {
  method: string;
  status: string;
  route?: string;
  error?: string;
  count: number;
}

const EXPECTED: Expect[] = [
  { method: 'GET', status: '200', route: '/health', count: 1 },
  { method: 'GET', status: '200', route: '/api', count: 1 },
  { method: 'GET', status: '200', route: '/api/users/:id', count: 5 },
  // The handler's NotFoundException: the route matched, the user did not.
  { method: 'GET', status: '404', route: '/api/users/:id', count: 1 },
  { method: 'POST', status: '201', route: '/api/users', count: 1 },
  { method: 'GET', status: '200', route: '/api/users/:id/posts/:postId', count: 2 },
  { method: 'GET', status: '200', route: '/api/v2/users/:id/posts', count: 1 },
  { method: 'GET', status: '403', route: '/api/admin/stats', count: 1 },
  { method: 'GET', status: '500', route: '/api/boom', error: '500', count: 1 },
  { method: 'GET', status: '500', route: '/api/async-boom', error: '500', count: 1 },
  // Nest's not-found handler: no route, whichever adapter.
  { method: 'GET', status: '404', count: 3 },
  { method: 'DELETE', status: '404', count: 1 },
  { method: 'POST', status: '404', count: 1 },
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

/** Sends TRAFFIC; what the app answered: status, body and the middleware's header per request. */
async function traffic(url: (path: string) => string): Promise<string[]> {
  const seen: string[] = [];
  for (const [method, path, times] of TRAFFIC) {
    for (let i = 0; i < times; i++) {
      const res = await fetch(url(path), { method });
      seen.push(`${method} ${path} ${res.status} ${res.headers.get('x-served-by')} ${await res.text()}`);
    }
  }
  return seen;
}

const CASES = (['express', 'fastify'] as const).flatMap((adapter) =>
  RUNTIMES.map((runtime) => ({ adapter, runtime, file: `nest-${adapter}.mjs` })),
);

describe.each(CASES)('NestJS on the $adapter adapter under $runtime', ({ runtime, file }) => {
  it('labels requests with the route template, none on 404s; the app answers as without tapwire', async () => {
    const bare = await startApp({ runtime, file, preload: false, ready: '/health' });
    const baseline = await traffic(bare.url);
    await bare.stop();

    const app = await startApp({ runtime, file, ready: '/health' });
    expect(await traffic(app.url)).toEqual(baseline);
    const s = parseMetrics(await app.metrics());
    const got = find(s, COUNT).map((x) => ({ labels: x.labels, value: x.value }));
    for (const e of EXPECTED) {
      expect(value(s, COUNT, labelsOf(e)), `${JSON.stringify(labelsOf(e))} in ${JSON.stringify(got)}`).toBe(
        e.count,
      );
    }
    expect(find(s, COUNT).length).toBe(EXPECTED.length);
    expect([app.stdout(), app.stderr()]).toEqual([bare.stdout(), bare.stderr()]);
  });
});
