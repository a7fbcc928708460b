/**
 * The shared vocabulary of the engine: what flows from one room to the next (records, rows, batches), the
 * input formats and the column limits. Every room may import this file; it imports nothing, so every import
 * arrow in src/ points one way: cli -> pipeline -> warehouse | transform | sources -> parse -> model.
 */

/** `auto`: a document that starts with '[' is a JSON array, anything else a sequence of values (NDJSON). */
export type InputFormat = 'json' | 'ndjson' | 'auto';

/** `scanner`: structural scanner + JSON.parse per record (default, fastest); `stream-json`: stream-json's tokenizer. */
export type ParserKind = 'scanner' | 'stream-json';

/** A source the S3 reader loads (`s3://bucket/key`, `s3://bucket/prefix/`); the scheme in any case. */
export function isS3Uri(source: string): boolean {
  return /^s3:\/\//i.test(source);
}

/** A MySQL/MariaDB warehouse target (`mysql:`, `mariadb:`, any case). */
export function isMysqlUrl(target: string): boolean {
  return /^(mysql|mariadb):/i.test(target);
}

/** The file of a DuckDB warehouse target (`duckdb:<path>`, `duckdb://<path>`) as written; null: not DuckDB. */
export function duckdbFile(target: string): string | null {
  return /^duckdb:/i.test(target) ? target.replace(/^duckdb:(\/\/)?/i, '') : null;
}

/**
 * Which dimensions keep their history (SCD Type 2, by order date) instead of overwriting it (SCD Type 1).
 * Fixed per warehouse when it is created (`orders-etl init --history customers,products`).
 */
export interface HistoryMode {
  customers: boolean;
  products: boolean;
}

export const NO_HISTORY: HistoryMode = Object.freeze({ customers: false, products: false });

/** The mode as --history writes it: customers,products / customers / products / none. */
export function historyName(mode: HistoryMode): string {
  const dims = [mode.customers ? 'customers' : '', mode.products ? 'products' : ''].filter(Boolean);
  return dims.length === 0 ? 'none' : dims.join(',');
}

/** The mode a --history value or a recorded setting names ('' and 'none': no history). */
export function historyFromName(name: string): HistoryMode {
  const words = name.split(',').map((w) => w.trim());
  return { customers: words.includes('customers'), products: words.includes('products') };
}

export function sameHistory(a: HistoryMode, b: HistoryMode): boolean {
  return a.customers === b.customers && a.products === b.products;
}

/** Column limits shared by every dialect: the transform enforces them, the DDL declares them. */
export const LIMITS = {
  naturalKeyChars: 128,
  textChars: 255,
  moneyIntegerDigits: 10,
  moneyScale: 2,
  maxQuantity: 2147483647,
  /** A source's name as the ledger and the rejects keep it (a path, an s3:// URI: S3 keys have at most 1,024 bytes). */
  sourceUriChars: 2048,
  /** A reject's reason as the rejects table keeps it (longer ones are cut). */
  rejectReasonChars: 1024,
} as const;

/** One record of an export, as the parser found it. */
export interface RawRecord {
  /** Position of the record in the source: array index, or value number in NDJSON. */
  index: number;
  /** Byte offset of the record's first byte in the (decompressed) source; null where the parser cannot tell. */
  offset: number | null;
  /** 1-based line of the record's first byte (0 where the parser cannot tell). */
  line: number;
  /** The record, parsed. */
  value: unknown;
  /** The record's JSON text (kept for rejects). */
  text: string;
  /**
   * The number literals in the record that a double may not hold exactly (more digits than
   * parse/json-bytes.ts EXACT_DIGITS, or an exponent), by path, of the fields the transform reads
   * (readsNumberAt); null when it has none (nearly always). The transform takes such a number from its
   * literal, not from `value`'s double.
   */
  literals: NumberLiterals | null;
}

/** Number literals by their path in the record (literalKey): parse/literals.ts. */
export type NumberLiterals = ReadonlyMap<string, string>;

/**
 * The fields of an order that the transform (transform/order.ts) reads, numbers or text (a field left out
 * here would have its double used: test/transform/exact-numbers.test.ts gives each a long literal): the
 * order's own,
 */
const ORDER_FIELDS = new Set(['order_id', 'total_amount']);
/** its customer's, */
const CUSTOMER_FIELDS = new Set(['customer_id', 'name', 'email', 'address']);
/** and its lines'. */
const LINE_FIELDS = new Set(['product_id', 'name', 'category', 'price', 'quantity']);

/** How deep in an order the fields the transform reads lie, at most: products[i].price is 3 (the order is 1). */
export const READ_DEPTH = 3;

/**
 * Whether the transform reads the value at the first `depth` segments of `path` (a long literal elsewhere,
 * such as a nanosecond timestamp in every order, is not collected: NumberLiterals stays null).
 */
export function readsNumberAt(path: readonly (string | number)[], depth: number): boolean {
  const last = path[depth - 1];
  if (typeof last !== 'string') return false;
  if (depth === 1) return ORDER_FIELDS.has(last);
  if (depth === 2) return path[0] === 'customer' && CUSTOMER_FIELDS.has(last);
  return depth === READ_DEPTH && path[0] === 'products' && typeof path[1] === 'number' && LINE_FIELDS.has(last);
}

/**
 * The key of a path in NumberLiterals: literalKey('products', 0, 'price') for products[0].price. Each name
 * is written with its length before it and each index between # and ; (`8:products#0;5:price`), so that no
 * two paths share a key whatever their names hold; cheaper than JSON.stringify.
 */
export function literalKey(...path: (string | number)[]): string {
  let key = '';
  for (const p of path) key += typeof p === 'number' ? `#${p};` : `${p.length}:${p}`;
  return key;
}

export interface CustomerRow {
  customerId: string;
  name: string | null;
  email: string | null;
  address: string | null;
}

export interface ProductRow {
  productId: string;
  name: string | null;
  category: string | null;
  price: string | null;
}

/** One line of an order: its product as the order describes it, and how many. Its line_no is its position + 1. */
export interface OrderLine extends ProductRow {
  quantity: number;
}

/** A valid order, split into the rows the warehouse stores. Every value is the exact text to store. */
export interface OrderRows {
  kind: 'order';
  index: number;
  offset: number | null;
  orderId: string;
  orderDate: string;
  totalAmount: string | null;
  customer: CustomerRow;
  lines: OrderLine[];
}

/** A record that cannot be loaded, and why. */
export interface Rejection {
  kind: 'reject';
  index: number;
  offset: number | null;
  reason: string;
  raw: string;
  /** The record is a JSON array, not an order at all (a hint for JSON Lines that hold one array). */
  arrayRecord: boolean;
}

export type SplitResult = OrderRows | Rejection;

/**
 * The unit of atomicity: its dimension merge, its facts, its rejects and the ledger's progress commit
 * together. Memory is bounded by the batch size, never by the file.
 */
export interface Batch {
  /** Index of the first record in this batch. */
  firstIndex: number;
  /** One past the index of the last record in this batch: what the ledger records as committed. */
  nextIndex: number;
  /** Orders in source order (an order_id may repeat; the last one wins). */
  orders: OrderRows[];
  rejects: Rejection[];
}
