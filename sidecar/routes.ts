// Route templates for the proxy's `http.route` label (TAPWIRE_ROUTES). The sidecar sees raw
// paths only; a raw path as a label is unbounded cardinality (agent/http/semconv.ts), so a path
// gets the first matching template or no route label at all. Patterns are compiled once into
// anchored regular expressions of literal segments, `[^/]+` parameters and a final `.*`, so
// matching is linear and can never backtrack badly.

export type RouteMatcher = (path: string) => string | undefined;

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export function compileRoutes(patterns: readonly string[]): RouteMatcher {
  if (patterns.length === 0) return () => undefined;
  const compiled = patterns.map((pattern) => {
    let source = '^';
    for (const segment of pattern.split('/').slice(1)) {
      if (segment === '*') source += '(?:/.*)?';
      else if (segment.startsWith(':')) source += '/[^/]+';
      else source += `/${escapeRegExp(segment)}`;
    }
    // `/` itself, and tolerate one trailing slash as routers do.
    source += pattern === '/' ? '$' : '/?$';
    return { re: new RegExp(source), pattern };
  });
  return (path: string) => {
    const q = path.indexOf('?');
    const p = q === -1 ? path : path.slice(0, q);
    for (let i = 0; i < compiled.length; i++) {
      const c = compiled[i]!;
      if (c.re.test(p)) return c.pattern;
    }
    return undefined;
  };
}
