// The service `tapwire demo` runs under the preload: a plain node:http app that imports nothing
// from tapwire (scripts/build.mjs compiles it on its own to dist/cli/demo-app.js). It runs on Node
// and on Bun.
//
// `/orders` calls `/inventory` on the same service with fetch, so one request shows up as an
// inbound POST, an outbound GET and an inbound GET. The stock lives in an embedded SQLite
// database (node:sqlite on Node, bun:sqlite on Bun), so the db_* series show up too.
// `/summarize` asks the AI provider stand-in for a completion, `/chat` for a streamed one, so the
// gen_ai_* series (tokens, time to first chunk, cost) show up.
//   DEMO_PORT=N DEMO_AI_URL=http://127.0.0.1:M node dist/cli/demo-app.js
import { createServer } from 'node:http';

/** The part of node:sqlite's DatabaseSync and bun:sqlite's Database the app uses: they agree on it. */
interface Database {
  exec(sql: string): void;
  prepare(sql: string): { get(...params: unknown[]): unknown; run(...params: unknown[]): unknown };
}

const port = Number(process.env.DEMO_PORT);

async function openDatabase(): Promise<Database> {
  if (typeof (globalThis as { Bun?: unknown }).Bun === 'object') {
    // A variable, so tsc (without Bun's types here) does not look the module up.
    const bunSqlite = 'bun:sqlite';
    const { Database } = (await import(bunSqlite)) as { Database: new (file: string) => Database };
    return new Database(':memory:');
  }
  const { DatabaseSync } = await import('node:sqlite');
  return new DatabaseSync(':memory:');
}

async function ask(model: string, stream: boolean): Promise<string> {
  const res = await fetch(`${process.env.DEMO_AI_URL}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer demo-key' },
    body: JSON.stringify({
      model,
      messages: [{ role: 'user', content: 'Summarise the day in widgets' }],
      ...(stream ? { stream: true, stream_options: { include_usage: true } } : {}),
    }),
  });
  if (!stream) {
    const completion = (await res.json()) as { choices: { message: { content: string } }[] };
    return completion.choices[0]!.message.content;
  }
  let text = '';
  for (const line of (await res.text()).split('\n')) {
    if (!line.startsWith('data: {')) continue;
    const chunk = JSON.parse(line.slice(6)) as { choices: { delta?: { content?: string } }[] };
    text += chunk.choices[0]?.delta?.content ?? '';
  }
  return text;
}

const db = await openDatabase();
db.exec('CREATE TABLE inventory (id INTEGER PRIMARY KEY, widgets INTEGER)');
db.exec('INSERT INTO inventory (id, widgets) VALUES (1, 3)');
const stockOf = db.prepare('SELECT widgets FROM inventory WHERE id = ?');
const take = db.prepare('UPDATE inventory SET widgets = widgets - 1 WHERE id = ?');
const widgets = () => (stockOf.get(1) as { widgets: number }).widgets;

const server = createServer(async (req, res) => {
  if (req.method === 'GET' && req.url === '/') return res.end('hello\n');
  if (req.method === 'GET' && req.url === '/inventory') {
    res.setHeader('content-type', 'application/json');
    return res.end(JSON.stringify({ widgets: widgets() }));
  }
  if (req.method === 'POST' && req.url === '/orders') {
    const stock = (await (await fetch(`http://127.0.0.1:${port}/inventory`)).json()) as { widgets: number };
    take.run(1);
    res.writeHead(201, { 'content-type': 'application/json' });
    return res.end(JSON.stringify({ ordered: 1, left: stock.widgets - 1 }));
  }
  if (req.method === 'POST' && (req.url === '/summarize' || req.url === '/chat')) {
    const text = req.url === '/chat' ? await ask('gpt-4o-mini', true) : await ask('gpt-4o', false);
    res.setHeader('content-type', 'application/json');
    return res.end(JSON.stringify({ text }));
  }
  if (req.url === '/fail') {
    res.writeHead(500);
    return res.end('boom\n');
  }
  res.writeHead(404).end();
});
server.listen(port, '127.0.0.1', () => console.log('ready'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
