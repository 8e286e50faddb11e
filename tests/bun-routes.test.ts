// Apps whose routes Bun.serve's own router dispatches, under the preload on Bun: Elysia (ESM and
// CommonJS), which hands Bun one `routes` entry per route template, and Bun.serve's static routes,
// which Bun answers without running JavaScript. Exact counts read from /metrics; the apps answer
// as they do without the preload.
import { afterEach, describe, expect, it } from 'vitest';
import { find, parseMetrics, startApp, stopAll, sum, value } from './support/index.js';

const COUNT = 'http_server_request_duration_seconds_count';

afterEach(stopAll);

interface Expect {
  method: string;
  status: string;
  route?: string;
  error?: string;
  count: number;
}

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

type Request = [method: string, path: string, times: number, headers?: Record<string, string>];

/** Sends the requests in order; what the app answered (status, chosen headers, body) per request. */
async function send(
  url: (path: string) => string,
  requests: Request[],
  headers: string[],
): Promise<string[]> {
  const seen: string[] = [];
  for (const [method, path, times, sent] of requests) {
    for (let i = 0; i < times; i++) {
      const res = await fetch(url(path), { method, headers: sent });
      const shown = headers.map((h) => `${h}=${res.headers.get(h)}`).join(' ');
      seen.push(`${method} ${path} ${res.status} ${shown} ${await res.text()}`);
    }
  }
  return seen;
}

/** Runs the requests without the preload, then with it: the answers must be the same. */
async function measured(file: string, requests: Request[], headers: string[]) {
  const bare = await startApp({ runtime: 'bun', file, preload: false });
  const baseline = await send(bare.url, requests, headers);
  await bare.stop();
  const app = await startApp({ runtime: 'bun', file });
  expect(await send(app.url, requests, headers)).toEqual(baseline);
  expect([app.stdout(), app.stderr()]).toEqual([bare.stdout(), bare.stderr()]);
  return parseMetrics(await app.metrics());
}

function expectExactly(s: ReturnType<typeof parseMetrics>, expected: Expect[]): void {
  const got = JSON.stringify(find(s, COUNT).map((x) => ({ labels: x.labels, value: x.value })));
  for (const e of expected)
    expect(value(s, COUNT, labelsOf(e)), `${JSON.stringify(e)} in ${got}`).toBe(e.count);
  expect(find(s, COUNT).length, got).toBe(expected.length);
}

describe.each(['elysia-app.mjs', 'elysia-app.cjs'])('Elysia on Bun (%s)', (file) => {
  it('labels requests with the route template Elysia gave Bun; wildcards and static values as documented', async () => {
    const s = await measured(
      file,
      [
        ['GET', '/users/1', 3],
        ['GET', '/users/2', 2],
        ['POST', '/users', 1],
        ['GET', '/users/7/posts/9', 2],
        ['GET', '/admin/stats/x', 1, { 'x-token': 'ok' }],
        ['GET', '/admin/stats/x', 1],
        ['GET', '/boom', 1],
        ['GET', '/async-boom', 1],
        ['HEAD', '/users/3', 1],
        ['GET', '/files/a/b', 2],
        ['GET', '/static', 3],
        ['GET', '/nope', 1],
        ['DELETE', '/users/1', 1],
      ],
      ['content-type'],
    );
    expectExactly(s, [
      // startApp's readiness GET / and nothing else on '/'.
      { method: 'GET', status: '200', route: '/', count: 1 },
      { method: 'GET', status: '200', route: '/users/:id', count: 5 },
      { method: 'POST', status: '201', route: '/users', count: 1 },
      { method: 'GET', status: '200', route: '/users/:id/posts/:postId', count: 2 },
      { method: 'GET', status: '200', route: '/admin/stats/:key', count: 1 },
      // beforeHandle answers inside the route's handler: the route is known.
      { method: 'GET', status: '401', route: '/admin/stats/:key', count: 1 },
      { method: 'GET', status: '500', route: '/boom', error: '500', count: 1 },
      { method: 'GET', status: '500', route: '/async-boom', error: '500', count: 1 },
      { method: 'HEAD', status: '200', route: '/users/:id', count: 1 },
      // '/files/*': Elysia keeps wildcard routes out of Bun's router and serves them from its
      // fetch, which tells no route. '/static' (3 requests) is a static Response: not counted.
      { method: 'GET', status: '200', count: 2 },
      { method: 'GET', status: '404', count: 1 },
      { method: 'DELETE', status: '404', count: 1 },
    ]);
  });
});

describe('Bun.serve static routes', () => {
  it('(a Response, a Bun.file, an HTML import) are not counted; handler routes are', async () => {
    const s = await measured(
      'bun-static-routes.mjs',
      [
        ['GET', '/users/1', 2],
        ['GET', '/static', 3],
        ['GET', '/file', 2],
        ['GET', '/page', 2],
        ['GET', '/nope', 1],
      ],
      ['etag', 'x-static', 'content-type'],
    );
    expectExactly(s, [
      { method: 'GET', status: '200', route: '/', count: 1 },
      { method: 'GET', status: '200', route: '/users/:id', count: 2 },
      { method: 'GET', status: '404', count: 1 },
    ]);
    expect(sum(s, COUNT)).toBe(4);
  });
});
