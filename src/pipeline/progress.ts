/** The progress line on stderr: bytes read of total, orders per second. Only for a terminal. */
import { Transform, type TransformCallback } from 'node:stream';

export class ByteCounter extends Transform {
  bytes = 0;
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    cb(null, chunk);
  }
}

export class Progress {
  private readonly out: NodeJS.WriteStream | null;
  private timer: NodeJS.Timeout | null = null;
  private readonly started = Date.now();
  /** Bytes of sources already finished, plus the live counter of the current one. */
  doneBytes = 0;
  current: ByteCounter | null = null;
  totalBytes: number | null = 0;
  orders = 0;

  constructor(out: NodeJS.WriteStream | null) {
    this.out = out;
    if (out) {
      this.timer = setInterval(() => this.draw(), 500);
      this.timer.unref();
    }
  }

  private draw(): void {
    const read = this.doneBytes + (this.current?.bytes ?? 0);
    const secs = (Date.now() - this.started) / 1000;
    const of = this.totalBytes ? ` of ${mb(this.totalBytes)} (${((100 * read) / this.totalBytes).toFixed(1)}%)` : '';
    const rate = secs > 0 ? Math.round(this.orders / secs).toLocaleString('en-US') : '0';
    this.out!.write(`\r\x1b[K${mb(read)}${of}  ${this.orders.toLocaleString('en-US')} orders  ${rate} orders/s`);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (this.out) this.out.write('\r\x1b[K');
  }
}

function mb(n: number): string {
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}
