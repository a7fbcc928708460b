/**
 * The progress line on stderr, only for a terminal: bytes read (of the total, when every source's size is
 * known), orders written, their rates, the time elapsed and, with a total, the time left. Sizes are in MiB
 * (2^20 bytes) and say so. The line itself is a pure function of what was counted (formatProgress).
 */
import { Transform, type TransformCallback } from 'node:stream';

export class ByteCounter extends Transform {
  bytes = 0;
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    cb(null, chunk);
  }
}

export interface ProgressState {
  elapsedMs: number;
  /** Bytes read so far, as stored (compressed for gzip, like the total). */
  bytesRead: number;
  /** Bytes of every source, or null when a size is unknown (stdin). */
  totalBytes: number | null;
  orders: number;
}

const MIB = 1024 * 1024;

/** 1:05, 12:00, 1:02:03. */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

function mib(bytes: number): string {
  return `${(bytes / MIB).toFixed(1)} MiB`;
}

/**
 * "120.5 MiB of 500.0 MiB (24.1%)  310,000 orders  25,833 orders/s  10.0 MiB/s  elapsed 0:12  ETA 0:38".
 * Rates are averages since the start; the time left assumes the rest is read at the average rate, and is
 * shown once a second has passed and some bytes were read.
 */
export function formatProgress(s: ProgressState): string {
  const secs = s.elapsedMs / 1000;
  const n = (x: number) => Math.round(x).toLocaleString('en-US');
  const parts: string[] = [];
  parts.push(s.totalBytes ? `${mib(s.bytesRead)} of ${mib(s.totalBytes)} (${((100 * s.bytesRead) / s.totalBytes).toFixed(1)}%)` : mib(s.bytesRead));
  parts.push(`${n(s.orders)} orders`);
  if (secs > 0) parts.push(`${n(s.orders / secs)} orders/s`, `${(s.bytesRead / MIB / secs).toFixed(1)} MiB/s`);
  parts.push(`elapsed ${formatDuration(s.elapsedMs)}`);
  if (s.totalBytes && secs >= 1 && s.bytesRead > 0) {
    const left = Math.max(0, s.totalBytes - s.bytesRead);
    parts.push(`ETA ${formatDuration((left / s.bytesRead) * s.elapsedMs)}`);
  }
  return parts.join('  ');
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
    const line = formatProgress({
      elapsedMs: Date.now() - this.started,
      bytesRead: this.doneBytes + (this.current?.bytes ?? 0),
      totalBytes: this.totalBytes,
      orders: this.orders,
    });
    this.out!.write(`\r\x1b[K${line}`);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (this.out) this.out.write('\r\x1b[K');
  }
}
