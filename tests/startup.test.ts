// What the preload loads at start, counted rather than timed: every process under NODE_OPTIONS pays
// for each built-in and each file the agent loads before the app runs (bench/startup.mjs has the
// times). Node lists the built-ins a process has loaded in process.moduleLoadList.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { DIST_REGISTER, freePort, NODE } from './support/index.js';

/** The built-ins a Node process has loaded by the time its -e script runs, and its stderr. */
async function nodeLoads(preload: boolean): Promise<{ loaded: string[]; stderr: string }> {
  const port = await freePort();
  const r = spawnSync(
    NODE,
    [
      ...(preload ? ['--import', DIST_REGISTER] : []),
      '-e',
      'process.stdout.write(JSON.stringify(process.moduleLoadList))',
    ],
    {
      encoding: 'utf8',
      env: {
        PATH: process.env.PATH,
        OTEL_EXPORTER_PROMETHEUS_PORT: String(port),
        OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1',
        LOG_LEVEL: 'debug',
        TAPWIRE_ENV: 'test',
      },
    },
  );
  expect(r.status).toBe(0);
  return {
    loaded: (JSON.parse(r.stdout) as string[]).map((m) => m.replace(/^NativeModule /, '')),
    stderr: r.stderr,
  };
}

describe('node: built-ins loaded at start', () => {
  it('the agent runs (it holds /metrics) without the built-ins it does not use yet', async () => {
    const { loaded, stderr } = await nodeLoads(true);
    expect(stderr).toContain('TAPWIRE_METRICS_LISTENING');
    // undici: Node's fetch, Headers and Response load it on first read of the global (it was read
    // for the Bun endpoint's Response). fs/promises, streams' readers, parseArgs, readline and
    // worker_threads: what building the ESM facade of fs, util and module reads.
    for (const name of [
      'internal/deps/undici/undici',
      'internal/fs/promises',
      'internal/fs/streams',
      'internal/util/parse_args/parse_args',
      'internal/readline/interface',
      'worker_threads',
      // node:v8 (heap statistics, read at the first collection) and the stream machinery it loads.
      'v8',
      'internal/heap_utils',
    ]) {
      expect(loaded, name).not.toContain(name);
    }
  });
});
