// The spool a follower leaves its last push in when it ends before its connection to the holder is
// open (exporters/spool.ts): in order, bounded, stale pushes dropped, a folder of this user's alone.
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { drainSpool, MAX_AGE_MS, MAX_SPOOLED, spoolDir, spoolLast } from '../exporters/spool.js';

const PORT = 9464;
let tmp: string;
let saved: string | undefined;

beforeEach(() => {
  saved = process.env.TMPDIR;
  tmp = mkdtempSync(join(tmpdir(), 'tapwire-spool-test-'));
  process.env.TMPDIR = tmp;
});
afterEach(() => {
  if (saved === undefined) delete process.env.TMPDIR;
  else process.env.TMPDIR = saved;
  rmSync(tmp, { recursive: true, force: true });
});

const taken = (): string[] => {
  const out: string[] = [];
  drainSpool(PORT, (body) => out.push(Buffer.from(body).toString()));
  return out;
};

describe('the spool', () => {
  it('is one folder per user and port, made by the first push, of this user alone', () => {
    expect(spoolDir(PORT)).toBe(join(tmp, `tapwire-${process.getuid?.()}`, String(PORT)));
    expect(taken()).toEqual([]); // nothing made by reading
    expect(readdirSync(tmp)).toEqual([]);
    expect(spoolLast(PORT, '{"a":1}')).toBe(true);
    const dir = spoolDir(PORT)!;
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(join(dir, '..')).mode & 0o777).toBe(0o700);
    const [file] = readdirSync(dir);
    expect(statSync(join(dir, file!)).mode & 0o777).toBe(0o600);
  });

  it('hands the pushes over in the order they were written, once', () => {
    for (const n of [1, 2, 3]) expect(spoolLast(PORT, `{"n":${n}}`)).toBe(true);
    expect(taken()).toEqual(['{"n":1}', '{"n":2}', '{"n":3}']);
    expect(taken()).toEqual([]);
    expect(readdirSync(spoolDir(PORT)!)).toEqual([]);
  });

  it(`holds ${MAX_SPOOLED} pushes at most`, () => {
    for (let i = 0; i < MAX_SPOOLED; i++) expect(spoolLast(PORT, `{"i":${i}}`)).toBe(true);
    expect(spoolLast(PORT, '{"one":"more"}')).toBe(false);
    expect(taken()).toHaveLength(MAX_SPOOLED);
    expect(spoolLast(PORT, '{"room":"again"}')).toBe(true);
  });

  it('removes a push left longer than its age limit without handing it over', () => {
    expect(spoolLast(PORT, '{"old":true}')).toBe(true);
    const dir = spoolDir(PORT)!;
    const [old] = readdirSync(dir);
    const then = (Date.now() - MAX_AGE_MS - 60_000) / 1000;
    utimesSync(join(dir, old!), then, then);
    // A push a writer died writing (never renamed): kept while it may still be renamed, then removed.
    writeFileSync(join(dir, 'half-written.tmp'), '{"half"');
    expect(spoolLast(PORT, '{"new":true}')).toBe(true);
    expect(taken()).toEqual(['{"new":true}']);
    expect(readdirSync(dir)).toEqual(['half-written.tmp']);
    utimesSync(join(dir, 'half-written.tmp'), then, then);
    expect(taken()).toEqual([]);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('neither writes into nor reads from a folder others can write into, or a link', () => {
    const parent = join(tmp, `tapwire-${process.getuid?.()}`);
    mkdirSync(join(parent, String(PORT)), { recursive: true, mode: 0o700 });
    chmodSync(parent, 0o777);
    expect(spoolLast(PORT, '{"a":1}')).toBe(false);
    chmodSync(parent, 0o700);
    expect(spoolLast(PORT, '{"a":2}')).toBe(true);
    chmodSync(join(parent, String(PORT)), 0o733);
    expect(taken()).toEqual([]);
    expect(spoolLast(PORT, '{"a":3}')).toBe(false);
    // A link in the folder's place, to a folder of this user's.
    rmSync(join(parent, String(PORT)), { recursive: true });
    const elsewhere = mkdtempSync(join(tmp, 'elsewhere-'));
    chmodSync(elsewhere, 0o700);
    symlinkSync(elsewhere, join(parent, String(PORT)));
    expect(spoolLast(PORT, '{"a":4}')).toBe(false);
    expect(readdirSync(elsewhere)).toEqual([]);
  });
});
