/**
 * The incremental rows (issue 10): a warehouse loaded with N orders, then an increment of N/5 orders made by
 * the generator: half of them re-deliveries of existing orders with other lines, half new orders; about 4% of N
 * customers (40k at 1M) and every product with changed attributes. The engine loads the increment into its own
 * warehouse (a second `load`); the reference applies it to an exact copy of that warehouse taken before.
 *
 * The MariaDB reference, by hand, in one transaction timed from the first LOAD DATA to COMMIT:
 *
 *   LOAD DATA LOCAL INFILE  the increment's final rows into four temporary staging tables: stage_customers and
 *                           stage_products (one row per natural key, last attributes, `seq` = first appearance),
 *                           stage_orders (the last delivery of each order), stage_lines (its lines)
 *   UPDATE d JOIN stage     changed attributes of existing keys (NULL-safe <=>)
 *   INSERT ... SELECT       new keys: MAX(key) + ROW_NUMBER() OVER (ORDER BY seq), LEFT JOIN ... IS NULL
 *   DELETE o JOIN stage     every line of each re-delivered order
 *   INSERT ... SELECT       the lines, joined to both dimensions for their keys (no ORDER BY: the plan reads
 *                           stage_orders in key order and each order's lines by key, so the rows arrive in
 *                           the fact table's key order without a filesort)
 *
 * The final rows come from the export through DuckDB (read_json and the same staging SQL as the DuckDB
 * reference, bench/duckdb-reference.ts): preparing them is not timed, as LOAD DATA's input is given. The session
 * runs with foreign_key_checks = 0, as the engine's does: the keys come from the join in the same statement.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import mysql from 'mysql2/promise';
import { FACT_SECONDARY_KEYS, SCHEMA_DDL } from '../src/warehouse/mysql/ddl.ts';
import { stagingSteps } from './duckdb-reference.ts';
import type { GenerateOptions } from './generate.ts';
import { COLUMN_TYPES, STAR_TABLES, tsv, type TableComparison } from './star.ts';

/**
 * The increment for a warehouse loaded from `generate({ orders: base })`: the same customers and products,
 * N/5 orders, half re-deliveries of ids 1..N, half new ids from N+1. An increment of N/5 orders over N/5
 * customers touches about 63% of them (1 - 1/e); changing 32% of those is about 4% of N customers.
 */
export function incrementOptions(base: number): GenerateOptions {
  return {
    orders: Math.max(1, Math.round(base / 5)),
    customers: Math.max(1, Math.ceil(base / 5)),
    products: Math.max(1, Math.min(10000, Math.ceil(base / 20))),
    firstOrderId: base + 1,
    redeliver: 0.5,
    version: 1,
    changeCustomers: 0.32,
    changeProducts: 1,
  };
}

const { naturalKey: KEY, text: TEXT, money: MONEY } = COLUMN_TYPES;
/** Byte-exact like the warehouse's own tables (MariaDB's NO PAD binary collation: 'a' and 'a ' differ). */
const TABLE_OPTIONS = 'ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin';

/** The staging tables, their columns in file order, and the query (on DuckDB's staging) that fills each file. */
const STAGING: { table: string; columns: string[]; ddl: string; rows: string }[] = [
  {
    table: 'stage_customers',
    columns: ['seq', 'customer_id', 'name', 'email', 'address'],
    ddl: `seq BIGINT UNSIGNED NOT NULL, customer_id ${KEY} NOT NULL, name ${TEXT} NULL, email ${TEXT} NULL, address ${TEXT} NULL, PRIMARY KEY (customer_id)`,
    rows: 'SELECT seq, customer_id, name, email, address FROM stage_customers ORDER BY seq',
  },
  {
    table: 'stage_products',
    columns: ['seq', 'product_id', 'name', 'category', 'price'],
    ddl: `seq BIGINT UNSIGNED NOT NULL, product_id ${KEY} NOT NULL, name ${TEXT} NULL, category ${TEXT} NULL, price ${MONEY} NULL, PRIMARY KEY (product_id)`,
    rows: 'SELECT seq, product_id, name, category, CAST(price AS VARCHAR) FROM stage_products ORDER BY seq',
  },
  {
    table: 'stage_orders',
    columns: ['order_id', 'order_date', 'total_amount', 'customer_id'],
    ddl: `order_id ${KEY} NOT NULL, order_date DATE NOT NULL, total_amount ${MONEY} NULL, customer_id ${KEY} NOT NULL, PRIMARY KEY (order_id)`,
    rows: `SELECT o.order_id, left(s.order_date, 10), CAST(s.total_amount AS VARCHAR), s.customer.customer_id
             FROM stage_orders o JOIN src s ON s.pos = o.pos ORDER BY o.order_id`,
  },
  {
    table: 'stage_lines',
    columns: ['order_id', 'line_no', 'product_id', 'quantity'],
    ddl: `order_id ${KEY} NOT NULL, line_no INT UNSIGNED NOT NULL, product_id ${KEY} NOT NULL, quantity INT UNSIGNED NOT NULL, PRIMARY KEY (order_id, line_no)`,
    rows: `SELECT o.order_id, l.line_no, l.line.product_id, l.line.quantity
             FROM stage_orders o JOIN src_lines l ON l.pos = o.pos ORDER BY o.order_id, l.line_no`,
  },
];

export type StagingFiles = Record<string, { path: string; rows: number }>;

/** The increment's final rows as LOAD DATA files in `dir` (untimed preparation). Streamed: no table is held in memory. */
export async function writeStagingFiles(jsonFile: string, dir: string): Promise<StagingFiles> {
  const instance = await DuckDBInstance.create(':memory:');
  const conn = await instance.connect();
  const files: StagingFiles = {};
  try {
    for (const [, sql] of stagingSteps(jsonFile)) await conn.run(sql);
    for (const s of STAGING) {
      const path = join(dir, `${s.table}.tsv`);
      const out = createWriteStream(path);
      let rows = 0;
      const result = await conn.stream(s.rows);
      for await (const chunk of result.yieldRowsJs()) {
        let text = '';
        for (const row of chunk) text += `${row.map(tsv).join('\t')}\n`;
        rows += chunk.length;
        if (!out.write(text)) await once(out, 'drain');
      }
      out.end();
      await once(out, 'finish');
      files[s.table] = { path, rows };
    }
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
  return files;
}

/**
 * An exact copy of a warehouse's star schema (untimed): the engine's DDL, rows copied in key order with the fact
 * table's secondary keys added after, as a restore would do it.
 */
export async function cloneStar(admin: mysql.Connection, fromDb: string, toDb: string): Promise<void> {
  await admin.query(`DROP DATABASE IF EXISTS \`${toDb}\``);
  await admin.query(`CREATE DATABASE \`${toDb}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin`);
  await admin.query(`USE \`${toDb}\``);
  for (const ddl of SCHEMA_DDL) await admin.query(ddl);
  await admin.query(`ALTER TABLE orders ${FACT_SECONDARY_KEYS.filter((k) => k.kind === 'foreign key').map((k) => `DROP FOREIGN KEY ${k.name}`).join(', ')}`);
  await admin.query(`ALTER TABLE orders ${FACT_SECONDARY_KEYS.filter((k) => k.kind === 'index').map((k) => `DROP KEY ${k.name}`).join(', ')}`);
  for (const { table, columns, key } of STAR_TABLES) {
    await admin.query(`INSERT INTO ${table} (${columns.join(', ')}) SELECT ${columns.join(', ')} FROM \`${fromDb}\`.${table} ORDER BY ${key.join(', ')}`);
  }
  await admin.query('SET SESSION foreign_key_checks = 0');
  try {
    await admin.query(`ALTER TABLE orders ${FACT_SECONDARY_KEYS.map((k) => `ADD ${k.definition}`).join(', ')}`);
  } finally {
    await admin.query('SET SESSION foreign_key_checks = 1');
  }
}

export interface MysqlReferenceRun {
  seconds: number;
  steps: Record<string, number>;
  /** Rows each statement changed (an UPDATE: rows whose attributes changed). */
  changed: Record<string, number>;
}

/** The MariaDB incremental reference on `db` (a copy of the engine's warehouse), on a connection of its own. */
export async function mysqlIncrementalReference(connection: mysql.ConnectionOptions, db: string, files: StagingFiles): Promise<MysqlReferenceRun> {
  const conn = await mysql.createConnection({ ...connection, database: db });
  const steps: Record<string, number> = {};
  const changed: Record<string, number> = {};
  const step = async (name: string, q: string | mysql.QueryOptions) => {
    const t = performance.now();
    const [res] = await conn.query(q as mysql.QueryOptions);
    steps[name] = Math.round((steps[name] ?? 0) + performance.now() - t);
    const h = res as { affectedRows?: number; changedRows?: number };
    if (h.affectedRows !== undefined) changed[name] = Number(/^\s*UPDATE/i.test(typeof q === 'string' ? q : q.sql) ? (h.changedRows ?? h.affectedRows) : h.affectedRows);
  };
  try {
    await conn.query('SET SESSION foreign_key_checks = 0');
    for (const s of STAGING) await conn.query(`CREATE TEMPORARY TABLE ${s.table} (${s.ddl}) ${TABLE_OPTIONS}`);
    const t0 = performance.now();
    await step('begin', 'BEGIN');
    for (const s of STAGING) {
      await step(`load ${s.table}`, {
        sql: `LOAD DATA LOCAL INFILE 'stage.tsv' INTO TABLE ${s.table} CHARACTER SET utf8mb4 (${s.columns.join(', ')})`,
        infileStreamFactory: () => createReadStream(files[s.table]!.path),
      } as mysql.QueryOptions);
    }
    for (const [table, nk, sk, attributes] of [
      ['customers', 'customer_id', 'customer_sk', ['name', 'email', 'address']],
      ['products', 'product_id', 'product_sk', ['name', 'category', 'price']],
    ] as const) {
      await step(
        `${table} update`,
        `UPDATE ${table} d JOIN stage_${table} s ON d.${nk} = s.${nk}
            SET ${attributes.map((a) => `d.${a} = s.${a}`).join(', ')}
          WHERE NOT (${attributes.map((a) => `d.${a} <=> s.${a}`).join(' AND ')})`,
      );
      await step(
        `${table} insert`,
        `INSERT INTO ${table} (${sk}, ${nk}, ${attributes.join(', ')})
         SELECT m.top + ROW_NUMBER() OVER (ORDER BY s.seq), s.${nk}, ${attributes.map((a) => `s.${a}`).join(', ')}
           FROM stage_${table} s
          CROSS JOIN (SELECT COALESCE(MAX(${sk}), 0) AS top FROM ${table}) m
           LEFT JOIN ${table} d ON d.${nk} = s.${nk}
          WHERE d.${sk} IS NULL`,
      );
    }
    await step('delete orders', 'DELETE o FROM orders o JOIN stage_orders s ON s.order_id = o.order_id');
    await step(
      'facts',
      `INSERT INTO orders (order_id, line_no, order_date, total_amount, product_sk, customer_sk, quantity)
       SELECT l.order_id, l.line_no, s.order_date, s.total_amount, p.product_sk, c.customer_sk, l.quantity
         FROM stage_lines l
         JOIN stage_orders s ON s.order_id = l.order_id
         JOIN customers c ON c.customer_id = s.customer_id
         JOIN products p ON p.product_id = l.product_id`,
    );
    await step('commit', 'COMMIT');
    return { seconds: (performance.now() - t0) / 1000, steps, changed };
  } finally {
    await conn.end();
  }
}

/**
 * The engine's star schema against the reference's on the same server. CHECKSUM TABLE first (both tables have
 * the same DDL); when a checksum or a count differs, row by row with every column (NULL-safe), both ways.
 */
export async function compareMysql(admin: mysql.Connection, engineDb: string, referenceDb: string): Promise<TableComparison[]> {
  const out: TableComparison[] = [];
  const q = async (sql: string) => (await admin.query(sql))[0] as Record<string, unknown>[];
  for (const { table, columns, key } of STAR_TABLES) {
    const e = `\`${engineDb}\`.${table}`;
    const r = `\`${referenceDb}\`.${table}`;
    const [ce, cr] = [Number((await q(`SELECT COUNT(*) AS n FROM ${e}`))[0]!.n), Number((await q(`SELECT COUNT(*) AS n FROM ${r}`))[0]!.n)];
    const sums = await q(`CHECKSUM TABLE ${e}, ${r}`);
    const c: TableComparison = { table, engineRows: ce, referenceRows: cr, onlyEngine: 0, onlyReference: 0, samples: [], method: 'CHECKSUM TABLE' };
    if (ce !== cr || String(sums[0]!.Checksum) !== String(sums[1]!.Checksum) || sums[0]!.Checksum === null) {
      c.method = 'row by row (CHECKSUM TABLE differed)';
      const onlyIn = (a: string, b: string) =>
        `FROM ${a} x WHERE NOT EXISTS (SELECT 1 FROM ${b} y WHERE ${key.map((k) => `y.${k} = x.${k}`).join(' AND ')} AND ${columns.map((col) => `y.${col} <=> x.${col}`).join(' AND ')})`;
      c.onlyEngine = Number((await q(`SELECT COUNT(*) AS n ${onlyIn(e, r)}`))[0]!.n);
      c.onlyReference = Number((await q(`SELECT COUNT(*) AS n ${onlyIn(r, e)}`))[0]!.n);
      for (const [side, from] of [['engine', onlyIn(e, r)], ['reference', onlyIn(r, e)]] as const) {
        for (const row of await q(`SELECT ${columns.map((col) => `x.${col}`).join(', ')} ${from} ORDER BY ${key.map((k) => `x.${k}`).join(', ')} LIMIT 3`)) {
          c.samples.push(`${side}: ${JSON.stringify(columns.map((col) => row[col]))}`);
        }
      }
    }
    out.push(c);
  }
  return out;
}
