/**
 * The star schema as the bench sees it from outside the engine: the three tables with their columns (in table
 * order) and primary keys, the text format LOAD DATA reads, and how a comparison of two warehouses is told.
 * Written from the README's Schema section, not from the engine's code.
 */

/**
 * Column types of the schema as the README states them: natural keys VARCHAR(128), text VARCHAR(255), money
 * DECIMAL(12,2). Staging tables and read_json's declared columns use these, so that a value the engine stores
 * fits the same column in a reference.
 */
export const COLUMN_TYPES = { naturalKey: 'VARCHAR(128)', text: 'VARCHAR(255)', money: 'DECIMAL(12,2)' } as const;

export interface StarTable {
  table: 'customers' | 'products' | 'orders';
  columns: readonly string[];
  key: readonly string[];
}

export const STAR_TABLES: readonly StarTable[] = [
  { table: 'customers', columns: ['customer_sk', 'customer_id', 'name', 'email', 'address'], key: ['customer_sk'] },
  { table: 'products', columns: ['product_sk', 'product_id', 'name', 'category', 'price'], key: ['product_sk'] },
  { table: 'orders', columns: ['order_id', 'line_no', 'order_date', 'total_amount', 'product_sk', 'customer_sk', 'quantity'], key: ['order_id', 'line_no'] },
];

/** LOAD DATA's default text format: tab-separated, backslash escapes, \N for NULL. */
export function tsv(v: unknown): string {
  if (v === null || v === undefined) return '\\N';
  return String(v).replace(/[\\\t\n\r\0]/g, (c) => ({ '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r', '\0': '\\0' })[c]!);
}

/** One table of the engine's warehouse against the same table built by a reference, row by row, keys included. */
export interface TableComparison {
  table: string;
  engineRows: number;
  referenceRows: number;
  /** Rows (all columns) the engine has and the reference does not, and the other way round. */
  onlyEngine: number;
  onlyReference: number;
  /** A few differing rows, prefixed with the side they are on. */
  samples: string[];
  /** How equality was established (e.g. "CHECKSUM TABLE", "EXCEPT ALL"). */
  method: string;
}

export function allEqual(c: readonly TableComparison[]): boolean {
  return c.length > 0 && c.every((t) => t.onlyEngine === 0 && t.onlyReference === 0 && t.engineRows === t.referenceRows);
}

/** "equal (customers 200,000, products 10,000, orders 2,500,112 rows; EXCEPT ALL)" or what differs. */
export function describeComparison(c: readonly TableComparison[]): string {
  const n = (x: number) => x.toLocaleString('en-US');
  if (allEqual(c)) return `equal, keys included (${c.map((t) => `${t.table} ${n(t.engineRows)}`).join(', ')} rows; ${c[0]!.method})`;
  return `DIFFERENT: ${c
    .filter((t) => t.onlyEngine || t.onlyReference || t.engineRows !== t.referenceRows)
    .map((t) => `${t.table}: engine ${n(t.engineRows)} rows, reference ${n(t.referenceRows)}; ${n(t.onlyEngine)} only in the engine's, ${n(t.onlyReference)} only in the reference's; e.g. ${t.samples.slice(0, 4).join('; ')}`)
    .join(' | ')}`;
}
