// `tapwire dashboards [--slo FILE] [--out DIR | --format configmap|operator | --board NAME]`: Grafana
// dashboards for the metrics tapwire emits (dashboards/), from the same SLO file `tapwire rules`
// reads. Loaded on demand by main.ts: it brings Grafana's dashboard builder.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dashboardFiles, renderBoards } from '../dashboards/files.js';
import { boardFile, generateBoards } from '../dashboards/index.js';
import { renderConfigMaps, renderOperator } from '../dashboards/kubernetes.js';
import { validate } from '../rules/index.js';
import { withSlo } from './slo.js';

const NAMES = generateBoards(validate(undefined)).map((b) => b.name);

const USAGE = `Usage: tapwire dashboards [--slo FILE] [--out DIR | --format configmap|operator | --board NAME]

  --slo FILE     the SLO file tapwire rules reads: its objectives make the SLO board, its alert
                 thresholds are drawn on the panels, runbook_base is where panels link (docs/alerts.md)
  --out DIR      write each board's JSON (${boardFile('<board>')}), the ConfigMaps and the
                 GrafanaDashboard resources into DIR
  --format F     print the boards as Kubernetes objects: configmap (default; ConfigMaps labelled
                 grafana_dashboard: "1" for Grafana's dashboard sidecar) or operator (GrafanaDashboard
                 resources for the Grafana operator)
  --board NAME   print one board's JSON, to import in Grafana (${NAMES.join(', ')})
`;

export function runDashboards(args: string[]): number {
  let slo: string | undefined;
  let format: string | undefined;
  let out: string | undefined;
  let board: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const value = () => args[++i];
    let v: string | undefined;
    if (a === '-h' || a === '--help') {
      process.stdout.write(USAGE);
      return 0;
    }
    if (a === '--slo') slo = v = value();
    else if (a === '--format') format = v = value();
    else if (a === '--out') out = v = value();
    else if (a === '--board') board = v = value();
    else return usage(`unexpected ${JSON.stringify(a)}`);
    if (v === undefined) return usage(`${a} needs a value`);
  }
  if ([format, out, board].filter((x) => x !== undefined).length > 1)
    return usage('--out, --format and --board go alone');
  if (format !== undefined && format !== 'configmap' && format !== 'operator')
    return usage(`--format must be configmap or operator, got ${JSON.stringify(format)}`);
  if (board !== undefined && !NAMES.includes(board))
    return usage(`--board must be one of ${NAMES.join(', ')}, got ${JSON.stringify(board)}`);
  const rendered = withSlo('dashboards', slo, (raw) => renderBoards(validate(raw)));
  if (rendered === undefined) return 1;
  if (out !== undefined) {
    mkdirSync(out, { recursive: true });
    for (const [file, text] of dashboardFiles(rendered)) {
      writeFileSync(join(out, file), text);
      process.stdout.write(`wrote ${join(out, file)}\n`);
    }
    return 0;
  }
  if (board !== undefined) {
    process.stdout.write(rendered.find((r) => r.board.name === board)!.json);
    return 0;
  }
  process.stdout.write(format === 'operator' ? renderOperator(rendered) : renderConfigMaps(rendered));
  return 0;
}

function usage(message: string): number {
  process.stderr.write(`tapwire dashboards: ${message}\n${USAGE}`);
  return 2;
}
