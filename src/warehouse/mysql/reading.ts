/**
 * What `orders-etl query` (and `loads`, `rejects`) may run on MySQL/MariaDB. The session's READ ONLY
 * transaction refuses writes to tables, but not statements that act elsewhere: `SELECT ... INTO OUTFILE`
 * writes a file on the server, `SET GLOBAL`, `FLUSH` and `KILL` change the server. So only statements that
 * read are taken, and none that puts a result somewhere (`INTO`). The database user's privileges stay the
 * real limit (README, *Query output*); this keeps a query from doing by mistake what it was not meant to.
 *
 * The statement is read as MySQL's lexer reads it: quoted strings and identifiers and comments are skipped
 * (`--` starts one only before a space or control character, as in MySQL: `1--1` is arithmetic), a number
 * ends after its fraction or exponent and `\N` is a token of its own (`1.0INTO`, `\NINTO` hold INTO), and an
 * executable comment (`/*! ... *\/`, `/*M! ... *\/`), whose text MySQL runs, is refused.
 */
import { EtlError } from '../../errors.ts';

const READING = ['SELECT', 'WITH', 'SHOW', 'DESCRIBE', 'EXPLAIN', 'TABLE', 'VALUES'];
const READING_SET = new Set([...READING, 'DESC']);

function refuse(why: string): never {
  throw new EtlError('E_DB', `query runs one statement that reads (${READING.join(', ')}); ${why}`);
}

/** The statement's words outside strings, quoted identifiers and comments, upper-cased, and each `(`. */
function* words(sql: string): Generator<string> {
  let i = 0;
  const n = sql.length;
  let number: number | null;
  while (i < n) {
    const c = sql[i]!;
    if (c === '#' || (c === '-' && sql[i + 1] === '-' && (i + 2 >= n || sql.charCodeAt(i + 2) <= 0x20))) {
      while (i < n && sql[i] !== '\n') i++;
    } else if (c === '/' && sql[i + 1] === '*') {
      if (sql[i + 2] === '!' || (sql[i + 2] === 'M' && sql[i + 3] === '!')) refuse('an executable comment (/*! ... */) is not taken: write its text plainly');
      const end = sql.indexOf('*/', i + 2);
      i = end < 0 ? n : end + 2;
    } else if (c === "'" || c === '"' || c === '`') {
      // Backslash escapes in strings (the session's sql_mode has no NO_BACKSLASH_ESCAPES), doubled quotes in all.
      i++;
      while (i < n) {
        if (sql[i] === '\\' && c !== '`') i += 2;
        else if (sql[i] === c && sql[i + 1] === c) i += 2;
        else if (sql[i] === c) break;
        else i++;
      }
      i++;
    } else if ((number = numberEnd(sql, i)) !== null) {
      i = number;
      yield '0';
    } else if (c === '\\' && sql[i + 1] === 'N') {
      i += 2; // \N, MySQL's NULL: a token of its own (`\NINTO` is NULL then INTO)
      yield 'NULL';
    } else if (isWordChar(sql, i)) {
      const start = i;
      while (isWordChar(sql, i)) i++;
      yield sql.slice(start, i).toUpperCase();
    } else {
      if (c === '(') yield '(';
      i++;
    }
  }
}

/**
 * Where a number that starts at `i` ends, as MySQL ends it: after its fraction or exponent (`1.0INTO` is 1.0
 * then INTO). Null where none starts, or where digits run on into letters without either: a name (`1abc`,
 * also `0x1F`), read as a word.
 */
function numberEnd(sql: string, i: number): number | null {
  if (!isDigit(sql, i) && !(sql[i] === '.' && isDigit(sql, i + 1))) return null;
  let j = i;
  while (isDigit(sql, j)) j++;
  let decimal = false;
  if (sql[j] === '.') {
    decimal = true;
    j++;
    while (isDigit(sql, j)) j++;
  }
  const sign = sql[j + 1] === '+' || sql[j + 1] === '-' ? 1 : 0;
  if ((sql[j] === 'e' || sql[j] === 'E') && isDigit(sql, j + 1 + sign)) {
    decimal = true;
    j += 1 + sign;
    while (isDigit(sql, j)) j++;
  }
  return decimal || !isWordChar(sql, j) ? j : null;
}

function isDigit(sql: string, i: number): boolean {
  const c = sql.charCodeAt(i);
  return c >= 0x30 && c <= 0x39;
}

function isWordChar(sql: string, i: number): boolean {
  return i < sql.length && (/[A-Za-z0-9_$]/.test(sql[i]!) || sql.charCodeAt(i) > 0x7f);
}

/** Throws E_DB unless `sql` is a statement that only reads. */
export function checkReading(sql: string): void {
  let first: string | null = null;
  for (const word of words(sql)) {
    if (first === null) {
      if (word === '(') continue; // (SELECT ...) UNION (SELECT ...)
      first = word;
      if (!READING_SET.has(word)) refuse(`this one starts with ${word}`);
    }
    // A name that starts with a digit and ends in INTO may be a number MySQL reads otherwise: refused too.
    if (word === 'INTO' || (/^[0-9]/.test(word) && word.endsWith('INTO'))) refuse('INTO (a file, a variable) is not taken: the result goes to standard output');
  }
  if (first === null) refuse('this text has none');
}
