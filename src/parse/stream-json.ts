/**
 * The stream-json parser path (`--parser stream-json`): stream-json's tokenizer (packed mode) and its
 * streamArray / streamValues assemblers, driven synchronously inside one stream stage, so that tokens never
 * cross a stream boundary (stream-json's own benchmark: that crossing dominates the cost). It emits the same
 * arrays of records as the scanner path. The scanner (parse/scanner.ts) is the default because it is several
 * times faster on the same input (bench/RESULTS.md); this path is the reference incremental parser, and the
 * conformance tests run both. stream-json does not report record offsets: its records carry offset null.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { getManyValues, isMany, none } from 'stream-chain/defs.js';
import { jsonParser } from 'stream-json/parser.js';
import streamArray from 'stream-json/streamers/stream-array.js';
import streamValues from 'stream-json/streamers/stream-values.js';
import { EtlError } from '../errors.ts';
import type { InputFormat, RawRecord } from './scanner.ts';
import { endWithFailure } from './stream.ts';

type Token = { name: string; value?: unknown };
type Step = (chunk: unknown) => unknown;

export class StreamJsonParseStream extends Transform {
  private readonly source: string;
  private readonly format: InputFormat;
  private readonly maxRecordBytes: number;
  private readonly decoder = new TextDecoder('utf-8', { fatal: true });
  private readonly tokenize: Step;
  private assemble: Step | null = null;
  private started = false;
  private bytes = 0;
  /** Milliseconds spent parsing (for the summary's stage breakdown). */
  busyMs = 0;

  constructor(opts: { format: InputFormat; source: string; maxRecordBytes: number }) {
    super({ readableObjectMode: true, readableHighWaterMark: 1 });
    this.source = opts.source;
    this.format = opts.format;
    this.maxRecordBytes = opts.maxRecordBytes;
    this.tokenize = jsonParser({ packValues: true, streamValues: false, jsonStreaming: opts.format === 'ndjson' }) as unknown as Step;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    const t = performance.now();
    try {
      let text = this.decoder.decode(chunk, { stream: true });
      if (!this.started && text.length > 0) {
        this.started = true;
        if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      }
      this.emit_(this.tokenize(text));
    } catch (err) {
      endWithFailure(this, [], this.toEtlError(err));
      return;
    } finally {
      this.busyMs += performance.now() - t;
    }
    cb();
  }

  override _flush(cb: TransformCallback): void {
    try {
      this.emit_(this.tokenize(this.decoder.decode()));
      this.emit_(this.tokenize(none));
      if (!this.assemble && this.format !== 'ndjson') throw new Error('the input is empty');
    } catch (err) {
      endWithFailure(this, [], this.toEtlError(err));
    }
    cb();
  }

  private emit_(result: unknown): void {
    if (result === none) return;
    const tokens = (isMany(result) ? getManyValues(result as never) : [result]) as Token[];
    const out: RawRecord[] = [];
    for (const t of tokens) {
      // The first token decides: an array's elements are records; anything else is a sequence of values.
      this.assemble ??= (this.format !== 'ndjson' && t.name === 'startArray' ? streamArray() : streamValues()) as unknown as Step;
      const item = this.assemble(t) as { key: number; value: unknown } | typeof none;
      if (item === none) continue;
      const text = JSON.stringify(item.value) ?? 'null';
      if (text.length > this.maxRecordBytes) {
        throw new EtlError('E_RECORD_TOO_LARGE', `record is larger than --max-record-bytes (${this.maxRecordBytes} bytes)`, { source: this.source, recordIndex: item.key });
      }
      out.push({ index: item.key, offset: null, line: 0, value: item.value, text });
    }
    if (out.length > 0) this.push(out);
  }

  private toEtlError(err: unknown): EtlError {
    if (err instanceof EtlError) return err;
    const e = err as Error;
    const code = e instanceof TypeError && /encoded data was not valid/i.test(e.message) ? 'E_ENCODING' : 'E_PARSE';
    return new EtlError(code, `invalid ${code === 'E_ENCODING' ? 'UTF-8' : 'JSON'} (stream-json) within the first ${this.bytes} bytes: ${e.message}`, { source: this.source }, { cause: err });
  }
}
