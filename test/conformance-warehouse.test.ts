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
      // Beside the suite's: text that starts with a byte order mark (a TextDecoder made with its defaults drops it).
      const literals = [...docs.map((d) => ({ name: d.name, raw: Buffer.from(d.m![1]!, 'latin1') })), ...['\uFEFF', '\uFEFFfirst'].map((v) => ({ name: JSON.stringify(v), raw: Buffer.from(JSON.stringify(v)) }))];
      const lines: Buffer[] = [];
      const expected = new Map<string, string>();
      literals.forEach(({ raw }, i) => {
        // raw: the literal's exact bytes
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
        // And `orders-etl query` shows them as stored.
        const printed = await runCli(['query', '--db', db.url, '--json', 'SELECT customer_id, name FROM customers']);
        assert.equal(printed.code, 0, printed.stderr);
        const shown = new Map(printed.stdout.trim().split('\n').map((l) => JSON.parse(l) as { customer_id: string; name: string }).map((r) => [r.customer_id, r.name]));
        for (const [id, value] of expected) {
          const name = literals[Number(id) - 1]!.name;
          if (value.isWellFormed()) {
            assert.equal(stored.get(id), Buffer.from(value, 'utf8').toString('hex').toUpperCase(), `document ${name}`);
            assert.equal(shown.get(id), value, `document ${name}, shown by query`);
          } else {
            assert.equal(stored.has(id), false);
            assert.match(rejected.get(id) ?? '', /unpaired UTF-16 surrogate/, name);
          }
        }
      } finally {
        t.cleanup();
      }
    });
  });
}

/**
 * What the engine reads back of a warehouse it did not write in this process (every dimension row's key, dates
 * and a hash of its attributes; DuckDB sends them in a form of its own, DuckdbWarehouse.scanKeys) must agree
 * with what it computes from the export: a second file observing the same values on the same days changes
 * nothing. The values are the suite's strings (astral, escapes), a leading byte order mark, a combining mark,
 * NULLs, and values equal to the row before's, across keys, across a key's versions and across DuckDB's chunks.
 */
for (const dialect of DIALECTS) for (const history of [false, true]) {
  describe(`JSONTestSuite strings read back from ${dialect.name} (${history ? 'history' : 'SCD1'})`, () => {
    let db: TestWarehouse;
    beforeEach(async () => {
      db = await dialect.fresh();
    });
    afterEach(async () => {
      await db.drop();
    });

    it('agree with the same values in the next file: no key, version or row changes', async () => {
      const suite = suiteFiles()
        .filter((f) => /^[yi]_/.test(f.name) && isUtf8(f.bytes))
        .map((f) => SINGLE_STRING.exec(f.bytes.toString('latin1')))
        .filter((m) => m !== null)
        .map((m) => JSON.parse(Buffer.from(m[1]!, 'latin1').toString('utf8')) as string)
        .filter((v) => v.isWellFormed());
      assert.ok(suite.length >= 40, `found ${suite.length} strings`);
      // Beside the suite's: a byte order mark first (a TextDecoder drops it), a combining mark, empty text.
      const values = [...suite, '\uFEFF', '\uFEFFfirst', 'e\u0301', '\r\n', ''];
      // Twenty keys of each dimension, one of them starting with a byte order mark; key k sees value i on day
      // 1 + floor(i / 20): a history of several versions.
      const key = (prefix: string, k: number) => (k === 7 ? `\uFEFF${prefix}${k}` : `${prefix}${k}`);
      const orders = values.map((v, i) => ({
        order_id: i + 1,
        order_date: `2024-01-${String(1 + Math.floor(i / 20)).padStart(2, '0')}`,
        customer: { customer_id: key('c', i % 20), name: v, ...(i % 3 === 0 ? {} : { email: v }), address: 'the same for all' },
        products: [{ product_id: key('p', i % 20), name: v, ...(i % 2 === 0 ? {} : { category: 'the same for all' }), price: 1, quantity: 1 }],
      }));
      // More rows of one key than DuckDB sends at once (2048): a customer seen on 2,100 days, a product whose
      // price changes every day (2,100 versions), so that values left out continue from one chunk to the next.
      const series = Array.from({ length: 2100 }, (_, d) => ({
        order_id: 50_000 + d,
        order_date: new Date(Date.UTC(2018, 0, 1 + d)).toISOString().slice(0, 10),
        customer: { customer_id: 'series customer', name: 'the same' },
        products: [{ product_id: 'series product', name: 'the same', price: 1 + (d % 2), quantity: 1 }],
      }));
      const first = [...orders, ...series];
      // The next file: the same observations (SCD1: the last of each key, which is what the table holds).
      const again = (history ? first : [...orders.slice(-20), ...series.slice(-1)]).map((o) => ({ ...o, order_id: o.order_id + 100_000 }));
      const t = tempDir();
      try {
        if (history) assert.equal((await runCli(['init', '--db', db.url, '--history', 'customers,products'])).code, 0);
        const loaded = await runCli(['load', t.file('first.json', JSON.stringify(first)), '--db', db.url, '--json']);
        assert.equal(loaded.code, 0, loaded.stderr);
        const tables = async () => {
          const rows = [...(await db.query('SELECT * FROM customers')), ...(await db.query('SELECT * FROM products'))];
          return rows.map((r) => JSON.stringify(r, (_, v) => (typeof v === 'bigint' ? String(v) : v))).sort();
        };
        const before = await tables();
        const second = await runCli(['load', t.file('again.json', JSON.stringify(again)), '--db', db.url, '--json']);
        assert.equal(second.code, 0, second.stderr);
        const summary = JSON.parse(second.stdout);
        assert.equal(summary.orders, again.length);
        assert.deepEqual([summary.customers, summary.products], [{ inserted: 0, updated: 0 }, { inserted: 0, updated: 0 }]);
        assert.deepEqual(await tables(), before);
        if (history) assert.ok(before.length > 40 + 2 + 2100, `versions: ${before.length} rows for 42 keys`);
      } finally {
        t.cleanup();
      }
    });
  });
}
