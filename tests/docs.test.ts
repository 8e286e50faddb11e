// Generated docs are committed; this fails when a page differs from what its source produces.
// Fix: `npm run docs` (or `node dist/cli/main.js docs --write`), then commit the pages.
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { GENERATED_DOCS } from '../cli/docs/index.js';
import { CONFIG_ERROR_CODE, VARIABLES } from '../config/index.js';
import { CHANNEL_LIST } from '../core/channels.js';
import { LOG_CODES } from '../core/codes.js';
import { METRIC_LIST } from '../exporters/catalogue.js';
import { OtlpFormatError } from '../exporters/otlp-json.js';
import { prometheusName } from '../exporters/prometheus/naming.js';
import { RULES_ERROR_CODE } from '../rules/index.js';

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

  it('log-codes.md has a row for every code, and the codes other modules set are in the table', () => {
    const page = readFileSync(join(ROOT, 'docs/log-codes.md'), 'utf8');
    for (const code of Object.keys(LOG_CODES)) expect(page).toMatch(new RegExp(`\n\\| \`${code}\` +\\|`));
    // Codes that reach a user outside agentLog(), whose type already checks them.
    for (const code of [
      CONFIG_ERROR_CODE,
      RULES_ERROR_CODE,
      new OtlpFormatError('x').code,
      'TAPWIRE_ERR_LISTEN',
    ]) {
      expect(Object.keys(LOG_CODES)).toContain(code);
    }
  });

  it('channels.md has a row for every diagnostics channel tapwire subscribes to', () => {
    const page = readFileSync(join(ROOT, 'docs/channels.md'), 'utf8');
    for (const c of CHANNEL_LIST) expect(page).toContain(`| \`${c.name}\` `);
  });
});
