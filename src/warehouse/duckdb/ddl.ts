/**
 * The star schema on DuckDB: the same tables and columns as on MySQL. DuckDB does not enforce VARCHAR(n); the
 * transform enforces the same limits for both dialects.
 *
 * Keys: the dimensions declare theirs (primary key on the surrogate key, unique natural key). The fact table
 * declares none. In DuckDB a primary key or foreign key is an ART index that every appended row updates and
 * every commit checks; on the fact table that cost more than the rest of the load together (bench: 1 M
 * orders), and it buys nothing a column store needs: DuckDB joins and filters by scanning, and uses no index
 * for them. The engine itself guarantees what the keys would (one row per order line, surrogate keys that
 * resolve: the same rules as on MySQL, checked by the same tests).
 */
import { LIMITS } from '../../model.ts';

const MONEY = `DECIMAL(${LIMITS.moneyIntegerDigits + LIMITS.moneyScale},${LIMITS.moneyScale})`;

const FACT_TABLE_COLUMNS = `
    order_id VARCHAR NOT NULL,
    line_no INTEGER NOT NULL,
    order_date DATE NOT NULL,
    total_amount ${MONEY},
    product_sk BIGINT NOT NULL,
    customer_sk BIGINT NOT NULL,
    quantity INTEGER NOT NULL`;

/**
 * A fact table created by an earlier version, with a primary key and foreign keys: DuckDB cannot drop a
 * constraint, so the table is copied into one without them, in one transaction (MIGRATE_FACT_TABLE).
 */
export const MIGRATE_FACT_TABLE: string[] = [
  `CREATE TABLE orders_migrated (${FACT_TABLE_COLUMNS})`,
  'INSERT INTO orders_migrated SELECT order_id, line_no, order_date, total_amount, product_sk, customer_sk, quantity FROM orders',
  'DROP TABLE orders',
  'ALTER TABLE orders_migrated RENAME TO orders',
];

export const SCHEMA_DDL: string[] = [
  `CREATE TABLE IF NOT EXISTS customers (
    customer_sk BIGINT PRIMARY KEY,
    customer_id VARCHAR NOT NULL UNIQUE,
    name VARCHAR,
    email VARCHAR,
    address VARCHAR
  )`,
  `CREATE TABLE IF NOT EXISTS products (
    product_sk BIGINT PRIMARY KEY,
    product_id VARCHAR NOT NULL UNIQUE,
    name VARCHAR,
    category VARCHAR,
    price ${MONEY}
  )`,
  `CREATE TABLE IF NOT EXISTS orders (${FACT_TABLE_COLUMNS})`,
  `CREATE TABLE IF NOT EXISTS etl_loads (
    load_id BIGINT PRIMARY KEY,
    source_uri VARCHAR NOT NULL,
    source_key VARCHAR NOT NULL,
    fingerprint VARCHAR,
    status VARCHAR NOT NULL CHECK (status IN ('running', 'completed', 'failed')),
    records_committed BIGINT NOT NULL DEFAULT 0,
    batches_committed BIGINT NOT NULL DEFAULT 0,
    orders BIGINT NOT NULL DEFAULT 0,
    fact_rows BIGINT NOT NULL DEFAULT 0,
    customers_inserted BIGINT NOT NULL DEFAULT 0,
    customers_updated BIGINT NOT NULL DEFAULT 0,
    products_inserted BIGINT NOT NULL DEFAULT 0,
    products_updated BIGINT NOT NULL DEFAULT 0,
    rejected BIGINT NOT NULL DEFAULT 0,
    started_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP,
    error VARCHAR
  )`,
  `CREATE TABLE IF NOT EXISTS etl_rejects (
    load_id BIGINT NOT NULL,
    record_index BIGINT NOT NULL,
    source_uri VARCHAR NOT NULL,
    byte_offset BIGINT,
    reason VARCHAR NOT NULL,
    raw VARCHAR NOT NULL,
    rejected_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
    PRIMARY KEY (load_id, record_index)
  )`,
];

/** Temporary staging tables, columns in the order the appender writes them. */
export const STAGING_DDL: string[] = [
  // Changed dimension attributes, by surrogate key.
  'CREATE TEMP TABLE IF NOT EXISTS stage_customers (customer_sk BIGINT, name VARCHAR, email VARCHAR, address VARCHAR)',
  `CREATE TEMP TABLE IF NOT EXISTS stage_products (product_sk BIGINT, name VARCHAR, category VARCHAR, price ${MONEY})`,
  // Orders delivered again, whose lines are deleted before their new ones are appended.
  'CREATE TEMP TABLE IF NOT EXISTS stage_order_ids (order_id VARCHAR)',
];
