// What a SQL statement's text tells the metrics and spans, read once per distinct text and
// dialect, through the one lexer (./sql-lexer.ts).
//
// - operation: the statement's leading verb (SELECT, INSERT, …) when it is one of a fixed list;
//   anything else is undefined, so db_operation_name stays bounded whatever the app sends.
// - collection: the one table a simple statement works on (SELECT … FROM t, INSERT INTO t,
//   UPDATE t, DELETE FROM t, CREATE/DROP TABLE t); a join, a second FROM, a comma-separated FROM
//   list or a subquery leaves it undefined rather than guessing.
// - text: the statement with literals (strings, numbers, hex and bit strings, dollar-quoted
//   bodies) replaced by `?` and comments dropped; from the first place the lexer cannot read with
//   certainty (an unterminated string, a construct the dialect's server settings decide), the rest
//   is one `?`. Placeholders ($1, ?, :name) stay as they are: parameter values are never read, so
//   they cannot reach a span or a log line.
//
// Apps send a bounded set of statement texts (prepared or parameterised), so the result is cached
// per text; an app that builds statements with inlined literals would fill any cache, so it is
// capped and, once full, parsing is paid per call instead of growing memory.
import { SqlLexer, type SqlSyntax, SYNTAX, Tok } from './sql-lexer.js';

export interface SqlInfo {
  readonly operation: string | undefined;
  readonly collection: string | undefined;
  /** Sanitised text (literals replaced, comments dropped); computed on first use. */
  readonly text: string;
  /** db.query.summary: "SELECT users", "BEGIN". */
  readonly summary: string | undefined;
}

/** A dialect's syntax and its cache of parsed statements; hooks keep the one for their driver. */
export class SqlDialect {
  readonly cache = new Map<string, SqlInfo>();
  constructor(readonly syntax: SqlSyntax) {}
}

const DIALECTS = {
  postgresql: new SqlDialect(SYNTAX.postgresql),
  mysql: new SqlDialect(SYNTAX.mysql),
  sqlite: new SqlDialect(SYNTAX.sqlite),
  other: new SqlDialect(SYNTAX.other),
};

/** The dialect of a db.system.name; an unknown system gets the one that keeps least. */
export function sqlDialect(system: string): SqlDialect {
  switch (system) {
    case 'postgresql':
      return DIALECTS.postgresql;
    case 'mysql':
    case 'mariadb':
      return DIALECTS.mysql;
    case 'sqlite':
      return DIALECTS.sqlite;
    default:
      return DIALECTS.other;
  }
}

const VERBS = new Set([
  'SELECT',
  'INSERT',
  'UPDATE',
  'DELETE',
  'REPLACE',
  'UPSERT',
  'MERGE',
  'WITH',
  'VALUES',
  'CREATE',
  'DROP',
  'ALTER',
  'TRUNCATE',
  'BEGIN',
  'START',
  'COMMIT',
  'ROLLBACK',
  'SAVEPOINT',
  'RELEASE',
  'SET',
  'SHOW',
  'CALL',
  'DO',
  'EXPLAIN',
  'ANALYZE',
  'VACUUM',
  'PRAGMA',
  'ATTACH',
  'DETACH',
  'REINDEX',
  'COPY',
  'LOCK',
  'GRANT',
  'REVOKE',
  'USE',
  'DESCRIBE',
  'LISTEN',
  'NOTIFY',
  'PREPARE',
  'EXECUTE',
  'DEALLOCATE',
]);

const CACHE_LIMIT = 2000;
/** Longer texts are sanitised only this far (a span attribute, a log line). */
const TEXT_LIMIT = 4096;
const MAX_NAME = 128;

class Info implements SqlInfo {
  private sanitised: string | undefined;
  readonly summary: string | undefined;
  constructor(
    private readonly source: string,
    private readonly syntax: SqlSyntax,
    readonly operation: string | undefined,
    readonly collection: string | undefined,
  ) {
    this.summary =
      operation === undefined
        ? undefined
        : collection === undefined
          ? operation
          : `${operation} ${collection}`;
  }
  get text(): string {
    if (this.sanitised === undefined) this.sanitised = sanitize(this.source, this.syntax);
    return this.sanitised;
  }
}

/** Parsed statement, cached per text and dialect. Never throws. */
export function sqlInfo(statement: string, dialect: SqlDialect): SqlInfo {
  const cache = dialect.cache;
  let info = cache.get(statement);
  if (info !== undefined) return info;
  info = parse(statement, dialect.syntax);
  if (cache.size < CACHE_LIMIT) cache.set(statement, info);
  return info;
}

// ---------------------------------------------------------------------------------------------
// tokens: words, quoted names and single punctuation; literals and placeholders as `?`

enum T {
  Word = 0,
  Ident = 1,
  Punct = 2,
  Literal = 3,
}

interface Token {
  kind: T;
  /** Upper-cased for words, unquoted for identifiers, the character for punctuation. */
  value: string;
  /** Original spelling (words, identifiers). */
  raw: string;
}

const LITERAL: Token = { kind: T.Literal, value: '?', raw: '?' };

/** The first `max` tokens (enough to find the verb and the table of a simple statement). */
function tokens(s: string, syntax: SqlSyntax, max: number): Token[] {
  const out: Token[] = [];
  const lx = new SqlLexer(s, syntax);
  while (out.length < max) {
    const kind = lx.next();
    if (kind === Tok.End || lx.start >= TEXT_LIMIT) break;
    switch (kind) {
      case Tok.Word: {
        const raw = s.slice(lx.start, lx.end);
        out.push({ kind: T.Word, value: raw.toUpperCase(), raw });
        break;
      }
      case Tok.Name:
      case Tok.MaybeName: {
        const raw = s.slice(lx.start + 1, lx.end - 1);
        out.push({ kind: T.Ident, value: raw, raw });
        break;
      }
      case Tok.Punct: {
        const ch = s.slice(lx.start, lx.end);
        out.push({ kind: T.Punct, value: ch, raw: ch });
        break;
      }
      case Tok.Comment:
        break;
      case Tok.Unsure:
        out.push(LITERAL);
        return out;
      default:
        out.push(LITERAL);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// parse

function parse(statement: string, syntax: SqlSyntax): Info {
  try {
    const t = tokens(statement, syntax, 64);
    const first = t[0];
    if (first === undefined || first.kind !== T.Word || !VERBS.has(first.value)) {
      return new Info(statement, syntax, undefined, undefined);
    }
    const op = first.value;
    return new Info(statement, syntax, op, collectionOf(op, t));
  } catch {
    return new Info(statement, syntax, undefined, undefined);
  }
}

/** A possibly qualified name starting at t[i] (`schema.table`); undefined when not a name. */
function nameAt(t: Token[], i: number): { name: string; next: number } | undefined {
  const a = t[i];
  if (a === undefined || (a.kind !== T.Word && a.kind !== T.Ident)) return undefined;
  let name = a.raw;
  let j = i + 1;
  while (t[j]?.value === '.' && (t[j + 1]?.kind === T.Word || t[j + 1]?.kind === T.Ident)) {
    name += `.${t[j + 1]!.raw}`;
    j += 2;
  }
  if (name.length === 0 || name.length > MAX_NAME) return undefined;
  return { name, next: j };
}

function skipWords(t: Token[], i: number, ...words: string[]): number {
  let j = i;
  for (const w of words) {
    if (t[j]?.kind === T.Word && t[j]!.value === w) j++;
    else return i;
  }
  return j;
}

function collectionOf(op: string, t: Token[]): string | undefined {
  switch (op) {
    case 'SELECT':
      return selectTable(t);
    case 'INSERT':
    case 'REPLACE': {
      let i = 1;
      while (t[i]?.kind === T.Word && t[i]!.value !== 'INTO') i++; // IGNORE, LOW_PRIORITY, OR REPLACE
      if (t[i]?.value !== 'INTO') return undefined;
      return nameAt(t, i + 1)?.name;
    }
    case 'UPDATE': {
      let i = 1;
      if (t[i]?.value === 'ONLY' || t[i]?.value === 'LOW_PRIORITY' || t[i]?.value === 'IGNORE') i++;
      const n = nameAt(t, i);
      return n !== undefined && t[n.next]?.value !== ',' && !t.some(isJoin) ? n.name : undefined;
    }
    case 'DELETE': {
      if (t[1]?.value !== 'FROM') return undefined;
      const n = nameAt(t, 2);
      return n !== undefined && t[n.next]?.value !== ',' && !t.some(isJoin) ? n.name : undefined;
    }
    case 'CREATE':
    case 'DROP':
    case 'ALTER':
    case 'TRUNCATE': {
      let i = 1;
      i = skipWords(t, i, 'TEMPORARY');
      i = skipWords(t, i, 'TEMP');
      if (op !== 'TRUNCATE' || t[i]?.value === 'TABLE') {
        if (t[i]?.value !== 'TABLE') return undefined;
        i++;
      }
      i = skipWords(t, i, 'IF', 'NOT', 'EXISTS');
      i = skipWords(t, i, 'IF', 'EXISTS');
      return nameAt(t, i)?.name;
    }
    default:
      return undefined;
  }
}

function isJoin(tok: Token): boolean {
  return tok.kind === T.Word && tok.value === 'JOIN';
}

function selectTable(t: Token[]): string | undefined {
  let from = -1;
  for (let i = 1; i < t.length; i++) {
    const tok = t[i]!;
    if (tok.kind !== T.Word) continue;
    if (tok.value === 'FROM') {
      if (from !== -1) return undefined; // a second FROM: subquery or union
      from = i;
    } else if (tok.value === 'JOIN' || tok.value === 'UNION' || tok.value === 'SELECT') {
      return undefined;
    }
  }
  if (from === -1) return undefined;
  const n = nameAt(t, from + 1);
  if (n === undefined) return undefined;
  // `FROM a, b` is a join too; `FROM a AS x` and `FROM a x` are one table.
  let j = n.next;
  if (t[j]?.value === 'AS') j++;
  if (t[j]?.kind === T.Word && !CLAUSE.has(t[j]!.value)) j++;
  return t[j]?.value === ',' ? undefined : n.name;
}

const CLAUSE = new Set([
  'WHERE',
  'GROUP',
  'ORDER',
  'LIMIT',
  'OFFSET',
  'HAVING',
  'FOR',
  'WINDOW',
  'FETCH',
  'INNER',
  'LEFT',
  'RIGHT',
  'FULL',
  'CROSS',
  'NATURAL',
  'USING',
]);

// ---------------------------------------------------------------------------------------------
// sanitise

/**
 * Literals (and SQLite's "…", which may be one) become `?`; comments are dropped (they can hold
 * anything); names, keywords and placeholders stay; from an unsure token on, the rest is one `?`.
 * At most TEXT_LIMIT characters of the statement are read.
 */
export function sanitize(s: string, syntax: SqlSyntax): string {
  const lx = new SqlLexer(s, syntax);
  let out = '';
  let last = 0; // start of the run of text copied as is
  for (let kind = lx.next(); kind !== Tok.End && lx.start < TEXT_LIMIT; kind = lx.next()) {
    if (kind === Tok.Literal || kind === Tok.MaybeName) {
      out += `${s.slice(last, lx.start)}?`;
      last = lx.end;
    } else if (kind === Tok.Comment) {
      out += s.slice(last, lx.start);
      // `a/* */b` stays two words
      if (s.charCodeAt(lx.start - 1) > 32 && s.charCodeAt(lx.end) > 32) out += ' ';
      last = lx.end;
    } else if (kind === Tok.Unsure) {
      return `${out}${s.slice(last, lx.start)}?`.trim();
    }
  }
  out += s.slice(last, Math.min(s.length, TEXT_LIMIT));
  return out.trim();
}
