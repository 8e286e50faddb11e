// Real database servers for bench/db.mjs, as tests/db-sql.test.ts and tests/db-redis.test.ts
// start them: PostgreSQL 15 (initdb + postgres as the postgres user through runuser when we are
// root: it refuses to run as root) and redis-server, each in a temp dir on a free port. Both run
// in their own tracked process group; stop() is always awaited by the caller.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort, killTree, sleep, spawnTracked } from './procs.mjs';

const PG_BIN = '/usr/lib/postgresql/15/bin';
const asPostgres = (cmd, args) =>
  process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];

async function until(check, what, child, ms = 30_000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`${what} exited: ${child.stderrTail.trim().split('\n').at(-1) ?? ''}`);
    if (await check()) return;
    await sleep(100);
  }
  throw new Error(`${what} did not start in ${ms / 1000} s`);
}

/** Polite stop (signal to the group), then SIGKILL if it is still there after `ms`. */
async function stopGroup(child, signal, ms = 10_000) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // gone
  }
  let timer;
  await Promise.race([child.exited, new Promise((r) => (timer = setTimeout(r, ms)))]);
  clearTimeout(timer);
  await killTree(child);
}

/** `cpu`: pinned there with all it forks (procs.mjs). */
export async function startPostgres({ cpu } = {}) {
  const dir = mkdtempSync(path.join(tmpdir(), 'tapwire-bench-pg-'));
  chmodSync(dir, 0o777);
  const data = path.join(dir, 'data');
  const port = await freePort();
  const [initCmd, initArgs] = asPostgres(`${PG_BIN}/initdb`, ['-D', data, '-U', 'postgres', '-A', 'trust']);
  execFileSync(initCmd, initArgs, { stdio: 'ignore' });
  const [cmd, args] = asPostgres(`${PG_BIN}/postgres`, [
    '-D',
    data,
    '-p',
    String(port),
    '-k',
    dir,
    '-h',
    '127.0.0.1',
    '-c',
    'max_connections=20',
    '-c',
    'shared_buffers=16MB',
  ]);
  const child = spawnTracked(cmd, args, { cpu });
  const stop = async () => {
    // SIGINT to the group = PostgreSQL's fast shutdown.
    await stopGroup(child, 'SIGINT');
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await until(
      () => {
        try {
          execFileSync(`${PG_BIN}/pg_isready`, ['-q', '-h', '127.0.0.1', '-p', String(port)], {
            stdio: 'ignore',
          });
          return true;
        } catch {
          return false;
        }
      },
      'postgres',
      child,
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return { port, child, stop, killSync: () => killSync(child) };
}

/** MariaDB 10.11 in a temporary folder, on a free loopback port, root without a password. */
export async function startMariadb({ cpu } = {}) {
  const dir = mkdtempSync(path.join(tmpdir(), 'tapwire-bench-mariadb-'));
  const data = path.join(dir, 'data');
  const port = await freePort();
  execFileSync(
    'mariadb-install-db',
    ['--no-defaults', `--datadir=${data}`, '--user=root', '--auth-root-authentication-method=normal'],
    { stdio: 'ignore' },
  );
  const child = spawnTracked(
    '/usr/sbin/mariadbd',
    [
      '--no-defaults',
      `--datadir=${data}`,
      `--socket=${path.join(dir, 'my.sock')}`,
      `--port=${port}`,
      '--bind-address=127.0.0.1',
      '--user=root',
      '--skip-grant-tables',
    ],
    { cpu },
  );
  const stop = async () => {
    await stopGroup(child, 'SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await until(
      () => {
        try {
          execFileSync(
            'mariadb',
            ['--no-defaults', '-h', '127.0.0.1', '-P', String(port), '-u', 'root', '-e', 'SELECT 1'],
            {
              stdio: 'ignore',
            },
          );
          return true;
        } catch {
          return false;
        }
      },
      'mariadb',
      child,
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return { port, child, stop, killSync: () => killSync(child) };
}

function ping(port) {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    socket.setTimeout(1000, () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (d) => {
      socket.destroy();
      resolve(d.toString().startsWith('+PONG'));
    });
  });
}

/** `fixedPort`: a suite that assumes redis on a fixed port (bench/compat.mjs: ioredis on 6379). */
export async function startRedis(fixedPort, { cpu } = {}) {
  const dir = mkdtempSync(path.join(tmpdir(), 'tapwire-bench-redis-'));
  const port = fixedPort ?? (await freePort());
  const child = spawnTracked(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'],
    { cpu },
  );
  const stop = async () => {
    await stopGroup(child, 'SIGTERM', 5000);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await until(() => ping(port), 'redis-server', child);
  } catch (error) {
    await stop();
    throw error;
  }
  return { port, child, stop, killSync: () => killSync(child) };
}

function killSync(child) {
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // gone
  }
}
