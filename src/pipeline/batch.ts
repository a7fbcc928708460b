/**
 * Micro-batches: at most `batchSize` records per batch, so memory is bounded by the batch size and never by
 * the file. A batch is the unit of atomicity (see model.ts). Orders differ in size (one line or hundreds), and
 * memory follows lines more than orders: a batch also ends at BATCH_LIMITS.linesPerOrder lines per order of the
 * batch size, at BATCH_LIMITS.rawCharsPerRecord characters of rejected records' text per record of it, and at
 * BATCH_LIMITS.charsPerOrder characters of the orders' values per order of it, so
 * that the batch size that suits orders of a few lines does not exhaust the heap with orders of hundreds (a
 * batch of 10,000 orders of 200 lines each, 2 M lines, did not fit the default --max-heap-mb of 160; 100,000 lines
 * did). Where a batch ends depends on the input and the batch size only: the same in a re-run.
 */
import { Transform, type TransformCallback } from 'node:stream';
import type { Batch, OrderRows, SplitResult } from '../model.ts';

/**
 * The bounds of a batch besides its records, per record of the batch size. `charsPerOrder`: characters of the
 * orders' values (ids, names, amounts: about 130 an order of a few lines, in the bench's exports); an order may
 * hold ten lines of 128-character ids and 255-character names, some 7,300, and 10,000 of those in a batch did
 * not fit the default heap, however few lines each had.
 */
export const BATCH_LIMITS = { linesPerOrder: 10, rawCharsPerRecord: 1000, charsPerOrder: 1000 };

/** The characters of an order's values, what its rows hold in memory beside their fixed size. */
function orderChars(o: OrderRows): number {
  const c = o.customer;
  let n = o.orderId.length + (o.totalAmount?.length ?? 0) + c.customerId.length + (c.name?.length ?? 0) + (c.email?.length ?? 0) + (c.address?.length ?? 0);
  for (const l of o.lines) n += l.productId.length + (l.name?.length ?? 0) + (l.category?.length ?? 0) + (l.price?.length ?? 0);
  return n;
}

export class BatchStream extends Transform {
  private readonly batchSize: number;
  private readonly maxLines: number;
  private readonly maxRawChars: number;
  private readonly maxChars: number;
  private current: Batch | null = null;
  private count = 0;
  private lines = 0;
  private rawChars = 0;
  private chars = 0;

  constructor(batchSize: number) {
    super({ objectMode: true, readableHighWaterMark: 1, writableHighWaterMark: 1 });
    this.batchSize = batchSize;
    this.maxLines = batchSize * BATCH_LIMITS.linesPerOrder;
    this.maxRawChars = batchSize * BATCH_LIMITS.rawCharsPerRecord;
    this.maxChars = batchSize * BATCH_LIMITS.charsPerOrder;
  }

  override _transform(items: SplitResult[], _enc: BufferEncoding, cb: TransformCallback): void {
    for (const item of items) {
      const b = (this.current ??= { firstIndex: item.index, nextIndex: item.index + 1, orders: [], rejects: [] });
      if (item.kind === 'order') {
        b.orders.push(item);
        this.lines += item.lines.length;
        this.chars += orderChars(item);
      } else {
        b.rejects.push(item);
        this.rawChars += item.raw.length;
      }
      b.nextIndex = item.index + 1;
      if (++this.count >= this.batchSize || this.lines >= this.maxLines || this.rawChars >= this.maxRawChars || this.chars >= this.maxChars) this.emitBatch();
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
    this.lines = 0;
    this.rawChars = 0;
    this.chars = 0;
  }
}
