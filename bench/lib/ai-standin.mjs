// A local OpenAI stand-in for bench/ai.mjs, run as its own process so its CPU cost is the same for
// every mode and never lands in the measured app. POST /v1/chat/completions with `"stream": true`
// answers CHUNKS content chunks (bench/lib/ai-stream.mjs), each event its own write, yielding to
// the event loop every few events so the stream arrives in many pieces as a real one does.
//   PORT=N CHUNKS=3000 node bench/lib/ai-standin.mjs
import { once } from 'node:events';
import { createServer } from 'node:http';
import { chatEvents } from './ai-stream.mjs';

const events = chatEvents(Number(process.env.CHUNKS ?? 3000)).map((e) => Buffer.from(e));
const server = createServer(async (req, res) => {
  try {
    for await (const _ of req) {
      // the request body is not needed
    }
    if (req.method !== 'POST' || !req.url.endsWith('/chat/completions')) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    for (let i = 0; i < events.length; i++) {
      if (res.destroyed) return;
      if (!res.write(events[i])) await Promise.race([once(res, 'drain'), once(res, 'close')]);
      if (i % 8 === 0) await new Promise((r) => setImmediate(r));
    }
    res.end();
  } catch {
    res.destroy();
  }
});
server.keepAliveTimeout = 5000;
server.listen(Number(process.env.PORT), '127.0.0.1', () => process.stderr.write('ready\n'));
