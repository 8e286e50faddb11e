// What the hooks read of a SQL statement's text (core/db/sql.ts and its lexer, ~15 kB bundled) is a
// bundle entry of its own, loaded with the first statement a hook sees rather than with the agent:
// most processes under the preload never run one (scripts/build.mjs, core/entries.ts).
import type { SqlInfo } from '../../core/db/sql.js';
import { requireEntry } from '../../core/entries.js';

let sql: ReturnType<typeof requireEntry<'sql'>> | undefined;

/** core/db/sql.ts sqlInfo() in the dialect of db.system.name `system` (cached per text there). */
export function statementInfo(statement: string, system: string): SqlInfo {
  sql ??= requireEntry('sql');
  return sql.sqlInfo(statement, sql.sqlDialect(system));
}
