// prom-client: the app's default registry served on tapwire's /metrics, names unchanged
// (exporters/prom-client.ts converts it at each collection; the merge of a host's processes then
// treats it like any other metric).
//
// detect: the app loads prom-client (../load.ts: CommonJS only, so ESM and CommonJS apps load the
//   same index.js; on Bun, when the app declares prom-client).
// hook: nothing is patched. The package's default registry (`register`, the one `new Counter()`
//   registers in unless told otherwise) is handed to the producer; the names its
//   collectDefaultMetrics() would register are read from the package itself (each default metric's
//   module exports `metricNames`), so they follow the installed version. Metrics the app keeps in
//   registries of its own making are not seen.
import { createRequire } from 'node:module';
import type { PromRegistry } from '../../exporters/prom-client.js';
import type { HookContext } from '../context.js';

function isRegistry(value: unknown): value is PromRegistry {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as PromRegistry).getMetricsAsJSON === 'function'
  );
}

/** The names of prom-client's default metrics, from the copy at `file` ('' entries never match). */
function defaultNames(file: string): string[] {
  try {
    const req = createRequire(file);
    const list = (req('./lib/defaultMetrics.js') as { metricsList?: unknown }).metricsList;
    const modules = Array.isArray(list) ? [...(list as string[]), 'osMemoryHeapLinux'] : [];
    const names: string[] = [];
    for (const m of modules) {
      try {
        const n = (req(`./lib/metrics/${m}.js`) as { metricNames?: unknown }).metricNames;
        if (Array.isArray(n)) for (const x of n) if (typeof x === 'string' && x !== '') names.push(x);
      } catch {
        // a module this version does not have
      }
    }
    return names;
  } catch {
    return [];
  }
}

export function install(ctx: HookContext): void {
  ctx.loads.on(
    'prom-client',
    (exports, file) => {
      const register = (exports as { register?: unknown }).register;
      if (!isRegistry(register)) return;
      ctx.patches.onRestore(ctx.promClient.add(register, defaultNames(file)));
    },
    ctx.guard,
  );
}
