// The process-wide slot of the OpenTelemetry JS API (its internal/global-utils.ts): every copy of
// @opentelemetry/api of one major version reads `globalThis[Symbol.for('opentelemetry.js.api.1')]`,
// an object carrying the version that created it and the registered providers. tapwire registers
// its MeterProvider there at start without loading the API itself (~34 kB; 1.2 ms of start-up on
// Node 24, 1.6 ms on Bun 1.4.5, measured), by the API's own rules: the slot is made with the bundled
// API's version, a registration is refused when the slot holds another version or the type is
// taken, and taking it back deletes the entry. What loads the API later (tracing, the SDK)
// registers in the same slot. tests/otel-global.test.ts checks it against the API.
import type { MeterProvider } from '@opentelemetry/api';

declare const __OTEL_API_VERSION__: string;

/** The bundled @opentelemetry/api's version (scripts/build.mjs); read from its package.json when run from source. */
const VERSION: string = typeof __OTEL_API_VERSION__ === 'string' ? __OTEL_API_VERSION__ : sourceVersion();

const KEY = Symbol.for(`opentelemetry.js.api.${VERSION.split('.')[0]}`);

type Slot = { readonly version: string; metrics?: MeterProvider };

/** As `metrics.setGlobalMeterProvider(provider)`: false when the API's rules refuse it. */
export function registerMeterProvider(provider: MeterProvider): boolean {
  const g = globalThis as { [KEY]?: Slot };
  g[KEY] ??= Object.defineProperty({}, 'version', {
    value: VERSION,
    enumerable: true,
    writable: false,
    configurable: false,
  }) as Slot;
  const slot = g[KEY];
  if (slot.metrics !== undefined || slot.version !== VERSION) return false;
  slot.metrics = provider;
  return true;
}

/** As `metrics.disable()`: the registered MeterProvider is taken out of the slot. */
export function unregisterMeterProvider(): void {
  const slot = (globalThis as { [KEY]?: Slot })[KEY];
  if (slot !== undefined) delete slot.metrics;
}

function sourceVersion(): string {
  const { createRequire } = process.getBuiltinModule('node:module') as typeof import('node:module');
  const { readFileSync } = process.getBuiltinModule('node:fs') as typeof import('node:fs');
  const entry = createRequire(import.meta.url).resolve('@opentelemetry/api');
  const pkg = `${entry.slice(0, entry.lastIndexOf('/dist/'))}/package.json`;
  return (JSON.parse(readFileSync(pkg, 'utf8')) as { version: string }).version;
}
