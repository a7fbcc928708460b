/**
 * Decompression by content, not by name: gzip is recognised by its magic bytes (1f 8b), so a gzipped file
 * called `.json` loads, and so does a plain one called `.gz`. Inflation is capped by ratio and by size, so a
 * gzip bomb fails with a clear error instead of exhausting memory or disk.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { EtlError } from '../errors.ts';

export interface InflateLimits {
  /** Output may be at most this many times the compressed input (checked once 1 MiB has come out). */
  maxRatio: number;
  /** Absolute cap on decompressed bytes per source. */
  maxBytes: number;
}

export class DecodeStream extends Transform {
  private readonly source: string;
  private readonly limits: InflateLimits;
  private gunzip: ReturnType<typeof createGunzip> | null = null;
  private decided = false;
  private head: Buffer | null = null;
  private compressedIn = 0;
  private inflatedOut = 0;
  /**
   * gunzip took less than a whole write: it ended by itself, on zero bytes after the last member (as tape
   * blocks pad a file). What it did not take was checked to be zeros, the padding `gzip -d` ignores, and not
   * data it would drop; nothing more is written to it.
   */
  private gzStopped = false;
  /** gunzip emitted its end: by itself (padding), or after end(). */
  private gzEnded = false;
  /** The compressed bytes of the write gunzip has now (one at most), where its errors point; null after end(). */
  private inGunzip: { from: number; to: number } | null = null;

  constructor(source: string, limits: InflateLimits) {
    super({ highWaterMark: 1 });
    this.source = source;
    this.limits = limits;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (!this.decided) {
      const buf: Buffer = this.head ? Buffer.concat([this.head, chunk]) : chunk;
      if (buf.length < 2) {
        this.head = buf;
        cb();
        return;
      }
      this.head = null;
      this.decided = true;
      if (buf[0] === 0x1f && buf[1] === 0x8b) this.startGunzip();
      chunk = buf;
    }
    if (!this.gunzip) {
      this.push(chunk);
      cb();
      return;
    }
    this.compressedIn += chunk.length;
    if (this.gzStopped) {
      // After the padding that ended the gzip data: more padding, or data gunzip would not read.
      this.checkPadding(chunk, this.compressedIn - chunk.length);
      cb();
      return;
    }
    const gz = this.gunzip;
    const through = this.compressedIn;
    this.inGunzip = { from: through - chunk.length, to: through };
    // Write into gunzip and wait until it is done with the chunk: its own backpressure reaches our reader, and
    // one chunk at most is in it (a write queued behind one it stopped in is never done while its output waits
    // unread). What it did not take of the chunk says it has stopped.
    gz.write(chunk, (err?: Error | null) => {
      if (err || this.gunzip !== gz) return; // failed or torn down: the error handler and destroy() say so
      const untaken = through - gz.bytesWritten;
      if (untaken > 0) {
        this.gzStopped = true;
        const tail = Math.max(0, chunk.length - untaken);
        this.checkPadding(chunk.subarray(tail), through - chunk.length + tail);
      }
      cb();
    });
  }

  override _flush(cb: TransformCallback): void {
    if (!this.decided && this.head) this.push(this.head);
    if (!this.gunzip) {
      cb();
      return;
    }
    if (this.gzEnded) {
      cb();
      return;
    }
    // Not once failed meanwhile (data after the padding, corrupt data): the error is the stream's outcome then.
    this.gunzip.once('end', () => {
      if (!this.destroyed) cb();
    });
    this.inGunzip = null;
    this.gunzip.end();
  }

  private startGunzip(): void {
    const gz = createGunzip({ chunkSize: 256 * 1024 });
    this.gunzip = gz;
    gz.on('data', (out: Buffer) => {
      this.inflatedOut += out.length;
      if (this.inflatedOut > this.limits.maxBytes) {
        this.fail('E_INFLATE_LIMIT', `gzip inflates beyond --max-inflated-bytes (${this.limits.maxBytes} bytes) within its first ${this.compressedIn} compressed bytes`, undefined);
        return;
      }
      if (this.inflatedOut > 1024 * 1024 && this.inflatedOut > this.limits.maxRatio * this.compressedIn) {
        this.fail('E_INFLATE_LIMIT', `gzip inflates more than ${this.limits.maxRatio}x (--max-inflate-ratio): ${this.compressedIn} bytes became ${this.inflatedOut}`, undefined);
        return;
      }
      if (!this.push(out)) gz.pause();
    });
    gz.on('end', () => {
      this.gzEnded = true;
    });
    gz.on('error', (err) => this.gzipError(err));
  }

  override _read(size: number): void {
    this.gunzip?.resume();
    super._read(size);
  }

  /** Torn down by the pipeline (an error anywhere) or by fail(): the gunzip goes with it. */
  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    const gz = this.gunzip;
    this.gunzip = null;
    if (gz) {
      gz.removeAllListeners('data');
      gz.on('error', () => {}); // what it says after being torn down no longer matters
      gz.destroy();
    }
    cb(err);
  }

  /**
   * zlib says what is wrong, not where: the write it failed in is as close as it can be told. The byte offsets
   * of gzip's own errors count compressed bytes (those of JSON's errors, the bytes gzip inflates to).
   */
  private gzipError(err: Error): void {
    const at = this.inGunzip;
    if (at === null) {
      // After end(): zlib wanted more of a member.
      this.fail('E_PARSE', `not valid gzip: the data ends inside a gzip member, after ${this.compressedIn} compressed bytes: the file is cut short, or bytes after its last member are not gzip (${err.message})`, undefined, err);
      return;
    }
    if (/incorrect (data|length) check/.test(err.message)) {
      // The checksum at a member's end: it says that the member is damaged, not where.
      this.fail('E_PARSE', `not valid gzip (corrupt): the checksum at the end of a gzip member, in compressed bytes ${at.from} to ${at.to - 1}, does not match its data (${err.message}): the damage may be anywhere in that member`, undefined, err);
      return;
    }
    this.fail('E_PARSE', `not valid gzip (corrupt) in compressed bytes ${at.from} to ${at.to - 1}: ${err.message}`, at.from, err);
  }

  /** Bytes after the gzip data, from compressed offset `from`: zero padding, or a failure at its first other byte. */
  private checkPadding(bytes: Buffer, from: number): void {
    const at = bytes.findIndex((b) => b !== 0);
    if (at >= 0) this.fail('E_PARSE', 'not valid gzip: data after the end of the gzip stream that is not zero padding (a gzip after padding, or another file appended)', from + at);
  }

  private fail(code: 'E_INFLATE_LIMIT' | 'E_PARSE', message: string, byteOffset: number | undefined, cause?: unknown): void {
    if (this.destroyed) return;
    this.destroy(new EtlError(code, message, { source: this.source, byteOffset }, { cause }));
  }
}
