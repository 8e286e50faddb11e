// `tapwire dashboards` as small steps, like rules/: the rule configuration (the SLO file, validated
// by rules/config.ts) → boards of panels and PromQL (boards/, plain data) → Grafana JSON through
// Grafana's builder (render.ts) → Kubernetes forms (kubernetes.ts). Nothing here reads files or the
// environment; the CLI does that. render.ts is not re-exported: it brings Grafana's builder, which
// only the command that writes JSON loads.
import type { RulesConfig } from '../rules/config.js';
import { aiBoard } from './boards/ai.js';
import { databaseBoard } from './boards/database.js';
import { overviewBoard } from './boards/overview.js';
import { runtimeBoard } from './boards/runtime.js';
import { sidecarBoard } from './boards/sidecar.js';
import { sloBoard } from './boards/slo.js';
import { workersBoard } from './boards/workers.js';
import { boardContext } from './context.js';
import type { Board } from './model.js';

export type { Board, Link, Panel, PanelKind, Query, Row } from './model.js';

const BUILDERS = [overviewBoard, databaseBoard, aiBoard, runtimeBoard, sloBoard, sidecarBoard, workersBoard];

/** Every board, in the order docs and files list them. */
export function generateBoards(config: RulesConfig): Board[] {
  const ctx = boardContext(config);
  return BUILDERS.map((build) => build(ctx));
}

/** `tapwire-overview.json`, … */
export const boardFile = (name: string): string => `tapwire-${name}.json`;
