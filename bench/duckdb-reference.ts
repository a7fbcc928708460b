/**
 * Reference 3: DuckDB on its own. `read_json` of the export plus set-based SQL, producing the engine's star
 * schema with the engine's rules, written from the README (Schema, How it works), not from the engine's code:
 *
 * - surrogate keys: MAX(key) + ROW_NUMBER() in order of first appearance in the file (customers by record,
 *   products by record and position in its `products` array), for keys the warehouse does not have yet;
 * - dimension attributes: the last occurrence in file order wins, overwriting the stored row (SCD1);
 * - facts: one row per element of the order's `products` array, `line_no` its position from 1; an order
 *   delivered again (in this file, or already in the warehouse) is replaced by its last delivery, all lines.
 *
 * The same SQL serves a first load (empty tables: the UPDATE and DELETE find nothing) and an increment (a copy
 * of the engine's warehouse before its own incremental load). In one transaction, then CHECKPOINT, as the
 * engine's process does when it closes the file:
 *
 *   src             read_json(file, columns = {...}) numbered in file order: row_number() OVER () (DuckDB
 *                   documents an empty OVER () as keeping the scan's order)
 *   src_lines       unnest(products) WITH ORDINALITY: line_no, numbered in file order (seq)
 *   stage_customers GROUP BY customer_id: min(pos) first appearance, arg_max(customer, pos) last attributes
 *   stage_products  GROUP BY product_id: min(seq), arg_max(line, seq)
 *   stage_orders    GROUP BY order_id: max(pos), the last delivery
 *   customers       UPDATE ... FROM stage WHERE an attribute IS DISTINCT; INSERT top + ROW_NUMBER() OVER
 *                   (ORDER BY seq) WHERE NOT EXISTS the key; products the same
 *   orders          DELETE WHERE order_id IN stage_orders; INSERT ... SELECT the last delivery's lines joined
 *                   to both dimensions for their keys
 *
 * Not a validator: it reads the generator's well-formed exports (integer or string ids, plain dates, amounts with
 * at most two decimals). The engine's rejects (a record without a customer, a bad quantity) have no counterpart.
 *
 * As a program (run.ts runs it in its own process, so its memory and CPU are its own):
 *
 *   node --import tsx bench/duckdb-reference.ts load <warehouse.duckdb> <orders.json>   prints a ReferenceRun as JSON
 *   node --import tsx bench/duckdb-reference.ts compare <engine.duckdb> <reference.duckdb>
 */
import { existsSync } from 'node:fs';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { SCHEMA_DDL } from '../src/warehouse/duckdb/ddl.ts';
import { COLUMN_TYPES, STAR_TABLES, type TableComparison } from './star.ts';

const MONEY = COLUMN_TYPES.money;

/**
 * The export's shape, declared rather than sampled: ids as text whether the file has 17 or "17" (the engine's
 * natural keys are text), money read straight into DECIMAL.
 */
const ORDER_COLUMNS = `{
  order_id: 'VARCHAR', order_date: 'VARCHAR', total_amount: '${MONEY}',
  customer: 'STRUCT(customer_id VARCHAR, name VARCHAR, email VARCHAR, address VARCHAR)',
  products: 'STRUCT(product_id VARCHAR, name VARCHAR, category VARCHAR, price ${MONEY}, quantity INTEGER)[]'
}`;

const quote = (s: string) => `'${s.replace(/'/g, "''")}'`;

/**
 * The export's final rows, in temp tables: what a load of it must leave in (or add to) the star schema. Named
 * steps, in order; each is one statement. Also used, untimed, to write the MariaDB reference's staging files.
 */
export function stagingSteps(jsonFile: string): [string, string][] {
  return [
    [
      'read_json',
      `CREATE TEMP TABLE src AS
         SELECT row_number() OVER () AS pos, order_id, order_date, total_amount, customer, products
           FROM read_json(${quote(jsonFile)}, format = 'auto', columns = ${ORDER_COLUMNS})`,
    ],
    [
      'unnest lines',
      `CREATE TEMP TABLE src_lines AS
         SELECT s.pos, u.line_no, u.line, row_number() OVER (ORDER BY s.pos, u.line_no) AS seq
           FROM src s, unnest(s.products) WITH ORDINALITY AS u(line, line_no)`,
    ],
    [
      'stage customers',
      `CREATE TEMP TABLE stage_customers AS
         SELECT customer_id, seq, last.name AS name, last.email AS email, last.address AS address
           FROM (SELECT customer.customer_id AS customer_id, min(pos) AS seq, arg_max(customer, pos) AS last FROM src GROUP BY 1)`,
    ],
    [
      'stage products',
      `CREATE TEMP TABLE stage_products AS
         SELECT product_id, seq, last.name AS name, last.category AS category, last.price AS price
           FROM (SELECT line.product_id AS product_id, min(seq) AS seq, arg_max(line, seq) AS last FROM src_lines GROUP BY 1)`,
    ],
    ['stage orders', 'CREATE TEMP TABLE stage_orders AS SELECT order_id, max(pos) AS pos FROM src GROUP BY order_id'],
  ];
}

/** SCD1 merge of one dimension from its staging table: changed attributes in place, new keys after MAX. */
function dimensionSteps(table: string, nk: string, sk: string, attributes: string[]): [string, string][] {
  const stage = `stage_${table}`;
  return [
    [
      `${table} update`,
      `UPDATE ${table} SET ${attributes.map((a) => `${a} = s.${a}`).join(', ')}
         FROM ${stage} s
        WHERE ${table}.${nk} = s.${nk}
          AND NOT (${attributes.map((a) => `${table}.${a} IS NOT DISTINCT FROM s.${a}`).join(' AND ')})`,
    ],
    [
      `${table} insert`,
      `INSERT INTO ${table} (${sk}, ${nk}, ${attributes.join(', ')})
       SELECT m.top + row_number() OVER (ORDER BY s.seq), s.${nk}, ${attributes.map((a) => `s.${a}`).join(', ')}
         FROM ${stage} s, (SELECT coalesce(max(${sk}), 0) AS top FROM ${table}) m
        WHERE NOT EXISTS (SELECT 1 FROM ${table} d WHERE d.${nk} = s.${nk})`,
    ],
  ];
}

export function mergeSteps(): [string, string][] {
  return [
    ...dimensionSteps('customers', 'customer_id', 'customer_sk', ['name', 'email', 'address']),
    ...dimensionSteps('products', 'product_id', 'product_sk', ['name', 'category', 'price']),
    ['delete orders', 'DELETE FROM orders WHERE order_id IN (SELECT order_id FROM stage_orders)'],
    [
      'facts',
      `INSERT INTO orders (order_id, line_no, order_date, total_amount, product_sk, customer_sk, quantity)
       SELECT s.order_id, l.line_no, CAST(left(s.order_date, 10) AS DATE), s.total_amount, p.product_sk, c.customer_sk, l.line.quantity
         FROM stage_orders o
         JOIN src s ON s.pos = o.pos
         JOIN src_lines l ON l.pos = o.pos
         JOIN customers c ON c.customer_id = s.customer.customer_id
         JOIN products p ON p.product_id = l.line.product_id`,
    ],
  ];
}

export interface ReferenceRun {
  seconds: number;
  /** Milliseconds per named step. */
  steps: Record<string, number>;
  /** Rows each merge statement changed. */
  changed: Record<string, number>;
  peakRssMb: number;
  cpu: { userMs: number; systemMs: number };
  settings: Record<string, string>;
}

/**
 * Load `jsonFile` into the warehouse file `dbFile` (created with the engine's DDL when missing, or a copy of
 * the engine's warehouse for an increment). Timed from read_json to the end of CHECKPOINT.
 */
export async function duckdbReference(dbFile: string, jsonFile: string): Promise<ReferenceRun> {
  const fresh = !existsSync(dbFile);
  // DuckDB's own defaults (threads = cores, memory_limit = 80% of RAM): the reference is DuckDB at its best.
  const instance = await DuckDBInstance.create(dbFile);
  const conn = await instance.connect();
  try {
    // The engine creates the ledger tables too, but only the star schema is compared.
    if (fresh) for (const ddl of SCHEMA_DDL) await conn.run(ddl);
    const settings: Record<string, string> = {};
    const reader = await conn.runAndReadAll("SELECT name, value FROM duckdb_settings() WHERE name IN ('threads', 'memory_limit', 'preserve_insertion_order')");
    for (const [k, v] of reader.getRowsJS() as [string, string][]) settings[k] = String(v);
    const steps: Record<string, number> = {};
    const changed: Record<string, number> = {};
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const step = async (name: string, sql: string) => {
      const t = performance.now();
      const res = await conn.run(sql);
      steps[name] = (steps[name] ?? 0) + performance.now() - t;
      if (/^\s*(INSERT|UPDATE|DELETE)/i.test(sql)) changed[name] = Number(res.rowsChanged);
    };
    await step('begin', 'BEGIN TRANSACTION');
    for (const [name, sql] of [...stagingSteps(jsonFile), ...mergeSteps()]) await step(name, sql);
    await step('commit', 'COMMIT');
    await step('checkpoint', 'CHECKPOINT');
    const seconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    return {
      seconds,
      steps: Object.fromEntries(Object.entries(steps).map(([k, v]) => [k, Math.round(v)])),
      changed,
      peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
      cpu: { userMs: Math.round(cpu.user / 1000), systemMs: Math.round(cpu.system / 1000) },
      settings,
    };
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}

async function count(conn: DuckDBConnection, sql: string): Promise<number> {
  const r = await conn.runAndReadAll(sql);
  return Number((r.getRowsJS()[0] as unknown[])[0]);
}

/** The engine's star schema against the reference's, row by row with every column (keys included): EXCEPT ALL both ways. */
export async function compareDuckdb(engineFile: string, referenceFile: string): Promise<TableComparison[]> {
  const instance = await DuckDBInstance.create(':memory:');
  const conn = await instance.connect();
  try {
    await conn.run(`ATTACH ${quote(engineFile)} AS eng (READ_ONLY)`);
    await conn.run(`ATTACH ${quote(referenceFile)} AS ref (READ_ONLY)`);
    const out: TableComparison[] = [];
    for (const { table, columns, key } of STAR_TABLES) {
      const cols = columns.join(', ');
      const onlyIn = (a: string, b: string) => `SELECT ${cols} FROM ${a}.${table} EXCEPT ALL SELECT ${cols} FROM ${b}.${table}`;
      const c: TableComparison = {
        table,
        engineRows: await count(conn, `SELECT count(*) FROM eng.${table}`),
        referenceRows: await count(conn, `SELECT count(*) FROM ref.${table}`),
        onlyEngine: await count(conn, `SELECT count(*) FROM (${onlyIn('eng', 'ref')})`),
        onlyReference: await count(conn, `SELECT count(*) FROM (${onlyIn('ref', 'eng')})`),
        samples: [],
        method: 'DuckDB EXCEPT ALL both ways',
      };
      if (c.onlyEngine || c.onlyReference) {
        for (const [side, sql] of [['engine', onlyIn('eng', 'ref')], ['reference', onlyIn('ref', 'eng')]] as const) {
          const r = await conn.runAndReadAll(`${sql} ORDER BY ${key.join(', ')} LIMIT 3`);
          for (const row of r.getRowsJson()) c.samples.push(`${side}: ${JSON.stringify(row)}`);
        }
      }
      out.push(c);
    }
    return out;
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [command, a, b] = process.argv.slice(2);
  if (command === 'load' && a && b) process.stdout.write(`${JSON.stringify(await duckdbReference(a, b))}\n`);
  else if (command === 'compare' && a && b) process.stdout.write(`${JSON.stringify(await compareDuckdb(a, b))}\n`);
  else {
    process.stderr.write('usage: duckdb-reference.ts load <warehouse.duckdb> <orders.json> | compare <engine.duckdb> <reference.duckdb>\n');
    process.exit(2);
  }
}
