// Bun.sql / Bun.SQL (PostgreSQL; the MySQL and SQLite adapters share the same Query class).
//
// detect: Bun materialises `Bun.SQL` / `Bun.sql` on first access, which costs 7–11 ms (measured
//   on Bun 1.4.5), so tapwire touches them only when the process is configured for a database the
//   way Bun.sql reads it: DATABASE_URL, POSTGRES_URL, PGURL, PG_URL, PGHOST, MYSQL_URL or
//   TLS_DATABASE_URL set. An app that passes its URL to `new Bun.SQL()` from elsewhere is not seen.
// hook: the Query class (a Promise subclass, shared by every SQL instance) is reached through one
//   query that is built and never run (queries run when awaited). Its `then` starts the operation
//   (the first await runs the query); `resolve` / `reject`, which the adapter calls to settle it,
//   end it.
// record: the statement text per template strings array (the same array for every call of a
//   tagged template), with `$1…` (PostgreSQL) or `?` where the values go; the server from the
//   adapter's connection info, one target per adapter.
import type { DbInfo, DbOp } from '../../core/db/operation.js';
import type { DbTarget } from '../../core/db/target.js';
import { kOperation } from '../../core/operation.js';
import { before } from '../../core/patch.js';
import type { HookContext } from '../context.js';
import { BUN_SQL_ENV as ENV } from '../packages.js';
import { statementInfo } from './sql.js';

interface ConnectionInfo {
  adapter?: string;
  hostname?: string;
  port?: number;
  database?: string;
}
type Adapter = { connectionInfo?: ConnectionInfo } | undefined;
/** Per adapter: where its queries go and how their text reads. */
interface Described {
  target: DbTarget;
  /** db.system.name, whose dialect reads its statements. */
  system: string;
}
type Query = Record<symbol, unknown> & { [kOperation]?: DbOp | null };

const SYSTEMS: Record<string, string> = {
  postgres: 'postgresql',
  mysql: 'mysql',
  mariadb: 'mariadb',
  sqlite: 'sqlite',
};

export function install(ctx: HookContext): void {
  const B = (globalThis as { Bun?: { sql?: unknown } }).Bun;
  if (B === undefined || !ENV.some((v) => process.env[v])) return;
  const sql = B.sql as ((strings: TemplateStringsArray) => object) | undefined;
  if (typeof sql !== 'function') return;
  const probe = sql`SELECT 1`;
  const proto = Object.getPrototypeOf(probe) as object;
  const symbols = new Map<string | undefined, symbol>();
  for (const s of Object.getOwnPropertySymbols(probe)) symbols.set(s.description, s);
  const kStrings = symbols.get('strings');
  const kAdapter = symbols.get('adapter');
  if (kStrings === undefined || kAdapter === undefined) return;
  const { db, guard, patches } = ctx;
  const described = new WeakMap<object, Described>();
  const templates = new WeakMap<object, DbInfo>();

  function describe(adapter: Adapter): Described {
    const c = adapter?.connectionInfo ?? {};
    const system = SYSTEMS[c.adapter ?? 'postgres'] ?? 'postgresql';
    const target =
      system === 'sqlite' || adapter === undefined
        ? db.target(system, undefined, undefined, undefined)
        : db.target(system, c.database, c.hostname, c.port);
    return { target, system };
  }

  function describedOf(adapter: Adapter): Described {
    if (adapter === undefined) return describe(adapter);
    let d = described.get(adapter);
    if (d === undefined) {
      d = describe(adapter);
      described.set(adapter, d);
    }
    return d;
  }

  function infoOf(strings: unknown, d: Described): DbInfo | undefined {
    if (typeof strings === 'string') return statementInfo(strings, d.system);
    if (!Array.isArray(strings)) return undefined;
    let info = templates.get(strings);
    if (info === undefined) {
      const numbered = d.target.system === 'postgresql';
      let text = strings[0] ?? '';
      for (let i = 1; i < strings.length; i++) text += `${numbered ? `$${i}` : '?'}${strings[i]}`;
      info = statementInfo(text, d.system);
      templates.set(strings, info);
    }
    return info;
  }

  function settle(q: Query, error: unknown): void {
    const op = q[kOperation];
    if (!op) return;
    q[kOperation] = null; // settled: one record per query
    op.end(error);
  }

  patches.wrap(proto, 'then', (original) =>
    before(guard, original, (self) => {
      const q = self as Query;
      if (q[kOperation] !== undefined) return;
      const d = describedOf(q[kAdapter] as Adapter);
      q[kOperation] = db.start(d.target, infoOf(q[kStrings], d));
    }),
  );
  patches.wrap(proto, 'resolve', (original) =>
    before(guard, original, (self) => settle(self as Query, undefined)),
  );
  patches.wrap(proto, 'reject', (original) =>
    before(guard, original, (self, args) => settle(self as Query, args[0] ?? new Error())),
  );
}
