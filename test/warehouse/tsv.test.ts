/**
 * TsvWriter (src/warehouse/mysql/tsv.ts), LOAD DATA's text written as bytes, against the string encoding it
 * replaced (each value escaped as text, tab-joined, newline-ended, UTF-8 encoded by Buffer): random rows of
 * ASCII, escapes, non-ASCII text with astral characters, NULLs, integers from 0 to 2^53 and other numbers,
 * written into a buffer small enough to grow many times. Loading such rows into MariaDB, byte for byte, is
 * tested end to end elsewhere (the conformance and load tests).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { BulkValue } from '../../src/warehouse/dimensions.ts';
import { TsvWriter } from '../../src/warehouse/mysql/tsv.ts';
import { rng } from '../helpers/history-inputs.ts';

const ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r', '\0': '\\0' };

/** The encoding as it was: a string per value, escaped by a regular expression. */
function reference(rows: BulkValue[][]): Buffer {
  const text = (v: BulkValue) => (v === null ? '\\N' : typeof v === 'number' ? String(v) : v.replace(/[\\\t\n\r\0]/g, (c) => ESCAPES[c]!));
  return Buffer.from(rows.map((r) => `${r.map(text).join('\t')}\n`).join(''), 'utf8');
}

const PIECES = ['a', 'Z', '0', ' ', '\\', '\t', '\n', '\r', '\0', 'é', 'ß', '€', '中', '😀', '\u{10FFFF}', 'N', '"', "'", ','];

describe('TsvWriter', () => {
  it('writes the bytes the string encoding wrote, for random rows', () => {
    const r = rng(5);
    const value = (): BulkValue => {
      const pick = r();
      if (pick < 0.1) return null;
      if (pick < 0.3) return Math.floor(r() * 10 ** Math.floor(r() * 17));
      if (pick < 0.35) return [0, 9, 10, 99, 100, 2 ** 31, 2 ** 53 - 1, 2 ** 53, -1, -123, 1.5, 0.1, 1e21, -0][Math.floor(r() * 14)]!;
      return Array.from({ length: Math.floor(r() * 12) }, () => PIECES[Math.floor(r() * (r() < 0.7 ? 5 : PIECES.length))]).join('');
    };
    for (let round = 0; round < 200; round++) {
      const rows = Array.from({ length: 1 + Math.floor(r() * 40) }, () => Array.from({ length: 1 + Math.floor(r() * 7) }, value));
      const writer = new TsvWriter(1);
      for (const row of rows) writer.row(row);
      assert.deepEqual(writer.bytes(), reference(rows), `round ${round}: ${JSON.stringify(rows)}`);
    }
  });

  it('writes the edge values exactly', () => {
    const rows: BulkValue[][] = [[null, '', 0], ['\\N', 'a\\b', 'tab\there'], [2 ** 53 - 1, 2 ** 53, -0.5], ['€\t😀\n', 'x', null]];
    const writer = new TsvWriter();
    for (const row of rows) writer.row(row);
    assert.equal(writer.bytes().toString('utf8'), '\\N\t\t0\n\\\\N\ta\\\\b\ttab\\there\n9007199254740991\t9007199254740992\t-0.5\n€\\t😀\\n\tx\t\\N\n');
  });
});
