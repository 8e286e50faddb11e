// Boards to Grafana dashboard JSON through Grafana's own typed builder
// (@grafana/grafana-foundation-sdk): panel, query and variable shapes come from Grafana's schema,
// not from hand-written JSON. Only `tapwire dashboards` loads this module (the CLI imports it on
// demand), so no other command pays for the builder.
import type { Builder } from '@grafana/grafana-foundation-sdk/cog';
import * as common from '@grafana/grafana-foundation-sdk/common';
import {
  AnnotationQueryBuilder,
  DashboardBuilder,
  DashboardCursorSync,
  DashboardLinkBuilder,
  DashboardLinkType,
  DatasourceVariableBuilder,
  type Panel as GrafanaPanel,
  QueryVariableBuilder,
  RowBuilder,
  ThresholdsConfigBuilder,
  ThresholdsMode,
  VariableRefresh,
  VariableSort,
} from '@grafana/grafana-foundation-sdk/dashboard';
import { DataqueryBuilder, PromQueryFormat } from '@grafana/grafana-foundation-sdk/prometheus';
import * as stat from '@grafana/grafana-foundation-sdk/stat';
import * as table from '@grafana/grafana-foundation-sdk/table';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';
import type { Board, Panel } from './model.js';
import { VARIABLES } from './promql.js';

/** Every panel queries the data source the `datasource` variable chooses. */
// biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax, not a template
const DATASOURCE = { type: 'prometheus', uid: '${datasource}' };
const HEIGHT = { stat: 4, timeseries: 8, table: 8 } as const;

function thresholds(value: number | undefined) {
  return new ThresholdsConfigBuilder().mode(ThresholdsMode.Absolute).steps(
    // Without a threshold a value is neither good nor bad: plain text colour.
    value === undefined
      ? [{ value: null, color: 'text' }]
      : [
          { value: null, color: 'green' },
          { value, color: 'red' },
        ],
  );
}

function targets(p: Panel) {
  return p.queries.map((q, i) => {
    const t = new DataqueryBuilder()
      .expr(q.expr)
      .legendFormat(q.legend)
      .refId(String.fromCharCode(65 + i));
    if (q.instant) t.instant();
    if (p.kind === 'table') t.format(PromQueryFormat.Table);
    return t;
  });
}

function links(p: Panel) {
  return (p.links ?? []).map((l) => new DashboardLinkBuilder(l.title).url(l.url).targetBlank(true));
}

function panel(p: Panel, id: number): Builder<GrafanaPanel> {
  const width = p.width ?? 12;
  if (p.kind === 'stat') {
    return new stat.PanelBuilder()
      .id(id)
      .title(p.title)
      .description(p.description)
      .datasource(DATASOURCE)
      .height(HEIGHT.stat)
      .span(width)
      .unit(p.unit)
      .links(links(p))
      .targets(targets(p))
      .thresholds(thresholds(p.threshold))
      .colorMode(common.BigValueColorMode.Value)
      .graphMode(common.BigValueGraphMode.None)
      .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false));
  }
  if (p.kind === 'table') {
    return (
      new table.PanelBuilder()
        .id(id)
        .title(p.title)
        .description(p.description)
        .datasource(DATASOURCE)
        .height(HEIGHT.table)
        .span(width)
        .unit(p.unit)
        .links(links(p))
        .targets(targets(p))
        .thresholds(thresholds(p.threshold))
        // An instant query as a table: one row per series, its labels as columns, no time column.
        .withTransformation({ id: 'organize', options: { excludeByName: { Time: true } } })
    );
  }
  const ts = new timeseries.PanelBuilder()
    .id(id)
    .title(p.title)
    .description(p.description)
    .datasource(DATASOURCE)
    .height(HEIGHT.timeseries)
    .span(width)
    .unit(p.unit)
    .min(0)
    .links(links(p))
    .targets(targets(p))
    .thresholds(thresholds(p.threshold))
    .fillOpacity(p.stacked ? 30 : 10)
    .legend(
      new common.VizLegendOptionsBuilder()
        .showLegend(true)
        .displayMode(common.LegendDisplayMode.List)
        .placement(common.LegendPlacement.Bottom)
        .calcs([]),
    )
    .tooltip(
      new common.VizTooltipOptionsBuilder()
        .mode(common.TooltipDisplayMode.Multi)
        .sort(common.SortOrder.Descending),
    );
  if (p.stacked) ts.stacking(new common.StackingConfigBuilder().mode(common.StackingMode.Normal));
  if (p.threshold !== undefined)
    ts.thresholdsStyle(
      new common.GraphThresholdsStyleConfigBuilder().mode(common.GraphThresholdsStyleMode.Dashed),
    );
  return ts;
}

/** The Grafana dashboard JSON model of `board`; `runbookBase` is the runbook page it links to. */
export function renderBoard(board: Board, runbookBase: string): unknown {
  const d = new DashboardBuilder(board.title)
    .uid(board.uid)
    .description(board.description)
    .tags(['tapwire'])
    .editable()
    .tooltip(DashboardCursorSync.Crosshair)
    .refresh('30s')
    .time({ from: 'now-1h', to: 'now' })
    .timezone('browser')
    .annotation(
      // Grafana's own annotations and alerts, as every new dashboard has.
      new AnnotationQueryBuilder()
        .name('Annotations & Alerts')
        .datasource({ type: 'grafana', uid: '-- Grafana --' })
        .builtIn(1)
        .enable(true)
        .hide(true)
        .iconColor('rgba(0, 211, 255, 1)')
        .type('dashboard'),
    )
    .link(
      new DashboardLinkBuilder('tapwire')
        .type(DashboardLinkType.Dashboards)
        .tags(['tapwire'])
        .asDropdown(true)
        .includeVars(true)
        .keepTime(true),
    )
    .link(
      new DashboardLinkBuilder('Runbooks').type(DashboardLinkType.Link).url(runbookBase).targetBlank(true),
    )
    .withVariable(new DatasourceVariableBuilder('datasource').label('Data source').type('prometheus'));
  for (const v of VARIABLES) {
    d.withVariable(
      new QueryVariableBuilder(v.name)
        .label(v.label)
        .datasource(DATASOURCE)
        .query(v.query)
        .definition(v.query)
        .multi(true)
        .includeAll(true)
        .allValue('.*')
        .current({ selected: true, text: 'All', value: '$__all' })
        .refresh(VariableRefresh.OnTimeRangeChanged)
        .sort(VariableSort.AlphabeticalAsc),
    );
  }
  let id = 1;
  for (const row of board.rows) {
    d.withRow(new RowBuilder(row.title).id(id++));
    for (const p of row.panels) d.withPanel(panel(p, id++));
  }
  return d.build();
}

/** The JSON text of a board's file: two-space indent, a final newline. */
export const boardJson = (board: Board, runbookBase: string): string =>
  `${JSON.stringify(renderBoard(board, runbookBase), null, 2)}\n`;
