// What `tapwire dashboards --out DIR` writes (and deploy/dashboards/ holds): each board's JSON, the
// ConfigMaps and the GrafanaDashboard resources. Loads Grafana's builder (render.ts).
import type { RulesConfig } from '../rules/config.js';
import { boardFile, generateBoards } from './index.js';
import { CONFIGMAP_FILE, OPERATOR_FILE, renderConfigMaps, renderOperator } from './kubernetes.js';
import type { Board } from './model.js';
import { boardJson } from './render.js';

export interface RenderedBoard {
  board: Board;
  json: string;
}

export function renderBoards(config: RulesConfig): RenderedBoard[] {
  return generateBoards(config).map((board) => ({ board, json: boardJson(board, config.runbookBase) }));
}

/** [file name, content] of every file, boards first. */
export function dashboardFiles(rendered: readonly RenderedBoard[]): [string, string][] {
  return [
    ...rendered.map((r): [string, string] => [boardFile(r.board.name), r.json]),
    [CONFIGMAP_FILE, renderConfigMaps(rendered)],
    [OPERATOR_FILE, renderOperator(rendered)],
  ];
}
