/**
 * The query output formats on their own (src/cli/output.ts, src/cli/width.ts): display width, the JSON rule
 * for numbers, RFC 4180 fields, the table's alignment and preview, and a slow standard output waited for.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { csvField, formatTable, jsonCell, Output, resultWriter, tableCell } from '../../src/cli/output.ts';
import { displayWidth, truncateToWidth } from '../../src/cli/width.ts';

describe('displayWidth', () => {
  it('counts East Asian wide characters and emoji as 2 columns, combining and zero-width marks as 0', () => {
    const cases: [string, number][] = [
      ['', 0],
      ['abc', 3],
      ['Björn Åström', 12],
      ['山田 花子', 9],
      ['한국어', 6],
      ['ｶﾀｶﾅ', 4], // halfwidth katakana: narrow
      ['ＡＢ', 4], // fullwidth Latin: wide
      ['e\u0301', 1], // e + combining acute
      ['Zoë 😀', 6],
      ['🍵', 2],
      ['❤️', 2], // text-default heart asked to be emoji (VS16)
      ['👨‍👩‍👧', 2], // one ZWJ sequence
      ['🇫🇷', 2], // a flag: two regional indicators
      ['a\u200bb', 2], // zero-width space
      ['𠀋', 2], // CJK extension B
    ];
    for (const [s, w] of cases) assert.equal(displayWidth(s), w, JSON.stringify(s));
  });

  it('cuts to a width without splitting a character, and marks the cut', () => {
    assert.equal(truncateToWidth('short', 10), 'short');
    assert.equal(truncateToWidth('abcdefghij', 5), 'abcd…');
    assert.equal(truncateToWidth('山田花子山田', 6), '山田…');
    assert.equal(displayWidth(truncateToWidth('😀😀😀😀', 5)), 5);
    assert.equal(truncateToWidth('/very/long/path/to/orders.json', 14, 'end'), '…o/orders.json');
  });
});

describe('JSON values: one rule for every warehouse', () => {
  it('writes safe integers as numbers, larger ones as strings, whatever type the driver used', () => {
    assert.equal(jsonCell(5, 'integer'), '5');
    assert.equal(jsonCell(5n, 'integer'), '5');
    assert.equal(jsonCell('5', 'integer'), '5');
    assert.equal(jsonCell(9007199254740991n, 'integer'), '9007199254740991');
    assert.equal(jsonCell(9007199254740993n, 'integer'), '"9007199254740993"');
    assert.equal(jsonCell('18446744073709551615', 'integer'), '"18446744073709551615"');
    assert.equal(jsonCell(-9007199254740993n, 'integer'), '"-9007199254740993"');
  });

  it('writes decimals as numbers with their exact digits when a double holds them, else as strings', () => {
    assert.equal(jsonCell('12.50', 'decimal'), '12.50');
    assert.equal(jsonCell('-0.05', 'decimal'), '-0.05');
    assert.equal(jsonCell('15', 'decimal'), '15');
    assert.equal(jsonCell('1234567890123.45', 'decimal'), '1234567890123.45'); // 15 digits
    assert.equal(jsonCell('12345678901234.56', 'decimal'), '"12345678901234.56"'); // 16 digits
    assert.equal(JSON.parse(`[${jsonCell('9999999999.99', 'decimal')}]`)[0], 9999999999.99);
  });

  it('writes floats as numbers (not NaN or infinities), booleans, NULL, and text as strings', () => {
    assert.equal(jsonCell(2.5, 'float'), '2.5');
    assert.equal(jsonCell(NaN, 'float'), '"NaN"');
    assert.equal(jsonCell(-Infinity, 'float'), '"-Infinity"');
    assert.equal(jsonCell(true, 'boolean'), 'true');
    assert.equal(jsonCell(null, 'integer'), 'null');
    assert.equal(jsonCell('2024-03-01', 'text'), '"2024-03-01"');
    assert.equal(jsonCell('12', 'text'), '"12"');
  });
});

describe('JSON lines: keys', () => {
  it('gives each column a key of its own: a repeated name gets the first _2, _3, ... that no column has', async () => {
    let text = '';
    const out = new Output(new Writable({ write: (c, _e, cb) => ((text += c), cb()) }));
    const w = resultWriter('json', out);
    await w.columns(['a', 'a', 'a_2', 'a', 'b'].map((name) => ({ name, kind: 'integer' as const })));
    await w.rows([[1, 2, 3, 4, 5]]);
    await w.finish();
    assert.equal(text, '{"a":1,"a_3":2,"a_2":3,"a_4":4,"b":5}\n');
  });
});

describe('CSV fields (RFC 4180)', () => {
  it('quotes a field with a comma, quote, CR or LF, doubles quotes, and keeps NULL and "" apart', () => {
    assert.equal(csvField('plain'), 'plain');
    assert.equal(csvField('a,b'), '"a,b"');
    assert.equal(csvField('say "hi"'), '"say ""hi"""');
    assert.equal(csvField('two\nlines'), '"two\nlines"');
    assert.equal(csvField('cr\r'), '"cr\r"');
    assert.equal(csvField(''), '""');
    assert.equal(csvField(null), '');
    assert.equal(csvField(12n), '12');
  });
});

describe('the table', () => {
  it('pads by display width, numbers to the right, control characters escaped', () => {
    const t = formatTable(
      [{ name: 'name', kind: 'text' }, { name: 'n', kind: 'integer' }],
      [[tableCell('山田'), tableCell(7)], [tableCell('a\tb\nc'), tableCell(1234)], [tableCell(null), tableCell(0)]],
    );
    assert.equal(t, ['name    |    n', '--------+-----', '山田    |    7', 'a\\tb\\nc | 1234', 'NULL    |    0', ''].join('\n'));
    // C1 controls too: CSI (U+009B) colours a terminal as ESC [ does; U+0093/U+0094 are Windows-1252 quotes read as Latin-1.
    assert.equal(tableCell('\u009b31mred\u001b[0m \u0093q\u0094 \u00a0é'), '\\x9b31mred\\x1b[0m \\x93q\\x94 \u00a0é');
  });

  it('keeps a bounded preview and counts the rest', async () => {
    let text = '';
    const out = new Output(new Writable({ write: (c, _e, cb) => ((text += c), cb()) }));
    const w = resultWriter('table', out, { previewRows: 2 });
    await w.columns([{ name: 'x', kind: 'integer' }]);
    await w.rows([[1], [2], [3]]);
    await w.rows([[4]]);
    await w.finish();
    assert.equal(text, 'x\n-\n1\n2\n… 2 more rows not shown (4 in all); use --csv or --json for all\n');
  });
});

describe('Output', () => {
  it('waits for a slow destination instead of buffering what it cannot take', async () => {
    let pending = 0;
    let peak = 0;
    const slow = new Writable({
      highWaterMark: 1024,
      write(_chunk, _e, cb) {
        pending++;
        peak = Math.max(peak, slow.writableLength);
        setTimeout(() => {
          pending--;
          cb();
        }, 1);
      },
    });
    const out = new Output(slow);
    const w = resultWriter('csv', out);
    await w.columns([{ name: 'x', kind: 'text' }]);
    for (let i = 0; i < 200; i++) await w.rows([['y'.repeat(1000)], ['z'.repeat(1000)]]);
    assert.ok(peak < 8 * 1024, `at most a chunk beyond the high-water mark was queued (${peak} bytes)`);
    assert.ok(pending <= 1);
  });

  it('fails the writer, not the process, when the destination errs (a closed pipe)', async () => {
    const broken = new Writable({
      highWaterMark: 1,
      write(_c, _e, cb) {
        cb(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
      },
    });
    const out = new Output(broken);
    const w = resultWriter('json', out);
    w.columns([{ name: 'x', kind: 'integer' }]);
    await assert.rejects(async () => {
      for (let i = 0; i < 10; i++) await w.rows([[i]]);
    }, /EPIPE/);
  });
});
