// bun:sqlite (Database / Statement).
//
// detect: the builtin is imported from the preload (about 1 ms on Bun 1.4.5; Bun's own plugin
//   hooks do not see builtins, and the prototypes are shared by every importer).
// hook: Database.prototype.run/exec (one-shot statements) and .prepare/.query. A Statement's
//   run/get/all/values/iterate/raw are own properties of each instance in Bun (not on
//   Statement.prototype), so each statement is wrapped once when prepare()/query() returns it;
//   query()'s cached statement is wrapped only the first time. Those per-statement wrappers stay on
//   the app's statements after the agent stops, passing every call through.
// record: one operation per execution; results and errors are Bun's own objects.
import type { DbInfo } from '../../core/db/operation.js';
import { sqlInfo } from '../../core/db/sql.js';
import type { DbTarget } from '../../core/db/target.js';
import { after, described, type Fn } from '../../core/patch.js';
import type { HookContext } from '../context.js';

interface Meta {
  target: DbTarget;
  info: DbInfo;
}

const METHODS = ['run', 'get', 'all', 'values', 'iterate', 'raw'];

export async function install(ctx: HookContext): Promise<void> {
  if (ctx.runtime !== 'bun') return;
  let mod: { Database?: { prototype: object } };
  try {
    mod = (await import('bun:sqlite' as string)) as typeof mod;
  } catch {
    return;
  }
  const proto = mod.Database?.prototype;
  if (proto === undefined) return;
  const { db, guard, patches } = ctx;
  const databases = new WeakMap<object, DbTarget>();
  const wrapped = new WeakSet<object>();
  const timed = (m: Meta, original: Fn, self: unknown, args: IArguments) =>
    db.sync(m.target, m.info, original, self, args);

  function targetOf(d: { filename?: unknown }): DbTarget {
    let t = databases.get(d);
    if (t === undefined) {
      const f = typeof d.filename === 'string' ? d.filename : '';
      const name = f === '' || f === ':memory:' ? undefined : (f.split(/[\\/]/).pop() ?? f);
      t = db.target('sqlite', name, undefined, undefined);
      databases.set(d, t);
    }
    return t;
  }

  function wrapStatement(statement: Record<string, unknown>, meta: Meta): void {
    if (wrapped.has(statement)) return;
    wrapped.add(statement);
    for (const name of METHODS) {
      const original = statement[name];
      if (typeof original !== 'function') continue;
      statement[name] = described(guard, original as Fn, () => meta, timed);
    }
  }

  for (const name of ['prepare', 'query']) {
    patches.wrap(proto, name, (original) =>
      after(guard, original, (self, args, statement) => {
        const sql = args[0];
        if (typeof sql !== 'string' || typeof statement !== 'object' || statement === null) return;
        wrapStatement(statement as Record<string, unknown>, {
          target: targetOf(self as object),
          info: sqlInfo(sql),
        });
      }),
    );
  }
  for (const name of ['run', 'exec']) {
    patches.wrap(proto, name, (original) =>
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
  }
}
