// What the board builders (boards/) produce and the renderers read: plain data, so the Grafana JSON
// (render.ts, through Grafana's own builder), the Kubernetes forms (kubernetes.ts), the docs page
// and the Prometheus-backed test all read the same panels and queries.

/** A Grafana panel type tapwire uses. */
export type PanelKind = 'timeseries' | 'stat' | 'table';

export interface Link {
  title: string;
  url: string;
}

export interface Query {
  expr: string;
  /** Grafana legend template (`{{http_route}}`). */
  legend: string;
  /** An instant query (stat and table panels): evaluated once, at the end of the time range. */
  instant?: true;
}

export interface Panel {
  title: string;
  /** What the panel shows and how to read it (Grafana shows it on the panel's info icon). */
  description: string;
  kind: PanelKind;
  /** Grafana unit id: `reqps`, `percentunit`, `s`, `bytes`, `currencyUSD`, `short`. */
  unit: string;
  queries: readonly Query[];
  /** Links shown on the panel: the runbooks of the alerts about what it shows. */
  links?: readonly Link[];
  /** A line at this value: the threshold the rule configuration gives the panel's alert. */
  threshold?: number;
  /** Width in Grafana's 24 columns (default 12). */
  width?: number;
  stacked?: true;
}

export interface Row {
  title: string;
  panels: readonly Panel[];
}

export interface Board {
  /** Short name: the file name (`tapwire-<name>.json`) and `tapwire dashboards --board <name>`. */
  name: string;
  uid: string;
  title: string;
  description: string;
  rows: readonly Row[];
}
