// The packages whose main file the agent patches as it loads (./load.ts), and the Hono file it
// rewrites (./http/frameworks/hono.ts), in one table: the hooks name their package from it, and on
// Bun a deferred start (./defer-bun.ts) waits for the same files. Also the app's declared
// dependencies, which decide on Bun which of them are waited for at all, and Bun.sql's variables.
//
// Imported by the agent's chunk and by ./defer-bun.ts, which is a bundle of its own
// (scripts/build.mjs): each holds its copy of this code, so a Bun process that never starts the agent
// loads no chunk of it. What both read at run time is shared through a global slot.
import { readText } from '../config/files.js';

/** Package request -> the end of its main file's path (CommonJS: patched as the app loads it). */
export const PACKAGE_MAINS = {
  pg: '/pg/lib/index.js',
  mysql2: '/mysql2/index.js',
  'mysql2/promise': '/mysql2/promise.js',
  'better-sqlite3': '/better-sqlite3/lib/index.js',
  express: '/express/index.js',
  router: '/router/index.js',
  koa: '/koa/lib/application.js',
  next: '/next/dist/server/next.js',
  'prom-client': '/prom-client/index.js',
} as const;

export type PackageRequest = keyof typeof PACKAGE_MAINS;

/** The variables Bun.sql takes its connection from: with one set, its hook probes a query at start (./db/bun-sql.ts). */
export const BUN_SQL_ENV = [
  'DATABASE_URL',
  'POSTGRES_URL',
  'PGURL',
  'PG_URL',
  'PGHOST',
  'MYSQL_URL',
  'TLS_DATABASE_URL',
] as const;

/**
 * The Bun runtime plugin filter of each main file: its path's end, either separator. Literals, not
 * built from PACKAGE_MAINS: a first String#replace with a regular expression cost each Bun process
 * under the preload 0.9 ms (Bun 1.4.5; tests/app-folders.test.ts checks them against the table).
 */
export const MAIN_FILE_FILTERS: Readonly<Record<PackageRequest, RegExp>> = {
  pg: /[\\/]pg[\\/]lib[\\/]index\.js$/,
  mysql2: /[\\/]mysql2[\\/]index\.js$/,
  'mysql2/promise': /[\\/]mysql2[\\/]promise\.js$/,
  'better-sqlite3': /[\\/]better-sqlite3[\\/]lib[\\/]index\.js$/,
  express: /[\\/]express[\\/]index\.js$/,
  router: /[\\/]router[\\/]index\.js$/,
  koa: /[\\/]koa[\\/]lib[\\/]application\.js$/,
  next: /[\\/]next[\\/]dist[\\/]server[\\/]next\.js$/,
  'prom-client': /[\\/]prom-client[\\/]index\.js$/,
};

/** Hono's dispatcher, in its ES module and its CommonJS build. */
export const HONO_BASE = /[\\/]hono[\\/]dist[\\/](?:cjs[\\/])?hono-base\.js$/;

/**
 * Bun: the built-ins through which everything that publishes on tapwire's diagnostics channels is
 * reached (core/channels.ts), by every name a require() or process.getBuiltinModule() takes; and
 * the filter that matches them in a runtime plugin's onResolve (namespace `node`, no prefix).
 */
export const CHANNEL_BUILTINS: ReadonlySet<string> = new Set([
  'node:http',
  'http',
  'node:https',
  'https',
  'node:diagnostics_channel',
  'diagnostics_channel',
]);
export const CHANNEL_BUILTINS_RESOLVED = /^(?:http|https|diagnostics_channel)$/;

/**
 * Bun: where the agent hands over a file a runtime plugin was asked for (./load.ts sets it). The
 * plugins of a deferred start (./defer-bun.ts) are registered first, so Bun asks them, and they ask
 * this once the agent has started (unset: no agent, the file goes unpatched).
 */
export const kBunLoad = Symbol.for('tapwire.bun.load');
export type BunLoad = (path: string) => { contents?: string; exports?: unknown; loader: string };

const kDeclared = Symbol.for('tapwire.appDependencies');

/**
 * The runtime dependencies the app declares: `dependencies`, `optionalDependencies` and
 * `peerDependencies` of the package.json nearest to its entry point (read once per process).
 */
export function appDependencies(): ReadonlySet<string> {
  const g = globalThis as { [kDeclared]?: Set<string> };
  const known = g[kDeclared];
  if (known !== undefined) return known;
  const declared = new Set<string>();
  g[kDeclared] = declared;
  for (const dir of foldersUp(process.argv[1])) {
    try {
      const file = isSeparator(dir.charCodeAt(dir.length - 1)) ? `${dir}package.json` : `${dir}/package.json`;
      const pkg = JSON.parse(readText(file)) as Record<string, unknown>;
      for (const field of ['dependencies', 'optionalDependencies', 'peerDependencies']) {
        const deps = pkg[field];
        if (deps !== null && typeof deps === 'object')
          for (const name of Object.keys(deps)) declared.add(name);
      }
      return declared;
    } catch (error) {
      // None here: look further up. An unreadable package.json declares nothing.
      if ((error as NodeJS.ErrnoException | null)?.code !== 'ENOENT') return declared;
    }
  }
  return declared;
}

/**
 * The folder of `main` (resolved against the working directory), then each one above it to the
 * root; the working directory and up when there is no `main`. By string, as node:path's
 * dirname(resolve(main)) and dirname() would give them: node:path costs a Bun process ~1.7 ms to
 * load (measured, 1.4.5), and every Bun process under the preload reads the app's package.json
 * (./defer-bun.ts), most of them never loading node:path themselves.
 */
export function foldersUp(main: string | undefined): string[] {
  // Without a regular expression or process.cwd() where none is needed: each is a first use that
  // costs a Bun start ~0.2-0.3 ms (measured, 1.4.5).
  const full = !main ? process.cwd() : isAbsolute(main) ? main : `${process.cwd()}/${main}`;
  const drive = driveLength(full);
  let i = drive;
  const root = full.slice(0, drive) + (isSeparator(full.charCodeAt(i)) ? full[i] : '');
  const parts: string[] = [];
  for (let from = i; i <= full.length; i++) {
    if (i < full.length && !isSeparator(full.charCodeAt(i))) continue;
    const part = full.slice(from, i);
    if (part === '..') parts.pop();
    else if (part !== '' && part !== '.') parts.push(part);
    from = i + 1;
  }
  if (main) parts.pop(); // the file's own name
  const sep = root.endsWith('\\') ? '\\' : '/';
  const folders: string[] = [];
  for (let n = parts.length; n >= 0; n--) folders.push(root + parts.slice(0, n).join(sep));
  return folders;
}

/** `/` or `\\`. */
function isSeparator(code: number): boolean {
  return code === 47 || code === 92;
}

/** 2 for a path that starts with a drive letter and a colon (`C:`), else 0. */
function driveLength(path: string): number {
  const letter = path.charCodeAt(0) | 32;
  return letter >= 97 && letter <= 122 && path.charCodeAt(1) === 58 ? 2 : 0;
}

function isAbsolute(path: string): boolean {
  return isSeparator(path.charCodeAt(0)) || (driveLength(path) === 2 && isSeparator(path.charCodeAt(2)));
}
