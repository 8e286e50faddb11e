// A hostile or broken provider stream: one `data:` line of MB bytes with no line break before the
// end of the response, served by the AI stand-in (dist/cli/standin.js, `/longN`), read with fetch
// by an app run bare and under tapwire, on Node and Bun. Prints time to the end of the body and
// the app's peak RSS for each. Run by hand (not part of bench/all.mjs):
//   npm run build && node bench/long-line.mjs [--mb 10] [--runtime node,bun]
import path from 'node:path';
import { parseArgs } from 'node:util';
import { freePort, killTree, spawnTracked } from './lib/procs.mjs';
import { BENCH_DIR, REPO, RUNTIMES, registers } from './scenarios.mjs';

const { values: opts } = parseArgs({
  options: { mb: { type: 'string', default: '10' }, runtime: { type: 'string', default: 'node,bun' } },
});
const bytes = Math.round(Number(opts.mb) * 1_000_000);

const port = await freePort();
const standin = spawnTracked(RUNTIMES.node.bin, [
  path.join(REPO, 'dist/cli/standin.js'),
  JSON.stringify({ ports: { openai: port } }),
]);
await new Promise((resolve, reject) => {
  const t = setInterval(() => {
    if (standin.stderrTail.includes('ready')) {
      clearInterval(t);
      resolve();
    }
  }, 20);
  standin.exited.then(() => reject(new Error(`stand-in exited: ${standin.stderrTail}`)));
});

try {
  for (const runtime of opts.runtime.split(',')) {
    const rt = RUNTIMES[runtime];
    for (const mode of ['bare', 'tapwire']) {
      const args = mode === 'tapwire' ? [rt.preloadFlag, registers()[runtime]] : [];
      const child = spawnTracked(rt.bin, [...args, path.join(BENCH_DIR, 'lib/long-line-child.mjs')], {
        stdout: 'pipe',
        env: {
          PATH: process.env.PATH,
          URL: `http://127.0.0.1:${port}/long${bytes}/v1/chat/completions`,
          TAPWIRE_AI_ENDPOINTS: `127.0.0.1:${port}=openai`,
          TAPWIRE_ENV: 'production',
          OTEL_EXPORTER_PROMETHEUS_PORT: String(await freePort()),
          OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1',
        },
      });
      let out = '';
      child.stdout.setEncoding('utf8').on('data', (d) => {
        out += d;
      });
      const { code } = await child.exited;
      if (code !== 0) throw new Error(`${runtime} ${mode} exited ${code}: ${child.stderrTail}`);
      const r = JSON.parse(out);
      console.log(
        `${runtime.padEnd(5)} ${mode.padEnd(8)} ${opts.mb} MB line: ${(r.ms / 1000).toFixed(2)} s, peak RSS ${r.peakRssMb} MB, ${r.bytes} bytes received`,
      );
    }
  }
} finally {
  await killTree(standin);
}
