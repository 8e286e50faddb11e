// The Dockerfile, built for real with buildah (no Docker engine runs here) and its default command
// started with `buildah run`: the sidecar must answer /healthz and /metrics, as the user it runs as
// and with the HEALTHCHECK the image declares.
//
// No registry is reachable, so the test makes the base image the Dockerfile names
// (its `node-base` stage, node:24.x-bookworm-slim) itself: Node 24 (the project's own binary) with the Debian shared
// libraries it links, and a `node` user, committed under that name in a private vfs store in a
// temp dir. dist/ comes from the build context (`--build-arg DIST_FROM=prebuilt`) since `npm ci`
// would need the registry too. Skipped only when buildah cannot run at all on this machine.
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import {
  copyFileSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, NODE, parseMetrics, ROOT, waitForHttp } from './support/index.js';

// The Dockerfile's base, read from it (Dependabot moves the tag).
const BASE = `docker.io/library/${/^FROM (\S+) AS node-base$/m.exec(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'))![1]}`;
const IMAGE = 'localhost/tapwire:test';

const work = mkdtempSync(join(tmpdir(), 'tapwire-image-'));
const STORE = ['--root', join(work, 'root'), '--runroot', join(work, 'runroot'), '--storage-driver', 'vfs'];

function buildah(args: string[], timeout = 240_000): string {
  return execFileSync('buildah', [...STORE, ...args], {
    encoding: 'utf8',
    timeout,
    env: { ...process.env, BUILDAH_ISOLATION: 'chroot' },
    stdio: ['ignore', 'pipe', 'pipe'],
  }).trim();
}

/** Why buildah cannot run here, or undefined when it can. */
function unavailable(): string | undefined {
  const version = spawnSync('buildah', ['--version'], { encoding: 'utf8' });
  if (version.error || version.status !== 0) {
    return `buildah is not installed (${version.error?.message ?? version.stderr}); scripts/setup installs it`;
  }
  const probe = spawnSync('buildah', [...STORE, 'from', '--name', 'probe', 'scratch'], { encoding: 'utf8' });
  if (probe.status !== 0) return `buildah cannot create a container here: ${probe.stderr.trim()}`;
  spawnSync('buildah', [...STORE, 'rm', 'probe']);
  return undefined;
}

const reason = unavailable();
if (reason) process.stderr.write(`tests/sidecar-image.test.ts skipped: ${reason}\n`);

/** The base image: the Node binary, the shared libraries ldd names for it, passwd/group, /tmp. */
function makeBase(): void {
  const rootfs = join(work, 'rootfs');
  const node = execFileSync('readlink', ['-f', NODE], { encoding: 'utf8' }).trim();
  mkdirSync(join(rootfs, 'usr/local/bin'), { recursive: true });
  copyFileSync(node, join(rootfs, 'usr/local/bin/node'));
  const ldd = execFileSync('ldd', [node], { encoding: 'utf8' });
  for (const m of ldd.matchAll(/(\/\S+\.so[.\d]*)/g)) {
    const lib = m[1]!;
    mkdirSync(join(rootfs, dirname(lib)), { recursive: true });
    copyFileSync(lib, join(rootfs, lib));
  }
  mkdirSync(join(rootfs, 'etc'), { recursive: true });
  writeFileSync(
    join(rootfs, 'etc/passwd'),
    'root:x:0:0:root:/root:/bin/sh\nnode:x:1000:1000::/home/node:/bin/sh\n',
  );
  writeFileSync(join(rootfs, 'etc/group'), 'root:x:0:\nnode:x:1000:\n');
  writeFileSync(join(rootfs, 'etc/hosts'), '127.0.0.1 localhost\n');
  mkdirSync(join(rootfs, 'tmp'), { recursive: true, mode: 0o1777 });
  mkdirSync(join(rootfs, 'home/node'), { recursive: true });
  const ctr = buildah(['from', 'scratch']);
  buildah(['copy', ctr, `${rootfs}/`, '/']);
  buildah(['config', '--env', 'PATH=/usr/local/bin:/usr/bin:/bin', ctr]);
  buildah(['commit', '--format', 'docker', ctr, BASE]);
  buildah(['rm', ctr]);
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

/** Every process below `root`, from /proc. */
function descendants(root: number): number[] {
  const parent = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      parent.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // gone
    }
  }
  const out: number[] = [];
  const walk = (pid: number) => {
    for (const [child, ppid] of parent) {
      if (ppid === pid) {
        out.push(child);
        walk(child);
      }
    }
  };
  walk(root);
  return out;
}

let sidecar: ChildProcess | undefined;

afterAll(() => {
  if (sidecar?.pid !== undefined && sidecar.exitCode === null) {
    try {
      process.kill(-sidecar.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  if (!reason) {
    spawnSync('buildah', [...STORE, 'rm', '--all']);
    spawnSync('buildah', [...STORE, 'rmi', '--all', '--force']);
  }
  rmSync(work, { recursive: true, force: true });
});

describe.skipIf(reason !== undefined)('the tapwire image (Dockerfile, built with buildah)', () => {
  it('builds multi-stage from a local base, runs `tapwire sidecar` as uid 1000, answers /healthz and /metrics', async () => {
    makeBase();
    const context = join(work, 'context');
    mkdirSync(context);
    copyFileSync(join(ROOT, 'Dockerfile'), join(context, 'Dockerfile'));
    copyFileSync(join(ROOT, '.dockerignore'), join(context, '.dockerignore'));
    cpSync(join(ROOT, 'dist'), join(context, 'dist'), { recursive: true });
    buildah([
      'bud',
      '--format',
      'docker',
      '--isolation',
      'chroot',
      '--pull=never',
      '--build-arg',
      'DIST_FROM=prebuilt',
      '-t',
      IMAGE,
      context,
    ]);

    const config = JSON.parse(buildah(['inspect', '--type', 'image', IMAGE])).Docker.config;
    expect(config.Entrypoint).toEqual(['node', '/tapwire/cli/main.js']);
    expect(config.Cmd).toEqual(['sidecar']);
    expect(config.User).toBe('1000:1000');
    expect(Object.keys(config.ExposedPorts).sort()).toEqual(['8080/tcp', '9464/tcp']);
    const healthcheck: string[] = config.Healthcheck.Test;
    expect(healthcheck[0]).toBe('CMD');

    // Only dist/ on top of the base: the final image has no npm packages, no sources.
    const ctr = buildah(['from', '--pull=never', IMAGE]);
    const mount = buildah(['mount', ctr]);
    expect(JSON.parse(readFileSync(join(mount, 'tapwire/package.json'), 'utf8')).type).toBe('module');
    expect(() => readFileSync(join(mount, 'tapwire/node_modules/.package-lock.json'))).toThrow();
    buildah(['umount', ctr]);

    expect(
      buildah(['run', '--isolation', 'chroot', ctr, '--', 'node', '-e', 'console.log(process.getuid())']),
    ).toBe('1000');

    const [proxyPort, metricsPort, gatewayPort] = [await freePort(), await freePort(), await freePort()];
    const envs = [
      `TAPWIRE_PROXY_PORT=${proxyPort}`,
      `OTEL_EXPORTER_PROMETHEUS_PORT=${metricsPort}`,
      `TAPWIRE_GATEWAY_PORT=${gatewayPort}`,
      'TAPWIRE_UPSTREAM=http://127.0.0.1:1',
    ].flatMap((e) => ['--env', e]);
    let output = '';
    sidecar = spawn(
      'buildah',
      [...STORE, 'run', '--isolation', 'chroot', ...envs, ctr, '--', ...config.Entrypoint, ...config.Cmd],
      {
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, BUILDAH_ISOLATION: 'chroot' },
      },
    );
    sidecar.stdout!.on('data', (d) => {
      output += d;
    });
    sidecar.stderr!.on('data', (d) => {
      output += d;
    });
    const exited = new Promise((resolve) => sidecar!.once('exit', resolve));
    await waitForHttp(`http://127.0.0.1:${metricsPort}/healthz`, 60_000, exited).catch((error) => {
      throw new Error(`${(error as Error).message}\n${output}`);
    });
    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    const info = parseMetrics(metrics).find((s) => s.name === 'tapwire_agent_info');
    expect(info?.labels.runtime).toBe('node');
    // The app behind it is not there: not ready, and the proxy answers 502 rather than failing.
    expect((await fetch(`http://127.0.0.1:${metricsPort}/readyz`)).status).toBe(503);
    expect((await fetch(`http://127.0.0.1:${proxyPort}/`)).status).toBe(502);

    // The image's HEALTHCHECK command, run inside the image against the running sidecar.
    const env = ['--env', `OTEL_EXPORTER_PROMETHEUS_PORT=${metricsPort}`];
    const probe = spawnSync(
      'buildah',
      [...STORE, 'run', '--isolation', 'chroot', ...env, ctr, '--', ...healthcheck.slice(1)],
      {
        encoding: 'utf8',
        timeout: 60_000,
      },
    );
    expect(probe.status).toBe(0);

    // SIGTERM to the sidecar itself (buildah would answer a signal by killing its child).
    const inner = descendants(sidecar.pid!).find((pid) =>
      /^\S*node \/tapwire\/cli\/main\.js /.test(cmdline(pid)),
    );
    expect(inner, descendants(sidecar.pid!).map(cmdline).join('\n')).toBeDefined();
    process.kill(inner!, 'SIGTERM');
    // buildah run exits with the command's status: the sidecar drained and exited 0.
    expect(await exited).toBe(0);
  }, 420_000);
});
