// http.route from the framework that handled the request, read when the response ends.
// Framework hooks (./frameworks/) store the template on the raw Node request under kRoute, from
// the frameworks' own diagnostics channels. Only a router's template is ever stored, never the
// raw path (./semconv.ts); a request no route matched (404) has none.
import type { IncomingMessage } from 'node:http';

export const kRoute: unique symbol = Symbol.for('tapwire.http.route');

type RoutedRequest = IncomingMessage & { [kRoute]?: string };

/** Store the matched template; undefined clears one a request matched earlier (next('route')). */
export function setRoute(req: object, route: string | undefined): void {
  (req as RoutedRequest)[kRoute] = route;
}

/** Read at the end of a request when no hook stored a template (Express without its channel). */
let fallback: ((req: IncomingMessage) => string | undefined) | undefined;

export function setRouteFallback(fn: ((req: IncomingMessage) => string | undefined) | undefined): void {
  fallback = fn;
}

export function routeOf(req: IncomingMessage): string | undefined {
  const route = (req as RoutedRequest)[kRoute];
  if (route !== undefined || fallback === undefined) return route;
  return fallback(req);
}
