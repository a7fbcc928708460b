/**
 * Thin stream wrapper around the scanner: bytes in, arrays of parsed records out. One push per input chunk,
 * not per record, so the per-record work stays inside this stage (stream-json's own benchmark: crossing a
 * stream boundary per item dominates the cost). A parse error fails the stage like any other stream error:
 * the pipeline has one error path (see pipeline/load.ts).
 */
import { Transform, type TransformCallback } from 'node:stream';
import type { ParserKind, RawRecord } from '../model.ts';
import { RecordScanner, type ScannerOptions } from './scanner.ts';
import { StreamJsonParseStream } from './stream-json.ts';

/** The parse stage for the chosen parser: bytes in, arrays of records out. */
export function parseStage(kind: ParserKind, opts: ScannerOptions): Transform & { busyMs: number } {
  return kind === 'stream-json' ? new StreamJsonParseStream(opts) : new RecordParseStream(opts);
}

/**
 * How long input may pause inside a record before the bytes of it read so far are checked for a syntax error
 * (RecordScanner.pendingError). The scanner checks a record's grammar when the record ends; an input that
 * stops part way through a broken record (a stalled download, a writer that stays open) would otherwise keep
 * the load waiting for an end that may never come, where stream-json's tokenizer fails at once.
 */
export const IDLE_CHECK_MS = 250;

/**
 * The largest record read so far that a pause checks: each check reads the record from its start (about 40 ms
 * a MiB), and a pause is also any wait of the parse stage for the database; a larger record, rare in an export
 * of orders, is checked when it ends, as every record is.
 */
const IDLE_CHECK_MAX_BYTES = 1024 * 1024;

export class RecordParseStream extends Transform {
  private readonly scanner: RecordScanner;
  /** Milliseconds spent parsing (for the summary's stage breakdown). */
  busyMs = 0;
  /** Armed after a chunk that ends inside a record: checks that record's bytes so far once, if no chunk follows. */
  private idle: NodeJS.Timeout | null = null;

  constructor(opts: ScannerOptions) {
    super({ readableObjectMode: true, readableHighWaterMark: 1 });
    this.scanner = new RecordScanner(opts);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.disarm();
    this.run(cb, (out) => this.scanner.push(chunk, out));
    if (!this.destroyed) this.idle = setTimeout(() => this.checkPending(), IDLE_CHECK_MS).unref();
  }

  override _flush(cb: TransformCallback): void {
    this.disarm();
    this.run(cb, (out) => this.scanner.end(out));
  }

  override _destroy(err: Error | null, cb: (error?: Error | null) => void): void {
    this.disarm();
    cb(err);
  }

  private disarm(): void {
    if (this.idle) clearTimeout(this.idle);
    this.idle = null;
  }

  private checkPending(): void {
    this.idle = null;
    if (this.destroyed) return;
    const t = performance.now();
    const err = this.scanner.pendingError(IDLE_CHECK_MAX_BYTES);
    this.busyMs += performance.now() - t;
    if (err) this.destroy(err);
  }

  private run(cb: TransformCallback, scan: (out: RawRecord[]) => void): void {
    const out: RawRecord[] = [];
    const t = performance.now();
    try {
      scan(out);
    } catch (err) {
      cb(err as Error);
      return;
    } finally {
      this.busyMs += performance.now() - t;
    }
    if (out.length > 0) this.push(out);
    cb();
  }
}
