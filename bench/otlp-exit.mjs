// Hand-run: how long an unreachable OTLP receiver holds a normal exit. A small app (serves three
// requests to itself, then lets its event loop empty) runs under the preload with tracing and OTLP
// metrics pointed at a port that refuses and at a server that accepts and never answers, on Node
// and Bun; the delay is from the app's last act (a line on stderr) to the process's exit.
//   npm run build && node bench/otlp-exit.mjs [OTEL_EXPORTER_OTLP_TIMEOUT=2000 ...]
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort, spawnTracked } from './lib/procs.mjs';
import { RUNTIMES, registers } from './scenarios.mjs';

const APP = `import http from 'node:http';
const server = http.createServer((_req, res) => res.end('done'));
server.listen(0, '127.0.0.1', async () => {
  for (let i = 0; i < 3; i++) await (await fetch('http://127.0.0.1:' + server.address().port + '/x')).text();
  server.close();
  process.stderr.write('APP_DONE ' + Date.now() + '\\n');
});
`;
const app = path.join(mkdtempSync(path.join(tmpdir(), 'tapwire-otlp-exit-')), 'app.mjs');
writeFileSync(app, APP);
const extra = Object.fromEntries(process.argv.slice(2).map((a) => a.split('=')));

const hang = net.createServer((socket) => {
  socket.on('error', () => {});
  socket.resume();
});
hang.listen(0, '127.0.0.1');
await once(hang, 'listening');
const receivers = { refused: await freePort(), hanging: hang.address().port };

for (const [runtime, { bin }] of Object.entries(RUNTIMES)) {
  for (const [name, port] of Object.entries(receivers)) {
    const child = spawnTracked(
      bin,
      [runtime === 'node' ? '--import' : '--preload', registers()[runtime], app],
      {
        env: {
          PATH: process.env.PATH,
          TAPWIRE_ENV: 'test',
          OTEL_EXPORTER_PROMETHEUS_PORT: String(await freePort()),
          OTEL_TRACES_EXPORTER: 'otlp',
          OTEL_METRICS_EXPORTER: 'otlp',
          OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
          ...extra,
        },
      },
    );
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const { code } = await child.exited;
    const delay = Date.now() - Number(/APP_DONE (\d+)/.exec(stderr)?.[1]);
    const lines = stderr
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l).msg);
    console.log(JSON.stringify({ runtime, receiver: name, exitCode: code, exitDelayMs: delay, lines }));
  }
}
hang.close();
