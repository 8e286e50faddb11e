// Next.js 15 (`next start`, the standalone server.js, custom servers): http.route from the route
// Next's own router matched.
//
// detect: Next keeps what its router decided about a request on the Node request itself, under
//   Symbol.for('NextInternalRequestMeta') (next/dist/server/request-meta.js). Its router server
//   (server/lib/router-server.js) creates that object as the request arrives and, when it hands the
//   request to a page, a route handler or an API route, records the file-system route it matched
//   as `invokeOutput`: '/blog/[slug]', '/api/items/[id]', '/docs/[...slug]', '/shop/[[...path]]',
//   with route groups such as '(marketing)' already removed, after next.config rewrites and
//   middleware rewrites. It is there at the end of every request, on Node and on Bun, with no patch,
//   no channel and no tracer. (Next's own OpenTelemetry root span carries the same template as
//   `next.route`, but only while a global TracerProvider is registered, only for the requests Next
//   renders — not its static files — and only on a span; the request meta needs none of that.)
//   The reader is added only once Next is there, so other apps pay nothing per request:
//   - the process runs Next's CLI (`next start`: argv[1] is next/dist/bin/next, through
//     node_modules/.bin/next, npx or npm scripts alike);
//   - the app loads `next` (the standalone server.js and custom servers `require('next')` or import
//     it; ../../load.ts);
//   - on Bun, the app declares `next` in its package.json (the standalone output's has it): Bun's
//     import of a CommonJS package passes through neither of the hooks ../../load.ts has there, so
//     an ESM custom server would go unseen. Next itself is never loaded from here (load.ts loads a
//     declared package on Bun for the other hooks; Next would then run before server.js sets the
//     environment it reads).
// hook: none. A route reader (../routes.ts) reads the meta when the response ends.
// record: nextRoute() below. Only templates from Next's route tables and two fixed names are ever
//   returned, never the request's path.
import { realpathSync, statSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { join, resolve } from 'node:path';
import { fail, type Guard } from '../../../core/guard.js';
import type { HookContext } from '../../context.js';
import { addRouteReader } from '../routes.js';

const kMeta: unique symbol = Symbol.for('NextInternalRequestMeta') as never;
/** Where the router server leaves each project's configuration (server/lib/router-utils/router-server-context.js). */
const kRouterServer: unique symbol = Symbol.for('@next/router-server-methods') as never;

/** Every file of the build output Next serves under /_next/static/ (hashed names, new each build). */
export const STATIC_ROUTE = '/_next/static/[...path]';
/** Every file Next serves from the project's public/ folder. */
export const PUBLIC_ROUTE = '/[...public]';

/**
 * Next's own pages: what it renders when no route matched or for an error, and the pages router's
 * wrappers. A request for one of them by name ('/404', '/_error') is answered with the not-found
 * page too, with the page as invokeOutput: never a route of the app.
 */
const NEXT_PAGES = new Set(['/_not-found', '/_error', '/404', '/500', '/_app', '/_document']);

interface Meta {
  invokePath?: unknown;
  invokeOutput?: unknown;
  invokeStatus?: unknown;
  middlewareInvoke?: unknown;
  match?: { definition?: { pathname?: unknown } };
  relativeProjectDir?: unknown;
}

type NextRequest = IncomingMessage & { [kMeta]?: Meta };

/** What the router answered without rendering needs to know about its project, read once. */
interface Project {
  basePath: string;
  publicDir: string;
}

const projects = new Map<string, Project>();

function projectOf(relativeDir: string): Project {
  const known = projects.get(relativeDir);
  if (known !== undefined) return known;
  const context = (
    globalThis as { [kRouterServer]?: Record<string, { nextConfig?: { basePath?: unknown } }> }
  )[kRouterServer]?.[relativeDir];
  const basePath = context?.nextConfig?.basePath;
  // The router server computed relativeProjectDir against the working directory it started in.
  const project = {
    basePath: typeof basePath === 'string' ? basePath : '',
    publicDir: resolve(process.cwd(), relativeDir, 'public'),
  };
  // Remembered only once the router's configuration is known (it is before the first request).
  if (context !== undefined) projects.set(relativeDir, project);
  return project;
}

/**
 * Whether `path` names a file of the public/ folder. Next serves only files that were there when it
 * started and answers a missing one through its 404 page (which sets invokePath), so this is
 * reached only for files it served and for requests it proxied to an external rewrite destination;
 * one stat of a file the request just read tells them apart. Not on the path of rendered requests.
 */
function isPublicFile(publicDir: string, path: string): boolean {
  let decoded = path;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    // Next matches the raw form too
  }
  const file = join(publicDir, decoded);
  // path.sep, not imported: a value taken from node:path loads it with the agent (~1.7 ms on Bun).
  if (!file.startsWith(publicDir + (process.platform === 'win32' ? '\\' : '/'))) return false;
  try {
    return statSync(file, { throwIfNoEntry: false })?.isFile() === true;
  } catch {
    // ENOTDIR ('/robots.txt/x'), ENAMETOOLONG: not a file Next served
    return false;
  }
}

/**
 * The route of one request Next answered, from its request meta and the response status:
 * - rendered (the router invoked a page, a route handler, an API route or the image optimizer):
 *   the route the router matched; none when the router found no route (invokeStatus 404) or only
 *   an error page rendered. A route that answers 404 itself (notFound()) keeps its route, as with
 *   the other frameworks.
 * - answered by middleware alone (a redirect, or a response of its own): none, since no route of
 *   the app ran; the status tells redirects apart. A middleware rewrite is rendered, so it gets the
 *   route it was rewritten to.
 * - answered by the router without rendering: a file of the build output under /_next/static/
 *   (STATIC_ROUTE) or of public/ (PUBLIC_ROUTE); none for next.config redirects, external rewrites
 *   and a missing static file (Next's plain 404). (Middleware answering a request for such a file
 *   itself looks the same and is counted as the file.)
 */
export function routeFromMeta(meta: Meta, url: string | undefined, status: number): string | undefined {
  const invokePath = meta.invokePath;
  // The middleware step sets invokePath '' and middlewareInvoke; rendering afterwards resets both.
  if (typeof invokePath === 'string' && !(invokePath === '' && meta.middlewareInvoke === true)) {
    if (meta.invokeStatus === 404) return undefined;
    const output = meta.invokeOutput;
    if (typeof output === 'string' && output !== '') return NEXT_PAGES.has(output) ? undefined : output;
    // Without Next's router server in front (minimal mode): the route the render matched.
    const pathname = meta.match?.definition?.pathname;
    return typeof pathname === 'string' && !NEXT_PAGES.has(pathname) ? pathname : undefined;
  }
  if (status < 200 || (status >= 300 && status !== 304) || url === undefined) return undefined;
  const relativeDir = meta.relativeProjectDir;
  if (typeof relativeDir !== 'string') return undefined;
  const { basePath, publicDir } = projectOf(relativeDir);
  const q = url.indexOf('?');
  let path = q === -1 ? url : url.slice(0, q);
  if (basePath !== '') {
    if (!path.startsWith(basePath + '/')) return undefined;
    path = path.slice(basePath.length);
  }
  if (path.startsWith('/_next/static/')) return STATIC_ROUTE;
  return isPublicFile(publicDir, path) ? PUBLIC_ROUTE : undefined;
}

/** The hook's guard while installed; routeFromMeta() also runs without one (tests). */
let guard: Guard | undefined;

function nextRoute(req: IncomingMessage, status: number): string | undefined {
  const meta = (req as NextRequest)[kMeta];
  if (meta === undefined || guard?.enabled !== true) return undefined;
  try {
    return routeFromMeta(meta, req.url, status);
  } catch (error) {
    fail(guard, error);
    return undefined;
  }
}

/**
 * Whether this process runs Next's CLI, read once at start-up. `next start` serves from the CLI's
 * own process; `next dev` serves from a child it forks (server/lib/start-server.js), which is not
 * looked for: the development server is not what tapwire measures.
 */
function runsNextCli(): boolean {
  const main = process.argv[1];
  // Nearly every app stops here, without touching the file system.
  if (main === undefined || !/(?:^|[\\/])next$/.test(main)) return false;
  try {
    return /[\\/]next[\\/]dist[\\/]bin[\\/]next$/.test(realpathSync(main));
  } catch {
    return false;
  }
}

export function install(ctx: HookContext): void {
  guard = ctx.guard;
  ctx.patches.onRestore(() => {
    guard = undefined;
    projects.clear();
  });
  let added = false;
  const present = (): void => {
    if (added) return;
    added = true;
    ctx.patches.onRestore(addRouteReader(nextRoute));
  };
  if (runsNextCli() || (ctx.runtime === 'bun' && ctx.loads.declares('next'))) present();
  // Not declared: Bun's declared-package preload (../../load.ts) passes over it.
  else ctx.loads.on('next', present, ctx.guard);
}
