// What each HTTP attribute may hold. Every value here is low-cardinality by construction:
// https://opentelemetry.io/docs/specs/semconv/http/http-metrics/ and
// https://opentelemetry.io/docs/specs/semconv/attributes-registry/error/
// - http.request.method: the nine RFC 9110/5789 methods, anything else `_OTHER` (a client can
//   send any token as a method; each would otherwise become a series).
// - error.type: a class, never a message. Server side: the status code for 5xx (4xx is the
//   client's fault, not the server's), `aborted` when the connection closed before the response
//   was complete. Client side: the status code for 4xx/5xx, else the error's code
//   (`ECONNREFUSED`, `UND_ERR_CONNECT_TIMEOUT`) or class name.
// - http.route: only a router's template (`/users/:id`), never the raw path.

const KNOWN_METHODS: Readonly<Record<string, string>> = {
  GET: 'GET',
  HEAD: 'HEAD',
  POST: 'POST',
  PUT: 'PUT',
  DELETE: 'DELETE',
  CONNECT: 'CONNECT',
  OPTIONS: 'OPTIONS',
  TRACE: 'TRACE',
  PATCH: 'PATCH',
};

export function normalizeMethod(method: string | undefined): string {
  if (method === undefined) return 'GET';
  return KNOWN_METHODS[method] ?? KNOWN_METHODS[method.toUpperCase()] ?? '_OTHER';
}

export const ABORTED = 'aborted';

// A status's label, made the first time that status is seen: 100-599 only (anything else is
// `_OTHER`, so the label stays bounded). Not filled at load: 500 String() calls at the top of a Bun
// start cost it ~0.9 ms (cold code; measured on 1.4.5), and a loop at the module's top level is worse
// (JavaScriptCore compiles the block a loop runs in after ~500 turns: there, the whole bundle chunk).
const STATUS_STRINGS: string[] = [];
function statusString(status: number): string {
  if (!Number.isInteger(status) || status < 100 || status > 599) return '_OTHER';
  STATUS_STRINGS[status] ??= String(status);
  return STATUS_STRINGS[status];
}

export function serverErrorType(status: number, completed: boolean): string | undefined {
  if (!completed) return ABORTED;
  return status >= 500 ? statusString(status) : undefined;
}

export function clientStatusErrorType(status: number): string | undefined {
  return status >= 400 ? statusString(status) : undefined;
}

const CODE = /^[A-Za-z][A-Za-z0-9_.]{0,63}$/;

// Bun's fetch named a refused connection `ConnectionRefused` before 1.4.3 (measured on 1.4.0 and
// 1.4.2), `ECONNREFUSED` like Node from 1.4.3: one name, so a fleet on mixed Bun versions has one series.
const SAME_AS: ReadonlyMap<string, string> = new Map([['ConnectionRefused', 'ECONNREFUSED']]);

/** A low-cardinality class for an error: its code, else its class name, else `_OTHER`. */
export function errorClass(error: unknown): string {
  if (error !== null && typeof error === 'object') {
    let e = error as { code?: unknown; name?: unknown; cause?: unknown; constructor?: { name?: unknown } };
    // fetch() wraps the network error: `TypeError: fetch failed` with the real one as `cause`.
    if (e.name === 'TypeError' && e.cause !== null && typeof e.cause === 'object') {
      e = e.cause as typeof e;
    }
    if (typeof e.code === 'string' && CODE.test(e.code)) return SAME_AS.get(e.code) ?? e.code;
    if (typeof e.name === 'string' && CODE.test(e.name) && e.name !== 'Error') return e.name;
    const ctor = e.constructor?.name;
    if (typeof ctor === 'string' && CODE.test(ctor)) return ctor;
  }
  return '_OTHER';
}

export function defaultPort(scheme: string): number {
  return scheme === 'https' ? 443 : 80;
}
