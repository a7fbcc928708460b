/**
 * Micro-batches: `batchSize` records per batch, so memory is bounded by the batch size and never by the
 * file. A batch is the unit of atomicity (see model.ts).
 */
import { Transform, type TransformCallback } from 'node:stream';
import type { Batch, SplitResult } from '../model.ts';

export class BatchStream extends Transform {
  private readonly batchSize: number;
  private current: Batch | null = null;
  private count = 0;

  constructor(batchSize: number) {
    super({ objectMode: true, readableHighWaterMark: 1, writableHighWaterMark: 1 });
    this.batchSize = batchSize;
  }

  override _transform(items: SplitResult[], _enc: BufferEncoding, cb: TransformCallback): void {
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
