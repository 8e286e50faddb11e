// bun:sqlite (Database / Statement).
//
// detect: when the app first takes the builtin (an import, a require(), process.getBuiltinModule:
//   ctx.loads.builtin, agent/load.ts); its prototypes are shared by every importer. Loading it from
//   the preload cost every Bun process ~1.7 ms at start, SQLite or not (Bun 1.4.5, measured).
// hook: Database.prototype.run/exec (one-shot statements) and .prepare/.query. A Statement's
//   run/get/all/values/iterate/raw are own properties of each instance in Bun (not on
//   Statement.prototype), so each statement is wrapped once when prepare()/query() returns it;
//   query()'s cached statement is wrapped only the first time. Those per-statement wrappers stay on
//   the app's statements after the agent stops, passing every call through.
// record: one operation per execution; results and errors are Bun's own objects.
import { after, type Fn } from '../../core/patch.js';
import type { HookContext } from '../context.js';
import { type Statement, sqliteInfo, sqliteWrappers } from './sqlite.js';

const METHODS = ['run', 'get', 'all', 'values', 'iterate', 'raw'];

export function install(ctx: HookContext): void {
  if (ctx.runtime !== 'bun') return;
  ctx.loads.builtin('bun:sqlite', (mod) => hook(ctx, mod as { Database?: { prototype: object } }), ctx.guard);
}

function hook(ctx: HookContext, mod: { Database?: { prototype: object } }): void {
  const proto = mod.Database?.prototype;
  if (proto === undefined) return;
  const { guard, patches } = ctx;
  const sqlite = sqliteWrappers(ctx.db, guard, (d: { filename?: unknown }) => {
    const f = typeof d.filename === 'string' ? d.filename : '';
    return f === '' || f === ':memory:' ? undefined : (f.split(/[\\/]/).pop() ?? f);
  });
  const wrapped = new WeakSet<object>();

  function wrapStatement(statement: Record<string, unknown>, described: Statement): void {
    if (wrapped.has(statement)) return;
    wrapped.add(statement);
    for (const name of METHODS) {
      const original = statement[name];
      if (typeof original === 'function') statement[name] = sqlite.statement(original as Fn, () => described);
    }
  }

  for (const name of ['prepare', 'query']) {
    patches.wrap(proto, name, (original) =>
      after(guard, original, (self, args, statement) => {
        const sql = args[0];
        if (typeof sql !== 'string' || typeof statement !== 'object' || statement === null) return;
        wrapStatement(statement as Record<string, unknown>, {
          target: sqlite.targetOf(self as object),
          info: sqliteInfo(sql),
        });
      }),
    );
  }
  for (const name of ['run', 'exec']) patches.wrap(proto, name, sqlite.oneShot);
}
