// Never break the host: every hook runs behind a guard. The first exception inside a hook is
// logged once (with its stack, to stderr through the agent logger) and the hook is disabled for
// the rest of the process; the app's own code path continues as if tapwire were not there.
import { agentLog } from './log/agent.js';

export interface Hook {
  readonly name: string;
  enabled: boolean;
}

export function hook(name: string): Hook {
  return { name, enabled: true };
}

/** Disable `h` and say so once. Call from a catch block inside the hook. */
export function fail(h: Hook, error: unknown): void {
  if (!h.enabled) return;
  h.enabled = false;
  agentLog('error', 'TAPWIRE_ERR_HOOK', `hook ${h.name} failed and is now disabled; the app is unaffected`, {
    hook: h.name,
    err: error,
  });
}
