/**
 * The dialects the end-to-end tests loop over: each gives a fresh, empty warehouse (its own MariaDB database,
 * or its own DuckDB file in a temp folder), a way to query it, and a snapshot of the star schema in
 * comparable rows keyed by natural keys.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import type { Snapshot } from './model.ts';
import { freshDatabase, type TestDb } from './mysql.ts';

export type DialectName = 'mysql' | 'duckdb';

export interface WarehouseSnapshot extends Snapshot {
  customerKeys: Map<string, string>;
  productKeys: Map<string, string>;
}

export interface TestWarehouse {
  dialect: DialectName;
  /** For --db. */
  url: string;
  query<T = Record<string, any>>(sql: string, params?: unknown[]): Promise<T[]>;
  /** An SQL expression for a column's bytes as upper-case hex. */
  hex(column: string): string;
  snapshot(): Promise<WarehouseSnapshot>;
  drop(): Promise<void>;
  /** The MariaDB database behind a mysql warehouse (admin connection, name). */
  mysql?: TestDb;
}

const SNAPSHOT_SQL = (d: DialectName) => {
  const text = (c: string) => (d === 'mysql' ? `CAST(${c} AS CHAR)` : `CAST(${c} AS VARCHAR)`);
  const date = (c: string) => (d === 'mysql' ? `DATE_FORMAT(${c}, '%Y-%m-%d')` : `strftime(${c}, '%Y-%m-%d')`);
  return {
    customers: `SELECT ${text('customer_sk')} AS sk, customer_id, name, email, address FROM customers`,
    products: `SELECT ${text('product_sk')} AS sk, product_id, name, category, ${text('price')} AS price FROM products`,
    facts: `SELECT o.order_id, ${text('o.line_no')} AS line_no, ${date('o.order_date')} AS d, ${text('o.total_amount')} AS t,
                   p.product_id, c.customer_id, ${text('o.quantity')} AS quantity
              FROM orders o JOIN products p ON p.product_sk = o.product_sk JOIN customers c ON c.customer_sk = o.customer_sk`,
    count: `SELECT ${text('COUNT(*)')} AS n FROM orders`,
  };
};

async function snapshotOf(w: TestWarehouse): Promise<WarehouseSnapshot> {
  const q = SNAPSHOT_SQL(w.dialect);
  const customers = await w.query(q.customers);
  const products = await w.query(q.products);
  const facts = await w.query(q.facts);
  const [count] = await w.query(q.count);
  if (Number(count!.n) !== facts.length) throw new Error('fact rows whose surrogate keys do not resolve');
  return {
    customers: customers.map((r) => JSON.stringify([r.customer_id, r.name, r.email, r.address])).sort(),
    products: products.map((r) => JSON.stringify([r.product_id, r.name, r.category, r.price])).sort(),
    facts: facts.map((r) => JSON.stringify([r.order_id, Number(r.line_no), r.d, r.t, r.product_id, r.customer_id, Number(r.quantity)])).sort(),
    customerKeys: new Map(customers.map((r) => [r.customer_id, r.sk])),
    productKeys: new Map(products.map((r) => [r.product_id, r.sk])),
  };
}

async function freshMysql(): Promise<TestWarehouse> {
  const db = await freshDatabase();
  const w: TestWarehouse = {
    dialect: 'mysql',
    url: db.url,
    query: (sql, params) => db.query(sql, params),
    hex: (c) => `HEX(${c})`,
    snapshot: () => snapshotOf(w),
    drop: () => db.drop(),
    mysql: db,
  };
  return w;
}

async function freshDuckdb(): Promise<TestWarehouse> {
  const dir = mkdtempSync(join(tmpdir(), 'orders-etl-duckdb-'));
  const file = join(dir, 'warehouse.duckdb');
  const w: TestWarehouse = {
    dialect: 'duckdb',
    url: `duckdb:${file}`,
    // Opened and closed per query: the engine under test needs the file lock for itself.
    async query(sql, params) {
      const instance = await DuckDBInstance.create(file);
      try {
        const conn = await instance.connect();
        try {
          const reader = await conn.runAndReadAll(sql, params as never);
          return reader.getRowObjectsJS().map((row) => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, typeof v === 'bigint' ? String(v) : v]))) as never;
        } finally {
          conn.closeSync();
        }
      } finally {
        instance.closeSync();
      }
    },
    hex: (c) => `upper(hex(${c}))`,
    snapshot: () => snapshotOf(w),
    async drop() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return w;
}

export const DIALECTS: { name: DialectName; fresh(): Promise<TestWarehouse> }[] = [
  { name: 'mysql', fresh: freshMysql },
  { name: 'duckdb', fresh: freshDuckdb },
];

/**
 * MariaDB: runs `work` with the URL of `db` for a user of its own (named `oe_<name>_<pid>`), granted `grants` on
 * that database only; the user is dropped afterwards.
 */
export async function withUser(db: TestWarehouse, name: string, grants: string, work: (url: string) => Promise<void>): Promise<void> {
  const user = `oe_${name}_${process.pid}`;
  await db.query(`CREATE USER '${user}'@'%' IDENTIFIED BY 'pw'`);
  try {
    await db.query(`GRANT ${grants} ON \`${db.mysql!.name}\`.* TO '${user}'@'%'`);
    const url = new URL(db.url);
    [url.username, url.password] = [user, 'pw'];
    await work(url.toString());
  } finally {
    await db.query(`DROP USER '${user}'@'%'`);
  }
}

/** MariaDB: the fact table's secondary indexes and foreign keys that exist, by name (FACT_KEYS when all do). */
export async function factKeys(db: TestWarehouse): Promise<string[]> {
  const keys = await db.query<any>(
    `SELECT INDEX_NAME AS k FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'orders' AND INDEX_NAME LIKE 'ix_orders_%'
     UNION SELECT CONSTRAINT_NAME FROM information_schema.TABLE_CONSTRAINTS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'orders' AND CONSTRAINT_TYPE = 'FOREIGN KEY'`,
  );
  return keys.map((r) => String(r.k)).sort();
}

export const FACT_KEYS = ['fk_orders_customer', 'fk_orders_product', 'ix_orders_customer_sk', 'ix_orders_product_sk'];

/**
 * MariaDB: returns once an ALTER TABLE of the fact table waits for a metadata lock (a query the test holds open).
 * `ended` is polled too: a command that ends first fails the wait at once, with what `ended` returns.
 */
export async function untilFactAlterWaits(db: TestWarehouse, what: string, seconds: number, ended: () => string | null = () => null): Promise<void> {
  for (const deadline = Date.now() + seconds * 1000; ; ) {
    const early = ended();
    if (early !== null) throw new Error(`${what} ended before an ALTER of the fact table waited: ${early}`);
    const waiting = await db.query<any>(
      "SELECT 1 FROM information_schema.PROCESSLIST WHERE DB = ? AND STATE LIKE 'Waiting for table metadata lock' AND INFO LIKE 'ALTER TABLE orders%'",
      [db.mysql!.name],
    );
    if (waiting.length > 0) return;
    if (Date.now() > deadline) throw new Error(`${what} never came to an ALTER of the fact table that waits (${seconds}s)`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
