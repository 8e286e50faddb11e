// docs/dashboards.md from the boards of the default configuration (dashboards/, plain data: this
// page needs no Grafana builder), so it lists exactly the panels and queries `tapwire dashboards`
// writes to deploy/dashboards/.
import { boardFile, generateBoards, type Panel } from '../../dashboards/index.js';
import { VARIABLES } from '../../dashboards/promql.js';
import { validate } from '../../rules/config.js';
import { code, generatedFrom, table } from './markdown.js';

const KIND: Readonly<Record<Panel['kind'], string>> = {
  timeseries: 'time series',
  stat: 'stat',
  table: 'table',
};

const links = (p: Panel): string =>
  (p.links ?? [])
    .map((l) => `[${l.title.replace(/^Runbook: /, '')}](${l.url.replace(/^docs\//, '')})`)
    .join(', ');

export function renderDashboardsDoc(): string {
  const config = validate(undefined);
  const boards = generateBoards(config);
  const panels = boards.flatMap((b) => b.rows.flatMap((r) => r.panels));
  const index = table(
    ['board', 'file', 'uid', 'panels'],
    boards.map((b) => [
      `[${b.title}](#${b.name})`,
      code(`deploy/dashboards/${boardFile(b.name)}`),
      code(b.uid),
      String(b.rows.reduce((n, r) => n + r.panels.length, 0)),
    ]),
  );
  const sections = boards.map((b) => {
    const rows = b.rows.map((r) => {
      const list = table(
        ['panel', 'type', 'unit', 'shows', 'runbooks'],
        r.panels.map((p) => [p.title, KIND[p.kind], code(p.unit), p.description, links(p)]),
      );
      const queries = r.panels
        .map(
          (p) =>
            `${p.title}:\n\n\`\`\`promql\n${p.queries.map((q) => `${q.expr}${q.instant ? '  # instant' : ''}`).join('\n')}\n\`\`\`\n`,
        )
        .join('\n');
      return `### ${r.title}\n\n${list}\n<details><summary>Queries</summary>\n\n${queries}\n</details>\n`;
    });
    return `<a id="${b.name}"></a>\n\n## ${b.title}\n\n${b.description}\n\n${rows.join('\n')}`;
  });
  const variables = table(
    ['variable', 'values from'],
    [['datasource', 'Prometheus data sources'], ...VARIABLES.map((v) => [code(v.name), code(v.query)])],
  );
  return `# Dashboards

${generatedFrom('dashboards/ (the default configuration)')}
\`tapwire dashboards\` writes Grafana dashboards for exactly the metrics tapwire emits (names from
the metric catalogue) and the rules \`tapwire rules\` writes, built with Grafana's own typed builder
(\`@grafana/grafana-foundation-sdk\`). The boards for the default configuration are committed in
\`deploy/dashboards/\`: ${boards.length} boards, ${panels.length} panels.

    tapwire dashboards --out grafana/                     # each board's JSON, the ConfigMaps, the GrafanaDashboards
    tapwire dashboards --board overview > overview.json   # one board, to import (Dashboards → New → Import)
    tapwire dashboards | kubectl apply -f -               # ConfigMaps for Grafana's dashboard sidecar
    tapwire dashboards --format operator | kubectl apply -f -   # GrafanaDashboard resources (Grafana operator)
    tapwire dashboards --slo slo.yaml --out grafana/      # from the SLO file tapwire rules reads

- **Kubernetes.** One ConfigMap per board, labelled \`grafana_dashboard: "1"\` (the label the Grafana
  Helm chart's dashboard sidecar and kube-prometheus-stack watch) with the annotation
  \`grafana_folder: tapwire\`; and one \`GrafanaDashboard\` (\`grafana.integreatly.org/v1beta1\`) per
  board for the Grafana operator, selecting Grafana instances labelled \`dashboards: grafana\`
  (change \`instanceSelector\` to match yours).
- **The SLO file** (\`--slo\`, [alerts.md](alerts.md#slo-file)) shapes the boards as it shapes the
  rules: the SLO board has a row per objective (every service, each service of the file, each of
  its routes); panels draw the thresholds the alerts fire at (\`alerts:\` overrides included) and
  link to the runbooks of the alerts about what they show (\`runbook_base\`, so set it to a URL
  Grafana users can open; disabled alerts get no link).
- **Proof.** \`tests/dashboards-e2e.test.ts\` runs every panel query of these boards, and of the boards
  of an SLO file with a service and a route, through a real Prometheus 2.42 that loads the generated
  rules and scrapes an app under the preload (HTTP, SQLite, PostgreSQL, AI calls) and a sidecar with a
  pushing worker, with Grafana's macros and variables substituted as Grafana does; each must
  return data.
- **Variables.** Every board has the ones below, each narrowing the next; every query filters on
  \`job\` and \`instance\`, and on \`service_name\` by joining with \`target_info\`, where tapwire
  puts the resource attributes (\`… and on (job, instance) target_info{service_name=~"$service_name"}\`).
  Rates use \`$__rate_interval\`: set the data source's _Scrape interval_ to Prometheus' own.

${variables}
${index}
${sections.join('\n')}`;
}
