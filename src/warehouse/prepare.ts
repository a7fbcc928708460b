/**
 * Dialect-independent preparation of a batch: "last occurrence wins" applied inside the batch, so that each
 * order and each natural key of an SCD1 dimension appears once (a history dimension plans from every
 * observation instead). Across batches the order of commits does the same job.
 */
import type { Batch, CustomerRow, HistoryMode, OrderRows, ProductRow, Rejection } from '../model.ts';

/** The last delivery of an order in the batch. */
export type PreparedOrder = OrderRows;

export interface PreparedBatch {
  /**
   * Deduplicated rows of an SCD1 dimension, in order of first appearance (surrogate keys are handed out in that
   * order); empty for a history dimension, which plans from every observation in the batch instead.
   */
  customers: CustomerRow[];
  products: ProductRow[];
  /** The last delivery of each order in the batch. */
  orders: PreparedOrder[];
  factRows: number;
  rejects: Rejection[];
}

export function prepareBatch(batch: Batch, history: HistoryMode): PreparedBatch {
  const customers = new Map<string, CustomerRow>();
  const products = new Map<string, ProductRow>();
  const orders = new Map<string, PreparedOrder>();
  for (const o of batch.orders) {
    // Map.set on an existing key keeps its first position and takes the last value: exactly SCD1 "last wins"
    // with keys numbered by first appearance.
    if (!history.customers) customers.set(o.customer.customerId, o.customer);
    if (!history.products) for (const line of o.lines) products.set(line.productId, line);
    orders.set(o.orderId, o);
  }
  let factRows = 0;
  for (const o of orders.values()) factRows += o.lines.length;
  return {
    customers: [...customers.values()],
    products: [...products.values()],
    orders: [...orders.values()],
    factRows,
    rejects: batch.rejects,
  };
}
