/**
 * Strings reach the warehouse byte for byte: every JSONTestSuite string document (y_ and i_) becomes a
 * customer name, exactly as written in the document (escapes and all), and must come back from the warehouse as the
 * UTF-8 bytes of what JSON.parse reads. Strings that are not text (unpaired surrogates) are rejected with a
 * reason instead of being mangled.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { isUtf8 } from 'node:buffer';
import { suiteFiles } from './helpers/conformance.ts';
import { runCli, tempDir } from './helpers/run.ts';
import { DIALECTS, type TestWarehouse } from './helpers/warehouses.ts';

const SINGLE_STRING = /^\s*\[\s*("(?:[^"\\]|\\.)*")\s*\]\s*$/s;

for (const dialect of DIALECTS) for (const parser of ['scanner', 'stream-json']) {
  describe(`JSONTestSuite strings into ${dialect.name} (${parser})`, () => {
    let db: TestWarehouse;
    beforeEach(async () => {
      db = await dialect.fresh();
    });
    afterEach(async () => {
      await db.drop();
    });

    it('stores every string byte for byte, and rejects unpaired surrogates with a reason', async () => {
      const docs = suiteFiles()
        .filter((f) => /^[yi]_/.test(f.name))
        .filter((f) => isUtf8(f.bytes)) // documents that are not UTF-8 fail the whole file (tested in scanner tests)
        .map((f) => ({ name: f.name, bytes: f.bytes, m: SINGLE_STRING.exec(f.bytes.toString('latin1')) }))
        .filter((d) => d.m !== null);
      const lines: Buffer[] = [];
      const expected = new Map<string, string>();
      docs.forEach((d, i) => {
        const raw = Buffer.from(d.m![1]!, 'latin1'); // the literal's exact bytes
        const value = JSON.parse(raw.toString('utf8')) as string;
        expected.set(String(i + 1), value);
        lines.push(
          Buffer.concat([
            Buffer.from(`{"order_id": ${i + 1}, "order_date": "2024-01-01", "customer": {"customer_id": ${i + 1}, "name": `),
            raw,
            Buffer.from(`}, "products": [{"product_id": ${i + 1}, "name": `),
            raw,
            Buffer.from(', "price": 1, "quantity": 1}]}\n'),
          ]),
        );
      });
      assert.ok(expected.size >= 40, `found ${expected.size} string documents`);
      const t = tempDir();
      try {
        const file = t.file('strings.ndjson', Buffer.concat(lines));
        const r = await runCli(['load', file, '--db', db.url, '--parser', parser, '--json']);
        assert.equal(r.code, 0, r.stderr);
        const rows = await db.query<any>(`SELECT customer_id, ${db.hex('name')} AS h FROM customers`);
        const rejects = await db.query<any>('SELECT record_index, reason FROM etl_rejects');
        const stored = new Map(rows.map((row) => [row.customer_id as string, row.h as string]));
        const rejected = new Map(rejects.map((row) => [String(Number(row.record_index) + 1), row.reason as string]));
        for (const [id, value] of expected) {
          if (value.isWellFormed()) {
            assert.equal(stored.get(id), Buffer.from(value, 'utf8').toString('hex').toUpperCase(), `document ${docs[Number(id) - 1]!.name}`);
          } else {
            assert.equal(stored.has(id), false);
            assert.match(rejected.get(id) ?? '', /unpaired UTF-16 surrogate/, docs[Number(id) - 1]!.name);
          }
        }
      } finally {
        t.cleanup();
      }
    });
  });
}
