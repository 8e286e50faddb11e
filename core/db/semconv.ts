// error.type of a database operation: a low-cardinality class, never the message (which carries
// statements, keys and values). https://opentelemetry.io/docs/specs/semconv/database/database-spans/
// - PostgreSQL: the full SQLSTATE (`42601` syntax error, `23505` unique violation): five
//   characters from a fixed list of ~250, finer than the class and what runbooks name.
// - MySQL/MariaDB: the driver's symbolic code (`ER_DUP_ENTRY`, `ER_PARSE_ERROR`).
// - SQLite: the code name (`SQLITE_CONSTRAINT_UNIQUE`, `SQLITE_ERROR`), the same on node:sqlite,
//   better-sqlite3 and bun:sqlite.
// - Redis: see ./redis.ts (the reply's error prefix).
// - network: the system error code (`ECONNREFUSED`).
// - otherwise the exception class name (`TypeError`), `_OTHER` for a non-error throw.
import { redisErrorType } from './redis.js';

// SQLite primary result codes (https://www.sqlite.org/rescode.html), for node:sqlite, whose
// errors carry only the numeric extended code.
const SQLITE_CODES: Record<number, string> = {
  1: 'SQLITE_ERROR',
  2: 'SQLITE_INTERNAL',
  3: 'SQLITE_PERM',
  4: 'SQLITE_ABORT',
  5: 'SQLITE_BUSY',
  6: 'SQLITE_LOCKED',
  7: 'SQLITE_NOMEM',
  8: 'SQLITE_READONLY',
  9: 'SQLITE_INTERRUPT',
  10: 'SQLITE_IOERR',
  11: 'SQLITE_CORRUPT',
  13: 'SQLITE_FULL',
  14: 'SQLITE_CANTOPEN',
  15: 'SQLITE_PROTOCOL',
  17: 'SQLITE_SCHEMA',
  18: 'SQLITE_TOOBIG',
  19: 'SQLITE_CONSTRAINT',
  20: 'SQLITE_MISMATCH',
  21: 'SQLITE_MISUSE',
  23: 'SQLITE_AUTH',
  25: 'SQLITE_RANGE',
  26: 'SQLITE_NOTADB',
};

// The extended codes apps meet most, named as bun:sqlite and better-sqlite3 name them.
const SQLITE_EXTENDED: Record<number, string> = {
  275: 'SQLITE_CONSTRAINT_CHECK',
  787: 'SQLITE_CONSTRAINT_FOREIGNKEY',
  1299: 'SQLITE_CONSTRAINT_NOTNULL',
  1555: 'SQLITE_CONSTRAINT_PRIMARYKEY',
  2067: 'SQLITE_CONSTRAINT_UNIQUE',
};

const CODE = /^[A-Z0-9_]{2,40}$/;
const SQLSTATE = /^[0-9A-Z]{5}$/;

/** error.type of a SQL driver's error. */
export function sqlErrorType(error: unknown): string {
  if (typeof error !== 'object' || error === null) return '_OTHER';
  const e = error as { code?: unknown; errcode?: unknown; name?: unknown; constructor?: { name?: unknown } };
  const code = e.code;
  // Bun.sql's PostgresError: a Bun code (ERR_POSTGRES_SYNTAX_ERROR) and the SQLSTATE in errno.
  const errno = (error as { errno?: unknown }).errno;
  if (typeof errno === 'string' && SQLSTATE.test(errno)) return errno;
  if (code === 'ERR_SQLITE_ERROR' && typeof e.errcode === 'number') {
    return SQLITE_EXTENDED[e.errcode] ?? SQLITE_CODES[e.errcode & 0xff] ?? 'SQLITE_ERROR';
  }
  if (typeof code === 'string' && CODE.test(code)) return code;
  const name = typeof e.name === 'string' ? e.name : e.constructor?.name;
  return typeof name === 'string' && name.length > 0 && name.length <= 64 ? name : 'Error';
}

/** error.type of an operation on `system` (db.system.name). */
export function dbErrorType(system: string, error: unknown): string {
  return system === 'redis' ? redisErrorType(error) : sqlErrorType(error);
}
