/**
 * Micro-batches: `batchSize` records per batch, so memory is bounded by the batch size and never by the
 * file. A batch is the unit of atomicity: its dimension merge, its facts, its rejects and the ledger's
 * progress commit together.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { isParseFailure, type ParseFailure } from '../parse/stream.ts';
import type { OrderRows, Rejection, SplitResult } from '../transform/order.ts';

export interface Batch {
  /** Index of the first record in this batch. */
  firstIndex: number;
  /** One past the index of the last record in this batch: what the ledger records as committed. */
  nextIndex: number;
  /** Orders in source order (an order_id may repeat; the last one wins). */
  orders: OrderRows[];
  rejects: Rejection[];
}

export class BatchStream extends Transform {
  private readonly batchSize: number;
  private current: Batch | null = null;
  private count = 0;

  constructor(batchSize: number) {
    super({ objectMode: true, readableHighWaterMark: 1, writableHighWaterMark: 1 });
    this.batchSize = batchSize;
  }

  override _transform(items: SplitResult[] | ParseFailure, _enc: BufferEncoding, cb: TransformCallback): void {
    if (isParseFailure(items)) {
      // Commit what came before the error, then let the writer raise it.
      this.emitBatch();
      cb(null, items);
      return;
    }
    for (const item of items) {
      const b = (this.current ??= { firstIndex: item.index, nextIndex: item.index + 1, orders: [], rejects: [] });
      if (item.kind === 'order') b.orders.push(item);
      else b.rejects.push(item);
      b.nextIndex = item.index + 1;
      if (++this.count >= this.batchSize) this.emitBatch();
    }
    cb();
  }

  override _flush(cb: TransformCallback): void {
    this.emitBatch();
    cb();
  }

  private emitBatch(): void {
    if (this.current) this.push(this.current);
    this.current = null;
    this.count = 0;
  }
}
