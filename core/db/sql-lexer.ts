// The one SQL lexer: everything that reads a statement's text (./sql.ts: the verb, the table and
// the sanitised db.query.text) reads it through SqlLexer, with the syntax table of the statement's
// dialect, chosen once per db.system.name by the hook that knows the driver.
//
// Dialects disagree on what a quote means, and a lexer that guesses wrong puts a literal into a
// span or a log line: MySQL's "alice@example.com" is a string, PostgreSQL's "users" a name. Where
// a reading depends on a server setting the lexer cannot see, it reads the text both ways and,
// from the first place they part, reports Tok.Unsure: the caller replaces the rest with `?`.
// - PostgreSQL: "…" names; '…' without backslash escapes (standard_conforming_strings, on by
//   default since 9.1), so a `\'` inside one is unsure; E'…' with them; $$…$$ and $tag$…$tag$
//   bodies; nested /* */ comments; `--` comments end at a carriage return too; `#` is an operator.
//   https://www.postgresql.org/docs/current/sql-syntax-lexical.html
// - MySQL and MariaDB: '…' and "…" are strings with backslash escapes (mysql2 escapes the values
//   it inlines that way, so NO_BACKSLASH_ESCAPES would break the app's own queries first); under
//   ANSI_QUOTES "…" is a name, which is only read differently at a `\"`: unsure there. `#` and
//   `-- ` (dash dash space) start comments. https://dev.mysql.com/doc/refman/8.4/en/string-literals.html
// - SQLite: '…' without escapes; "…" names a column, or is a string where no column has that name
//   (https://www.sqlite.org/quirks.html#dblquote), so it is `?` in the text and a name only where
//   a table name goes; [name] and `name`; ?NNN parameters.
// - anything else: every construct whose meaning differs between those (a backslash before a
//   quote, $tag$, `#`, `--` not followed by a space or holding a carriage return, a nested `/*`, a
//   bracket holding a quote) is unsure.

/** What the lexer found between start and end. */
export enum Tok {
  End = 0,
  /** A keyword or an unquoted name. */
  Word = 1,
  /** A quoted name (`"users"` in PostgreSQL, backticks, [name] in SQLite): kept in the text. */
  Name = 2,
  /** SQLite's "…": a name where a table name goes, `?` in the text. */
  MaybeName = 3,
  /** A string, number, dollar-quoted body, bit or hex string. */
  Literal = 4,
  /** $1, ?, ?2, :name, @name: kept (values are never read). */
  Param = 5,
  Punct = 6,
  Comment = 7,
  /** From start on the text cannot be read with certainty (unterminated, or read differently by
   * server settings or dialects the lexer cannot tell apart): nothing of it may be kept. */
  Unsure = 8,
}

/** How a quoted run ends. */
export enum Quote {
  /** Only a doubled quote continues it. */
  Plain = 0,
  /** A backslash escapes the next character too. */
  Backslash = 1,
  /** Read with backslash escapes; an escaped quote (where Plain would end) is unsure. */
  Either = 2,
}

/** For constructs one dialect has, another lacks, and an unknown one may have. */
export enum Has {
  No = 0,
  Yes = 1,
  Unsure = 2,
}

export interface SqlSyntax {
  readonly name: string;
  /** '…' */
  readonly single: Quote;
  /** E'…' */
  readonly escape: Quote;
  /** What "…" is, and how it ends. */
  readonly double: Tok.Name | Tok.Literal | Tok.MaybeName;
  readonly doubleQuote: Quote;
  /** [name] (No: `[` is punctuation, PostgreSQL's array subscripts). */
  readonly brackets: Has;
  readonly dollarQuotes: Has;
  /** `#` to the end of the line. */
  readonly hashComments: Has;
  /** `--` starts a comment only before whitespace (MySQL; Unsure: otherwise unsure). */
  readonly dashNeedsSpace: Has;
  readonly nestedComments: Has;
  /** A carriage return ends a `--` comment (PostgreSQL), not only a newline. */
  readonly returnEndsLine: Has;
  /** ?NNN is one parameter (SQLite). */
  readonly numberedQuestion: boolean;
}

export const SYNTAX = {
  postgresql: {
    name: 'postgresql',
    single: Quote.Either,
    escape: Quote.Backslash,
    double: Tok.Name,
    doubleQuote: Quote.Plain,
    brackets: Has.No,
    dollarQuotes: Has.Yes,
    hashComments: Has.No,
    dashNeedsSpace: Has.No,
    nestedComments: Has.Yes,
    returnEndsLine: Has.Yes,
    numberedQuestion: false,
  },
  mysql: {
    name: 'mysql',
    single: Quote.Backslash,
    escape: Quote.Backslash,
    double: Tok.Literal,
    doubleQuote: Quote.Either,
    brackets: Has.No,
    dollarQuotes: Has.No,
    hashComments: Has.Yes,
    dashNeedsSpace: Has.Yes,
    nestedComments: Has.No,
    returnEndsLine: Has.No,
    numberedQuestion: false,
  },
  sqlite: {
    name: 'sqlite',
    single: Quote.Plain,
    escape: Quote.Plain,
    double: Tok.MaybeName,
    doubleQuote: Quote.Plain,
    brackets: Has.Yes,
    dollarQuotes: Has.No,
    hashComments: Has.No,
    dashNeedsSpace: Has.No,
    nestedComments: Has.No,
    returnEndsLine: Has.No,
    numberedQuestion: true,
  },
  other: {
    name: 'other',
    single: Quote.Either,
    escape: Quote.Either,
    double: Tok.MaybeName,
    doubleQuote: Quote.Either,
    brackets: Has.Unsure,
    dollarQuotes: Has.Unsure,
    hashComments: Has.Unsure,
    dashNeedsSpace: Has.Unsure,
    nestedComments: Has.Unsure,
    returnEndsLine: Has.Unsure,
    numberedQuestion: false,
  },
} satisfies Record<string, SqlSyntax>;

export function isWordStart(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c > 127;
}
function isWordPart(c: number): boolean {
  return isWordStart(c) || (c >= 48 && c <= 57) || c === 36;
}
function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** Reads one token per next(): its kind, start and end. Whitespace between tokens is skipped. */
export class SqlLexer {
  kind: Tok = Tok.End;
  start = 0;
  end = 0;

  constructor(
    private readonly s: string,
    private readonly syntax: SqlSyntax,
  ) {}

  next(): Tok {
    const s = this.s;
    const n = s.length;
    let i = this.end;
    while (i < n && s.charCodeAt(i) <= 32) i++;
    this.start = i;
    if (i >= n) return this.is(Tok.End, n);
    const d = this.syntax;
    const c = s.charCodeAt(i);
    const c1 = s.charCodeAt(i + 1); // NaN past the end: no test below matches it
    switch (c) {
      case 39: // '
        return this.quoted(i, 39, d.single, Tok.Literal);
      case 34: // "
        return this.quoted(i, 34, d.doubleQuote, d.double);
      case 96: // `
        return this.quoted(i, 96, Quote.Plain, Tok.Name);
      case 45: // -
        if (c1 !== 45) break;
        if (d.dashNeedsSpace !== Has.No && !(i + 2 >= n || s.charCodeAt(i + 2) <= 32)) {
          if (d.dashNeedsSpace === Has.Unsure) return this.is(Tok.Unsure, n);
          break; // MySQL: `1--1` is one minus minus one
        }
        return this.lineComment(i);
      case 35: // #
        if (d.hashComments === Has.No) break;
        return d.hashComments === Has.Yes ? this.lineComment(i) : this.is(Tok.Unsure, n);
      case 47: // /
        return c1 === 42 ? this.blockComment(i) : this.is(Tok.Punct, i + 1);
      case 91: // [
        return this.bracket(i);
      case 36: // $
        return this.dollar(i, c1);
      case 63: {
        // ?
        let j = i + 1;
        if (d.numberedQuestion) while (j < n && isDigit(s.charCodeAt(j))) j++;
        return this.is(Tok.Param, j);
      }
      case 58: // :name
      case 64: // @name, @@name
        if (isWordStart(c1) || (c === 64 && c1 === 64)) return this.is(Tok.Param, this.word(i + 2));
        break;
      case 46: // .5
        if (isDigit(c1)) return this.is(Tok.Literal, this.number(i));
        break;
    }
    if (isWordStart(c)) {
      const j = this.word(i + 1);
      // E'…', B'…', X'…', N'…': the prefix belongs to the literal.
      if (j === i + 1 && s.charCodeAt(j) === 39) {
        const p = c | 0x20;
        if (p === 101) return this.quoted(j, 39, d.escape, Tok.Literal);
        if (p === 98 || p === 120 || p === 110) return this.quoted(j, 39, d.single, Tok.Literal);
      }
      return this.is(Tok.Word, j);
    }
    if (isDigit(c)) return this.is(Tok.Literal, this.number(i));
    return this.is(Tok.Punct, i + 1);
  }

  private is(kind: Tok, end: number): Tok {
    this.kind = kind;
    this.end = end;
    return kind;
  }

  private word(from: number): number {
    const s = this.s;
    let j = from;
    while (j < s.length && isWordPart(s.charCodeAt(j))) j++;
    return j;
  }

  /** 42, 4.2, 1e-5, 0x1F, 0b101, 1_000 (a word made of a leading digit is a number). */
  private number(i: number): number {
    const s = this.s;
    const hex = s.charCodeAt(i) === 48 && (s.charCodeAt(i + 1) | 0x20) === 120;
    let j = i + 1;
    while (j < s.length) {
      const c = s.charCodeAt(j);
      if (isWordPart(c) || c === 46) j++;
      else if ((c === 43 || c === 45) && !hex && (s.charCodeAt(j - 1) | 0x20) === 101) j++;
      else break;
    }
    return j;
  }

  /** A quoted run from the quote at i (the token starts at this.start: a prefix is part of it). */
  private quoted(i: number, q: number, how: Quote, kind: Tok): Tok {
    const s = this.s;
    const n = s.length;
    for (let j = i + 1; j < n; j++) {
      const c = s.charCodeAt(j);
      if (c === 92 && how !== Quote.Plain) {
        if (how === Quote.Either && s.charCodeAt(j + 1) === q) return this.is(Tok.Unsure, n);
        j++;
      } else if (c === q) {
        if (s.charCodeAt(j + 1) !== q) return this.is(kind, j + 1);
        j++;
      }
    }
    return this.is(Tok.Unsure, n); // unterminated
  }

  private lineComment(i: number): Tok {
    const s = this.s;
    const nl = s.indexOf('\n', i);
    const e = nl === -1 ? s.length : nl;
    const has = this.syntax.returnEndsLine;
    if (has !== Has.No) {
      const cr = find(s, 13, 13, i, e);
      if (cr !== -1) return has === Has.Yes ? this.is(Tok.Comment, cr) : this.is(Tok.Unsure, s.length);
    }
    return this.is(Tok.Comment, e);
  }

  private blockComment(i: number): Tok {
    const s = this.s;
    const n = s.length;
    const nested = this.syntax.nestedComments;
    if (nested === Has.Yes) {
      let depth = 0;
      for (let j = i; j < n - 1; j++) {
        const c = s.charCodeAt(j);
        if (c === 47 && s.charCodeAt(j + 1) === 42) {
          depth++;
          j++;
        } else if (c === 42 && s.charCodeAt(j + 1) === 47) {
          j++;
          if (--depth === 0) return this.is(Tok.Comment, j + 1);
        }
      }
      return this.is(Tok.Comment, n); // unterminated: all of it is dropped
    }
    const e = s.indexOf('*/', i + 2);
    if (nested === Has.Unsure && find(s, 47, 42, i + 2, e === -1 ? n : e) !== -1)
      return this.is(Tok.Unsure, n);
    return this.is(Tok.Comment, e === -1 ? n : e + 2);
  }

  private bracket(i: number): Tok {
    const has = this.syntax.brackets;
    if (has === Has.No) return this.is(Tok.Punct, i + 1);
    const s = this.s;
    const e = s.indexOf(']', i + 1);
    if (e === -1) return this.is(Tok.Unsure, s.length);
    if (has === Has.Yes) return this.is(Tok.Name, e + 1);
    // A name in SQLite, a subscript whose inside is code elsewhere: both readings agree only when
    // nothing inside starts a string or a comment.
    for (let j = i + 1; j < e; j++) {
      const c = s.charCodeAt(j);
      const c1 = s.charCodeAt(j + 1);
      if (
        c === 39 ||
        c === 34 ||
        c === 96 ||
        c === 36 ||
        c === 35 ||
        (c === 45 && c1 === 45) ||
        (c === 47 && c1 === 42)
      ) {
        return this.is(Tok.Unsure, s.length);
      }
    }
    return this.is(Tok.Punct, i + 1);
  }

  /** $1, $name; PostgreSQL's $$…$$ and $tag$…$tag$. */
  private dollar(i: number, c1: number): Tok {
    const s = this.s;
    if (isDigit(c1)) return this.is(Tok.Param, this.word(i + 1));
    let j = i + 1;
    if (isWordStart(c1)) {
      j++;
      while (j < s.length && isWordPart(s.charCodeAt(j)) && s.charCodeAt(j) !== 36) j++;
    }
    const tagged = s.charCodeAt(j) === 36;
    const has = this.syntax.dollarQuotes;
    if (!tagged || has === Has.No)
      return j === i + 1 ? this.is(Tok.Punct, j) : this.is(Tok.Param, this.word(j));
    if (has === Has.Unsure) return this.is(Tok.Unsure, s.length);
    const tag = s.slice(i, j + 1);
    const e = s.indexOf(tag, j + 1);
    return e === -1 ? this.is(Tok.Unsure, s.length) : this.is(Tok.Literal, e + tag.length);
  }
}

/**
 * Where `a` (followed by `b`, when b is not a) is within [from, to), else -1; bounded, where
 * indexOf would read to the end of the text for every comment that lacks it.
 */
function find(s: string, a: number, b: number, from: number, to: number): number {
  for (let j = from; j < to; j++) {
    if (s.charCodeAt(j) === a && (a === b || s.charCodeAt(j + 1) === b)) return j;
  }
  return -1;
}
