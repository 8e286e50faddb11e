// Minimal node:http hello-world used as the baseline app for Node and Bun.
// Kept deliberately tiny so the benchmark measures the agent, not the app.
import http from 'node:http';

const port = Number(process.env.PORT ?? 3000);

const server = http.createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain' });
  res.end('hello');
});

server.listen(port, '127.0.0.1');
