// Database instrumentations, one file per driver, each the same shape: detect -> hook -> record
// (one call into ./record.ts through ./operation.ts). Installed by agent/start.ts after tracing,
// so each hook knows once whether it starts spans.
//
// Cost before the app uses a database: mysql2 is a set of diagnostics-channel subscriptions;
// pg and better-sqlite3 wait behind one Module._load check per module (./load.ts); node:sqlite
// / bun:sqlite are builtins whose prototypes are patched now (their import costs under 1 ms).
import type { Config } from '../../config/index.js';
import { agentLog } from '../log/agent.js';
import { hook } from '../safe.js';
import type { Telemetry } from '../telemetry.js';
import { patchBetterSqlite3 } from './better-sqlite3.js';
import { installBunSql } from './bun-sql.js';
import { installBunSqlite } from './bun-sqlite.js';
import { onLoad } from './load.js';
import { installMysql2 } from './mysql2.js';
import { installNodeSqlite } from './node-sqlite.js';
import type { DbContext, DbSpans } from './operation.js';
import { patchPg } from './pg.js';
import { installPoolMetrics } from './pools.js';
import { DbRecorder, type SlowOperation } from './record.js';
import { installRedis } from './redis/index.js';

export { DbRecorder } from './record.js';

function logSlow(op: SlowOperation): void {
  const ms = Math.round(op.seconds * 1000);
  const ctx = op.span?.spanContext();
  agentLog('warn', 'TAPWIRE_DB_SLOW', `slow ${op.target.system} operation: ${ms} ms`, {
    'db.system.name': op.target.system,
    'db.operation.name': op.operation,
    'db.namespace': op.target.namespace,
    'db.query.text': op.statement,
    duration_ms: ms,
    'error.type': op.errorType,
    trace_id: ctx?.traceId,
    span_id: ctx?.spanId,
  });
}

export async function installDb(
  telemetry: Telemetry,
  config: Config,
  runtime: 'node' | 'bun',
  tracing: boolean,
): Promise<DbRecorder> {
  const recorder = new DbRecorder(telemetry.dbDuration, config.cardinalityLimit, config.dbSlowMs, logSlow);
  const spans: DbSpans | undefined = tracing ? await import('../trace/spans.js') : undefined;
  const ctx: Omit<DbContext, 'hook'> = { recorder, spans };
  installPoolMetrics(telemetry.meter);
  installMysql2(ctx);
  // ./redis/ (issue 3, Redis half); idempotent, so the interim call in agent/start.ts that runs
  // before this one can be dropped without a gap.
  installRedis({ ...ctx, hook: hook('redis') });
  onLoad('pg', '/pg/lib/index.js', (exports) => patchPg(exports, ctx));
  if (runtime === 'node') {
    onLoad('better-sqlite3', '/better-sqlite3/lib/index.js', (exports) => patchBetterSqlite3(exports, ctx));
    await installNodeSqlite(ctx);
  } else {
    await installBunSqlite(ctx);
    installBunSql(ctx);
  }
  return recorder;
}
