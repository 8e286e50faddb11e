// better-sqlite3 (v12), Node only: Bun cannot load its native addon (Bun brings bun:sqlite).
//
// detect: the app loads `better-sqlite3` (./load.ts).
// hook: Database.prototype.exec, and the native Statement class's run/get/all/iterate — that
//   class is not exported, so its prototype is patched when the first statement is prepared.
//   Statements better-sqlite3 prepares for itself (db.transaction()'s BEGIN / COMMIT / ROLLBACK)
//   are instances of the same class, so a transaction counts as its BEGIN and its COMMIT, once
//   per execution.
// record: target and parsed text per statement from its own `database` and `source`, cached.
import { basename } from 'node:path';
import { fail, type Hook, hook } from '../safe.js';
import { type DbContext, sharedTarget, syncOp } from './operation.js';
import type { DbTarget } from './record.js';
import { type SqlInfo, sqlInfo } from './sql.js';

type Fn = (...args: never[]) => unknown;
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
  info: SqlInfo;
}

const databases = new WeakMap<object, DbTarget>();
const statements = new WeakMap<object, Meta | null>();
const undo: Array<() => void> = [];
const kPatched = Symbol.for('tapwire.db.better-sqlite3');

function targetOf(db: Db): DbTarget {
  let t = databases.get(db);
  if (t === undefined) {
    const name =
      db.memory === true || typeof db.name !== 'string' || db.name === '' ? undefined : basename(db.name);
    t = sharedTarget('sqlite', name, undefined, undefined);
    databases.set(db, t);
  }
  return t;
}

function metaOf(statement: Statement): Meta | null {
  let m = statements.get(statement);
  if (m === undefined) {
    const db = statement.database;
    m =
      typeof statement.source === 'string' && typeof db === 'object' && db !== null
        ? { target: targetOf(db), info: sqlInfo(statement.source) }
        : null;
    statements.set(statement, m);
  }
  return m;
}

function patchStatementClass(proto: Record<string | symbol, unknown>, ctx: DbContext, h: Hook): void {
  if (proto[kPatched]) return;
  proto[kPatched] = true;
  for (const name of ['run', 'get', 'all', 'iterate']) {
    const original = proto[name];
    if (typeof original !== 'function') continue;
    proto[name] = function (this: Statement): unknown {
      const meta = h.enabled ? metaOf(this) : null;
      // biome-ignore lint/complexity/noArguments: the caller's exact arguments, without a rest array per call
      if (meta === null) return Reflect.apply(original as Fn, this, arguments);
      // biome-ignore lint/complexity/noArguments: the caller's exact arguments, without a rest array per call
      return syncOp(ctx, meta.target, meta.info, original as Fn, this, arguments);
    };
    undo.push(() => {
      proto[name] = original;
    });
  }
  undo.push(() => {
    delete proto[kPatched];
  });
}

export function patchBetterSqlite3(exports: unknown, base: Omit<DbContext, 'hook'>): void {
  const h = hook('better-sqlite3');
  const ctx: DbContext = { ...base, hook: h };
  try {
    const proto = (exports as { prototype?: Record<string | symbol, unknown> }).prototype;
    if (proto === undefined || proto[kPatched]) return;
    proto[kPatched] = true;
    const prepare = proto.prepare;
    const exec = proto.exec;
    if (typeof prepare === 'function') {
      proto.prepare = function (this: Db): unknown {
        // biome-ignore lint/complexity/noArguments: the caller's exact arguments, without a rest array per call
        const statement = Reflect.apply(prepare as Fn, this, arguments);
        if (h.enabled && typeof statement === 'object' && statement !== null) {
          try {
            patchStatementClass(Object.getPrototypeOf(statement), ctx, h);
          } catch (error) {
            fail(h, error);
          }
        }
        return statement;
      };
    }
    if (typeof exec === 'function') {
      proto.exec = function (this: Db, sql: unknown): unknown {
        // biome-ignore lint/complexity/noArguments: the caller's exact arguments, without a rest array per call
        if (!h.enabled || typeof sql !== 'string') return Reflect.apply(exec as Fn, this, arguments);
        // biome-ignore lint/complexity/noArguments: the caller's exact arguments, without a rest array per call
        return syncOp(ctx, targetOf(this), sqlInfo(sql), exec as Fn, this, arguments);
      };
    }
    undo.push(() => {
      proto.prepare = prepare;
      proto.exec = exec;
      delete proto[kPatched];
    });
  } catch (error) {
    fail(h, error);
  }
}

export function unpatchBetterSqlite3(): void {
  for (const u of undo.splice(0)) u();
}
