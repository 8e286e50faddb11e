// agent/packages.ts foldersUp: where the app's package.json is looked for (its declared dependencies
// decide what a deferred start waits for on Bun), by string rather than node:path, which costs a
// Bun process ~1.7 ms to load. The folders must be those node:path gives.
import { dirname, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { foldersUp } from '../agent/packages.js';

/** node:path's answer: dirname(resolve(main)) (the cwd without main), then each parent to the root. */
function byNodePath(main: string | undefined): string[] {
  const out: string[] = [];
  let dir = main ? dirname(resolve(main)) : process.cwd();
  for (;;) {
    out.push(dir);
    const parent = dirname(dir);
    if (parent === dir) return out;
    dir = parent;
  }
}

describe('foldersUp', () => {
  it.each([
    ['/srv/app/server.js'],
    ['/srv/app/dist/../server.mjs'],
    ['/srv//app/./lib/main.js'],
    ['/main.js'],
    ['//srv/app.js'],
    ['server.js'],
    ['./lib/server.js'],
    ['../elsewhere/x.js'],
    ['a/b/../../c.js'],
    [undefined],
    [''],
  ])('%s: as node:path resolves and walks it', (main) => {
    expect(foldersUp(main)).toEqual(byNodePath(main));
  });

  it('a Windows path: its drive is the root, its separator kept', () => {
    expect(foldersUp('C:\\apps\\shop\\server.js')).toEqual(['C:\\apps\\shop', 'C:\\apps', 'C:\\']);
  });
});
