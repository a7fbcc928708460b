/**
 * The history snapshot reader (test/helpers/history-snapshot.ts) checked without the engine, on both
 * warehouses: tables with the history columns the engine will create (written here by hand from the agreed
 * interface: valid_from DATE NOT NULL, valid_to DATE NULL, is_current TINYINT(1) on MariaDB and BOOLEAN on
 * DuckDB) are filled with the oracle's expectation for a hand-made case, with surrogate keys of the test's
 * choosing. The reader must give back exactly the oracle's rows with no problem; then each invariant is broken
 * in turn and must be reported. So a failure of test/history.test.ts is the engine's, not the reader's.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { A, MOVES, validRecords } from './helpers/history-inputs.ts';
import { CUSTOMERS_ONLY, historyOracle, type HistoryExpectation, type HistoryMode, type Version } from './helpers/history-oracle.ts';
import { historySnapshot, keyedRows } from './helpers/history-snapshot.ts';
import { DIALECTS, type TestWarehouse } from './helpers/warehouses.ts';

const sql = (v: unknown) => (v === null ? 'NULL' : typeof v === 'number' ? String(v) : `'${String(v).replace(/'/g, "''")}'`);

/**
 * Creates the star schema by hand and fills it with the expectation, surrogate keys 1.. per dimension. No
 * primary keys, so that a test can plant a duplicate surrogate key.
 */
async function build(db: TestWarehouse, e: HistoryExpectation): Promise<void> {
  const bool = db.dialect === 'mysql' ? 'TINYINT(1)' : 'BOOLEAN';
  const history = `, valid_from DATE NOT NULL, valid_to DATE NULL, is_current ${bool} NOT NULL`;
  const money = 'DECIMAL(12,2)';
  const varchar = 'VARCHAR(255)';
  await db.query(`CREATE TABLE customers (customer_sk BIGINT NOT NULL, customer_id ${varchar} NOT NULL, name ${varchar}, email ${varchar}, address ${varchar}${e.mode.customers ? history : ''})`);
  await db.query(`CREATE TABLE products (product_sk BIGINT NOT NULL, product_id ${varchar} NOT NULL, name ${varchar}, category ${varchar}, price ${money}${e.mode.products ? history : ''})`);
  await db.query(`CREATE TABLE orders (order_id ${varchar} NOT NULL, line_no INT NOT NULL, order_date DATE NOT NULL, total_amount ${money}, product_sk BIGINT NOT NULL, customer_sk BIGINT NOT NULL, quantity INT NOT NULL)`);
  const flag = (b: boolean) => (db.dialect === 'mysql' ? (b ? 1 : 0) : b ? 'TRUE' : 'FALSE');
  const insert = async (table: string, rows: unknown[][], raw: number[] = []) => {
    if (rows.length === 0) return;
    const values = rows.map((r) => `(${r.map((v, i) => (raw.includes(i) ? String(v) : sql(v))).join(', ')})`);
    await db.query(`INSERT INTO ${table} VALUES ${values.join(', ')}`);
  };
  const keys = { customers: new Map<string, number>(), products: new Map<string, number>() };
  for (const [table, versions] of [['customers', e.customerVersions], ['products', e.productVersions]] as const) {
    if (!versions) {
      // SCD1: the oracle's rows are [key, ...attributes].
      const rows = (table === 'customers' ? e.customers : e.products).map((r) => JSON.parse(r) as unknown[]);
      rows.forEach((r, i) => keys[table].set(`${r[0]}|null`, i + 1));
      await insert(table, rows.map((r, i) => [i + 1, ...r]));
      continue;
    }
    const all: Version[] = [...versions.values()].flat();
    all.forEach((v, i) => keys[table].set(`${v.key}|${v.validFrom}`, i + 1));
    await insert(table, all.map((v, i) => [i + 1, v.key, ...v.attributes, v.validFrom, v.validTo, flag(v.isCurrent)]), [7]);
  }
  await insert(
    'orders',
    e.factRows.map((f) => [f.orderId, f.lineNo, f.orderDate, f.totalAmount, keys.products.get(`${f.productId}|${f.productValidFrom}`)!, keys.customers.get(`${f.customerId}|${f.customerValidFrom}`)!, f.quantity]),
  );
}

const EXPECTED = historyOracle(MOVES.files.map(validRecords), { customers: true, products: true });
const MIXED = historyOracle(MOVES.files.map(validRecords), CUSTOMERS_ONLY);

async function withBuilt(dialect: (typeof DIALECTS)[number], e: HistoryExpectation, fn: (db: TestWarehouse) => Promise<void>) {
  const db = await dialect.fresh();
  try {
    await build(db, e);
    await fn(db);
  } finally {
    await db.drop();
  }
}

const same = (got: { customers: string[]; products: string[]; facts: string[] }, want: HistoryExpectation) =>
  assert.deepEqual([got.customers, got.products, got.facts], [want.customers, want.products, want.facts]);

for (const dialect of DIALECTS) {
  describe(`the history snapshot reader on hand-built tables (${dialect.name})`, () => {
    it("reads the oracle's rows back exactly, with no problem, in both modes", async () => {
      for (const e of [EXPECTED, MIXED]) {
        await withBuilt(dialect, e, async (db) => {
          const s = await historySnapshot(db, e.mode);
          assert.deepEqual(s.problems, []);
          same(s, e);
          const keyed = keyedRows(s.tables);
          assert.equal(keyed.customers.length, e.customers.length);
          assert.ok(keyed.customers.every((r) => /^\["\d+","C1",/.test(r)), 'surrogate keys as text, first');
        });
      }
    });

    it('reports each broken invariant', async () => {
      const mode: HistoryMode = EXPECTED.mode;
      const broken: [string, string, RegExp][] = [
        ['a fact pointing at a version that does not cover its date', "UPDATE orders SET customer_sk = (SELECT MIN(customer_sk) FROM customers) WHERE order_id = 'O5'", /fact O5\/1 of 2024-06-01: points at customers C1 \[2023-12-01, 2024-01-02\), which does not cover its date/],
        ['a gap', "UPDATE customers SET valid_to = '2024-02-15' WHERE valid_from = '2024-02-01'", /customers C1 \[2024-02-01, 2024-02-15\): gap until the next version from 2024-02-20/],
        ['an overlap', "UPDATE customers SET valid_to = '2024-02-25' WHERE valid_from = '2024-02-01'", /overlaps the next version from 2024-02-20/],
        ['two current versions', `UPDATE customers SET is_current = ${dialect.name === 'mysql' ? 1 : 'TRUE'} WHERE valid_from = '2024-02-01'`, /customers C1: 2 current and 1 open version\(s\)/],
        ['a surrogate key that does not exist', "UPDATE orders SET product_sk = 999 WHERE order_id = 'O1'", /fact O1\/1 of 2024-01-10: products surrogate key 999 does not exist/],
        ['a surrogate key used twice', "UPDATE customers SET customer_sk = 1 WHERE valid_from = '2024-02-01'", /customers: surrogate key 1 is used twice/],
        ['neighbours with the same attributes', `UPDATE customers SET address = '${A}' WHERE valid_from = '2024-02-01'`, /customers C1 \[2024-01-02, 2024-02-01\): same attributes as the next version from 2024-02-01/],
      ];
      for (const [what, update, problem] of broken) {
        await withBuilt(dialect, EXPECTED, async (db) => {
          await db.query(update);
          const s = await historySnapshot(db, mode);
          assert.ok(s.problems.some((p) => problem.test(p)), `${what}: ${JSON.stringify(s.problems)}`);
        });
      }
    });
  });
}
