/**
 * The star schema on DuckDB: the same tables, columns and keys as on MySQL. Surrogate keys are handed out by
 * the shared merge SQL (sql-warehouse.ts), as on MySQL. DuckDB does not enforce VARCHAR(n); the transform
 * enforces the same limits for both dialects.
 */
import { LIMITS } from '../../model.ts';

const MONEY = `DECIMAL(${LIMITS.moneyIntegerDigits + LIMITS.moneyScale},${LIMITS.moneyScale})`;

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
  `CREATE TABLE IF NOT EXISTS orders (
    order_id VARCHAR NOT NULL,
    line_no INTEGER NOT NULL,
    order_date DATE NOT NULL,
    total_amount ${MONEY},
    product_sk BIGINT NOT NULL REFERENCES products (product_sk),
    customer_sk BIGINT NOT NULL REFERENCES customers (customer_sk),
    quantity INTEGER NOT NULL,
    PRIMARY KEY (order_id, line_no)
  )`,
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
  'CREATE TEMP TABLE IF NOT EXISTS stage_customers (seq INTEGER, customer_id VARCHAR, name VARCHAR, email VARCHAR, address VARCHAR)',
  `CREATE TEMP TABLE IF NOT EXISTS stage_products (seq INTEGER, product_id VARCHAR, name VARCHAR, category VARCHAR, price ${MONEY})`,
];
