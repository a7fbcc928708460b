/** The scanner on its own: chunk boundaries, escapes, non-BMP text, formats, and errors with positions. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EtlError } from '../../src/errors.ts';
import type { InputFormat, RawRecord } from '../../src/model.ts';
import { RecordScanner } from '../../src/parse/scanner.ts';

function scan(input: Buffer | string, slice: number, format: InputFormat = 'json', maxRecordBytes = 1 << 20): RawRecord[] {
  const bytes = Buffer.isBuffer(input) ? input : Buffer.from(input, 'utf8');
  const s = new RecordScanner({ format, source: 'test.json', maxRecordBytes });
  const out: RawRecord[] = [];
  for (let i = 0; i < bytes.length; i += slice) s.push(bytes.subarray(i, i + slice), out);
  s.end(out);
  return out;
}

function scanError(input: string | Buffer, slice = 1 << 16, format: InputFormat = 'json'): EtlError {
  try {
    scan(input, slice, format);
  } catch (err) {
    assert.ok(err instanceof EtlError, String(err));
    return err;
  }
  assert.fail('expected an error');
}

const SLICES = [1, 2, 3, 7, 64 * 1024];

const tricky = [
  { order_id: 1, s: 'quote " backslash \\ slash / tab \t nl \n', u: '\u0000\u001f\u2028\u2029', e: 'é', emoji: '😀🍵𝄞' },
  { order_id: '2', s: 'ends with backslash \\', nested: { a: [1, { b: '}]' }], c: '[{' } },
  { order_id: 3, s: '\\\\"', big: 12345678901234, neg: -0.5e-3, t: true, f: false, n: null },
];

describe('RecordScanner', () => {
  it('rejects a format it does not know at construction through its type; validates the empty input', () => {
    const err = scanError('');
    assert.equal(err.code, 'E_PARSE');
    assert.match(err.message, /input is empty/);
  });

  for (const slice of SLICES) {
    it(`finds the same records when fed ${slice} byte(s) at a time, pretty and compact`, () => {
      for (const text of [JSON.stringify(tricky, null, 2), JSON.stringify(tricky), `\ufeff${JSON.stringify(tricky)}`]) {
        const got = scan(text, slice);
        assert.deepEqual(got.map((r) => r.value), tricky);
        assert.deepEqual(got.map((r) => r.index), [0, 1, 2]);
        const bytes = Buffer.from(text);
        for (const r of got) {
          assert.equal(bytes.subarray(r.offset!, r.offset! + Buffer.byteLength(r.text)).toString(), r.text, 'offset points at the record');
        }
      }
    });

    it(`splits NDJSON fed ${slice} byte(s) at a time, with blank lines and CRLF`, () => {
      const text = tricky.map((o) => JSON.stringify(o)).join('\r\n\n') + '\n';
      const got = scan(text, slice, 'ndjson');
      assert.deepEqual(got.map((r) => r.value), tricky);
      assert.deepEqual(got.map((r) => r.line), [1, 3, 5]);
    });
  }

  it('keeps strings byte for byte, including escapes and characters split across chunks', () => {
    const name = 'Zoë 😀 \u{10FFFF} \\u escaped: \u00e9';
    const text = `[{"name":"Zo\\u00eb \\ud83d\\ude00 \u{10FFFF} \\\\u escaped: é"}]`;
    for (const slice of SLICES) assert.equal((scan(text, slice)[0]!.value as { name: string }).name, name);
  });

  it('sniffs the format in auto mode', () => {
    assert.deepEqual(scan('[{"a":1},{"a":2}]', 3, 'auto').map((r) => r.value), [{ a: 1 }, { a: 2 }]);
    assert.deepEqual(scan('{"a":1}\n{"a":2}\n', 3, 'auto').map((r) => r.value), [{ a: 1 }, { a: 2 }]);
  });

  it('treats a single top-level object as one record and an empty array as none', () => {
    assert.deepEqual(scan(' {"a":1} ', 2).map((r) => r.value), [{ a: 1 }]);
    assert.deepEqual(scan('[ ]', 1), []);
  });

  it('names the byte offset and line of a syntax error inside a record', () => {
    const text = '[\n  {"order_id": 1},\n  {"order_id": 2, "x": tru},\n  {"order_id": 3}\n]';
    for (const slice of [1, 5, 1 << 16]) {
      const err = scanError(text, slice);
      assert.equal(err.code, 'E_PARSE');
      assert.equal(err.context.recordIndex, 1);
      assert.equal(err.context.line, 3);
      // The error points into the record, at or near the bad literal (offset of `tru` is 40).
      assert.ok(err.context.byteOffset! >= 23 && err.context.byteOffset! <= 44, String(err.context.byteOffset));
      assert.match(err.message, /^test\.json: record 1, byte \d+, line 3: invalid JSON/);
    }
  });

  it('finds an error in the last characters the input stopped at, which the verifier holds back, but not a literal or escape cut short', () => {
    for (const [text, at] of [['[{"a": "x\u0001yz', 9], ['[{"a": trux', 7], ['[{"a": [1, nulx', 11]] as const) {
      const s = new RecordScanner({ format: 'json', source: 'test.json', maxRecordBytes: 1 << 20 });
      s.push(Buffer.from(text), []);
      assert.equal(s.pendingError()?.context.byteOffset, at, text);
      // At the end of the input, that error rather than "truncated".
      assert.equal(scanError(text).context.byteOffset, at, text);
    }
    for (const text of ['[{"a": tru', '[{"a": "x\\u00', '[{"a": "x\\', '[{"a": [nul', '[{"a": -', '[{"a": 1.', '[{"a": "x']) {
      const s = new RecordScanner({ format: 'json', source: 'test.json', maxRecordBytes: 1 << 20 });
      s.push(Buffer.from(text), []);
      assert.equal(s.pendingError(), null, text);
      assert.match(scanError(text).message, /truncated/, text);
    }
  });

  it('counts lines by LF only in that error: a CR, U+2028 or U+2029 before it is no line end', () => {
    const text = '[\n  {"order_id": "a\u2028b\u2029c",\r "x":\r\n tru}\n]';
    for (const slice of [1, 5, 1 << 16]) {
      const err = scanError(text, slice);
      assert.equal(err.context.line, 3, err.message);
      assert.equal(err.context.byteOffset, Buffer.from(text).indexOf('tru'));
    }
    // The same rule when the input stops inside a broken record (pendingError).
    const s = new RecordScanner({ format: 'json', source: 'test.json', maxRecordBytes: 1 << 20 });
    s.push(Buffer.from('[{"a": "\u2028",\r "b": x'), []);
    assert.equal(s.pendingError()?.context.line, 1);
  });

  it('reports a truncated file, a trailing comma, garbage after the array and CSV', () => {
    const truncated = scanError('[{"order_id": 1}, {"order_id": 2, "na');
    assert.match(truncated.message, /truncated/);
    assert.equal(truncated.context.byteOffset, 37);
    assert.equal(truncated.context.recordIndex, 1);
    const unclosed = scanError('[{"order_id": 1}');
    assert.match(unclosed.message, /more array elements or ']' \(the input is truncated\)/);
    assert.equal(unclosed.context.recordIndex, 1);
    assert.match(scanError('[{"a":1},]').message, /trailing comma/);
    assert.match(scanError('[{"a":1}] x').message, /end of input after the top-level value, found 'x'/);
    const csv = scanError('order_id,order_date\n1,2024-01-01\n');
    assert.match(csv.message, /expected a JSON value, found 'o'/);
    assert.equal(csv.context.byteOffset, 0);
    // JSON Lines read as one document, and a JSON array read as JSON Lines: the error says which flag reads it.
    assert.match(scanError('{"order_id": 1}\n{"order_id": 2}\n').message, /expected end of input after the top-level value, found '\{'; if the file holds one JSON object per line \(JSON Lines\), load it with --format ndjson$/);
    // Not after an array: JSON Lines would not read it either.
    assert.match(scanError('[{"order_id": 1}]\n[{"order_id": 2}]\n').message, /expected end of input after the top-level value, found '\['$/);
    const array = (() => {
      try {
        new RecordScanner({ format: 'ndjson', source: 'test.json', maxRecordBytes: 1024 }).push(Buffer.from(JSON.stringify(Array(200).fill({ order_id: 1 }))), []);
      } catch (err) {
        return err as EtlError;
      }
      assert.fail('expected an error');
    })();
    assert.equal(array.code, 'E_RECORD_TOO_LARGE');
    assert.match(array.message, /; it is a JSON array: if the file is one array of orders, not JSON Lines, load it with --format json$/);
    // UTF-16, as Windows tools write it: said as such, not only as a byte that cannot start a value.
    const utf16 = scanError(Buffer.from('\ufeff[{"order_id": 1}]', 'utf16le'));
    assert.match(utf16.message, /found byte 0xff: the file starts with a UTF-16 byte-order mark; exports must be UTF-8/);
    assert.match(scanError(Buffer.from('\ufeff[{"order_id": 1}]', 'utf16le').subarray(0, 1)).message, /found byte 0xff$/);
    assert.match(scanError(Buffer.from([0xff, 0xd8, 0xff, 0xe0])).message, /found byte 0xff$/, 'a JPEG is not UTF-16');
    // A stray token between NDJSON records names the record it stands in place of.
    const stray = scanError('{"order_id": 1}\n]\n{"order_id": 2}\n', 1 << 16, 'ndjson');
    assert.match(stray.message, /^test\.json: record 1, byte 16, line 2: invalid JSON: expected a JSON value, found '\]'/);
    assert.match(scanError('[{"a":1} {"a":2}]').message, /',' or ']' after array element/);
    assert.equal(scanError('[{"a":1} {"a":2}]').context.recordIndex, 1);
  });

  it('finds the real error in a record whose brackets never close, not "truncated" at the end of the file', () => {
    // NDJSON line 2 is cut short; the scanner reads on to EOF looking for its '}', then must point at line 3.
    const text = '{"order_id": 1}\n{"order_id": 2, "customer": {\n{"order_id": 3}\n{"order_id": 4}\n';
    for (const slice of [1, 7, 1 << 16]) {
      const err = scanError(text, slice, 'ndjson');
      assert.equal(err.code, 'E_PARSE');
      assert.equal(err.context.recordIndex, 1);
      assert.equal(err.context.line, 3);
      assert.equal(err.context.byteOffset, text.indexOf('{"order_id": 3}'));
      assert.match(err.message, /^test\.json: record 1, byte \d+, line 3: invalid JSON: .*expected an object key/);
    }
    // Cut in the middle of a character, too.
    const cut = Buffer.concat([Buffer.from('{"order_id": 1}\n{"order_id": 2, "customer": {\n{"name": "'), Buffer.from('é').subarray(0, 1)]);
    const err = scanError(cut, 7, 'ndjson');
    assert.deepEqual([err.context.recordIndex, err.context.line], [1, 3]);
    assert.match(err.message, /expected an object key/);
  });

  it('says whether the record the input stopped inside is already broken (pendingError, asked when input idles)', () => {
    const s = new RecordScanner({ format: 'json', source: 'test.json', maxRecordBytes: 1 << 20 });
    const out: RawRecord[] = [];
    s.push(Buffer.from('[{"order_id": 1},\n{"order_id": 2, "customer": {"name": "Ann'), out);
    assert.equal(out.length, 1);
    assert.equal(s.pendingError(), null, 'an unfinished record that is valid so far is not an error');
    s.push(Buffer.from('"}, "note": "\\u00e9", "x": [1, 2'), out);
    assert.equal(s.pendingError(), null);
    // Cut in the middle of a character: the cut character is not an error either.
    s.push(Buffer.concat([Buffer.from('], "y": "'), Buffer.from('é').subarray(0, 1)]), out);
    assert.equal(s.pendingError(), null);
    s.push(Buffer.concat([Buffer.from('é').subarray(1), Buffer.from('",, ')]), out);
    const err = s.pendingError();
    assert.ok(err, 'a second comma is an error before the record ends');
    assert.equal(err.code, 'E_PARSE');
    assert.deepEqual([err.context.recordIndex, err.context.line], [1, 2]);
    const text = '[{"order_id": 1},\n{"order_id": 2, "customer": {"name": "Ann"}, "note": "\\u00e9", "x": [1, 2], "y": "é",, ';
    assert.equal(err.context.byteOffset, Buffer.byteLength(text.slice(0, text.indexOf(',, ') + 1)));
    assert.match(err.message, /^test\.json: record 1, byte \d+, line 2: invalid JSON: /);
    // Between records there is nothing to check.
    const between = new RecordScanner({ format: 'ndjson', source: 'test.json', maxRecordBytes: 1 << 20 });
    between.push(Buffer.from('{"order_id": 1}\n'), out);
    assert.equal(between.pendingError(), null);
  });

  it('refuses bytes that are not UTF-8, naming where', () => {
    const bytes = Buffer.concat([Buffer.from('[{"a":"ok"},{"a":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}]')]);
    const err = scanError(bytes, 4);
    assert.equal(err.code, 'E_ENCODING');
    assert.equal(err.context.recordIndex, 1);
    assert.match(err.message, /invalid UTF-8 at byte 18/);
  });

  it('stops a record larger than the cap without buffering it', () => {
    const text = `[{"a":"${'x'.repeat(5000)}"}]`;
    const s = new RecordScanner({ format: 'json', source: 'big.json', maxRecordBytes: 1024 });
    const out: RawRecord[] = [];
    assert.throws(() => {
      for (let i = 0; i < text.length; i += 100) s.push(Buffer.from(text.slice(i, i + 100)), out);
    }, (err: unknown) => err instanceof EtlError && err.code === 'E_RECORD_TOO_LARGE' && err.context.byteOffset === 1);
  });
});
