// http.route from the framework that handled the request, read when the response ends.
// Framework hooks (./frameworks/) either store the template on the raw Node request under kRoute
// (from the frameworks' own diagnostics channels or dispatch), or register a reader that finds it
// on the request at the end (a framework that keeps the matched route on its own context, or whose
// answer depends on the status it ended with). Only a router's template is ever stored or read,
// never the raw path (core/http/semconv.ts); a request no route matched (404) has none.
import type { IncomingMessage } from 'node:http';

export const kRoute: unique symbol = Symbol.for('tapwire.http.route');

type RoutedRequest = IncomingMessage & { [kRoute]?: string };
/** `status` is the response's status code (0 when no response was sent). */
type RouteReader = (req: IncomingMessage, status: number) => string | undefined;

/** Store the matched template; undefined clears one a request matched earlier (next('route')). */
export function setRoute(req: object, route: string | undefined): void {
  (req as RoutedRequest)[kRoute] = route;
}

/** Read at the end of a request that no hook stored a template on, in the order registered. */
const readers: RouteReader[] = [];

/** Adds a reader; returns its removal (for the hook's patches.onRestore). */
export function addRouteReader(reader: RouteReader): () => void {
  readers.push(reader);
  return () => {
    const i = readers.indexOf(reader);
    if (i !== -1) readers.splice(i, 1);
  };
}

export function routeOf(req: IncomingMessage, status: number): string | undefined {
  const route = (req as RoutedRequest)[kRoute];
  if (route !== undefined) return route;
  for (let i = 0; i < readers.length; i++) {
    const r = readers[i]!(req, status);
    if (r !== undefined) return r;
  }
  return undefined;
}
