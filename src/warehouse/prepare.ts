/**
 * Dialect-independent preparation of a batch: "last occurrence wins" applied inside the batch, so that each
 * order and each natural key of an SCD1 dimension appears once (a history dimension plans from every
 * observation instead). Across batches the order of commits does the same job.
 */
import { EtlError } from '../errors.ts';
import type { Batch, CustomerRow, HistoryMode, OrderRows, ProductRow, Rejection } from '../model.ts';
import { CUSTOMERS, PRODUCTS, type DimensionSpec } from './dimensions.ts';
import { KeyIndex } from './keys.ts';

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
    customers?.add(o, 0, o.customer.customerId, o.customer);
    if (products) for (let i = 0; i < o.lines.length; i++) products.add(o, i, o.lines[i]!.productId, o.lines[i]!);
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
 * Where each row of a dimension is among a batch's rows of it: by its order's record index (relative to the
 * batch's first; records that are not orders take no rows), then its place in the order.
 */
export class BatchRows {
  /** How many rows of the dimension the batch's orders have. */
  readonly count: number;
  private readonly firstIndex: number;
  private readonly starts: Int32Array;

  constructor(batch: Batch, rowCount: (o: OrderRows) => number) {
    this.firstIndex = batch.firstIndex;
    this.starts = new Int32Array(batch.nextIndex - batch.firstIndex);
    let rows = 0;
    for (const o of batch.orders) {
      const at = o.index - batch.firstIndex;
      if (!(at >= 0 && at < this.starts.length)) throw new EtlError('E_INTERNAL', `record ${o.index} is outside its batch [${batch.firstIndex}, ${batch.nextIndex})`);
      this.starts[at] = rows;
      rows += rowCount(o);
    }
    this.count = rows;
  }

  /** Position of `order`'s row `i`. */
  at(order: OrderRows, i: number): number {
    return this.starts[order.index - this.firstIndex]! + i;
  }
}

/**
 * For each row of a dimension in a batch, the index of its key's row among the batch's deduplicated rows: facts
 * find their surrogate key by position, without looking their natural key up again (a Map lookup per fact line
 * and dimension).
 */
export class DedupedRows {
  constructor(
    private readonly rows: BatchRows,
    /** By position (BatchRows.at): the index of the row's key among the deduplicated rows. */
    private readonly keys: Int32Array,
  ) {}

  /** Index of the key of `order`'s row `i` among the deduplicated rows. */
  of(order: OrderRows, i: number): number {
    return this.keys[this.rows.at(order, i)]!;
  }
}

/** "Last occurrence wins" for one SCD1 dimension: keys numbered by first appearance, each with its last row. */
class Deduper<R> {
  readonly rows: R[] = [];
  readonly at: DedupedRows;
  /** Key -> its number: integer keys found by their number, as in the dimension caches (keys.ts). */
  private readonly index: KeyIndex;
  private readonly positions: BatchRows;
  private readonly keys: Int32Array;

  constructor(batch: Batch, { rowCount }: Pick<DimensionSpec<R>, 'rowCount'>) {
    this.positions = new BatchRows(batch, rowCount);
    this.keys = new Int32Array(this.positions.count);
    this.at = new DedupedRows(this.positions, this.keys);
    // Sized for every row a distinct key: no growing on the way (a batch's products are some 25,000 rows).
    this.index = new KeyIndex(this.positions.count);
  }

  /** The order's row `i`, of key `id`. */
  add(o: OrderRows, i: number, id: string, row: R): void {
    let k = this.index.get(id);
    if (k < 0) {
      k = this.rows.length;
      this.index.add(id, k);
      this.rows.push(row);
    } else {
      this.rows[k] = row;
    }
    this.keys[this.positions.at(o, i)] = k;
  }
}
