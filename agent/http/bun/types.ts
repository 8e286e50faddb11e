// Interim recorder shapes for the Bun hooks (to be merged with ../record.ts). The hooks only gather
// raw values; the recorder owns timing (start → end), in-flight counts and attribute building.

export interface ServerRecorder {
  /** method: the raw request method; scheme 'http' | 'https'; returns an opaque token. */
  start(method: string, scheme: string): unknown;
  /** status 0 when no response was produced; route a template or undefined; errorType a low-cardinality class or undefined. */
  end(token: unknown, status: number, route: string | undefined, errorType: string | undefined): void;
}

export interface ClientRecorder {
  start(method: string, url: URL | string): unknown;
  end(token: unknown, status: number, errorType: string | undefined): void;
}

/** The slice of Bun's server object the hooks touch (no @types/bun in this project). */
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
