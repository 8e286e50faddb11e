import { readFileSync } from 'node:fs';

/** Bun's memory map of a file (Bun.mmap), where the runtime has it. */
type Mmap = (path: string) => Uint8Array;

/**
 * A small file's text (the app's package.json, read at start). On Bun through Bun.mmap, copied out
 * at once: Bun builds its node:fs on first use, ~1.5 ms of the start of every process that never
 * touches node:fs itself (measured, Bun 1.4.5), against ~0.15 ms for the map. Through node:fs where
 * there is no map or it fails (an empty file, a file system that cannot map). A missing file throws
 * ENOENT either way.
 */
export function readText(path: string): string {
  const mmap = (globalThis as { Bun?: { mmap?: Mmap } }).Bun?.mmap;
  if (mmap !== undefined) {
    try {
      return new TextDecoder().decode(mmap(path));
    } catch (error) {
      if ((error as NodeJS.ErrnoException | null)?.code === 'ENOENT') throw error;
    }
  }
  return readFileSync(path, 'utf8');
}
