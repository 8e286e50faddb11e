// Bun-native hello-world (Bun.serve). Only runs under Bun.
const port = Number(process.env.PORT ?? 3000);

Bun.serve({
  hostname: '127.0.0.1',
  port,
  fetch() {
    return new Response('hello', { headers: { 'content-type': 'text/plain' } });
  },
});
