// http.route from the framework that handled the request, read when the response ends.
// Framework hooks (./frameworks/) store the template on the raw Node request under kRoute;
// Express leaves its matched Route on `req.route` and needs no hook.
import type { IncomingMessage } from 'node:http';

export const kRoute: unique symbol = Symbol.for('tapwire.http.route');

type RoutedRequest = IncomingMessage & { [kRoute]?: string };

export function setRoute(req: object, route: string): void {
  (req as RoutedRequest)[kRoute] = route;
}

export function routeOf(req: IncomingMessage): string | undefined {
  return (req as RoutedRequest)[kRoute];
}
