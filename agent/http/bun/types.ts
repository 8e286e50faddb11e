// The slices of Bun's API the Bun hooks touch (there is no @types/bun in this project).

export interface BunServer {
  readonly protocol?: string | null;
  reload(options: unknown): unknown;
  upgrade(request: Request, options?: unknown): boolean;
}

export type BunServe = (options: unknown, ...rest: unknown[]) => BunServer;

export interface BunGlobal {
  serve: BunServe;
}

export function bunGlobal(): BunGlobal | undefined {
  const b = (globalThis as { Bun?: unknown }).Bun;
  return typeof b === 'object' && b !== null ? (b as BunGlobal) : undefined;
}

// The runtime's own Response, taken when the preload loads: @hono/node-server (and others)
// replace globalThis.Response with their own class later, and Bun.serve and fetch deal in the
// native one.
export const NativeResponse: typeof Response = globalThis.Response;

export type Handler = (this: unknown, ...args: unknown[]) => unknown;

/** Whether a handler's result is something Bun awaits (a promise, a thenable) rather than a Response. */
export function thenable(value: unknown): value is PromiseLike<unknown> {
  if (value instanceof Promise) return true;
  if (value instanceof NativeResponse || value === undefined || value === null) return false;
  if (typeof value !== 'object' && typeof value !== 'function') return false;
  try {
    return typeof (value as { then?: unknown }).then === 'function';
  } catch {
    return false; // a throwing `then` getter: Bun will not treat it as a promise either
  }
}
