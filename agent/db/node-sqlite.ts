// node:sqlite (Node >= 22.5; DatabaseSync / StatementSync).
//
// detect: the builtin is imported from the preload (0.5–0.8 ms measured on Node 24.21; no module
//   hook sees a builtin's ESM import, and the prototypes are shared by every importer). Node >= 24
//   only: see installNodeSqlite.
// hook: DatabaseSync.prototype.exec and .prepare, StatementSync.prototype.run/get/all/iterate,
//   replaced once and restorable. prepare() remembers each statement's target and parsed text
//   (per statement, not per call).
// record: one operation per exec() and per statement execution (prepare itself is not an
//   operation); iterate() is timed until the iterator is returned. Results and errors are the
//   driver's own (same objects); the wrappers add one frame to an error's stack.
import { basename } from 'node:path';
import { fail, hook } from '../safe.js';
import { type DbContext, sharedTarget, syncOp } from './operation.js';
import type { DbTarget } from './record.js';
import { type SqlInfo, sqlInfo } from './sql.js';

type Fn = (...args: never[]) => unknown;
interface Meta {
  target: DbTarget;
  info: SqlInfo;
}

const databases = new WeakMap<object, DbTarget>();
const statements = new WeakMap<object, Meta>();
const undo: Array<() => void> = [];

function targetOf(db: { location?: () => string | null }): DbTarget {
  let t = databases.get(db);
  if (t === undefined) {
    const location = typeof db.location === 'function' ? db.location() : null;
    t = sharedTarget('sqlite', location ? basename(location) : undefined, undefined, undefined);
    databases.set(db, t);
  }
  return t;
}

function replace(proto: Record<string, unknown>, name: string, make: (original: Fn) => Fn): void {
  const original = proto[name];
  if (typeof original !== 'function') return;
  proto[name] = make(original as Fn);
  undo.push(() => {
    proto[name] = original;
  });
}

export async function installNodeSqlite(base: Omit<DbContext, 'hook'>): Promise<void> {
  const h = hook('node:sqlite');
  const ctx: DbContext = { ...base, hook: h };
  // Node 22 prints an ExperimentalWarning when node:sqlite is first loaded: importing it from the
  // preload would put that line into every app's stderr. Node 24.21 prints none (checked here).
  if (Number(process.versions.node.split('.')[0]) < 24) return;
  let mod: { DatabaseSync?: { prototype: object }; StatementSync?: { prototype: object } };
  try {
    mod = (await import('node:sqlite')) as typeof mod;
  } catch {
    return; // Node without node:sqlite
  }
  try {
    const dbProto = mod.DatabaseSync?.prototype as Record<string, unknown> | undefined;
    const stProto = mod.StatementSync?.prototype as Record<string, unknown> | undefined;
    if (dbProto === undefined || stProto === undefined) return;
    replace(
      dbProto,
      'prepare',
      (original) =>
        function prepare(this: object, sql: unknown): unknown {
          // biome-ignore lint/complexity/noArguments: the caller's exact arguments, without a rest array per call
          const statement = Reflect.apply(original, this, arguments) as object;
          if (h.enabled && typeof sql === 'string') {
            try {
              statements.set(statement, { target: targetOf(this), info: sqlInfo(sql) });
            } catch (error) {
              fail(h, error);
            }
          }
          return statement;
        },
    );
    replace(
      dbProto,
      'exec',
      (original) =>
        function exec(this: object, sql: unknown): unknown {
          // biome-ignore lint/complexity/noArguments: the caller's exact arguments, without a rest array per call
          if (!h.enabled || typeof sql !== 'string') return Reflect.apply(original, this, arguments);
          // biome-ignore lint/complexity/noArguments: the caller's exact arguments, without a rest array per call
          return syncOp(ctx, targetOf(this), sqlInfo(sql), original, this, arguments);
        },
    );
    for (const name of ['run', 'get', 'all', 'iterate']) {
      replace(
        stProto,
        name,
        (original) =>
          function (this: object): unknown {
            const meta = h.enabled ? statements.get(this) : undefined;
            // biome-ignore lint/complexity/noArguments: the caller's exact arguments, without a rest array per call
            if (meta === undefined) return Reflect.apply(original, this, arguments);
            // biome-ignore lint/complexity/noArguments: the caller's exact arguments, without a rest array per call
            return syncOp(ctx, meta.target, meta.info, original, this, arguments);
          },
      );
    }
  } catch (error) {
    fail(h, error);
  }
}

export function uninstallNodeSqlite(): void {
  for (const u of undo.splice(0)) u();
}
