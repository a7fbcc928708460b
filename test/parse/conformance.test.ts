/**
 * JSONTestSuite (vendored in test/data/JSONTestSuite): every y_ document is accepted, every n_ document is
 * rejected with a parse error, every i_ document either way but never a crash; the same when the document
 * stands as a value inside an order, and when it stands beside the array of orders that --records-path
 * leads to (skipped, but validated all the same). Both parsers: the fast scanner and stream-json.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EtlError } from '../../src/errors.ts';
import type { ParserKind, RawRecord } from '../../src/model.ts';
import { suiteFiles } from '../helpers/conformance.ts';
import { parseChunks } from '../helpers/parse.ts';

/** Run a parser stage over `bytes` fed `slice` bytes at a time. */
function parseAll(kind: ParserKind, bytes: Buffer, slice: number, recordsPath: string[] | null = null): Promise<RawRecord[]> {
  return parseChunks(kind, bytes, slice, { recordsPath });
}

async function outcome(kind: ParserKind, bytes: Buffer, slice: number, recordsPath: string[] | null): Promise<'accepted' | 'rejected'> {
  try {
    await parseAll(kind, bytes, slice, recordsPath);
    return 'accepted';
  } catch (err) {
    // Anything but a clean, coded parse/encoding error is a crash.
    if (!(err instanceof EtlError) || !['E_PARSE', 'E_ENCODING'].includes(err.code)) throw err;
    return 'rejected';
  }
}

/** The document as the value of an extra field of an otherwise valid order. */
export function insideOrder(doc: Buffer): Buffer {
  return Buffer.concat([
    Buffer.from('[{"order_id": 1, "order_date": "2024-01-01", "customer": {"customer_id": 1}, "products": [], "extra": '),
    doc,
    Buffer.from('}]'),
  ]);
}

/** The document beside the array of orders, in the envelope that --records-path orders reads. */
export function besideRecords(doc: Buffer): Buffer {
  return Buffer.concat([Buffer.from('{"meta": '), doc, Buffer.from(', "orders": [{"order_id": 1}]}')]);
}

for (const kind of ['scanner', 'stream-json'] as const) describe(`JSONTestSuite conformance of the ${kind} parser`, () => {
  const files = suiteFiles();

  it('has the suite (y_, n_ and i_ documents)', () => {
    assert.ok(files.filter((f) => f.name.startsWith('y_')).length >= 90);
    assert.ok(files.filter((f) => f.name.startsWith('n_')).length >= 180);
  });

  for (const slice of [1, 7, 1 << 16]) {
    it(`accepts every y_, rejects every n_, survives every i_ (fed ${slice} bytes at a time)`, async () => {
      const wrong: string[] = [];
      for (const { name, bytes } of files) {
        const variants = [
          ['alone', bytes, null],
          ['inside an order', insideOrder(bytes), null],
          ['beside the records', besideRecords(bytes), ['orders']],
        ] as const;
        for (const [label, doc, path] of variants) {
          const got = await outcome(kind, doc, slice, path === null ? null : [...path]);
          if (name.startsWith('y_') && got !== 'accepted') wrong.push(`${name} ${label}: rejected`);
          if (name.startsWith('n_') && got !== 'rejected') wrong.push(`${name} ${label}: accepted`);
        }
      }
      assert.deepEqual(wrong, []);
    });
  }

  it('skips one byte-order mark and refuses a second, even split across slices', async () => {
    const bom = Buffer.from([0xef, 0xbb, 0xbf]);
    for (const slice of [1, 2, 1 << 16]) {
      assert.equal(await outcome(kind, Buffer.concat([bom, Buffer.from('[{"a": 1}]')]), slice, null), 'accepted');
      assert.equal(await outcome(kind, Buffer.concat([bom, bom, Buffer.from('[{"a": 1}]')]), slice, null), 'rejected', `two BOMs, slice ${slice}`);
    }
  });

  it('refuses an input that ends inside a byte-order mark, and says so', async () => {
    for (const cut of [1, 2]) {
      for (const slice of [1, 1 << 16]) {
        const err = await parseAll(kind, Buffer.from([0xef, 0xbb, 0xbf].slice(0, cut)), slice).then(() => null, (e: Error) => e);
        assert.ok(err, `${cut} bytes of a BOM, slice ${slice}: accepted`);
        // The scanner names it; stream-json's decoder finds a UTF-8 sequence cut short.
        if (kind === 'scanner') assert.match(err.message, new RegExp(`byte ${cut}, .*the rest of a UTF-8 byte-order mark \\(the input ends inside it\\)`));
        else assert.match(err.message, /invalid UTF-8/);
      }
    }
  });

  it('takes a record nested deeper than the call stack (JSON sets no limit), its text intact for the rejects table', async () => {
    const deep = `{"order_id": 1, "x": ${'['.repeat(30_000)}"s"${']'.repeat(30_000)}}`;
    const records = await parseAll(kind, Buffer.from(`[${deep}]`), 1 << 16);
    assert.equal(records.length, 1);
    assert.equal(records[0]!.text.replace(/\s/g, ''), deep.replace(/\s/g, ''));
  });

  it('gives y_ values exactly as JSON.parse does', async () => {
    for (const { name, bytes } of files.filter((f) => f.name.startsWith('y_'))) {
      const want = JSON.parse(bytes.toString('utf8').replace(/^\ufeff/, ''));
      const records = await parseAll(kind, bytes, 3);
      const got = Array.isArray(want) ? records.map((r) => r.value) : records[0]!.value;
      assert.deepEqual(got, want, name);
    }
  });
});
