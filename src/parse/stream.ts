/**
 * Thin stream wrapper around the scanner: bytes in, arrays of parsed records out. One push per input chunk,
 * not per record, so the per-record work stays inside this stage (stream-json's own benchmark: crossing a
 * stream boundary per item dominates the cost).
 */
import { Transform, type TransformCallback } from 'node:stream';
import type { ParserKind } from '../options.ts';
import { RecordScanner, type RawRecord, type ScannerOptions } from './scanner.ts';
import { StreamJsonParseStream } from './stream-json.ts';

/** The parse stage for the chosen parser: bytes in, arrays of records out. */
export function parseStage(kind: ParserKind, opts: ScannerOptions): Transform & { busyMs: number } {
  return kind === 'stream-json' ? new StreamJsonParseStream(opts) : new RecordParseStream(opts);
}

/**
 * A parse error travels downstream as this marker, after the records parsed before it, instead of tearing the
 * pipeline down at once: the batches in flight commit first, so everything before the error is loaded.
 */
export interface ParseFailure {
  failure: Error;
}

export function isParseFailure(x: unknown): x is ParseFailure {
  return typeof x === 'object' && x !== null && 'failure' in x;
}

/** End the stream with a failure marker; the caller leaves its callback pending, so no more input is read. */
export function endWithFailure(stream: Transform, done: RawRecord[], err: unknown): void {
  if (done.length > 0) stream.push(done);
  stream.push({ failure: err as Error } satisfies ParseFailure);
  stream.push(null);
}

export class RecordParseStream extends Transform {
  private readonly scanner: RecordScanner;
  /** Milliseconds spent parsing (for the summary's stage breakdown). */
  busyMs = 0;

  constructor(opts: ScannerOptions) {
    super({ readableObjectMode: true, readableHighWaterMark: 1 });
    this.scanner = new RecordScanner(opts);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    const out: RawRecord[] = [];
    const t = performance.now();
    try {
      this.scanner.push(chunk, out);
    } catch (err) {
      endWithFailure(this, out, err);
      return;
    } finally {
      this.busyMs += performance.now() - t;
    }
    if (out.length > 0) this.push(out);
    cb();
  }

  override _flush(cb: TransformCallback): void {
    const out: RawRecord[] = [];
    try {
      this.scanner.end(out);
    } catch (err) {
      endWithFailure(this, out, err);
      cb();
      return;
    }
    if (out.length > 0) this.push(out);
    cb();
  }
}
