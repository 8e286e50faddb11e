// node:sqlite (Node >= 22.5; DatabaseSync / StatementSync).
//
// detect: the builtin is imported from the preload (0.5–0.8 ms measured on Node 24.21; no module
//   hook sees a builtin's ESM import, and the prototypes are shared by every importer). Node >= 24
//   only: see install().
// hook: DatabaseSync.prototype.exec and .prepare, StatementSync.prototype.run/get/all/iterate.
//   prepare() remembers each statement's target and parsed text (per statement, not per call).
// record: one operation per exec() and per statement execution (prepare itself is not an
//   operation); iterate() is timed until the iterator is returned. Results and errors are the
//   driver's own (same objects); the wrappers add one frame to an error's stack.
import { basename } from 'node:path';
import type { DbInfo } from '../../core/db/operation.js';
import { sqlInfo } from '../../core/db/sql.js';
import type { DbTarget } from '../../core/db/target.js';
import { after, described, type Fn } from '../../core/patch.js';
import type { HookContext } from '../context.js';

interface Meta {
  target: DbTarget;
  info: DbInfo;
}
type Module = { DatabaseSync?: { prototype: object }; StatementSync?: { prototype: object } };

export async function install(ctx: HookContext): Promise<void> {
  // Node 22 prints an ExperimentalWarning when node:sqlite is first loaded: importing it from the
  // preload would put that line into every app's stderr. Node 24.21 prints none (checked here).
  if (ctx.runtime !== 'node' || Number(process.versions.node.split('.')[0]) < 24) return;
  let mod: Module;
  try {
    mod = (await import('node:sqlite')) as Module;
  } catch {
    return; // Node without node:sqlite
  }
  const dbProto = mod.DatabaseSync?.prototype;
  const stProto = mod.StatementSync?.prototype;
  if (dbProto === undefined || stProto === undefined) return;
  const { db, guard, patches } = ctx;
  const databases = new WeakMap<object, DbTarget>();
  const statements = new WeakMap<object, Meta>();

  function targetOf(d: { location?: () => string | null }): DbTarget {
    let t = databases.get(d);
    if (t === undefined) {
      const location = typeof d.location === 'function' ? d.location() : null;
      t = db.target('sqlite', location ? basename(location) : undefined, undefined, undefined);
      databases.set(d, t);
    }
    return t;
  }

  patches.wrap(dbProto, 'prepare', (original) =>
    after(guard, original, (self, args, statement) => {
      const sql = args[0];
      if (typeof sql === 'string')
        statements.set(statement as object, { target: targetOf(self as object), info: sqlInfo(sql) });
    }),
  );
  const timed = (m: Meta, original: Fn, self: unknown, args: IArguments) =>
    db.sync(m.target, m.info, original, self, args);
  patches.wrap(dbProto, 'exec', (original) =>
    described(
      guard,
      original,
      (self, args) =>
        typeof args[0] === 'string'
          ? { target: targetOf(self as object), info: sqlInfo(args[0]) }
          : undefined,
      timed,
    ),
  );
  for (const name of ['run', 'get', 'all', 'iterate']) {
    patches.wrap(stProto, name, (original) =>
      described(guard, original, (self) => statements.get(self as object), timed),
    );
  }
}
