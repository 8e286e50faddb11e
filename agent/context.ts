// What every hook is given when it installs: the recorders it hands its operations to, the
// classifier of outbound requests, and the one way to patch, subscribe and guard. Everything a hook
// patches or subscribes through here is taken back when the agent stops or the hook's install
// fails; every guard made here is turned off then.
import type { Meter } from '@opentelemetry/api';
import type { Config } from '../config/index.js';
import type { ChannelKey, Subscriptions } from '../core/channels.js';
import type { Pools } from '../core/db/pools.js';
import type { DbRecorder } from '../core/db/recorder.js';
import type { Guard } from '../core/guard.js';
import type { Origins } from '../core/http/origins.js';
import type { HttpRecorder } from '../core/http/recorder.js';
import type { Patches } from '../core/patch.js';
import type { Runtime } from '../core/runtime.js';
import type { PromClientProducer } from '../exporters/prom-client.js';
import type { ModuleLoads } from './load.js';

export interface HookContext {
  readonly config: Config;
  readonly runtime: Runtime;
  /** For instruments read at collection (runtime metrics); operations go through the recorders. */
  readonly meter: Meter;
  readonly http: HttpRecorder;
  readonly db: DbRecorder;
  readonly pools: Pools;
  readonly origins: Origins;
  /** The app's prom-client registries, served with tapwire's metrics (./metrics/prom-client.ts). */
  readonly promClient: PromClientProducer;
  /** Patches of this hook (core/patch.ts). */
  readonly patches: Patches;
  /** Diagnostics-channel subscriptions of this hook (core/channels.ts). */
  readonly channels: Subscriptions;
  /** Subscribes `listener` to a channel of the table behind the hook's guard (core/guard.ts guarded()). */
  on(key: ChannelKey, listener: (message: unknown) => void): void;
  /** Runs a patch on a CommonJS package's exports when the app loads it (./load.ts). */
  readonly loads: ModuleLoads;
  /** The hook's guard, named after it: check `enabled` on every call, `fail()` in every catch. */
  readonly guard: Guard;
  /** A guard of its own for a part of the hook that should fail alone (`<hook>.<part>`). */
  guardOf(part: string): Guard;
}
