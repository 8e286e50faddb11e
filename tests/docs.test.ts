// Generated docs are committed; this fails when a page differs from what its source produces.
// Fix: `npm run docs` (or `node dist/cli/main.js docs --write`), then commit the pages.
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { GENERATED_DOCS } from '../cli/docs/index.js';
import { VARIABLES } from '../config/index.js';
import { METRIC_LIST } from '../exporters/catalogue.js';
import { prometheusName } from '../exporters/prometheus/naming.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

describe('generated docs', () => {
  it.each(GENERATED_DOCS.map((d) => [d.path, d.render] as const))('%s is up to date', (path, render) => {
    expect(readFileSync(join(ROOT, path), 'utf8'), `${path} is stale: run \`npm run docs\``).toBe(render());
  });

  it('metrics.md has a section for every metric in the catalogue', () => {
    const page = readFileSync(join(ROOT, 'docs/metrics.md'), 'utf8');
    for (const m of METRIC_LIST)
      expect(page).toContain(`\n## \`${prometheusName(m.name, m.unit, m.kind)}\`\n`);
  });

  it('configuration.md has a row for every variable', () => {
    const page = readFileSync(join(ROOT, 'docs/configuration.md'), 'utf8');
    for (const name of Object.keys(VARIABLES)) expect(page).toMatch(new RegExp(`\n\\| \`${name}\` +\\|`));
  });
});
