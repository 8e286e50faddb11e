// Fastify hello world with one routed path (/users/:id), so the agent's route capture is on the
// measured path. Runs under Node and Bun.
import Fastify from 'fastify';

const port = Number(process.env.PORT ?? 3000);
const app = Fastify({ logger: false });

app.get('/users/:id', async (req, reply) => {
  reply.type('text/plain');
  return `hello ${req.params.id}`;
});

await app.listen({ port, host: '127.0.0.1' });
