// What the three SQLite hooks (better-sqlite3, node:sqlite, bun:sqlite) share: every call of a
// statement or of a one-shot database method is one synchronous operation, described by the
// statement's database and its SQL text.
import type { DbInfo } from '../../core/db/operation.js';
import type { DbRecorder } from '../../core/db/recorder.js';
import type { DbTarget } from '../../core/db/target.js';
import type { Guard } from '../../core/guard.js';
import { described, type Fn } from '../../core/patch.js';
import { statementInfo } from './sql.js';

/** What a SQLite statement's text tells the metrics and spans (cached per text). */
export function sqliteInfo(sql: string): DbInfo {
  return statementInfo(sql, 'sqlite');
}

export interface Statement {
  target: DbTarget;
  info: DbInfo;
}

export interface SqliteWrappers {
  /** The target of a database object, built once per database. */
  targetOf(database: object): DbTarget;
  /** A database method whose first argument is the SQL text (exec, run): one operation per call. */
  oneShot(original: Fn): Fn;
  /** A statement method (run, get, all, ...): one operation per call, as `statementOf` describes it. */
  statement(original: Fn, statementOf: (self: object) => Statement | undefined): Fn;
}

export function sqliteWrappers(
  db: DbRecorder,
  guard: Guard,
  /** db.namespace of a database object: its file's base name, undefined in memory. */
  nameOf: (database: object) => string | undefined,
): SqliteWrappers {
  const targets = new WeakMap<object, DbTarget>();
  const targetOf = (database: object): DbTarget => {
    let t = targets.get(database);
    if (t === undefined) {
      t = db.target('sqlite', nameOf(database), undefined, undefined);
      targets.set(database, t);
    }
    return t;
  };
  const timed = (s: Statement, original: Fn, self: unknown, args: IArguments) =>
    db.call(s.target, s.info, original, self, args);
  const oneShot = (self: unknown, args: IArguments): Statement | undefined =>
    typeof args[0] === 'string' ? { target: targetOf(self as object), info: sqliteInfo(args[0]) } : undefined;
  return {
    targetOf,
    oneShot: (original) => described(guard, original, oneShot, timed),
    statement: (original, statementOf) =>
      described(guard, original, (self) => statementOf(self as object), timed),
  };
}
