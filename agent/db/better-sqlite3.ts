// better-sqlite3 (v12), Node only: Bun cannot load its native addon (Bun brings bun:sqlite).
//
// detect: the app loads `better-sqlite3` (../load.ts).
// hook: Database.prototype.exec, and the native Statement class's run/get/all/iterate — that
//   class is not exported, so its prototype is patched when the first statement is prepared.
//   Statements better-sqlite3 prepares for itself (db.transaction()'s BEGIN / COMMIT / ROLLBACK)
//   are instances of the same class, so a transaction counts as its BEGIN and its COMMIT, once
//   per execution.
// record: target and parsed text per statement from its own `database` and `source`, cached.
import { basename } from 'node:path';
import type { DbInfo } from '../../core/db/operation.js';
import { sqlInfo } from '../../core/db/sql.js';
import type { DbTarget } from '../../core/db/target.js';
import { after, described, type Fn } from '../../core/patch.js';
import type { HookContext } from '../context.js';

interface Db {
  name?: unknown;
  memory?: unknown;
}
interface Statement {
  source?: unknown;
  database?: Db;
}
interface Meta {
  target: DbTarget;
  info: DbInfo;
}

export function install(ctx: HookContext): void {
  if (ctx.runtime !== 'node') return;
  const { db, guard, patches } = ctx;
  const databases = new WeakMap<object, DbTarget>();
  const statements = new WeakMap<object, Meta | null>();
  const statementClasses = new WeakSet<object>();
  const timed = (m: Meta, original: Fn, self: unknown, args: IArguments) =>
    db.sync(m.target, m.info, original, self, args);

  function targetOf(d: Db): DbTarget {
    let t = databases.get(d);
    if (t === undefined) {
      const name =
        d.memory === true || typeof d.name !== 'string' || d.name === '' ? undefined : basename(d.name);
      t = db.target('sqlite', name, undefined, undefined);
      databases.set(d, t);
    }
    return t;
  }

  function metaOf(statement: Statement): Meta | null {
    let m = statements.get(statement);
    if (m === undefined) {
      const d = statement.database;
      m =
        typeof statement.source === 'string' && typeof d === 'object' && d !== null
          ? { target: targetOf(d), info: sqlInfo(statement.source) }
          : null;
      statements.set(statement, m);
    }
    return m;
  }

  function patchStatementClass(proto: object): void {
    if (statementClasses.has(proto)) return;
    statementClasses.add(proto);
    for (const name of ['run', 'get', 'all', 'iterate']) {
      patches.wrap(proto, name, (original) =>
        described(guard, original, (self) => metaOf(self as Statement) ?? undefined, timed),
      );
    }
  }

  ctx.loads.on(
    'better-sqlite3',
    '/better-sqlite3/lib/index.js',
    (exports) => {
      const proto = (exports as { prototype?: object }).prototype;
      if (proto === undefined) return;
      patches.wrap(proto, 'prepare', (original) =>
        after(guard, original, (_self, _args, statement) => {
          if (typeof statement === 'object' && statement !== null) {
            patchStatementClass(Object.getPrototypeOf(statement) as object);
          }
        }),
      );
      patches.wrap(proto, 'exec', (original) =>
        described(
          guard,
          original,
          (self, args) =>
            typeof args[0] === 'string'
              ? { target: targetOf(self as Db), info: sqlInfo(args[0]) }
              : undefined,
          timed,
        ),
      );
    },
    guard,
  );
}
