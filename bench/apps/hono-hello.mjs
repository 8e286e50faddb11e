// Hono hello world with one routed path (/users/:id): on Node through @hono/node-server (a
// node:http server), on Bun through Bun.serve, the way each runtime's Hono apps are served.
import { Hono } from 'hono';

const port = Number(process.env.PORT ?? 3000);
const app = new Hono();

app.get('/users/:id', (c) => c.text(`hello ${c.req.param('id')}`));

if (typeof Bun !== 'undefined') {
  Bun.serve({ hostname: '127.0.0.1', port, fetch: app.fetch });
} else {
  const { serve } = await import('@hono/node-server');
  serve({ fetch: app.fetch, hostname: '127.0.0.1', port });
}
