// bun:sqlite (Database / Statement).
//
// detect: the builtin is imported from the preload (about 1 ms on Bun 1.4.5; Bun's own plugin
//   hooks do not see builtins, and the prototypes are shared by every importer).
// hook: Database.prototype.run/exec (one-shot statements) and .prepare/.query. A Statement's
//   run/get/all/values/iterate/raw are own properties of each instance in Bun (not on
//   Statement.prototype), so each statement is wrapped once when prepare()/query() returns it;
//   query()'s cached statement is wrapped only the first time.
// record: one operation per execution; results and errors are Bun's own objects.
import { fail, hook } from '../safe.js';
import { type DbContext, sharedTarget, syncOp } from './operation.js';
import type { DbTarget } from './record.js';
import { type SqlInfo, sqlInfo } from './sql.js';

type Fn = (...args: never[]) => unknown;

const databases = new WeakMap<object, DbTarget>();
const wrapped = new WeakSet<object>();
const undo: Array<() => void> = [];
const METHODS = ['run', 'get', 'all', 'values', 'iterate', 'raw'];

function targetOf(db: { filename?: unknown }): DbTarget {
  let t = databases.get(db);
  if (t === undefined) {
    const f = typeof db.filename === 'string' ? db.filename : '';
    const name = f === '' || f === ':memory:' ? undefined : (f.split(/[\\/]/).pop() ?? f);
    t = sharedTarget('sqlite', name, undefined, undefined);
    databases.set(db, t);
  }
  return t;
}

function wrapStatement(
  ctx: DbContext,
  statement: Record<string, unknown>,
  target: DbTarget,
  info: SqlInfo,
): void {
  if (wrapped.has(statement)) return;
  wrapped.add(statement);
  for (const name of METHODS) {
    const original = statement[name];
    if (typeof original !== 'function') continue;
    statement[name] = function (this: unknown): unknown {
      // biome-ignore lint/complexity/noArguments: the caller's exact arguments, without a rest array per call
      if (!ctx.hook.enabled) return Reflect.apply(original as Fn, this, arguments);
      // biome-ignore lint/complexity/noArguments: the caller's exact arguments, without a rest array per call
      return syncOp(ctx, target, info, original as Fn, this, arguments);
    };
  }
}

export async function installBunSqlite(base: Omit<DbContext, 'hook'>): Promise<void> {
  const h = hook('bun:sqlite');
  const ctx: DbContext = { ...base, hook: h };
  let mod: { Database?: { prototype: Record<string, unknown> } };
  try {
    mod = (await import('bun:sqlite' as string)) as typeof mod;
  } catch {
    return;
  }
  try {
    const proto = mod.Database?.prototype;
    if (proto === undefined) return;
    for (const name of ['prepare', 'query']) {
      const original = proto[name];
      if (typeof original !== 'function') continue;
      proto[name] = function (this: object, sql: unknown): unknown {
        // biome-ignore lint/complexity/noArguments: the caller's exact arguments, without a rest array per call
        const statement = Reflect.apply(original as Fn, this, arguments);
        if (h.enabled && typeof sql === 'string' && typeof statement === 'object' && statement !== null) {
          try {
            wrapStatement(ctx, statement as Record<string, unknown>, targetOf(this), sqlInfo(sql));
          } catch (error) {
            fail(h, error);
          }
        }
        return statement;
      };
      undo.push(() => {
        proto[name] = original;
      });
    }
    for (const name of ['run', 'exec']) {
      const original = proto[name];
      if (typeof original !== 'function') continue;
      proto[name] = function (this: object, sql: unknown): unknown {
        // biome-ignore lint/complexity/noArguments: the caller's exact arguments, without a rest array per call
        if (!h.enabled || typeof sql !== 'string') return Reflect.apply(original as Fn, this, arguments);
        // biome-ignore lint/complexity/noArguments: the caller's exact arguments, without a rest array per call
        return syncOp(ctx, targetOf(this), sqlInfo(sql), original as Fn, this, arguments);
      };
      undo.push(() => {
        proto[name] = original;
      });
    }
  } catch (error) {
    fail(h, error);
  }
}

export function uninstallBunSqlite(): void {
  for (const u of undo.splice(0)) u();
}
