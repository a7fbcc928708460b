/**
 * The star schema on MySQL/MariaDB. Text columns are utf8mb4 with a binary NO PAD collation: natural keys and
 * attributes compare byte for byte. "P01" and "p01" are different products, and so are "P01" and "P01 ": a
 * PAD SPACE collation such as utf8mb4_bin ignores trailing spaces in comparisons and unique keys, which made
 * two products one and hid a change from "Alice" to "Alice ".
 */
import { LIMITS, NO_HISTORY, type HistoryMode } from '../../model.ts';
import { CUSTOMERS, PRODUCTS } from '../dimensions.ts';

const K = LIMITS.naturalKeyChars;
const T = LIMITS.textChars;
const MONEY = `DECIMAL(${LIMITS.moneyIntegerDigits + LIMITS.moneyScale},${LIMITS.moneyScale})`;

/** Byte-exact NO PAD collations, by server: MariaDB has utf8mb4_nopad_bin, MySQL 8 utf8mb4_0900_bin. */
export const BYTE_COLLATIONS = ['utf8mb4_nopad_bin', 'utf8mb4_0900_bin'] as const;
export type ByteCollation = (typeof BYTE_COLLATIONS)[number];

/** The tables the engine owns (a migration touches these and nothing else). */
export const TABLES = ['customers', 'products', 'orders', 'etl_loads', 'etl_rejects', 'etl_settings', 'etl_customer_days', 'etl_product_days', 'etl_customer_moved', 'etl_product_moved', 'etl_redelivered_lines', 'etl_redelivered_sizes'] as const;

/** etl_loads.read_with (added by ALTER to a ledger made before it, hence last). */
export const READ_WITH_COLUMN = 'read_with TEXT NULL';

const tableOptions = (c: ByteCollation) => `ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=${c}`;

/**
 * The ledger's loads by name (SqlWarehouse.overwrittenSince asks, for each source the ledger holds, whether its
 * name was loaded since with other content): without it, a scan of the later loads per source, 10 ms on average
 * at 100,000 rows (a re-run of a prefix of as many objects: 17 minutes). Added by ALTER to a ledger made before
 * it (MysqlWarehouse.createSchema). DuckDB has neither this index nor one by source_key: its scan of 100,000
 * rows takes 1 to 2 ms, and an index would refuse every later ALTER of the table.
 */
export const LEDGER_URI_KEY = 'KEY ix_etl_loads_uri (source_uri(255), load_id)';

/**
 * The fact table's secondary keys: an index per dimension key, and the foreign keys that need them. Loading
 * into an empty fact table defers them (see MysqlWarehouse.beginLoad): built once by sorting after the load,
 * they cost a fraction of maintaining them row by row (bench: 6 s instead of 55 s for 2.5 M rows).
 */
export const FACT_SECONDARY_KEYS: { name: string; kind: 'index' | 'foreign key'; definition: string }[] = [
  { name: 'ix_orders_product_sk', kind: 'index', definition: 'KEY ix_orders_product_sk (product_sk)' },
  { name: 'ix_orders_customer_sk', kind: 'index', definition: 'KEY ix_orders_customer_sk (customer_sk)' },
  { name: 'fk_orders_product', kind: 'foreign key', definition: 'CONSTRAINT fk_orders_product FOREIGN KEY (product_sk) REFERENCES products (product_sk)' },
  { name: 'fk_orders_customer', kind: 'foreign key', definition: 'CONSTRAINT fk_orders_customer FOREIGN KEY (customer_sk) REFERENCES customers (customer_sk)' },
];

const CUSTOMER_COLUMNS = `customer_id VARCHAR(${K}) NOT NULL,
    name VARCHAR(${T}) NULL,
    email VARCHAR(${T}) NULL,
    address VARCHAR(${T}) NULL`;
const PRODUCT_COLUMNS = `product_id VARCHAR(${K}) NOT NULL,
    name VARCHAR(${T}) NULL,
    category VARCHAR(${T}) NULL,
    price ${MONEY} NULL`;

/** A days table's primary key (dropped by a bulk load into a history warehouse and added back: MysqlWarehouse). */
export const daysPrimaryKey = (naturalKey: string): string => `PRIMARY KEY (${naturalKey}, day)`;

/** A history dimension's index of its versions by natural key and valid_from (dropped and added back likewise). */
export const versionKeyName = (table: string): string => `ix_${table}_version`;
export const versionKey = (table: string, naturalKey: string): string => `KEY ${versionKeyName(table)} (${naturalKey}, valid_from)`;

/** The engine's settings of a warehouse: its history mode (name 'history'). */
export const settingsDdl = (c: ByteCollation): string =>
  `CREATE TABLE IF NOT EXISTS etl_settings (name VARCHAR(64) NOT NULL, value VARCHAR(255) NOT NULL, PRIMARY KEY (name)) ${tableOptions(c)}`;

/**
 * A dimension: SCD1, one row per natural key (unique); or history, one row per version, with the version's
 * interval (valid_to exclusive, NULL for the current one) and the days its key was observed on.
 */
function dimensionDdl(c: ByteCollation, table: 'customers' | 'products', history: boolean): string[] {
  const { surrogateKey: sk, naturalKey: nk, days, moved } = table === 'customers' ? CUSTOMERS : PRODUCTS;
  const columns = table === 'customers' ? CUSTOMER_COLUMNS : PRODUCT_COLUMNS;
  if (!history) {
    return [
      `CREATE TABLE IF NOT EXISTS ${table} (
    ${sk} BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    ${columns},
    PRIMARY KEY (${sk}),
    UNIQUE KEY uq_${table}_${nk} (${nk})
  ) ${tableOptions(c)}`,
    ];
  }
  return [
    `CREATE TABLE IF NOT EXISTS ${table} (
    ${sk} BIGINT UNSIGNED NOT NULL,
    ${columns},
    valid_from DATE NOT NULL,
    valid_to DATE NULL,
    is_current TINYINT(1) NOT NULL,
    PRIMARY KEY (${sk}),
    ${versionKey(table, nk)}
  ) ${tableOptions(c)}`,
    `CREATE TABLE IF NOT EXISTS ${days} (
    ${nk} VARCHAR(${K}) NOT NULL,
    day DATE NOT NULL,
    ${daysPrimaryKey(nk)}
  ) ${tableOptions(c)}`,
    // Versions whose facts wait to move (a bulk load moves them at its end: SqlWarehouse.moveDeferredFacts),
    // and, while they move, the interval each version covers now (none: it is gone).
    `CREATE TABLE IF NOT EXISTS ${moved} (
    ${sk} BIGINT UNSIGNED NOT NULL,
    ${nk} VARCHAR(${K}) NOT NULL,
    keep_from DATE NULL,
    keep_to DATE NULL,
    PRIMARY KEY (${sk})
  ) ${tableOptions(c)}`,
  ];
}

/** A fact line's columns and primary key: the fact table's, and the tables of re-delivered lines. */
const FACT_LINE_COLUMNS = `order_id VARCHAR(${K}) NOT NULL,
    line_no INT UNSIGNED NOT NULL,
    order_date DATE NOT NULL,
    total_amount ${MONEY} NULL,
    product_sk BIGINT UNSIGNED NOT NULL,
    customer_sk BIGINT UNSIGNED NOT NULL,
    quantity INT UNSIGNED NOT NULL,
    PRIMARY KEY (order_id, line_no)`;

export const schemaDdl = (c: ByteCollation, mode: HistoryMode): string[] => [
  ...dimensionDdl(c, 'customers', mode.customers),
  ...dimensionDdl(c, 'products', mode.products),
  `CREATE TABLE IF NOT EXISTS orders (
    ${FACT_LINE_COLUMNS},
    ${FACT_SECONDARY_KEYS.map((k) => k.definition).join(',\n    ')}
  ) ${tableOptions(c)}`,
  `CREATE TABLE IF NOT EXISTS etl_loads (
    load_id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    source_uri VARCHAR(${LIMITS.sourceUriChars}) NOT NULL,
    source_key CHAR(64) NOT NULL,
    fingerprint VARCHAR(512) NULL,
    status ENUM('running','completed','failed') NOT NULL,
    records_committed BIGINT UNSIGNED NOT NULL DEFAULT 0,
    batches_committed BIGINT UNSIGNED NOT NULL DEFAULT 0,
    orders BIGINT UNSIGNED NOT NULL DEFAULT 0,
    fact_rows BIGINT UNSIGNED NOT NULL DEFAULT 0,
    customers_inserted BIGINT UNSIGNED NOT NULL DEFAULT 0,
    customers_updated BIGINT UNSIGNED NOT NULL DEFAULT 0,
    products_inserted BIGINT UNSIGNED NOT NULL DEFAULT 0,
    products_updated BIGINT UNSIGNED NOT NULL DEFAULT 0,
    rejected BIGINT UNSIGNED NOT NULL DEFAULT 0,
    started_at DATETIME(3) NOT NULL,
    updated_at DATETIME(3) NOT NULL,
    finished_at DATETIME(3) NULL,
    error TEXT NULL,
    ${READ_WITH_COLUMN},
    PRIMARY KEY (load_id),
    KEY ix_etl_loads_source (source_key, load_id),
    ${LEDGER_URI_KEY}
  ) ${tableOptions(c)}`,
  // Orders delivered again during a bulk load, waiting to replace their lines in the fact table at its end (or,
  // after a kill, when the next command takes the warehouse): MysqlWarehouse.replaceRedelivered.
  `CREATE TABLE IF NOT EXISTS etl_redelivered_lines (
    ${FACT_LINE_COLUMNS}
  ) ${tableOptions(c)}`,
  `CREATE TABLE IF NOT EXISTS etl_redelivered_sizes (
    order_id VARCHAR(${K}) NOT NULL,
    line_count INT UNSIGNED NOT NULL,
    PRIMARY KEY (order_id)
  ) ${tableOptions(c)}`,
  `CREATE TABLE IF NOT EXISTS etl_rejects (
    load_id BIGINT UNSIGNED NOT NULL,
    record_index BIGINT UNSIGNED NOT NULL,
    source_uri VARCHAR(${LIMITS.sourceUriChars}) NOT NULL,
    byte_offset BIGINT UNSIGNED NULL,
    reason VARCHAR(${LIMITS.rejectReasonChars}) NOT NULL,
    raw LONGTEXT NOT NULL,
    rejected_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    PRIMARY KEY (load_id, record_index)
  ) ${tableOptions(c)}`,
];

/** Per-connection staging tables: invisible to other sessions, gone with the connection. */
export const stagingDdl = (c: ByteCollation): string[] => [
  // Changed dimension attributes, by surrogate key.
  `CREATE TEMPORARY TABLE IF NOT EXISTS stage_customers (
    customer_sk BIGINT UNSIGNED NOT NULL,
    name VARCHAR(${T}) NULL,
    email VARCHAR(${T}) NULL,
    address VARCHAR(${T}) NULL,
    PRIMARY KEY (customer_sk)
  ) ${tableOptions(c)}`,
  `CREATE TEMPORARY TABLE IF NOT EXISTS stage_products (
    product_sk BIGINT UNSIGNED NOT NULL,
    name VARCHAR(${T}) NULL,
    category VARCHAR(${T}) NULL,
    price ${MONEY} NULL,
    PRIMARY KEY (product_sk)
  ) ${tableOptions(c)}`,
  // The lines of orders delivered again, and how many lines each has now (see MysqlWarehouse.writeReplace).
  `CREATE TEMPORARY TABLE IF NOT EXISTS stage_lines (
    ${FACT_LINE_COLUMNS}
  ) ${tableOptions(c)}`,
  `CREATE TEMPORARY TABLE IF NOT EXISTS stage_order_sizes (
    order_id VARCHAR(${K}) NOT NULL,
    line_count INT UNSIGNED NOT NULL,
    PRIMARY KEY (order_id)
  ) ${tableOptions(c)}`,
  // History dimensions: version changes (c: a new version copied from version src; u: a kept version's new
  // interval; d: a version gone), facts to point at another version, or versions whose facts move at the end of
  // the load.
  ...['customer', 'product'].flatMap((d) => [
    `CREATE TEMPORARY TABLE IF NOT EXISTS stage_${d}_versions (
    op CHAR(1) NOT NULL,
    sk BIGINT UNSIGNED NOT NULL,
    src BIGINT UNSIGNED NULL,
    valid_from DATE NULL,
    valid_to DATE NULL,
    is_current TINYINT(1) NULL,
    PRIMARY KEY (sk)
  ) ${tableOptions(c)}`,
    `CREATE TEMPORARY TABLE IF NOT EXISTS stage_${d}_moved (
    sk BIGINT UNSIGNED NOT NULL,
    id VARCHAR(${K}) NOT NULL,
    PRIMARY KEY (sk)
  ) ${tableOptions(c)}`,
    `CREATE TEMPORARY TABLE IF NOT EXISTS stage_${d}_repoint (
    old_sk BIGINT UNSIGNED NOT NULL,
    valid_from DATE NOT NULL,
    valid_to DATE NULL,
    new_sk BIGINT UNSIGNED NOT NULL,
    PRIMARY KEY (old_sk, valid_from)
  ) ${tableOptions(c)}`,
  ]),
];

/** The schema as created on MariaDB (for the bench's references). */
export const SCHEMA_DDL = schemaDdl('utf8mb4_nopad_bin', NO_HISTORY);
