// The last push of a process that ends before it has a connection to the holder of the host's
// /metrics port (../agent/endpoint.ts: a child opens its endpoint at the first turn of its event
// loop, so one that records synchronously and exits never connects, and one that calls
// process.exit() may still be connecting). 'exit' allows nothing asynchronous, so the push goes
// to a file: one folder per user and port, made by the first process that needs it, readable by
// its user alone (the file system's permissions stand in for the loopback check of a pushed
// request). The holder reads the folder at each scrape and each push it receives.
//
// - Bounded: a process that finds MAX_SPOOLED pushes waiting spools nothing (a holder whose loop
//   is blocked, a parent in execFileSync, reads them once it runs again; nobody else does).
// - A push older than MAX_AGE_MS when the holder reads it is removed unread: it was left where no
//   holder read it (none held the port then, or the one that did has gone with its totals).
// - Each push is written under a temporary name and renamed, so the holder never reads half a file.
//
// node:fs is taken when needed (process.getBuiltinModule): on Bun it costs ~2 ms to load, which a
// process that never spools and is never scraped does not pay.
import type * as Fs from 'node:fs';

/** Pushes waiting at most: a few kB each. */
export const MAX_SPOOLED = 256;
/** Older pushes are removed unread. */
export const MAX_AGE_MS = 10 * 60 * 1000;

const fs = (): typeof Fs => process.getBuiltinModule('node:fs') as typeof Fs;

/** The folder of `port`'s spool for this user, or undefined where users have no ids (Windows). */
export function spoolDir(port: number): string | undefined {
  const uid = process.getuid?.();
  if (uid === undefined) return undefined;
  const tmp = process.env.TMPDIR || '/tmp';
  return `${tmp.replace(/\/+$/, '')}/tapwire-${uid}/${port}`;
}

/** A folder this user owns and nobody else can write into (not a link someone else placed there). */
function ours(path: string): boolean {
  try {
    const stat = fs().lstatSync(path);
    return stat.isDirectory() && stat.uid === process.getuid?.() && (stat.mode & 0o077) === 0;
  } catch {
    return false;
  }
}

/** Pushes this process has spooled: one in a process's life, more in a test. */
let written = 0;

const parentOf = (dir: string): string => dir.slice(0, dir.lastIndexOf('/'));

/**
 * The holder's side: hands each waiting push of `port` to `take`, oldest first, and removes it
 * (and those too old to take). Returns how many were taken.
 */
export function drainSpool(
  port: number,
  take: (body: Uint8Array, handed: boolean) => void,
  now = Date.now(),
): number {
  const dir = spoolDir(port);
  if (dir === undefined) return 0;
  const f = fs();
  let names: string[];
  try {
    names = f.readdirSync(dir);
  } catch {
    return 0; // No folder: nothing was ever spooled.
  }
  if (names.length === 0 || !ours(parentOf(dir)) || !ours(dir)) return 0;
  let n = 0;
  for (const name of names.sort()) {
    const path = `${dir}/${name}`;
    let body: Buffer | undefined;
    try {
      const fresh = now - f.statSync(path).mtimeMs <= MAX_AGE_MS;
      if (!name.endsWith('.json')) {
        // A push being written; one this old was left by a writer that died before renaming it.
        if (!fresh) f.rmSync(path, { force: true });
        continue;
      }
      if (fresh) body = f.readFileSync(path);
      f.rmSync(path, { force: true });
    } catch {
      continue;
    }
    if (body === undefined) continue;
    n++;
    take(body, name.endsWith(HANDED));
  }
  return n;
}

/** The suffix of a holder's copies of its siblings' last pushes (`handed`: not final pushes). */
const HANDED = '.handed.json';

/**
 * A follower's last push, written for the holder of `port` (synchronously: called in 'exit').
 * `handed`: a holder that ends hands on its siblings' last pushes, which are not final (a sibling
 * that is alive pushes again). Returns whether it was written: not when the folder is not this
 * user's alone, or is full.
 */
export function spoolLast(port: number, body: string, handed = false): boolean {
  const dir = spoolDir(port);
  if (dir === undefined) return false;
  try {
    const f = fs();
    f.mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (!ours(parentOf(dir)) || !ours(dir)) return false;
    if (f.readdirSync(dir).length >= MAX_SPOOLED) return false;
    // Sorted by time, then pid: the holder takes them in the order they were written.
    const name = `${dir}/${Date.now().toString(36).padStart(9, '0')}-${process.pid}-${String(written++).padStart(6, '0')}`;
    f.writeFileSync(`${name}.tmp`, body, { mode: 0o600, flag: 'wx' });
    f.renameSync(`${name}.tmp`, handed ? `${name}${HANDED}` : `${name}.json`);
    return true;
  } catch {
    return false;
  }
}
