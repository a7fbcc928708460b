/**
 * Warehouse parity: the same varied input (edge values of every field) loaded into MariaDB and into DuckDB
 * gives the same tables, value for value and byte for byte: dimensions with their surrogate keys, facts,
 * history versions and days, rejects with their reasons and raw text, and the ledger's counts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DIMENSION_KEYS, HISTORY_STORE } from '../src/warehouse/sql-warehouse.ts';
import { runCli, tempDir } from './helpers/run.ts';
import { DIALECTS, type DialectName, type TestWarehouse } from './helpers/warehouses.ts';

const c = (id: string, extra = '') => `{"customer_id": ${id}, "name": "n"${extra}}`;
const p = (id: string, extra = '') => `{"product_id": ${id}, "name": "p", "price": 1, "quantity": 1${extra}}`;
const o = (id: string, date: string, customer: string, products: string[], extra = '') =>
  `{"order_id": ${id}, "order_date": ${JSON.stringify(date)}, "customer": ${customer}, "products": [${products.join(', ')}]${extra}}`;

const long = (ch: string, n: number) => JSON.stringify(ch.repeat(n));

/** The first file: every edge once. */
const FIRST = [
  // Dates
  ...['2024-01-01', '2024-01-02T10:00:00Z', '2024-01-03T23:59:59.123456789+05:30', '2024-01-04 10:00', '2024-02-29', '2024-01-05T00:00:00-12:00',
    '0001-01-01', '1000-01-01', '9999-12-31', '2024-02-30', '2023-02-29', '2024-13-01', '2024-01-06T24:00:00', '2024-1-7', '2024-01-08T10:00:00.5Z', '2016-12-31T23:59:60Z']
    .map((d, i) => o(`"d${i}"`, d, c('1'), [p('"P1"')])),
  // Money
  ...['19.99', '0.1', '1e2', '1.999e1', '-0', '-0.0', '"-0.00"', '9999999999.99', '-9999999999.99', '19.989999999999998', '"19.990"', '" 12.5 "', '1E+2', '0.5e1',
    '123456789012.34', 'null', '1.005', '10000000000', '1e-30', '10.000000000000000001', '"1e2"', '"+1"', '".5"', '"5."', '0.30000000000000004', '99999999999.99', '1e10', '"0x10"', 'true', '"  "']
    .map((m, i) => o(`"m${i}"`, '2024-03-01', c('2'), [p(`"PM${i}"`, `, "price": ${m}`)], `, "total_amount": ${m}`)),
  // Quantities
  ...['0', '1.0', '1e0', '"5"', '2147483647', '2147483648', '-0', '-1', '1.5', '1e9', '"007"', '" 3 "', '"-0"', '1e-0', '2.1474836470e9', 'null', '"1.0"', '4294967296']
    .map((q, i) => o(`"q${i}"`, '2024-03-02', c('3'), [p('"PQ"', `, "quantity": ${q}`)])),
  // Ids as numbers and strings
  ...['1', '"1"', '1.0', '1e0', '"1.0"', '"01"', '-1', '-0', '0', '12345678901234567890', '1.5', '"a"', '"A"', '"a "', '" a"', '"a\\u0000b"', '"\\u2028"', '"\\ud800"', '"\\ud83d\\ude00"',
    long('x', 128), long('x', 129), long('é', 128), long('😀', 128), long('😀', 129), '""', '" "', 'true', '9007199254740993', '1e400', '1E2', '100']
    .map((id, i) => o(`"i${i}"`, '2024-03-03', c(id, `, "email": ${JSON.stringify('case ' + i)}`), [p(id)])),
  // Attribute text
  ...['"Alice"', '"Alice "', '"alice"', '"a\\u0000b"', '"\\u2028\\u2029"', '"\\ud800"', '"\\udc00x"', '"tab\\there\\nnl\\r\\\\"', '"\\\\N"', '"NULL"', '""', 'null', '1.50', '1e2', '12345678901234567890', '1e-7', '-0', '-0.0',
    long('y', 255), long('y', 256), long('é', 255), long('😀', 255), long('😀', 256), '"e\\u0301"', '"\\ufeff"', '"\\uffff"', 'true', '{}', '[]', '1e400']
    .map((t, i) => o(`"t${i}"`, '2024-03-04', `{"customer_id": "T${i}", "name": ${t}, "email": ${t}, "address": ${t}}`, [p(`"PT${i}"`, `, "name": ${t}, "category": ${t}`)])),
  // Missing or null customer and products; lines
  o('"c1"', '2024-03-05', 'null', [p('"P1"')]),
  `{"order_id": "c2", "order_date": "2024-03-05", "products": [${p('"P1"')}]}`,
  o('"c3"', '2024-03-05', '{"name": "no id"}', [p('"P1"')]),
  o('"c4"', '2024-03-05', '{"customer_id": null}', [p('"P1"')]),
  o('"c5"', '2024-03-05', c('"C5"'), []),
  `{"order_id": "c6", "order_date": "2024-03-05", "customer": ${c('"C6"')}}`,
  `{"order_id": "c7", "order_date": "2024-03-05", "customer": ${c('"C7"')}, "products": null}`,
  o('"c8"', '2024-03-05', c('"C8"'), ['null']),
  o('"c9"', '2024-03-05', c('"C9"'), ['{"name": "no id"}']),
  o('"c10"', '2024-03-05', c('"C10"'), [p('"DUP"', ', "name": "first", "price": 1.10'), p('"DUP"', ', "name": "second", "price": 2.20'), p('"DUP"', ', "name": "third", "price": 3.30')]),
  o('"c11"', '2024-03-05', c('"C11"'), [p('"R1"'), p('"R2"'), p('"R3"'), p('"R4"')]),
  o('"c12"', '2024-03-05', c('"C12"'), [p('"R1"'), p('"R2"'), p('"R3"')]),
  o('"c12"', '2024-03-06', c('"C12"', ', "name": "again"'), [p('"R9"')]),
  o('"c13"', '2024-03-05', c('"C13"'), [p('"R1"'), p('"R2"')]),
  o('"c14"', '2024-03-05', c('"C14"'), [p('"R1"')]),
  'null', '[]', '42', '"text"', '{}',
  o('null', '2024-03-05', c('"C15"'), [p('"P1"')]),
  o('"c16"', 'null', c('"C16"'), [p('"P1"')]),
  o('"c17"', '20240305', c('"C17"'), [p('"P1"')]),
  o('"c18"', '2024-03-05', c('"C18"'), [p('"P1"', ', "price": -5.5')], ', "total_amount": -1'),
  // Order ids that differ in case or a trailing space only; 7 and "7" are one order
  ...['"k"', '"K"', '"k "', '7', '"7"'].map((id, i) => o(id, '2024-03-07', c('"C19"'), [p('"R1"'), p('"R2"'), p(`"K${i}"`)])),
];

/** The second file: orders again, with fewer lines or none; changed attributes. */
const SECOND = [
  o('"c11"', '2024-04-01', c('"C11"', ', "email": "new"'), [p('"R2"')]),
  o('"c13"', '2024-04-01', c('"C13"'), []),
  o('"c14"', '2024-04-01', c('"C14"'), [p('"R1"', ', "price": 9.99'), p('"R1"', ', "price": 8.88')]),
  o('"c10"', '2024-02-01', c('"C10"'), [p('"DUP"', ', "name": "late"')]),
  o('"i0"', '2024-03-03', c('1', ', "name": "renamed"'), [p('1')]),
  o('"k "', '2024-04-02', c('"C19"'), [p('"R3"')], ', "total_amount": 0.5'),
  o('7.0', '2024-04-02', c('"C19"'), [p('"R3"'), p('"R4"')]),
  o('"new"', '2024-01-01', c('"a"', ', "name": "A?"'), [p('"A"', ', "price": 0.01')]),
  // Attributes that change only in trailing spaces, case, NUL, empty against NULL, or the price's spelling
  ...[['"Alice "', '1.0'], ['"alice "', '1'], ['"Alice"', 'null'], ['"a\\u0000c"', '"1.00"'], ['"\\u2028"', '1.001e0'], ['""', '1e0'], ['null', '0.999e0'], ['"  "', '-0'], ['"\\\\N"', '1'], ['null', '1']]
    .map(([t, price], i) => o(`"u${i}"`, '2024-03-10', `{"customer_id": "T${i}", "name": ${t}, "email": ${t}, "address": ${t}}`, [p(`"PT${i}"`, `, "name": ${t}, "category": ${t}, "price": ${price}`)])),
];

type Columns = Record<string, 'text' | 'int' | 'date' | 'decimal' | 'bool'>;

const TABLES: Record<string, { columns: Columns; history?: boolean }> = {
  customers: { columns: { customer_sk: 'int', customer_id: 'text', name: 'text', email: 'text', address: 'text' } },
  products: { columns: { product_sk: 'int', product_id: 'text', name: 'text', category: 'text', price: 'decimal' } },
  orders: { columns: { order_id: 'text', line_no: 'int', order_date: 'date', total_amount: 'decimal', product_sk: 'int', customer_sk: 'int', quantity: 'int' } },
  etl_rejects: { columns: { load_id: 'int', record_index: 'int', byte_offset: 'int', reason: 'text', raw: 'text' } },
  etl_loads: { columns: { load_id: 'int', status: 'text', records_committed: 'int', batches_committed: 'int', orders: 'int', fact_rows: 'int', customers_inserted: 'int', customers_updated: 'int', products_inserted: 'int', products_updated: 'int', rejected: 'int', error: 'text' } },
};
const HISTORY_COLUMNS: Columns = { valid_from: 'date', valid_to: 'date', is_current: 'bool' };

function expression(d: DialectName, column: string, kind: Columns[string]): string {
  const text = (x: string) => (d === 'mysql' ? `CAST(${x} AS CHAR)` : `CAST(${x} AS VARCHAR)`);
  switch (kind) {
    case 'text':
      return d === 'mysql' ? `HEX(${column})` : `upper(hex(${column}))`;
    case 'date':
      return d === 'mysql' ? `DATE_FORMAT(${column}, '%Y-%m-%d')` : `strftime(${column}, '%Y-%m-%d')`;
    case 'bool':
      return `CASE WHEN ${column} THEN 'true' ELSE 'false' END`;
    default:
      return text(column);
  }
}

async function dump(w: TestWarehouse, history: boolean): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  const tables = { ...TABLES } as Record<string, { columns: Columns }>;
  if (history) {
    tables.customers = { columns: { ...TABLES.customers!.columns, ...HISTORY_COLUMNS } };
    tables.products = { columns: { ...TABLES.products!.columns, ...HISTORY_COLUMNS } };
    tables.etl_customer_days = { columns: { customer_id: 'text', day: 'date' } };
    tables.etl_product_days = { columns: { product_id: 'text', day: 'date' } };
  }
  for (const [table, { columns }] of Object.entries(tables)) {
    const list = Object.entries(columns).map(([name, kind]) => `${expression(w.dialect, name, kind)} AS ${name}`).join(', ');
    const rows = await w.query(`SELECT ${list} FROM ${table}`);
    out[table] = rows.map((r) => JSON.stringify(Object.keys(columns).map((k) => r[k] ?? null))).sort();
  }
  return out;
}

/**
 * The ways each warehouse is written, beside the defaults: MySQL without LOAD DATA LOCAL (INSERT statements),
 * and dimension keys and history beyond what the engine holds in memory (looked up per batch).
 */
interface Variant {
  name: string;
  dialect: DialectName;
  noLoadData?: boolean;
  lookups?: boolean;
}
const VARIANTS: Variant[] = [
  { name: 'mysql', dialect: 'mysql' },
  { name: 'duckdb', dialect: 'duckdb' },
  { name: 'mysql, INSERT statements', dialect: 'mysql', noLoadData: true },
  { name: 'mysql, keys looked up', dialect: 'mysql', lookups: true },
  { name: 'duckdb, keys looked up', dialect: 'duckdb', lookups: true },
];

/** Rows only in `a`, and only in `b`, of each table where they differ. */
function differences(a: Record<string, string[]>, b: Record<string, string[]>): unknown[] {
  return Object.keys(a).flatMap((table) => {
    const onlyA = a[table]!.filter((r) => !b[table]!.includes(r));
    const onlyB = b[table]!.filter((r) => !a[table]!.includes(r));
    return onlyA.length + onlyB.length === 0 ? [] : [{ table, onlyA, onlyB }];
  });
}

for (const history of [false, true]) {
  describe(`warehouse parity (${history ? 'history' : 'SCD1'})`, () => {
    it('loads the same edges into MariaDB and DuckDB as the same tables, and the same file again changes none', async () => {
      const t = tempDir();
      const dumps = new Map<string, Record<string, string[]>>();
      const problems: unknown[] = [];
      try {
        const first = t.file('first.ndjson', FIRST.join('\n') + '\n');
        const second = t.file('second.ndjson', SECOND.join('\n') + '\n');
        for (const v of VARIANTS) {
          const w = await DIALECTS.find((d) => d.name === v.dialect)!.fresh();
          const saved = [DIMENSION_KEYS.entries, HISTORY_STORE.entries] as const;
          if (v.noLoadData) process.env.ORDERS_ETL_NO_LOAD_DATA = '1';
          if (v.lookups) [DIMENSION_KEYS.entries, HISTORY_STORE.entries] = [4, 8];
          try {
            if (history) assert.equal((await runCli(['init', '--db', w.url, '--history', 'customers,products'])).code, 0);
            const load = (file: string, size: string, ...more: string[]) => runCli(['load', file, '--db', w.url, '--batch-size', size, '--max-rejects', '1000', ...more]);
            for (const [file, size] of [[first, '7'], [second, '2']] as const) {
              const r = await load(file, size);
              assert.equal(r.code, 0, r.stderr);
            }
            const loaded = await dump(w, history);
            dumps.set(v.name, loaded);
            const again = await load(second, '2', '--force');
            assert.equal(again.code, 0, again.stderr);
            const { etl_loads: _, etl_rejects: __, ...after } = await dump(w, history);
            problems.push(...differences(after, loaded).map((d) => ({ variant: v.name, 'the second file again': d })));
          } finally {
            delete process.env.ORDERS_ETL_NO_LOAD_DATA;
            [DIMENSION_KEYS.entries, HISTORY_STORE.entries] = saved;
            await w.drop();
          }
        }
      } finally {
        t.cleanup();
      }
      const base = dumps.get('mysql')!;
      for (const [name, d] of dumps) problems.push(...differences(base, d).map((diff) => ({ variant: name, 'against mysql': diff })));
      assert.deepEqual(problems, []);
    });
  });
}
