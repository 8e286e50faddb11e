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
import { after } from '../../core/patch.js';
import type { HookContext } from '../context.js';
import { type Statement, sqliteInfo, sqliteWrappers } from './sqlite.js';

interface Database {
  name?: unknown;
  memory?: unknown;
}
interface NativeStatement {
  source?: unknown;
  database?: Database;
}

export function install(ctx: HookContext): void {
  if (ctx.runtime !== 'node') return;
  const { guard, patches } = ctx;
  const sqlite = sqliteWrappers(ctx.db, guard, (d: Database) =>
    d.memory === true || typeof d.name !== 'string' || d.name === '' ? undefined : basename(d.name),
  );
  const statements = new WeakMap<object, Statement | null>();
  const statementClasses = new WeakSet<object>();

  function statementOf(s: NativeStatement): Statement | undefined {
    let m = statements.get(s);
    if (m === undefined) {
      const d = s.database;
      m =
        typeof s.source === 'string' && typeof d === 'object' && d !== null
          ? { target: sqlite.targetOf(d), info: sqliteInfo(s.source) }
          : null;
      statements.set(s, m);
    }
    return m ?? undefined;
  }

  function patchStatementClass(proto: object): void {
    if (statementClasses.has(proto)) return;
    statementClasses.add(proto);
    for (const name of ['run', 'get', 'all', 'iterate']) {
      patches.wrap(proto, name, (original) => sqlite.statement(original, statementOf));
    }
  }

  ctx.loads.on(
    'better-sqlite3',
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
      patches.wrap(proto, 'exec', sqlite.oneShot);
    },
    guard,
  );
}
