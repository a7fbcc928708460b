/**
 * The load rules, pinned against the independent model (test/helpers/model.ts), surrogate keys included, on
 * both warehouses: a large randomized run with A -> B -> A changes within a batch, across batches and across
 * files at several batch sizes; re-delivered orders; attribute and key edge cases checked as bytes; the
 * dimension cache under a commit whose answer was lost; two loads at once.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { generate, rng } from '../bench/generate.ts';
import { DEFAULTS } from '../src/options.ts';
import { runLoad } from '../src/pipeline/load.ts';
import { resolveSources } from '../src/sources/resolve.ts';
import { openWarehouse } from '../src/warehouse/index.ts';
import { applyOrders, emptyModel, modelSnapshot, type KeyedSnapshot, type ModelState } from './helpers/model.ts';
import { startCommitDropProxy } from './helpers/mysql-proxy.ts';
import { BIN, ROOT, runBin, runCli, tempDir } from './helpers/run.ts';
import { DIALECTS, type TestWarehouse } from './helpers/warehouses.ts';
import { adminConnection } from './helpers/mysql.ts';
import { DuckDBInstance } from '@duckdb/node-api';
import { NO_HISTORY } from '../src/model.ts';
import { schemaDdl } from '../src/warehouse/mysql/ddl.ts';

const files = tempDir();
after(() => files.cleanup());

function modelOf(...exports: unknown[][]): KeyedSnapshot {
  const m: ModelState = emptyModel();
  for (const orders of exports) applyOrders(m, orders);
  return modelSnapshot(m);
}

async function assertEqualsModel(db: TestWarehouse, want: KeyedSnapshot, what: string): Promise<void> {
  const got = await db.snapshot();
  assert.deepEqual([got.customers.length, got.products.length, got.facts.length], [want.customers.length, want.products.length, want.facts.length], `${what}: row counts`);
  assert.deepEqual(got.customers, want.customers, `${what}: customers`);
  assert.deepEqual(got.products, want.products, `${what}: products`);
  assert.deepEqual(got.facts, want.facts, `${what}: fact rows`);
  assert.deepEqual([...got.customerKeys].sort(), [...want.customerKeys].sort(), `${what}: customer surrogate keys`);
  assert.deepEqual([...got.productKeys].sort(), [...want.productKeys].sort(), `${what}: product surrogate keys`);
}

/**
 * Exports of `sizes` orders each. Keys come from small pools, so every key recurs within batches, across
 * batches and across files; integer-like ids are written as numbers or strings at random (one key). On each
 * occurrence a key's attributes stay (55%), go back to the ones before (A -> B -> A, 20%), or change to values
 * that encode the record's global index (25%); text is sometimes '' or null. Orders are re-delivered with
 * other lines (15%), sometimes with none.
 */
function randomExports(seed: number, sizes: number[]): unknown[][] {
  const rand = rng(seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!;
  const history = new Map<string, object[]>();
  const attributes = (key: string, fresh: () => object): object => {
    const h = history.get(key) ?? [];
    const r = rand();
    let v: object;
    if (h.length === 0 || r < 0.25) v = fresh();
    else if (r < 0.45 && h.length >= 2) v = h[h.length - 2]!;
    else v = h[h.length - 1]!;
    h.push(v);
    history.set(key, h);
    return v;
  };
  const id = (n: number, prefix: string) => (n % 3 === 0 ? (rand() < 0.5 ? n : String(n)) : `${prefix}${n}`);
  const text = (s: string) => (rand() < 0.08 ? null : rand() < 0.08 ? '' : s);
  const orderIds: (string | number)[] = [];
  let index = 0;
  return sizes.map((size) => {
    const out: unknown[] = [];
    for (let i = 0; i < size; i++, index++) {
      const r = index;
      const customerId = id(1 + Math.floor(rand() * 400), 'C');
      const customer = { customer_id: customerId, ...attributes(String(customerId), () => ({ name: text(`name@${r}`), email: text(`e${r}@x`), address: text(`addr ${r}`) })) };
      const lines = rand() < 0.1 ? 0 : 1 + Math.floor(rand() * 4);
      const products = Array.from({ length: lines }, () => {
        const productId = id(1 + Math.floor(rand() * 250), 'P');
        const attrs = attributes(`p:${productId}`, () => ({ name: text(`product@${r}`), category: text(pick(['a', 'b', 'A', 'a '])), price: rand() < 0.05 ? null : Math.round(rand() * 1e6) / 100 }));
        return { product_id: productId, ...attrs, quantity: Math.floor(rand() * 5) };
      });
      const redeliver = orderIds.length > 0 && rand() < 0.15;
      const orderId = redeliver ? pick(orderIds) : `O${index}`;
      if (!redeliver) orderIds.push(orderId);
      out.push({ order_id: orderId, order_date: `2024-${String(1 + (r % 12)).padStart(2, '0')}-${String(1 + (r % 28)).padStart(2, '0')}`, total_amount: rand() < 0.1 ? null : r / 100, customer, products });
    }
    return out;
  });
}

describe('the load rules against the independent model', () => {
  const exports = randomExports(2024, [9000, 7000, 4000]);
  const paths = exports.map((orders, i) => files.file(`random-${i}.json`, JSON.stringify(orders, null, i === 1 ? 1 : undefined)));
  const want = modelOf(...exports);
  // At --batch-size 1 every order is its own transaction: the first file only, to keep the suite's time sane.
  const runs: { batch: number; files: string[]; want: KeyedSnapshot }[] = [
    { batch: 1, files: paths.slice(0, 1), want: modelOf(exports[0]!) },
    { batch: 7, files: paths, want },
    { batch: 500, files: paths, want },
    { batch: 1_000_000, files: paths, want },
  ];

  for (const dialect of DIALECTS) {
    for (const run of runs) {
      it(`${dialect.name}, --batch-size ${run.batch}: ${run.files.length} export(s) of A -> B -> A changes and re-deliveries equal the model, keys included`, async () => {
        const db = await dialect.fresh();
        try {
          const r = await runCli(['load', ...run.files, '--db', db.url, '--batch-size', String(run.batch)]);
          assert.equal(r.code, 0, r.stderr);
          await assertEqualsModel(db, run.want, `batch ${run.batch}`);
        } finally {
          await db.drop();
        }
      });
    }
  }
});

describe('re-delivered orders', () => {
  const order = (id: string, lines: number, tag: string) => ({
    order_id: id,
    order_date: '2024-02-02',
    total_amount: lines,
    customer: { customer_id: 'C', name: tag, email: null, address: null },
    products: Array.from({ length: lines }, (_, i) => ({ product_id: `P${i}-${tag}`, name: tag, category: 'c', price: 1, quantity: i + 1 })),
  });
  const thrice = [order('X', 3, 'first'), order('Y', 1, 'y'), order('X', 1, 'second'), order('X', 2, 'third')];
  const emptied = [order('A', 2, 'a'), order('B', 2, 'b'), order('A', 0, 'a-empty'), order('C', 1, 'c'), order('B', 0, 'b-empty')];
  const emptiedLater = [order('C', 0, 'c-empty-in-a-later-file')];

  for (const dialect of DIALECTS) {
    it(`${dialect.name}: an order delivered three times in one batch keeps its last lines; one re-delivered with "products": [] loses them, in a batch, across batches and across files`, async () => {
      const a = files.file('thrice.json', JSON.stringify(thrice));
      const b = files.file('emptied.json', JSON.stringify(emptied));
      const c = files.file('emptied-later.json', JSON.stringify(emptiedLater));
      for (const batch of ['1', '2', '100']) {
        const db = await dialect.fresh();
        try {
          const r = await runCli(['load', a, b, c, '--db', db.url, '--batch-size', batch]);
          assert.equal(r.code, 0, r.stderr);
          await assertEqualsModel(db, modelOf(thrice, emptied, emptiedLater), `batch ${batch}`);
          const x = await db.query<any>("SELECT COUNT(*) AS n FROM orders WHERE order_id = 'X'");
          assert.equal(Number(x[0].n), 2, 'X has the two lines of its third delivery');
          const gone = await db.query<any>("SELECT COUNT(*) AS n FROM orders WHERE order_id IN ('A', 'B', 'C')");
          assert.equal(Number(gone[0].n), 0, 'A, B and C were re-delivered without lines');
        } finally {
          await db.drop();
        }
      }
    });
  }
});

describe('attribute and key edge cases, as bytes', () => {
  const fixture = join(ROOT, 'fixtures', 'edge_cases.json');
  const orders = JSON.parse(readFileSync(fixture, 'utf8')) as unknown[];

  /** Every stored value as hex (text) or canonical text (numbers, dates), keyed by surrogate key. */
  async function bytes(db: TestWarehouse) {
    const h = db.hex;
    const customers = await db.query<any>(`SELECT customer_sk AS sk, ${h('customer_id')} AS id, ${h('name')} AS name, ${h('email')} AS email, ${h('address')} AS address FROM customers`);
    const products = await db.query<any>(`SELECT product_sk AS sk, ${h('product_id')} AS id, ${h('name')} AS name, ${h('category')} AS category, CAST(price AS ${db.dialect === 'mysql' ? 'CHAR' : 'VARCHAR'}) AS price FROM products`);
    const facts = await db.query<any>(`SELECT ${h('order_id')} AS id, line_no, CAST(total_amount AS ${db.dialect === 'mysql' ? 'CHAR' : 'VARCHAR'}) AS total, product_sk, customer_sk, quantity FROM orders`);
    const row = (r: Record<string, unknown>) => JSON.stringify(Object.values(r).map((v) => (v === null || v === undefined ? null : String(v))));
    return { customers: customers.map(row).sort(), products: products.map(row).sort(), facts: facts.map(row).sort() };
  }

  function expectedBytes() {
    const m = emptyModel();
    applyOrders(m, orders);
    const hex = (s: string | null) => (s === null ? null : Buffer.from(s, 'utf8').toString('hex').toUpperCase());
    const ck = new Map([...m.customers.keys()].map((k, i) => [k, String(i + 1)]));
    const pk = new Map([...m.products.keys()].map((k, i) => [k, String(i + 1)]));
    const row = (values: (string | number | null)[]) => JSON.stringify(values.map((v) => (v === null ? null : String(v))));
    return {
      customers: [...m.customers].map(([k, v]) => row([ck.get(k)!, hex(k), hex(v.name), hex(v.email), hex(v.address)])).sort(),
      products: [...m.products].map(([k, v]) => row([pk.get(k)!, hex(k), hex(v.name), hex(v.category), v.price])).sort(),
      facts: [...m.orders].flatMap(([id, o]) => o.lines.map((l, i) => row([hex(id), i + 1, o.total_amount, pk.get(l.product_id)!, ck.get(o.customer_id)!, l.quantity]))).sort(),
    };
  }

  it('loads identically on both warehouses, byte for byte and key for key, as the model says', async () => {
    const want = expectedBytes();
    // What the fixture is for: these stay distinct, and these changes are seen.
    const ids = (JSON.parse(want.products.join('\n').replace(/\n/g, ',').replace(/^/, '[').replace(/$/, ']')) as string[][]).map((r) => Buffer.from(r[1]!, 'hex').toString('utf8'));
    assert.deepEqual(ids.sort(), ['7', 'P01', 'P01 ', 'e\u0301', 'p01', '\u00e9'].sort());
    for (const batch of ['1', '3', '100']) {
      const got: Record<string, unknown> = {};
      for (const dialect of DIALECTS) {
        const db = await dialect.fresh();
        try {
          const r = await runCli(['load', fixture, '--db', db.url, '--batch-size', batch]);
          assert.equal(r.code, 0, r.stderr);
          got[dialect.name] = await bytes(db);
          assert.deepEqual(got[dialect.name], want, `${dialect.name}, batch ${batch}`);
        } finally {
          await db.drop();
        }
      }
      assert.deepEqual(got.mysql, got.duckdb, `batch ${batch}: both warehouses`);
    }
  });
});

describe('the dimension cache under a commit whose answer was lost (mysql)', () => {
  it('does not skip a change back to an older value after the commit was settled from the ledger', async () => {
    const db = await DIALECTS.find((d) => d.name === 'mysql')!.fresh();
    // The commit of batch 2 (C becomes B) happens, but its answer is lost; batch 3 changes C back to A.
    const proxy = await startCommitDropProxy(db.url, 2);
    try {
      const customer = (name: string) => ({ customer_id: 'C', name, email: null, address: null });
      const orders = ['A', 'B', 'A'].map((name, i) => ({ order_id: i + 1, order_date: '2024-01-01', customer: customer(name), products: [] }));
      const file = files.file('lost-commit.json', JSON.stringify(orders));
      const r = await runCli(['load', file, '--db', proxy.url, '--batch-size', '1', '--json']);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(proxy.commits() >= 3, `commits seen: ${proxy.commits()}`);
      assert.ok(JSON.parse(r.stdout).retries >= 1, 'the lost answer was noticed and settled');
      await assertEqualsModel(db, modelOf(orders), 'after the lost commit');
      const [c] = await db.query<any>("SELECT name FROM customers WHERE customer_id = 'C'");
      assert.equal(c.name, 'A');
    } finally {
      await proxy.close();
      await db.drop();
    }
  });
});

describe('two loads at once', () => {
  let first: string;
  let second: string;
  let firstOrders: unknown[];
  let secondOrders: unknown[];
  before(async () => {
    first = join(files.dir, 'first.json');
    second = join(files.dir, 'second.json');
    await generate(first, { orders: 20000, customers: 2000, products: 300, ids: 'string', style: 'compact', seed: 31 });
    await generate(second, { orders: 3000, customers: 2500, products: 350, ids: 'string', style: 'compact', version: 1, seed: 32, firstOrderId: 15001 });
    firstOrders = JSON.parse(readFileSync(first, 'utf8'));
    secondOrders = JSON.parse(readFileSync(second, 'utf8'));
  });

  function startBin(args: string[]) {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const done = new Promise<{ code: number | null; stderr: string }>((r) => child.on('close', (code) => r({ code, stderr })));
    return { child, done };
  }

  /** Until the first load has committed a batch: its ledger row (MySQL), its write-ahead log (DuckDB). */
  async function firstBatchCommitted(db: TestWarehouse): Promise<void> {
    const wal = `${db.url.replace(/^duckdb:/, '')}.wal`;
    for (let i = 0; i < 600; i++) {
      if (db.dialect === 'mysql') {
        const rows = await db.query<any>('SELECT records_committed AS n FROM etl_loads').catch(() => []);
        if (Number(rows[0]?.n ?? 0) > 0) return;
      } else if (existsSync(wal) && statSync(wal).size > 0) return;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error('the first load committed nothing within 15 s');
  }

  for (const dialect of DIALECTS) {
    it(`${dialect.name}: the second waits for the first; the result is the first, then the second`, async () => {
      const db = await dialect.fresh();
      try {
        const a = startBin(['load', first, '--db', db.url, '--batch-size', '200', '--no-progress']);
        await firstBatchCommitted(db);
        const b = startBin(['load', second, '--db', db.url, '--batch-size', '200', '--no-progress']);
        const [ra, rb] = await Promise.all([a.done, b.done]);
        assert.equal(ra.code, 0, ra.stderr);
        assert.equal(rb.code, 0, rb.stderr);
        await assertEqualsModel(db, modelOf(firstOrders, secondOrders), 'first, then second');
        if (db.dialect === 'mysql') {
          const [row] = await db.query<any>('SHOW CREATE TABLE orders');
          for (const k of ['ix_orders_product_sk', 'ix_orders_customer_sk', 'fk_orders_product', 'fk_orders_customer']) assert.ok(String(row['Create Table']).includes(k), k);
        }
      } finally {
        await db.drop();
      }
    });
  }

  for (const dialect of DIALECTS) {
    it(`${dialect.name}: --lock-timeout 1 on a warehouse another holds exits 1 with a clear message, having written nothing`, async () => {
      const db = await dialect.fresh();
      try {
        assert.equal((await runCli(['init', '--db', db.url])).code, 0);
        const release = await holdWarehouse(db);
        let r;
        let q;
        try {
          r = await startBin(['load', second, '--db', db.url, '--lock-timeout', '1', '--no-progress']).done;
          q = await runBin(['query', '--db', db.url, '--csv', 'SELECT COUNT(*) AS n FROM orders']);
        } finally {
          await release();
        }
        assert.equal(r.code, 1, r.stderr);
        assert.match(r.stderr, /\[E_LOCK\].*another (load|process)( \(PID \d+, [^)]+\))? holds .*; waited 1s \(--lock-timeout\)/);
        // DuckDB names the process that holds the file (here, this test's): the user finds it by its PID.
        if (db.dialect === 'duckdb') assert.match(r.stderr, new RegExp(`another process \\(PID ${process.pid}, [^)]*node[^)]*\\) holds`));
        // query takes no lock: MySQL reads beside a load; a DuckDB file cannot be read while another process
        // writes it, and the message says so without naming a flag query does not have.
        if (db.dialect === 'mysql') {
          assert.deepEqual([q.code, q.stdout], [0, 'n\n0\n'], q.stderr);
        } else {
          assert.equal(q.code, 1, q.stderr);
          assert.match(q.stderr, /query failed \[E_LOCK\]: another process \(PID \d+, [^)]+\) holds .*: try again when it ends\n$/);
          assert.doesNotMatch(q.stderr, /lock-timeout/);
        }
        assert.deepEqual(await db.query<any>('SELECT load_id FROM etl_loads'), []);
      } finally {
        await db.drop();
      }
    });
  }
});

/** Hold the warehouse as a load does: MySQL's named lock, DuckDB's file lock. */
async function holdWarehouse(db: TestWarehouse): Promise<() => Promise<void>> {
  if (db.dialect === 'mysql') {
    const conn = await adminConnection();
    const [rows] = await conn.query('SELECT GET_LOCK(?, 0) AS got', [`orders-etl:${db.mysql!.name}`]);
    assert.equal(Number((rows as { got: number }[])[0]!.got), 1);
    return () => conn.end();
  }
  const instance = await DuckDBInstance.create(db.url.replace(/^duckdb:/, ''));
  return async () => instance.closeSync();
}

describe('a warehouse created before byte-exact text (mysql)', () => {
  it('is converted in place by init or load, saying so, and a half-converted one is finished before anything loads', async () => {
    for (const [command, preconverted] of [['init', []], ['load', ['customers']]] as const) {
      const db = await DIALECTS.find((d) => d.name === 'mysql')!.fresh();
      try {
        // The schema as an earlier version created it: utf8mb4_bin, which ignores trailing spaces, and no tables of
        // re-delivered orders (a later version's; created by the command, in the byte-exact collation).
        const earlier = schemaDdl('utf8mb4_nopad_bin', NO_HISTORY).filter((ddl) => !ddl.includes('etl_redelivered'));
        for (const ddl of earlier) await db.query(ddl.replaceAll('utf8mb4_nopad_bin', 'utf8mb4_bin'));
        await db.query("INSERT INTO products (product_sk, product_id, name) VALUES (1, 'P01', 'plain')");
        for (const t of preconverted) await db.query(`ALTER TABLE ${t} CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin`);
        const fixture = join(ROOT, 'fixtures', 'edge_cases.json');
        const r = await runCli(command === 'init' ? ['init', '--db', db.url] : ['load', fixture, '--db', db.url]);
        assert.equal(r.code, 0, r.stderr);
        const converted = [...r.stderr.matchAll(/converting table (\w+) of .* to the byte-exact collation utf8mb4_nopad_bin/g)].map((m) => m[1]);
        assert.deepEqual(converted.sort(), ['customers', 'etl_loads', 'etl_rejects', 'orders', 'products'].filter((t) => !(preconverted as readonly string[]).includes(t)));
        const stale = await db.query<any>(
          "SELECT TABLE_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND COLLATION_NAME IS NOT NULL AND COLLATION_NAME <> 'utf8mb4_nopad_bin'",
        );
        assert.deepEqual(stale, []);
        if (command === 'load') {
          const ids = await db.query<any>(`SELECT HEX(product_id) AS h FROM products WHERE product_id LIKE 'P01%' ORDER BY product_sk`);
          assert.deepEqual(ids.map((x) => x.h), ['503031', '50303120'], "'P01' and 'P01 ' are two products");
        }
        const again = await runCli(['init', '--db', db.url]);
        assert.doesNotMatch(again.stderr, /converting/, 'nothing left to convert');
      } finally {
        await db.drop();
      }
    }
  });
});

describe('a DuckDB warehouse whose fact table an earlier version created with keys', () => {
  it('is rebuilt without them by load, saying so, keeping every row', async () => {
    const db = await DIALECTS.find((d) => d.name === 'duckdb')!.fresh();
    try {
      const initial = join(ROOT, 'fixtures', 'orders_initial.json');
      const incremental = join(ROOT, 'fixtures', 'orders_incremental.json');
      // The earlier schema: a primary key and foreign keys on the fact table.
      await db.query(`CREATE TABLE customers (customer_sk BIGINT PRIMARY KEY, customer_id VARCHAR NOT NULL UNIQUE, name VARCHAR, email VARCHAR, address VARCHAR)`);
      await db.query(`CREATE TABLE products (product_sk BIGINT PRIMARY KEY, product_id VARCHAR NOT NULL UNIQUE, name VARCHAR, category VARCHAR, price DECIMAL(12,2))`);
      await db.query(`CREATE TABLE orders (order_id VARCHAR NOT NULL, line_no INTEGER NOT NULL, order_date DATE NOT NULL, total_amount DECIMAL(12,2),
        product_sk BIGINT NOT NULL REFERENCES products (product_sk), customer_sk BIGINT NOT NULL REFERENCES customers (customer_sk), quantity INTEGER NOT NULL,
        PRIMARY KEY (order_id, line_no))`);
      const first = await runCli(['load', initial, '--db', db.url]);
      assert.equal(first.code, 0, first.stderr);
      assert.match(first.stderr, /rebuilding the fact table of duckdb:.* without its primary and foreign keys/);
      const keys = await db.query<any>("SELECT constraint_type AS c FROM duckdb_constraints() WHERE table_name = 'orders' AND constraint_type <> 'NOT NULL'");
      assert.deepEqual(keys, []);
      const second = await runCli(['load', incremental, '--db', db.url]);
      assert.equal(second.code, 0, second.stderr);
      assert.doesNotMatch(second.stderr, /rebuilding/);
      await assertEqualsModel(db, modelOf(JSON.parse(readFileSync(initial, 'utf8')), JSON.parse(readFileSync(incremental, 'utf8'))), 'after the rebuild');
    } finally {
      await db.drop();
    }
  });
});

describe('the fact table keys during a large load into a filled warehouse (mysql)', () => {
  it('are built after the load by default, and kept throughout with --keep-fact-keys; either way the result is the same', async () => {
    const small = files.file('keys-small.json', JSON.stringify(randomExports(7, [300])[0]));
    const large = join(files.dir, 'keys-large.json');
    await generate(large, { orders: 3000, customers: 200, products: 100, ids: 'string', style: 'pretty', seed: 8, version: 1 });
    for (const keep of [false, true]) {
      const db = await DIALECTS.find((d) => d.name === 'mysql')!.fresh();
      try {
        assert.equal((await runCli(['load', small, '--db', db.url])).code, 0);
        const wh = await openWarehouse(db.url, { retries: 1 });
        const apply = wh.applyBatch.bind(wh);
        const seen: boolean[] = [];
        wh.applyBatch = async (loadId, batch) => {
          const [row] = await db.query<any>('SHOW CREATE TABLE orders');
          seen.push(String(row['Create Table']).includes('fk_orders_customer'));
          return apply(loadId, batch);
        };
        try {
          const sources = await resolveSources([large], { format: undefined, s3: { stallTimeout: 5, retries: 0 }, note: () => {} });
          await runLoad(sources, wh, { ...DEFAULTS, batchSize: 500, parser: 'scanner', force: false, keepFactKeys: keep });
        } finally {
          await wh.close();
        }
        assert.deepEqual([...new Set(seen)], [keep], keep ? 'kept while loading' : 'dropped while loading');
        const [row] = await db.query<any>('SHOW CREATE TABLE orders');
        for (const k of ['ix_orders_product_sk', 'ix_orders_customer_sk', 'fk_orders_product', 'fk_orders_customer']) assert.ok(String(row['Create Table']).includes(k), `${k} after the load`);
        await assertEqualsModel(db, modelOf(JSON.parse(readFileSync(small, 'utf8')), JSON.parse(readFileSync(large, 'utf8'))), `keep ${keep}`);
      } finally {
        await db.drop();
      }
    }
  });
});
