/**
 * Dialect-independent preparation of a batch: "last occurrence wins" applied inside the batch, so that each
 * order and each natural key of an SCD1 dimension appears once (a history dimension plans from every
 * observation instead). Across batches the order of commits does the same job.
 */
import { EtlError } from '../errors.ts';
import type { Batch, CustomerRow, HistoryMode, OrderRows, ProductRow, Rejection } from '../model.ts';
import { CUSTOMERS, PRODUCTS, type DimensionSpec } from './dimensions.ts';

/** The last delivery of an order in the batch. */
export type PreparedOrder = OrderRows;

export interface PreparedBatch {
  /**
   * Deduplicated rows of an SCD1 dimension, in order of first appearance (surrogate keys are handed out in that
   * order); empty for a history dimension, which plans from every observation in the batch instead.
   */
  customers: CustomerRow[];
  products: ProductRow[];
  /** SCD1: where each row of the batch went among `customers` and `products` (null for a history dimension). */
  customerRows: DedupedRows | null;
  productRows: DedupedRows | null;
  /** The last delivery of each order in the batch. */
  orders: PreparedOrder[];
  factRows: number;
  rejects: Rejection[];
}

export function prepareBatch(batch: Batch, history: HistoryMode): PreparedBatch {
  const customers = history.customers ? null : new Deduper<CustomerRow>(batch, CUSTOMERS);
  const products = history.products ? null : new Deduper<ProductRow>(batch, PRODUCTS);
  const orders = new Map<string, PreparedOrder>();
  for (const o of batch.orders) {
    customers?.add(o, o.customer.customerId, o.customer);
    if (products) for (const line of o.lines) products.add(o, line.productId, line);
    orders.set(o.orderId, o);
  }
  let factRows = 0;
  for (const o of orders.values()) factRows += o.lines.length;
  return {
    customers: customers?.rows ?? [],
    products: products?.rows ?? [],
    customerRows: customers?.at ?? null,
    productRows: products?.at ?? null,
    orders: [...orders.values()],
    factRows,
    rejects: batch.rejects,
  };
}

/**
 * For each row of a dimension in a batch (by its order's record index, then its place in the order), the index
 * of its key's row among the batch's deduplicated rows: facts find their surrogate key by position, without
 * looking their natural key up again (a Map lookup per fact line and dimension).
 */
export class DedupedRows {
  constructor(
    private readonly firstIndex: number,
    /** Per record of the batch: where its order's first row is in `at` (records that are not orders: unused). */
    private readonly starts: Int32Array,
    private readonly at: Int32Array,
  ) {}

  /** Index of the key of `order`'s row `i` among the deduplicated rows. */
  of(order: OrderRows, i: number): number {
    return this.at[this.starts[order.index - this.firstIndex]! + i]!;
  }
}

/**
 * Where each order's first row of a dimension is among the batch's rows of it, by record index (relative to the
 * batch's first; records that are not orders: unused), and how many rows the batch has.
 */
export function rowStarts(batch: Batch, rowCount: (o: OrderRows) => number): { starts: Int32Array; rows: number } {
  const starts = new Int32Array(batch.nextIndex - batch.firstIndex);
  let rows = 0;
  for (const o of batch.orders) {
    const at = o.index - batch.firstIndex;
    if (!(at >= 0 && at < starts.length)) throw new EtlError('E_INTERNAL', `record ${o.index} is outside its batch [${batch.firstIndex}, ${batch.nextIndex})`);
    starts[at] = rows;
    rows += rowCount(o);
  }
  return { starts, rows };
}

/** "Last occurrence wins" for one SCD1 dimension: keys numbered by first appearance, each with its last row. */
class Deduper<R> {
  readonly rows: R[] = [];
  readonly at: DedupedRows;
  private readonly index = new Map<string, number>();
  private readonly starts: Int32Array;
  private readonly positions: Int32Array;
  private next = 0;
  private current = -1;

  constructor(
    private readonly batch: Batch,
    { rowCount }: Pick<DimensionSpec<R>, 'rowCount'>,
  ) {
    const { starts, rows } = rowStarts(batch, rowCount);
    this.starts = starts;
    this.positions = new Int32Array(rows);
    this.at = new DedupedRows(batch.firstIndex, this.starts, this.positions);
  }

  /** The order's next row (rows are added in order, each order's all at once). */
  add(o: OrderRows, id: string, row: R): void {
    const first = this.starts[o.index - this.batch.firstIndex]!;
    if (this.current !== o.index) {
      this.current = o.index;
      this.next = first;
    }
    let k = this.index.get(id);
    if (k === undefined) {
      k = this.rows.length;
      this.index.set(id, k);
      this.rows.push(row);
    } else {
      this.rows[k] = row;
    }
    this.positions[this.next++] = k;
  }
}
