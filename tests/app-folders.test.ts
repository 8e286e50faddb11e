// agent/packages.ts foldersUp: where the app's package.json is looked for (its declared dependencies
// decide what a deferred start waits for on Bun), by string rather than node:path, which costs a
// Bun process ~1.7 ms to load. The folders must be those node:path gives. And its table of main
// files' filters, written as literals rather than built with String#replace (a Bun process's first
// regular expression costs it 0.4-0.9 ms): they must match the table's paths and nothing else.
import { dirname, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { foldersUp, MAIN_FILE_FILTERS, PACKAGE_MAINS, type PackageRequest } from '../agent/packages.js';

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

describe('MAIN_FILE_FILTERS', () => {
  it('one filter for each main file of PACKAGE_MAINS, matching its path with either separator and nothing else', () => {
    expect(Object.keys(MAIN_FILE_FILTERS).sort()).toEqual(Object.keys(PACKAGE_MAINS).sort());
    for (const request of Object.keys(PACKAGE_MAINS) as PackageRequest[]) {
      const suffix = PACKAGE_MAINS[request];
      const filter = MAIN_FILE_FILTERS[request];
      const unix = `/srv/app/node_modules${suffix}`;
      const windows = `C:\\app\\node_modules${suffix.replaceAll('/', '\\')}`;
      expect([filter.test(unix), filter.test(windows)], request).toEqual([true, true]);
      // Another package whose name ends the same, another file, a dot that is not a dot.
      const [, name] = suffix.split('/');
      expect(filter.test(unix.replace(`/${name}/`, `/x${name}/`)), request).toBe(false);
      expect(filter.test(`${unix}.map`), request).toBe(false);
      expect(filter.test(unix.replace(/\.js$/, 'xjs')), request).toBe(false);
    }
  });
});
