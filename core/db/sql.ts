// What a SQL statement's text tells the metrics and spans, read once per distinct text.
//
// - operation: the statement's leading verb (SELECT, INSERT, …) when it is one of a fixed list;
//   anything else is undefined, so db_operation_name stays bounded whatever the app sends.
// - collection: the one table a simple statement works on (SELECT … FROM t, INSERT INTO t,
//   UPDATE t, DELETE FROM t, CREATE/DROP TABLE t); a join, a second FROM, a comma-separated FROM
//   list or a subquery leaves it undefined rather than guessing.
// - text: the statement with literals (strings, numbers, dollar-quoted bodies) replaced by `?`
//   and comments dropped. Placeholders ($1, ?, :name) stay as they are: parameter values are never
//   read, so they cannot reach a span or a log line.
//
// Apps send a bounded set of statement texts (prepared or parameterised), so the result is cached
// per text; an app that builds statements with inlined literals would fill any cache, so it is
// capped and, once full, parsing is paid per call instead of growing memory.

export interface SqlInfo {
  readonly operation: string | undefined;
  readonly collection: string | undefined;
  /** Sanitised text (literals replaced, comments dropped); computed on first use. */
  readonly text: string;
  /** db.query.summary: "SELECT users", "BEGIN". */
  readonly summary: string | undefined;
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

const cache = new Map<string, SqlInfo>();

class Info implements SqlInfo {
  private sanitised: string | undefined;
  readonly summary: string | undefined;
  constructor(
    private readonly source: string,
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
    if (this.sanitised === undefined) this.sanitised = sanitize(this.source);
    return this.sanitised;
  }
}

/** Parsed statement, cached per text. Never throws. */
export function sqlInfo(statement: string): SqlInfo {
  let info = cache.get(statement);
  if (info !== undefined) return info;
  info = parse(statement);
  if (cache.size < CACHE_LIMIT) cache.set(statement, info);
  return info;
}

// ---------------------------------------------------------------------------------------------
// tokens: words, quoted identifiers and single punctuation; strings, numbers and comments skipped

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

function isWordStart(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c > 127;
}
function isWordPart(c: number): boolean {
  return isWordStart(c) || (c >= 48 && c <= 57) || c === 36;
}
function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** The first `max` tokens (enough to find the verb and the table of a simple statement). */
function tokens(s: string, max: number): Token[] {
  const out: Token[] = [];
  const n = Math.min(s.length, TEXT_LIMIT);
  let i = 0;
  while (i < n && out.length < max) {
    const c = s.charCodeAt(i);
    if (c <= 32) {
      i++;
    } else if (c === 45 && s.charCodeAt(i + 1) === 45) {
      const e = s.indexOf('\n', i);
      i = e === -1 ? n : e + 1;
    } else if (c === 47 && s.charCodeAt(i + 1) === 42) {
      const e = s.indexOf('*/', i + 2);
      i = e === -1 ? n : e + 2;
    } else if (c === 39) {
      i = skipQuoted(s, i, 39);
      out.push({ kind: T.Literal, value: '?', raw: '?' });
    } else if (c === 34 || c === 96) {
      const e = skipQuoted(s, i, c);
      const raw = s.slice(i + 1, e - 1);
      out.push({ kind: T.Ident, value: raw, raw });
      i = e;
    } else if (c === 91) {
      const e = s.indexOf(']', i);
      const end = e === -1 ? n : e + 1;
      const raw = s.slice(i + 1, end - 1);
      out.push({ kind: T.Ident, value: raw, raw });
      i = end;
    } else if (isWordStart(c)) {
      let j = i + 1;
      while (j < n && isWordPart(s.charCodeAt(j))) j++;
      const raw = s.slice(i, j);
      out.push({ kind: T.Word, value: raw.toUpperCase(), raw });
      i = j;
    } else if (isDigit(c)) {
      let j = i + 1;
      while (j < n && (isWordPart(s.charCodeAt(j)) || s.charCodeAt(j) === 46)) j++;
      out.push({ kind: T.Literal, value: '?', raw: '?' });
      i = j;
    } else {
      const ch = s[i]!;
      out.push({ kind: T.Punct, value: ch, raw: ch });
      i++;
    }
  }
  return out;
}

/** Index after the closing quote; a doubled quote is part of the text. */
function skipQuoted(s: string, start: number, quote: number): number {
  let i = start + 1;
  const n = s.length;
  while (i < n) {
    const c = s.charCodeAt(i);
    if (c === 92 && quote === 39) {
      i += 2; // MySQL backslash escapes; harmless for standard strings holding no backslash
      continue;
    }
    if (c === quote) {
      if (s.charCodeAt(i + 1) === quote) {
        i += 2;
        continue;
      }
      return i + 1;
    }
    i++;
  }
  return n;
}

// ---------------------------------------------------------------------------------------------
// parse

function parse(statement: string): Info {
  try {
    const t = tokens(statement, 64);
    const first = t[0];
    if (first === undefined || first.kind !== T.Word || !VERBS.has(first.value)) {
      return new Info(statement, undefined, undefined);
    }
    const op = first.value;
    return new Info(statement, op, collectionOf(op, t));
  } catch {
    return new Info(statement, undefined, undefined);
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
 * Literals become `?`: quoted strings, numbers, PostgreSQL dollar-quoted bodies, E'' / X'' / B''
 * prefixed strings. Comments are dropped (they can hold anything). Identifiers, keywords and
 * placeholders stay. At most TEXT_LIMIT characters of the statement are kept.
 */
export function sanitize(s: string): string {
  const n = Math.min(s.length, TEXT_LIMIT);
  let out = '';
  let i = 0;
  let last = 0; // start of the run of text copied as is
  while (i < n) {
    const c = s.charCodeAt(i);
    if (c === 39) {
      out += `${s.slice(last, i)}?`;
      i = skipQuoted(s, i, 39);
      last = i;
    } else if (c === 34 || c === 96) {
      i = skipQuoted(s, i, c);
    } else if (c === 45 && s.charCodeAt(i + 1) === 45) {
      out += s.slice(last, i);
      const e = s.indexOf('\n', i);
      i = e === -1 ? n : e;
      last = i;
    } else if (c === 47 && s.charCodeAt(i + 1) === 42) {
      out += s.slice(last, i);
      const e = s.indexOf('*/', i + 2);
      i = e === -1 ? n : e + 2;
      last = i;
    } else if (c === 36 && !isDigit(s.charCodeAt(i + 1))) {
      // $tag$ … $tag$ (or $$ … $$); `$1` placeholders fall through to the digit rule below.
      let j = i + 1;
      while (j < n && isWordPart(s.charCodeAt(j)) && s.charCodeAt(j) !== 36) j++;
      if (s.charCodeAt(j) === 36) {
        const tag = s.slice(i, j + 1);
        const e = s.indexOf(tag, j + 1);
        out += `${s.slice(last, i)}?`;
        i = e === -1 ? n : e + tag.length;
        last = i;
      } else {
        i = j;
      }
    } else if (c === 36 || c === 58 || c === 64) {
      // $1, :name, @name placeholders: keep with their digits/name
      let j = i + 1;
      while (j < n && isWordPart(s.charCodeAt(j)) && s.charCodeAt(j) !== 36) j++;
      i = j;
    } else if (isWordStart(c)) {
      let j = i + 1;
      while (j < n && isWordPart(s.charCodeAt(j))) j++;
      // E'…', X'…', B'…', N'…': the prefix goes with the literal
      if (j === i + 1 && s.charCodeAt(j) === 39 && /[ExXbBnN]/.test(s[i]!)) {
        out += `${s.slice(last, i)}?`;
        i = skipQuoted(s, j, 39);
        last = i;
      } else {
        i = j;
      }
    } else if (isDigit(c) || (c === 46 && isDigit(s.charCodeAt(i + 1)))) {
      let j = i + 1;
      while (j < n && (isWordPart(s.charCodeAt(j)) || s.charCodeAt(j) === 46)) j++;
      out += `${s.slice(last, i)}?`;
      i = j;
      last = i;
    } else {
      i++;
    }
  }
  out += s.slice(last, Math.min(i, n));
  return out.trim();
}
