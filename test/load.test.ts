/**
 * End to end against the real MariaDB: the seed's SCD1 scenario, idempotent re-runs, re-delivered orders,
 * string and integer ids, batch sizes, and generated inputs checked against the independent model.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { generate } from '../bench/generate.ts';
import { historySnapshot, keyedRows } from './helpers/history-snapshot.ts';
import { applyOrders, emptyModel, modelSnapshot, type ModelState } from './helpers/model.ts';
import { ROOT, runCli, tempDir } from './helpers/run.ts';
import { DIALECTS, FACT_KEYS, factKeys, type TestWarehouse } from './helpers/warehouses.ts';
import { DEFAULTS } from '../src/options.ts';
import { runLoad } from '../src/pipeline/load.ts';
import { resolveSources } from '../src/sources/resolve.ts';
import { OrderFilter } from '../src/warehouse/keys.ts';
import { openWarehouse } from '../src/warehouse/index.ts';
import type { Warehouse } from '../src/warehouse/types.ts';
import { DIMENSION_KEYS } from '../src/warehouse/sql-warehouse.ts';
import { MYSQL_SQL } from '../src/warehouse/mysql/dialect.ts';

const INITIAL = join(ROOT, 'fixtures', 'orders_initial.json');
const INCREMENTAL = join(ROOT, 'fixtures', 'orders_incremental.json');

function model(...files: string[]): ModelState {
  const m = emptyModel();
  for (const f of files) {
    const text = readFileSync(f, 'utf8');
    applyOrders(m, f.endsWith('.ndjson') ? text.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l)) : JSON.parse(text));
  }
  return m;
}

async function assertMatchesModel(db: TestWarehouse, m: ModelState): Promise<void> {
  const got = await db.snapshot();
  const want = modelSnapshot(m);
  assert.deepEqual(got.customers, want.customers, 'customers');
  assert.deepEqual(got.products, want.products, 'products');
  assert.deepEqual(got.facts, want.facts, 'fact rows');
  assert.deepEqual([...got.customerKeys].sort(), [...want.customerKeys].sort(), 'customer surrogate keys');
  assert.deepEqual([...got.productKeys].sort(), [...want.productKeys].sort(), 'product surrogate keys');
}

/**
 * Two exports (a: orders 0-599; b: 400-899, some customers and products changed) whose 300 customer and 200
 * product ids are 21 two-byte characters: their heap is about twice what a count of characters says.
 */
function longKeyExports(dir: string): [string, string] {
  const id = (prefix: string, n: number) => `${prefix}${String(n).padStart(20, '〇')}`;
  const orders = (from: number, count: number, version: number) =>
    Array.from({ length: count }, (_, k) => {
      const n = from + k;
      return {
        order_id: `O${n}`,
        order_date: `2024-05-${String(1 + ((n * 7) % 28)).padStart(2, '0')}`,
        total_amount: 10,
        customer: { customer_id: id('客', n % 300), name: `name ${(n % 300) % 7 === version ? version : 0}`, email: 'e@x', address: 'a' },
        products: [{ product_id: id('品', n % 200), name: 'p', category: `c${(n % 200) % 5 === version ? version : 0}`, price: 2, quantity: 1 }],
      };
    });
  const a = join(dir, 'a.json');
  const b = join(dir, 'b.json');
  writeFileSync(a, JSON.stringify(orders(0, 600, 0)));
  writeFileSync(b, JSON.stringify(orders(400, 500, 3)));
  return [a, b];
}

/**
 * One load of `files` in this process (with DIMENSION_KEYS and the like as the test set them), `seen` given the
 * warehouse before it closes.
 */
async function loadInProcess(url: string, files: readonly string[], batchSize: number, opts: { keepFactKeys?: boolean; seen?: (wh: Warehouse) => void } = {}): Promise<void> {
  const wh = await openWarehouse(url, { retries: 1 });
  const { keepFactKeys = false, seen } = opts;
  try {
    const sources = await resolveSources([...files], { format: undefined, s3: { stallTimeout: 5, retries: 0 }, note: () => {} });
    await runLoad(sources, wh, { ...DEFAULTS, batchSize, parser: 'scanner', force: false, keepFactKeys });
    seen?.(wh);
  } finally {
    await wh.close();
  }
}

for (const dialect of DIALECTS) describe(`load into ${dialect.name}`, () => {
  let db: TestWarehouse;
  const freshDatabase = dialect.fresh;
  beforeEach(async () => {
    db = await freshDatabase();
  });
  afterEach(async () => {
    await db.drop();
  });

  it('runs the seed scenario: initial load, then an incremental load with SCD1 changes and a re-delivered order', async () => {
    const first = await runCli(['load', INITIAL, '--db', db.url, '--json']);
    assert.equal(first.code, 0, first.stderr);
    const s1 = JSON.parse(first.stdout);
    assert.deepEqual(
      { orders: s1.orders, factRows: s1.factRows, customers: s1.customers, products: s1.products, rejected: s1.rejected, files: s1.files },
      { orders: 5, factRows: 7, customers: { inserted: 4, updated: 0 }, products: { inserted: 4, updated: 0 }, rejected: 0, files: 1 },
    );
    const before = await db.snapshot();
    await assertMatchesModel(db, model(INITIAL));

    const second = await runCli(['load', INCREMENTAL, '--db', db.url, '--json']);
    assert.equal(second.code, 0, second.stderr);
    const s2 = JSON.parse(second.stdout);
    // 501's email and 503's address changed; P02's price changed; 505 and P05 are new.
    assert.deepEqual(s2.customers, { inserted: 1, updated: 2 });
    assert.deepEqual(s2.products, { inserted: 1, updated: 1 });
    assert.equal(s2.orders, 4);
    await assertMatchesModel(db, model(INITIAL, INCREMENTAL));

    const after = await db.snapshot();
    for (const [id, sk] of before.customerKeys) assert.equal(after.customerKeys.get(id), sk, `customer ${id} kept its surrogate key`);
    for (const [id, sk] of before.productKeys) assert.equal(after.productKeys.get(id), sk, `product ${id} kept its surrogate key`);

    assert.ok(after.customers.includes(JSON.stringify(['501', 'Alice Johnson', 'alice.j@newmail.example', '12 Maple Street, Springfield'])));
    assert.ok(after.products.includes(JSON.stringify(['P02', 'French Press', 'Kitchen', '44.99'])));
    // Order 1003 was re-delivered with one line instead of two: the old lines are gone.
    assert.deepEqual(after.facts.filter((f) => f.startsWith('["1003",')), [JSON.stringify(['1003', 1, '2024-03-02', '44.99', 'P02', '501', 1])]);
  });

  it('changes nothing when the same files are loaded again, skipped by the ledger or forced', async () => {
    assert.equal((await runCli(['load', INITIAL, INCREMENTAL, '--db', db.url])).code, 0);
    const once = await db.snapshot();
    await assertMatchesModel(db, model(INITIAL, INCREMENTAL));
    const again = await runCli(['load', INITIAL, INCREMENTAL, '--db', db.url, '--json']);
    assert.equal(again.code, 0);
    assert.equal(JSON.parse(again.stdout).skipped, 2);
    assert.deepEqual(await db.snapshot(), once);
    // Forcing only the last file again also changes nothing: it is already the last word.
    const forced = await runCli(['load', INCREMENTAL, '--db', db.url, '--force', '--json']);
    assert.equal(forced.code, 0);
    const s = JSON.parse(forced.stdout);
    assert.deepEqual([s.customers, s.products], [{ inserted: 0, updated: 0 }, { inserted: 0, updated: 0 }]);
    assert.deepEqual(await db.snapshot(), once);
  });

  it('gives the same warehouse, surrogate keys included, for batch sizes 1, 3 and larger than the file', async () => {
    const want = modelSnapshot(model(INITIAL, INCREMENTAL));
    // Keys are handed out in order of first appearance: 501, 502, 503, 504, then 505 from the second file.
    const wantKeys = [['501', '1'], ['502', '2'], ['503', '3'], ['504', '4'], ['505', '5']];
    for (const batch of ['1', '3', '100000']) {
      const fresh = await freshDatabase();
      try {
        const r = await runCli(['load', INITIAL, INCREMENTAL, '--db', fresh.url, '--batch-size', batch]);
        assert.equal(r.code, 0, r.stderr);
        const got = await fresh.snapshot();
        assert.deepEqual([got.customers, got.products, got.facts], [want.customers, want.products, want.facts], `batch ${batch}`);
        assert.deepEqual([...got.customerKeys].sort(), wantKeys, `batch ${batch}: surrogate keys`);
      } finally {
        await fresh.drop();
      }
    }
  });

  it('takes the warehouse\'s default batch: 10,000 orders, and on DuckDB 20,000 into an SCD1 warehouse that holds more lines than the load can add', async () => {
    const t = tempDir();
    try {
      const first = join(t.dir, 'first.json');
      const next = join(t.dir, 'next.json');
      const large = join(t.dir, 'large.json');
      // 25,000 orders hold about 69,000 lines; 12,000 more can add at most about 52,000 (by their size), 60,000 more 260,000.
      await generate(first, { orders: 25_000, customers: 2000, products: 200, seed: 31 });
      await generate(next, { orders: 12_000, customers: 2000, products: 200, seed: 32, firstOrderId: 30_001, version: 1 });
      await generate(large, { orders: 60_000, customers: 2000, products: 200, seed: 33, firstOrderId: 50_001, version: 2 });
      for (const file of [first, next, large]) assert.equal((await runCli(['load', file, '--db', db.url])).code, 0);
      const batches = (await db.query<{ b: unknown }>('SELECT batches_committed AS b FROM etl_loads ORDER BY load_id')).map((r) => Number(r.b));
      assert.deepEqual(batches, dialect.name === 'duckdb' ? [3, 1, 6] : [3, 2, 6]);
      // A history warehouse keeps 10,000 (each batch's versions cut take heap).
      const h = await dialect.fresh();
      try {
        assert.equal((await runCli(['init', '--db', h.url, '--history', 'customers'])).code, 0);
        for (const file of [first, next]) assert.equal((await runCli(['load', file, '--db', h.url])).code, 0);
        const hb = (await h.query<{ b: unknown }>('SELECT batches_committed AS b FROM etl_loads ORDER BY load_id')).map((r) => Number(r.b));
        assert.deepEqual(hb, [3, 2]);
      } finally {
        await h.drop();
      }
    } finally {
      t.cleanup();
    }
  });

  it('applies last-occurrence-wins inside one file, across batches, and replaces re-delivered orders', async () => {
    const t = tempDir();
    try {
      const orders = [
        { order_id: 'A-1', order_date: '2024-05-01', total_amount: '10.00', customer: { customer_id: 'C1', name: 'v1', email: 'a@x', address: 'x' }, products: [{ product_id: 7, name: 'seven', category: 'c', price: 1.5, quantity: 1 }, { product_id: 8, name: 'eight', category: 'c', price: 2, quantity: 2 }] },
        { order_id: 'A-2', order_date: '2024-05-02', total_amount: 3, customer: { customer_id: 'C2', name: 'other', email: null, address: null }, products: [{ product_id: 7, name: 'seven v2', category: 'c', price: 1.75, quantity: 4 }] },
        { order_id: 'A-1', order_date: '2024-05-03', total_amount: 4.5, customer: { customer_id: 'C1', name: 'v2', email: 'b@x', address: 'y' }, products: [{ product_id: 8, name: 'eight', category: 'c', price: 2, quantity: 9 }] },
        { order_id: 17, order_date: '2024-05-04T10:11:12Z', total_amount: 0, customer: { customer_id: 17, name: 'int id', email: 'i@x', address: 'z' }, products: [] },
        { order_id: '17', order_date: '2024-05-05', total_amount: 1, customer: { customer_id: '17', name: 'string id, same key', email: 'i@x', address: 'z' }, products: [{ product_id: 'p', name: 'P', category: 'c', price: 1, quantity: 1 }] },
      ];
      const file = t.file('mixed.json', JSON.stringify(orders, null, 2));
      const m = emptyModel();
      applyOrders(m, orders);
      for (const batch of ['1', '2', '1000']) {
        const fresh = await freshDatabase();
        try {
          const r = await runCli(['load', file, '--db', fresh.url, '--batch-size', batch]);
          assert.equal(r.code, 0, r.stderr);
          await assertMatchesModel(fresh, m);
        } finally {
          await fresh.drop();
        }
      }
    } finally {
      t.cleanup();
    }
  });

  if (dialect.name === 'mysql') {
    it('MariaDB: new orders the order filter cannot rule out (a false positive for every one, or no filter past its limit) are replaced all the same, in bulk and keyed loads', async () => {
      const t = tempDir();
      const mightHold = Object.getOwnPropertyDescriptor(OrderFilter.prototype, 'mightHold')!;
      const limit = MYSQL_SQL.orderFilterMaxLines;
      try {
        const a = join(t.dir, 'base.json');
        const b = join(t.dir, 'increment.json');
        // The increment delivers orders 2001-3000 again with other lines and 3001-4000 for the first time.
        await generate(a, { orders: 3000, customers: 300, products: 100, ids: 'string', style: 'pretty', seed: 11 });
        await generate(b, { orders: 2000, customers: 350, products: 120, ids: 'string', style: 'compact', version: 1, seed: 12, firstOrderId: 2001 });
        const want = model(a, b);
        for (const filter of ['every order might be there', 'no filter'] as const) {
          for (const keepFactKeys of [false, true]) {
            const what = `${filter}, ${keepFactKeys ? 'keyed' : 'bulk'} loads`;
            const fresh = await freshDatabase();
            let asked = 0;
            try {
              // -1: even the first load's empty fact table is past the limit, so neither load builds a filter.
              if (filter === 'no filter') MYSQL_SQL.orderFilterMaxLines = -1;
              const original = mightHold.value as (this: OrderFilter, id: string) => boolean;
              Object.defineProperty(OrderFilter.prototype, 'mightHold', {
                configurable: true,
                value(this: OrderFilter, id: string) {
                  asked++;
                  return filter === 'no filter' ? original.call(this, id) : true;
                },
              });
              for (const file of [a, b]) await loadInProcess(fresh.url, [file], 700, { keepFactKeys });
              if (filter === 'no filter') assert.equal(asked, 0, `${what}: no filter was built, so none was asked`);
              else assert.equal(asked, 5000, `${what}: the filter was asked for every order of both loads`);
              assert.deepEqual(await factKeys(fresh), FACT_KEYS, `${what}: the fact keys are there`);
              await assertMatchesModel(fresh, want);
            } finally {
              Object.defineProperty(OrderFilter.prototype, 'mightHold', mightHold);
              MYSQL_SQL.orderFilterMaxLines = limit;
              await fresh.drop();
            }
          }
        }
      } finally {
        t.cleanup();
      }
    });
  }

  it('matches the independent model on generated files: string ids, NDJSON, gzip, several versions', async () => {
    const t = tempDir();
    try {
      const a = join(t.dir, 'v0.json');
      const b = join(t.dir, 'v1.ndjson');
      const c = join(t.dir, 'v2.json');
      await generate(a, { orders: 3000, customers: 400, products: 150, ids: 'string', style: 'pretty', seed: 7 });
      await generate(b, { orders: 2000, customers: 500, products: 200, ids: 'string', style: 'ndjson', version: 1, seed: 7, firstOrderId: 2001 });
      await generate(c, { orders: 1500, customers: 450, products: 180, ids: 'string', style: 'compact', version: 2, seed: 9, firstOrderId: 1 });
      const r = await runCli(['load', a, b, c, '--db', db.url, '--batch-size', '700']);
      assert.equal(r.code, 0, r.stderr);
      await assertMatchesModel(db, model(a, b, c));
    } finally {
      t.cleanup();
    }
  });

  it('loads the same with a key map too small for the dimensions: forgotten keys are looked up per batch', async () => {
    // Integer and string ids, new and changed attributes, re-deliveries, loads in separate processes' worth of
    // warehouses: every batch finds most of its keys forgotten and reads them back (lookupUnknown).
    const t = tempDir();
    const saved = DIMENSION_KEYS.entries;
    try {
      const a = join(t.dir, 'v0.json');
      const b = join(t.dir, 'v1.ndjson');
      const c = join(t.dir, 'v2.json');
      await generate(a, { orders: 3000, customers: 400, products: 150, seed: 21 });
      await generate(b, { orders: 2000, customers: 500, products: 200, style: 'ndjson', version: 1, seed: 22, firstOrderId: 2001, redeliver: 0.4 });
      await generate(c, { orders: 1500, customers: 450, products: 180, ids: 'string', version: 2, seed: 23, firstOrderId: 1 });
      DIMENSION_KEYS.entries = 16;
      for (const [files, batchSize] of [[[a], 300], [[b, c], 170]] as const) await loadInProcess(db.url, files, batchSize);
      await assertMatchesModel(db, model(a, b, c));
    } finally {
      DIMENSION_KEYS.entries = saved;
      t.cleanup();
    }
  });

  it('loads the same when the keys are too long for the key map: it holds what fits and looks up the rest', async () => {
    // Ids of two-byte characters: their count and length pass the check before the map is read (a byte a
    // character), and the strings do not fit once read: a map that forgot keys must not count as complete, or
    // a forgotten key would be inserted again as new.
    const t = tempDir();
    const saved = DIMENSION_KEYS.bytes;
    try {
      const [a, b] = longKeyExports(t.dir);
      // 300 customers of 21 characters: at least 300 * (16 + 21) bytes, in fact 300 * 64.
      DIMENSION_KEYS.bytes = 300 * 45;
      for (const [file, batchSize] of [[a, 250], [b, 120]] as const) {
        await loadInProcess(db.url, [file], batchSize);
      }
      await assertMatchesModel(db, model(a, b));
    } finally {
      DIMENSION_KEYS.bytes = saved;
      t.cleanup();
    }
  });

  it('loads a history warehouse the same when its keys are too long to hold: the store is given up and histories are looked up', async () => {
    // As above, for the history store (versions and observed days per key): customers' ids pass the check
    // before it is read (a byte a character) and overflow it once read, so it is given up whole (a key read
    // in part would plan against part of its history); products' fit and are read whole.
    const t = tempDir();
    const saved = DIMENSION_KEYS.bytes;
    const reference = await freshDatabase();
    try {
      const [a, b] = longKeyExports(t.dir);
      const both = { customers: true, products: true };
      const stores: { complete: boolean }[] = [];
      for (const target of [reference, db]) {
        assert.equal((await runCli(['init', '--history', 'customers,products', '--db', target.url])).code, 0);
        // 300 customers of 21 characters: at least 300 * (16 + 21) bytes, in fact 300 * 64; products 200 * 64.
        DIMENSION_KEYS.bytes = target === db ? 300 * 45 : saved;
        for (const [file, batchSize] of [[a, 250], [b, 120]] as const) {
          await loadInProcess(target.url, [file], batchSize, {
            seen: (wh) => {
              if (target !== db || file !== b) return;
              const inside = wh as unknown as { customerHistory: { complete: boolean }; productHistory: { complete: boolean } };
              stores.push(inside.customerHistory, inside.productHistory);
            },
          });
        }
      }
      assert.deepEqual(stores.map((s) => s.complete), [false, true], 'customers given up, products read whole');
      const got = await historySnapshot(db, both);
      const want = await historySnapshot(reference, both);
      assert.deepEqual(got.problems, []);
      assert.deepEqual(keyedRows(got.tables), keyedRows(want.tables));
    } finally {
      DIMENSION_KEYS.bytes = saved;
      await reference.drop();
      t.cleanup();
    }
  });
});
