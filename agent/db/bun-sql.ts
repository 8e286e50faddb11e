// Bun.sql / Bun.SQL (PostgreSQL; the MySQL and SQLite adapters share the same Query class).
//
// detect: Bun materialises `Bun.SQL` / `Bun.sql` on first access, which costs 7–11 ms (measured
//   on Bun 1.4.5), so tapwire touches them only when the process is configured for a database the
//   way Bun.sql reads it: DATABASE_URL, POSTGRES_URL, PGURL, PG_URL, PGHOST, MYSQL_URL or
//   TLS_DATABASE_URL set. An app that passes its URL to `new Bun.SQL()` from elsewhere is not seen.
// hook: the Query class (a Promise subclass, shared by every SQL instance) is reached through one
//   query that is built and never run (queries run when awaited). Its `then` marks the start (the
//   first await runs the query); `resolve` / `reject`, which the adapter calls to settle it, record.
// record: the statement text per template strings array (the same array for every call of a
//   tagged template), with `$1…` (PostgreSQL) or `?` where the values go; the server from the
//   adapter's connection info, one target per adapter.
import { fail, hook } from '../safe.js';
import { type DbContext, errorTypeOf, finish, now, sharedTarget } from './operation.js';
import type { DbTarget } from './record.js';
import { type SqlInfo, sqlInfo } from './sql.js';

const ENV = ['DATABASE_URL', 'POSTGRES_URL', 'PGURL', 'PG_URL', 'PGHOST', 'MYSQL_URL', 'TLS_DATABASE_URL'];

type Fn = (...args: never[]) => unknown;
interface ConnectionInfo {
  adapter?: string;
  hostname?: string;
  port?: number;
  database?: string;
  filename?: string;
}
type Query = Record<symbol, unknown>;

const kStart = Symbol('tapwire.start');
const kSpan = Symbol('tapwire.span');
const targets = new WeakMap<object, DbTarget>();
const templates = new WeakMap<object, SqlInfo>();
const undo: Array<() => void> = [];

const SYSTEMS: Record<string, string> = {
  postgres: 'postgresql',
  mysql: 'mysql',
  mariadb: 'mariadb',
  sqlite: 'sqlite',
};

function targetOf(adapter: { connectionInfo?: ConnectionInfo } | undefined): DbTarget {
  if (adapter === undefined) return sharedTarget('postgresql', undefined, undefined, undefined);
  let t = targets.get(adapter);
  if (t === undefined) {
    const c = adapter.connectionInfo ?? {};
    const system = SYSTEMS[c.adapter ?? 'postgres'] ?? 'postgresql';
    t =
      system === 'sqlite'
        ? sharedTarget(system, undefined, undefined, undefined)
        : sharedTarget(system, c.database, c.hostname, c.port);
    targets.set(adapter, t);
  }
  return t;
}

function infoOf(strings: unknown, system: string): SqlInfo | undefined {
  if (typeof strings === 'string') return sqlInfo(strings);
  if (!Array.isArray(strings)) return undefined;
  let info = templates.get(strings);
  if (info === undefined) {
    let text = strings[0] ?? '';
    for (let i = 1; i < strings.length; i++)
      text += `${system === 'postgresql' ? `$${i}` : '?'}${strings[i]}`;
    info = sqlInfo(text);
    templates.set(strings, info);
  }
  return info;
}

export function installBunSql(base: Omit<DbContext, 'hook'>): void {
  const B = (globalThis as { Bun?: { sql?: unknown } }).Bun;
  if (B === undefined || !ENV.some((v) => process.env[v])) return;
  const h = hook('Bun.sql');
  const ctx: DbContext = { ...base, hook: h };
  try {
    const sql = B.sql as ((strings: TemplateStringsArray) => object) | undefined;
    if (typeof sql !== 'function') return;
    const probe = sql`SELECT 1`;
    const proto = Object.getPrototypeOf(probe) as Record<string, unknown>;
    const symbols = new Map<string | undefined, symbol>();
    for (const s of Object.getOwnPropertySymbols(probe)) symbols.set(s.description, s);
    const kStrings = symbols.get('strings');
    const kAdapter = symbols.get('adapter');
    if (kStrings === undefined || kAdapter === undefined) return;
    const then = proto.then;
    const resolve = proto.resolve;
    const reject = proto.reject;
    if (typeof then !== 'function' || typeof resolve !== 'function' || typeof reject !== 'function') return;

    const settle = (q: Query, error: unknown): void => {
      const start = q[kStart] as number | undefined;
      if (start === undefined || start < 0) return;
      q[kStart] = -1; // settled: one record per query
      try {
        const target = targetOf(q[kAdapter] as { connectionInfo?: ConnectionInfo } | undefined);
        const info = infoOf(q[kStrings], target.system);
        const errorType = error === undefined ? undefined : errorTypeOf(error);
        finish(ctx, target, info, errorType, start, q[kSpan] as never);
      } catch (e) {
        fail(h, e);
      }
    };

    // biome-ignore lint/suspicious/noThenProperty: wrapping the Query class's own then (a Promise subclass)
    proto.then = function (this: Query): unknown {
      if (h.enabled && this[kStart] === undefined) {
        this[kStart] = now();
        if (ctx.spans !== undefined) {
          try {
            const target = targetOf(this[kAdapter] as { connectionInfo?: ConnectionInfo } | undefined);
            const info = infoOf(this[kStrings], target.system);
            this[kSpan] = ctx.spans.startDbSpan(
              target.system,
              info?.summary,
              info?.text,
              target.namespace,
              target.address,
              target.port,
            );
          } catch (e) {
            fail(h, e);
          }
        }
      }
      // biome-ignore lint/complexity/noArguments: the caller's exact arguments, without a rest array per call
      return Reflect.apply(then as Fn, this, arguments);
    };
    proto.resolve = function (this: Query): unknown {
      if (h.enabled) settle(this, undefined);
      // biome-ignore lint/complexity/noArguments: the caller's exact arguments, without a rest array per call
      return Reflect.apply(resolve as Fn, this, arguments);
    };
    proto.reject = function (this: Query, error: unknown): unknown {
      if (h.enabled) settle(this, error ?? new Error());
      // biome-ignore lint/complexity/noArguments: the caller's exact arguments, without a rest array per call
      return Reflect.apply(reject as Fn, this, arguments);
    };
    undo.push(() => {
      // biome-ignore lint/suspicious/noThenProperty: restoring the Query class's own then
      proto.then = then;
      proto.resolve = resolve;
      proto.reject = reject;
    });
  } catch (error) {
    fail(h, error);
  }
}

export function uninstallBunSql(): void {
  for (const u of undo.splice(0)) u();
}
