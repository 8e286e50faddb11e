// Outbound requests through the `undici` module on Bun.
//
// detect: Bun (1.4.5) answers `import 'undici'` / `require('undici')` with a built-in module of its
//   own (module.isBuiltin('undici') is true; an undici in node_modules is never loaded), so none of
//   undici's diagnostics channels exist there. In it, `fetch` is `Bun.fetch` itself, `request()` is
//   JavaScript that calls the native fetch it captured when the module loaded (nothing tapwire
//   wraps reaches it), `Agent` and `setGlobalDispatcher` are inert, `Client#request` and
//   `Pool#request` do nothing, and `stream`, `pipeline`, `connect`, `upgrade` throw "not
//   implemented". Loading the module costs 5–13 ms (measured on Bun 1.4.5), and Bun offers no way
//   to see an ESM import of a built-in, so it is loaded here only for an app whose package.json
//   declares undici (../../load.ts appDependencies, as for the database drivers on Bun).
// hook: the module's exports object, which Bun hands every importer (ESM named and default
//   imports included, when they come after the preload): its `fetch` gets ./fetch.ts's wrapper,
//   its `request` one that measures the call. `Bun.fetch` itself stays unmeasured.
// record: one ClientOp per request() from the origin classifier, ended when request() settles
//   (the response head has arrived: statusCode, or the error's code, e.g. ECONNREFUSED). With
//   tracing on, the call gets an options object inheriting from the app's with a new Headers
//   carrying `traceparent`; the app's objects are never written to. A provider call through
//   request() is an HTTP call only: its body reaches the app through methods (`body.json()`) that
//   read the response directly, so tapwire cannot follow it, and no gen_ai metrics are recorded
//   for it (Bun's fetch, and undici's `fetch` export, are followed: ../../ai/bun.ts).
import module from 'node:module';
import { fail } from '../../../core/guard.js';
import type { ClientOp } from '../../../core/http/client.js';
import { type Origin, pathOfUrl } from '../../../core/http/origins.js';
import { around, type Fn } from '../../../core/patch.js';
import type { HookContext } from '../../context.js';
import { appDependencies } from '../../load.js';
import { type Hooked, inheritWith, measuredFetch, track } from './fetch.js';
import { bunGlobal } from './types.js';

/** A provider's origin without its provider, one per origin: request() calls are HTTP calls only. */
const plainOrigins = new WeakMap<Origin, Origin>();

function plain(origin: Origin): Origin {
  if (origin.provider === undefined) return origin;
  let o = plainOrigins.get(origin);
  if (o === undefined) {
    o = { ...origin, provider: undefined };
    plainOrigins.set(origin, o);
  }
  return o;
}

function urlOf(url: unknown): string | undefined {
  if (typeof url === 'string') return url;
  return url instanceof URL ? url.href : undefined;
}

function methodOf(options: unknown): string {
  const m =
    typeof options === 'object' && options !== null ? (options as { method?: unknown }).method : undefined;
  return typeof m === 'string' ? m : 'GET';
}

/** New options inheriting every field of `options` (read by destructuring), with their own headers. */
function optionsWith(options: unknown, trace: Record<string, string>): object | undefined {
  if (options !== undefined && (typeof options !== 'object' || options === null)) return undefined;
  const own = options === undefined ? undefined : (options as { headers?: unknown }).headers;
  let headers: Headers;
  try {
    // What fetch makes of the headers the app gave (a record, [name, value] pairs, Headers).
    headers = new Headers((own ?? undefined) as ConstructorParameters<typeof Headers>[0]);
  } catch {
    return undefined; // headers fetch would refuse: the call goes out as the app made it
  }
  for (const k in trace) headers.set(k, trace[k]!);
  return options === undefined ? { headers } : inheritWith(options as object, headers);
}

/** The status of request()'s result (0 when it has none). */
function statusCodeOf(result: unknown): number {
  const status = (result as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === 'number' ? status : 0;
}

function requestMeasured(h: Hooked, original: Fn, self: unknown, args: IArguments): unknown {
  const url = args[0];
  const options = args[1];
  let op: ClientOp | undefined;
  let sent: unknown = options;
  try {
    const href = urlOf(url);
    const origin = href === undefined ? undefined : h.origins.ofUrl(href);
    if (origin !== undefined && !origin.internal) {
      op = h.http.client(methodOf(options), plain(origin), pathOfUrl(href!));
      if (op.headers !== undefined) sent = optionsWith(options, op.headers) ?? options;
    }
  } catch (error) {
    fail(h.guard, error);
  }
  if (op === undefined) return Reflect.apply(original, self, args);
  let promise: unknown;
  try {
    promise = sent === options ? Reflect.apply(original, self, args) : original.call(self, url, sent);
  } catch (error) {
    op.fail(error);
    throw error;
  }
  return track(h, op, promise, statusCodeOf);
}

export function install(ctx: HookContext): void {
  if (bunGlobal() === undefined || !appDependencies().has('undici') || !module.isBuiltin('undici')) return;
  const undici = process.getBuiltinModule?.('undici') as object | undefined;
  if (typeof undici !== 'object' || undici === null) return;
  const h: Hooked = { http: ctx.http, origins: ctx.origins, guard: ctx.guard };
  ctx.patches.wrap(undici, 'fetch', (original) => measuredFetch(h, original));
  ctx.patches.wrap(undici, 'request', (original) =>
    around(ctx.guard, original, (o, self, args) => requestMeasured(h, o, self, args)),
  );
}
