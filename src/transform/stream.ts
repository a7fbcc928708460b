/** The transform stage: arrays of parsed records in, arrays of rows or rejections out. */
import { Transform, type TransformCallback } from 'node:stream';
import type { RawRecord, SplitResult } from '../model.ts';
import { splitOrder } from './order.ts';

export class SplitOrdersStream extends Transform {
  /** Records before this index were committed by an earlier, interrupted run of the same source. */
  private readonly skipBelow: number;
  /** Milliseconds spent splitting orders (for the summary's stage breakdown). */
  busyMs = 0;

  constructor(skipBelow = 0) {
    super({ objectMode: true, readableHighWaterMark: 1, writableHighWaterMark: 1 });
    this.skipBelow = skipBelow;
  }

  override _transform(records: RawRecord[], _enc: BufferEncoding, cb: TransformCallback): void {
    const out: SplitResult[] = [];
    const t = performance.now();
    for (const r of records) {
      if (r.index < this.skipBelow) continue;
      out.push(splitOrder(r.value, r.index, r.offset, r.text, r.literals));
    }
    this.busyMs += performance.now() - t;
    if (out.length > 0) this.push(out);
    cb();
  }
}
