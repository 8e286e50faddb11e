// node:sqlite (Node >= 22.5; DatabaseSync / StatementSync).
//
// detect: the builtin is loaded from the preload (ctx.loads.builtin; 0.5–0.8 ms measured on Node
//   24.21: no module hook sees a builtin's ESM import, and the prototypes are shared by every
//   importer). Node >= 24 only: see install().
// hook: DatabaseSync.prototype.exec and .prepare, StatementSync.prototype.run/get/all/iterate.
//   prepare() remembers each statement's target and parsed text (per statement, not per call).
// record: one operation per exec() and per statement execution (prepare itself is not an
//   operation); iterate() is timed until the iterator is returned. Results and errors are the
//   driver's own (same objects); the wrappers add one frame to an error's stack.
import { basename } from 'node:path';
import { after } from '../../core/patch.js';
import type { HookContext } from '../context.js';
import { type Statement, sqliteInfo, sqliteWrappers } from './sqlite.js';

type Module = { DatabaseSync?: { prototype: object }; StatementSync?: { prototype: object } };

export function install(ctx: HookContext): void {
  // Node 22 prints an ExperimentalWarning when node:sqlite is first loaded: importing it from the
  // preload would put that line into every app's stderr. Node 24.21 prints none (checked here).
  if (ctx.runtime !== 'node' || Number(process.versions.node.split('.')[0]) < 24) return;
  // On Node at once, with process.getBuiltinModule (not `import()`: Node builds an ESM facade of a
  // built-in on import, a step more at start).
  ctx.loads.builtin('node:sqlite', (mod) => hook(ctx, mod as Module), ctx.guard);
}

function hook(ctx: HookContext, mod: Module): void {
  const dbProto = mod.DatabaseSync?.prototype;
  const stProto = mod.StatementSync?.prototype;
  if (dbProto === undefined || stProto === undefined) return;
  const { guard, patches } = ctx;
  const sqlite = sqliteWrappers(ctx.db, guard, (d: { location?: () => string | null }) => {
    const location = typeof d.location === 'function' ? d.location() : null;
    return location ? basename(location) : undefined;
  });
  const statements = new WeakMap<object, Statement>();

  patches.wrap(dbProto, 'prepare', (original) =>
    after(guard, original, (self, args, statement) => {
      const sql = args[0];
      if (typeof sql !== 'string') return;
      statements.set(statement as object, { target: sqlite.targetOf(self as object), info: sqliteInfo(sql) });
    }),
  );
  patches.wrap(dbProto, 'exec', sqlite.oneShot);
  for (const name of ['run', 'get', 'all', 'iterate']) {
    patches.wrap(stProto, name, (original) => sqlite.statement(original, (s) => statements.get(s)));
  }
}
