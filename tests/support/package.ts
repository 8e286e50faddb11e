// The package as a user gets it: `npm pack` of the built repository, installed with npm into a
// fresh app in a temporary directory. npm runs with the test's PATH (the project's Node) but none
// of the npm_* variables an outer `npm test` sets, so it acts as it would in the user's shell.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './index.js';

export interface Packed {
  /** The .tgz file. */
  tarball: string;
  /** What npm reports for it. */
  size: number;
  unpackedSize: number;
  files: { path: string; size: number }[];
}

const made: string[] = [];

/** A temporary directory that removeTemporaries() deletes. */
export function temporary(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

export function removeTemporaries(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** The environment for a child npm: the caller's, minus what an outer npm run put there. */
export function npmEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^npm_/i.test(k) && k !== 'INIT_CWD') env[k] = v;
  }
  return {
    ...env,
    npm_config_audit: 'false',
    npm_config_fund: 'false',
    npm_config_update_notifier: 'false',
    ...extra,
  };
}

export function npm(args: string[], cwd: string, extra: Record<string, string> = {}): string {
  return execFileSync('npm', args, {
    cwd,
    env: npmEnv(extra),
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 180_000,
  });
}

/**
 * `npm pack` of the repository as it is built now (`npm test` builds first; the pack's own
 * prepack build is skipped so a test never rebuilds dist/ under the others).
 */
export function pack(): Packed {
  const dir = temporary('tapwire-pack-');
  const out = npm(['pack', '--json', '--ignore-scripts', '--pack-destination', dir], ROOT);
  const [info] = JSON.parse(out) as {
    filename: string;
    size: number;
    unpackedSize: number;
    files: { path: string; size: number }[];
  }[];
  return {
    tarball: join(dir, info!.filename),
    size: info!.size,
    unpackedSize: info!.unpackedSize,
    files: info!.files.map(({ path, size }) => ({ path, size })),
  };
}

/** A fresh app (`package.json` from `manifest`) with `npm install <tarball>` done in it. */
export function installApp(
  tarball: string,
  manifest: Record<string, unknown>,
  files: Record<string, string> = {},
) {
  const dir = temporary('tapwire-app-');
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  npm(['install', '--prefer-offline', '--no-package-lock', tarball], dir);
  return dir;
}

export function readJson<T>(path: string): T {
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}
