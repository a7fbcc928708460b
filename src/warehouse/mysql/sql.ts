/**
 * SQL text for MySQL/MariaDB. Values are escaped here, for the session's sql_mode that the dialect sets
 * (backslash escapes on, ANSI_QUOTES off), never pasted raw; identifiers come from code or are validated.
 */
import { createHash } from 'node:crypto';

const NEEDS_ESCAPE = /[\0\b\t\n\r\x1a"'\\]/;
const ESCAPE_ALL = /[\0\b\t\n\r\x1a"'\\]/g;
const ESCAPES: Record<string, string> = {
  '\0': '\\0',
  '\b': '\\b',
  '\t': '\\t',
  '\n': '\\n',
  '\r': '\\r',
  '\x1a': '\\Z',
  '"': '\\"',
  "'": "\\'",
  '\\': '\\\\',
};

export function str(s: string | null): string {
  if (s === null) return 'NULL';
  return NEEDS_ESCAPE.test(s) ? `'${s.replace(ESCAPE_ALL, (c) => ESCAPES[c]!)}'` : `'${s}'`;
}

/** A number or decimal text already validated by the transform. */
export function num(s: string | number | null): string {
  return s === null ? 'NULL' : String(s);
}

// Always written quoted (ident), so a leading digit or $ is as safe as any: MySQL names a database 2024_sales.
const IDENT = /^[A-Za-z0-9_$]{1,64}$/;

export function isValidIdentifier(name: string): boolean {
  return IDENT.test(name);
}

export function ident(name: string): string {
  if (!IDENT.test(name)) throw new Error(`not a valid identifier: ${JSON.stringify(name)}`);
  return `\`${name}\``;
}

/**
 * Multi-row statements that each fit the server's packet limit. `byteBudget` is in bytes; a UTF-16 unit is at
 * most 3 UTF-8 bytes (a surrogate pair is 2 units for 4 bytes), so `length * 3` bounds the bytes without
 * encoding anything.
 */
export function chunkedStatements(prefix: string, tuples: string[], suffix: string, byteBudget: number): string[] {
  const statements: string[] = [];
  const fixed = (prefix.length + suffix.length) * 3;
  let parts: string[] = [];
  let size = fixed;
  for (const t of tuples) {
    const add = t.length * 3 + 3;
    if (parts.length > 0 && size + add > byteBudget) {
      statements.push(prefix + parts.join(',') + suffix);
      parts = [];
      size = fixed;
    }
    if (fixed + add > byteBudget && Buffer.byteLength(prefix + t + suffix) > byteBudget) {
      throw new RangeError(`one row needs ${Buffer.byteLength(t)} bytes, more than the server's max_allowed_packet allows`);
    }
    parts.push(t);
    size += add;
  }
  if (parts.length > 0) statements.push(prefix + parts.join(',') + suffix);
  return statements;
}

/** MySQL 5.7 and later refuse a user-level lock name longer than this (MariaDB takes any). */
const LOCK_NAME_CHARS = 64;

/**
 * The name of a database's load lock (GET_LOCK). On a server whose database names are not case-sensitive
 * (lower_case_table_names 1 or 2), Shop and shop are one database and take one lock; a name that would be
 * longer than MySQL allows (a database name of 54 to 64 characters) is named by its SHA-256 instead, which
 * MySQL refused with an error on every load.
 */
export function loadLockName(database: string, caseInsensitive: boolean): string {
  const name = caseInsensitive ? database.toLowerCase() : database;
  const plain = `orders-etl:${name}`;
  if (plain.length <= LOCK_NAME_CHARS) return plain;
  return `orders-etl:${createHash('sha256').update(name).digest('hex').slice(0, LOCK_NAME_CHARS - 'orders-etl:'.length)}`;
}
