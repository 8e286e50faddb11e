// The generated pages and where they go. Generated docs are committed; `tapwire docs --check`
// and tests/docs.test.ts fail when a page differs from what its source produces.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderChannelsDoc } from './channels.js';
import { renderConfigurationDoc } from './configuration.js';
import { renderDashboardsDoc } from './dashboards.js';
import { renderLogCodesDoc } from './log-codes.js';
import { renderMetricsDoc } from './metrics.js';

export {
  renderChannelsDoc,
  renderConfigurationDoc,
  renderDashboardsDoc,
  renderLogCodesDoc,
  renderMetricsDoc,
};

// docs/alerts.md (alerts.ts) is not listed: it is rendered from a rule set and checked beside the
// rule files it describes, by tests/rules.test.ts.
export const GENERATED_DOCS: readonly { path: string; render: () => string }[] = [
  { path: 'docs/metrics.md', render: renderMetricsDoc },
  { path: 'docs/configuration.md', render: renderConfigurationDoc },
  { path: 'docs/log-codes.md', render: renderLogCodesDoc },
  { path: 'docs/channels.md', render: renderChannelsDoc },
  { path: 'docs/dashboards.md', render: renderDashboardsDoc },
];

/** Paths (relative to `root`) whose content is missing or differs from the generator's. */
export function staleDocs(root: string): string[] {
  return GENERATED_DOCS.filter((d) => read(join(root, d.path)) !== d.render()).map((d) => d.path);
}

function read(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}
