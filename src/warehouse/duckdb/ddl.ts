/**
 * The star schema on DuckDB: the same tables and columns as on MySQL. DuckDB does not enforce VARCHAR(n); the
 * transform enforces the same limits for both dialects.
 *
 * Keys: SCD1 dimensions declare theirs (primary key on the surrogate key, unique natural key). History
 * dimensions and the fact table declare none. In DuckDB a primary key or foreign key is an ART index that every
 * appended row updates and every commit checks; on the fact table that cost more than the rest of the load
 * together (bench: 1 M orders), on a history dimension about 7% of an increment that cuts and re-dates
 * versions (see dimensionDdl), and it buys nothing a column store needs: DuckDB joins and filters by scanning,
 * and uses no index for them. The engine itself guarantees what the keys would (one row per order line,
 * surrogate keys handed out once and that resolve: the same rules as on MySQL, checked by the same tests).
 */
import { LIMITS, NO_HISTORY, type HistoryMode } from '../../model.ts';
import { CUSTOMERS, PRODUCTS } from '../dimensions.ts';

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
 * A table created by an earlier version with keys it no longer declares: DuckDB cannot drop a constraint, so
 * the table is copied into one with `columnsDdl` and its `columns`, which replaces it (in one transaction, by
 * the caller).
 */
function copiedWithoutKeys(table: string, columnsDdl: string, columns: readonly string[]): string[] {
  const list = columns.join(', ');
  return [
    `CREATE TABLE ${table}_migrated (${columnsDdl})`,
    `INSERT INTO ${table}_migrated (${list}) SELECT ${list} FROM ${table}`,
    `DROP TABLE ${table}`,
    `ALTER TABLE ${table}_migrated RENAME TO ${table}`,
  ];
}

/** A fact table created by an earlier version, with a primary key and foreign keys. */
export const MIGRATE_FACT_TABLE = copiedWithoutKeys('orders', FACT_TABLE_COLUMNS, ['order_id', 'line_no', 'order_date', 'total_amount', 'product_sk', 'customer_sk', 'quantity']);

function attributeColumns(table: 'customers' | 'products'): string {
  return table === 'customers' ? 'name VARCHAR, email VARCHAR, address VARCHAR' : `name VARCHAR, category VARCHAR, price ${MONEY}`;
}

function historyColumns(table: 'customers' | 'products'): string {
  const { surrogateKey: sk, naturalKey: nk } = table === 'customers' ? CUSTOMERS : PRODUCTS;
  return `${sk} BIGINT NOT NULL, ${nk} VARCHAR NOT NULL, ${attributeColumns(table)}, valid_from DATE NOT NULL, valid_to DATE, is_current BOOLEAN NOT NULL`;
}

/** A history dimension created by an earlier version, with a primary key on its surrogate key. */
export function migrateHistoryDimension(table: 'customers' | 'products'): string[] {
  const { surrogateKey: sk, naturalKey: nk, attributes } = table === 'customers' ? CUSTOMERS : PRODUCTS;
  return copiedWithoutKeys(table, historyColumns(table), [sk, nk, ...attributes, 'valid_from', 'valid_to', 'is_current']);
}

export const SETTINGS_DDL = 'CREATE TABLE IF NOT EXISTS etl_settings (name VARCHAR PRIMARY KEY, value VARCHAR NOT NULL)';

/**
 * A dimension: SCD1, one row per natural key (unique); or history, one row per version with its interval
 * (valid_to exclusive, NULL for the current one), and the days its key was observed on. A history dimension
 * declares no key: a version's interval changes by UPDATE, and DuckDB rewrites an updated row of an index in
 * a way that trips over a unique key within one transaction; and its primary key, kept until 2026-12 (see
 * migrateHistoryDimension), cost each batch's new, copied and re-dated versions (measured by hand on the
 * bench's increment of 200 k into a history warehouse of 1 M, runs taking turns: 24.7, 25.0, 25.9 and 24.7 s
 * without it against 26.6, 27.2, 26.6 and 27.2 s with it; an SCD1 warehouse without its dimensions' keys
 * loaded the SCD1 increment no faster: 6.8 to 7.3 s against 6.6 to 7.1 s, so SCD1 keeps them).
 */
function dimensionDdl(table: 'customers' | 'products', history: boolean): string[] {
  const { surrogateKey: sk, naturalKey: nk, days, moved } = table === 'customers' ? CUSTOMERS : PRODUCTS;
  if (!history) return [`CREATE TABLE IF NOT EXISTS ${table} (${sk} BIGINT PRIMARY KEY, ${nk} VARCHAR NOT NULL UNIQUE, ${attributeColumns(table)})`];
  return [
    `CREATE TABLE IF NOT EXISTS ${table} (${historyColumns(table)})`,
    `CREATE TABLE IF NOT EXISTS ${days} (${nk} VARCHAR NOT NULL, day DATE NOT NULL)`,
    // Versions whose facts wait to move to the end of the load (SqlWarehouse.moveDeferredFacts), each noted once.
    `CREATE TABLE IF NOT EXISTS ${moved} (${sk} BIGINT NOT NULL, ${nk} VARCHAR NOT NULL)`,
  ];
}

/** etl_loads.read_with (added by ALTER to a ledger made before it, hence last). */
export const READ_WITH_COLUMN = 'read_with VARCHAR';

export const schemaDdl = (mode: HistoryMode): string[] => [
  ...dimensionDdl('customers', mode.customers),
  ...dimensionDdl('products', mode.products),
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
    error VARCHAR,
    ${READ_WITH_COLUMN}
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
  // History dimensions: version changes (see mysql/ddl.ts) and the batch's versions cut, whose facts move.
  ...['customer', 'product'].flatMap((d) => [
    `CREATE TEMP TABLE IF NOT EXISTS stage_${d}_versions (op VARCHAR, sk BIGINT, src BIGINT, valid_from DATE, valid_to DATE, is_current BOOLEAN)`,
    `CREATE TEMP TABLE IF NOT EXISTS stage_${d}_moved (sk BIGINT, id VARCHAR)`,
  ]),
];

/** The schema of an SCD1 warehouse (for the bench's references). */
export const SCHEMA_DDL = schemaDdl(NO_HISTORY);
