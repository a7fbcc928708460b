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

export class RecordParseStream extends Transform {
  private readonly scanner: RecordScanner;
  /** Milliseconds spent parsing (for the summary's stage breakdown). */
  busyMs = 0;

  constructor(opts: ScannerOptions) {
    super({ readableObjectMode: true, readableHighWaterMark: 1 });
    this.scanner = new RecordScanner(opts);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.run(cb, (out) => this.scanner.push(chunk, out));
  }

  override _flush(cb: TransformCallback): void {
    this.run(cb, (out) => this.scanner.end(out));
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
