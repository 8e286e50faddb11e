// Never break the host: every hook runs behind a guard. The first exception inside a hook is
// logged once (with its stack, to stderr through the agent logger) and the guard turns off for the
// rest of the process; the hook's wrappers then pass every call straight through, and the app's
// own code path continues as if tapwire were not there. Uninstalling the agent turns every guard
// off too, so a wrapper that something else wrapped again (and that cannot be taken out) is inert.
import { agentLog } from './log.js';

export interface Guard {
  readonly name: string;
  enabled: boolean;
}

export function guard(name: string): Guard {
  return { name, enabled: true };
}

/** Turn `g` off and say so once. Call from a catch block inside the hook. */
export function fail(g: Guard, error: unknown): void {
  if (!g.enabled) return;
  g.enabled = false;
  agentLog('TAPWIRE_ERR_HOOK', `hook ${g.name} failed and is now disabled; the app is unaffected`, {
    hook: g.name,
    err: error,
  });
}

/**
 * `fn` behind `g`: skipped while the guard is off, its first exception logged and the guard turned
 * off. For the listeners a hook subscribes (diagnostics channels, events): built once at install.
 */
export function guarded<M>(g: Guard, fn: (message: M) => void): (message: M) => void {
  return (message) => {
    if (!g.enabled) return;
    try {
      fn(message);
    } catch (error) {
      fail(g, error);
    }
  };
}
