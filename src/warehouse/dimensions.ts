/** The two dimensions as data: tables, keys, attribute columns, and how to read a row's values. */
import type { CustomerRow, OrderRows, ProductRow } from '../model.ts';
import { hashOf3 } from './keys.ts';

export interface DimensionSpec<R> {
  table: string;
  stage: string;
  /** History mode: the days each natural key was observed on, and the staging tables of version changes. */
  days: string;
  versionsStage: string;
  repointStage: string;
  /**
   * Versions whose facts wait to move, committed with the batch that cut them, when a load moves facts once at
   * its end (every load on DuckDB, a bulk load on MySQL: SqlWarehouse.deferFactMoves): the table, and its
   * staging table.
   */
  moved: string;
  movedStage: string;
  naturalKey: string;
  surrogateKey: string;
  attributes: string[];
  id(row: R): string;
  /** Attribute values as text (or null), in `attributes` order. */
  values(row: R): (string | null)[];
  /** attributeHash of values(row), without building the array. */
  hash(row: R): number;
  /** How an order holds its rows of this dimension (a customer, a product per line): how many, and the i-th. */
  rowCount(order: OrderRows): number;
  rowAt(order: OrderRows, i: number): R;
}

export const CUSTOMERS: DimensionSpec<CustomerRow> = {
  table: 'customers',
  stage: 'stage_customers',
  days: 'etl_customer_days',
  versionsStage: 'stage_customer_versions',
  repointStage: 'stage_customer_repoint',
  moved: 'etl_customer_moved',
  movedStage: 'stage_customer_moved',
  naturalKey: 'customer_id',
  surrogateKey: 'customer_sk',
  attributes: ['name', 'email', 'address'],
  id: (r) => r.customerId,
  values: (r) => [r.name, r.email, r.address],
  hash: (r) => hashOf3(r.name, r.email, r.address),
  rowCount: () => 1,
  rowAt: (o) => o.customer,
};

export const PRODUCTS: DimensionSpec<ProductRow> = {
  table: 'products',
  stage: 'stage_products',
  days: 'etl_product_days',
  versionsStage: 'stage_product_versions',
  repointStage: 'stage_product_repoint',
  moved: 'etl_product_moved',
  movedStage: 'stage_product_moved',
  naturalKey: 'product_id',
  surrogateKey: 'product_sk',
  attributes: ['name', 'category', 'price'],
  id: (r) => r.productId,
  values: (r) => [r.name, r.category, r.price],
  hash: (r) => hashOf3(r.name, r.category, r.price),
  rowCount: (o) => o.lines.length,
  rowAt: (o, i) => o.lines[i]!,
};

/** The columns a history dimension adds to the SCD1 ones. */
export const HISTORY_COLUMNS = ['valid_from', 'valid_to', 'is_current'] as const;

export const FACT_COLUMNS = ['order_id', 'line_no', 'order_date', 'total_amount', 'product_sk', 'customer_sk', 'quantity'] as const;
export const REJECT_COLUMNS = ['load_id', 'record_index', 'source_uri', 'byte_offset', 'reason', 'raw'] as const;

/** A row for a bulk write: text, integers or NULL, in the order of the columns it is written to. */
export type BulkValue = string | number | null;

/**
 * Rows for a bulk write, visited one at a time. The visitor must use a row before returning: producers may
 * reuse one array for every row, so that a batch of fact rows allocates nothing per row.
 */
export interface BulkRows {
  count: number;
  each(visit: (row: readonly BulkValue[]) => void): void;
  /**
   * The same rows, in the same order, in parts of about `rows` rows each (whole orders for fact rows), so that
   * a large bulk can be made ready a part at a time. Without it, a bulk is made ready in one piece.
   */
  parts?(rows: number): BulkRows[];
}

export function bulkRows(rows: BulkValue[][]): BulkRows {
  return { count: rows.length, each: (visit) => rows.forEach(visit), parts: (n) => partsOf(rows, n, bulkRows) };
}

/** `items` (an array, or a typed array of indexes) cut into runs of `n` (the last shorter), each made into rows. */
export function partsOf<A extends { length: number; slice(start: number, end: number): A }>(items: A, n: number, rowsOf: (part: A) => BulkRows): BulkRows[] {
  const parts: BulkRows[] = [];
  for (let i = 0; i < items.length; i += n) parts.push(rowsOf(items.slice(i, i + n)));
  return parts;
}
