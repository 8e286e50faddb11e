// Express hello world with one routed path (/users/:id), so the agent's route capture is on the
// measured path. Runs under Node and Bun.
import express from 'express';

const port = Number(process.env.PORT ?? 3000);
const app = express();

app.get('/users/:id', (req, res) => {
  res.type('text/plain').send(`hello ${req.params.id}`);
});

app.listen(port, '127.0.0.1');
