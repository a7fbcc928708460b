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
import type { InputFormat, RawRecord } from '../model.ts';

type Token = { name: string; value?: unknown };
type Step = (chunk: unknown) => unknown;

/**
 * Input is tokenized in slices of at most this many bytes, so that a record's size is known to within one
 * slice on each side while it is being assembled (see RecordSizeGuard).
 */
const SLICE = 64 * 1024;

export class StreamJsonParseStream extends Transform {
  private readonly source: string;
  private readonly format: InputFormat;
  private readonly decoder = new TextDecoder('utf-8', { fatal: true });
  private readonly tokenize: Step;
  private assemble: Step | null = null;
  private readonly guard: RecordSizeGuard;
  private started = false;
  private bytes = 0;
  /** Milliseconds spent parsing (for the summary's stage breakdown). */
  busyMs = 0;

  constructor(opts: { format: InputFormat; source: string; maxRecordBytes: number }) {
    super({ readableObjectMode: true, readableHighWaterMark: 1 });
    this.source = opts.source;
    this.format = opts.format;
    this.guard = new RecordSizeGuard(opts.maxRecordBytes, opts.source);
    this.tokenize = jsonParser({ packValues: true, streamValues: false, jsonStreaming: opts.format === 'ndjson' }) as unknown as Step;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    const t = performance.now();
    const out: RawRecord[] = [];
    try {
      for (let i = 0; i < chunk.length; i += SLICE) this.feed(chunk.subarray(i, i + SLICE), out);
    } catch (err) {
      cb(this.toEtlError(err));
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
      this.collect(this.tokenize(this.decoder.decode()), out);
      this.collect(this.tokenize(none), out);
      if (!this.assemble && this.format !== 'ndjson') throw new Error('the input is empty');
    } catch (err) {
      cb(this.toEtlError(err));
      return;
    }
    if (out.length > 0) this.push(out);
    cb();
  }

  private feed(bytes: Buffer, out: RawRecord[]): void {
    let text = this.decoder.decode(bytes, { stream: true });
    this.bytes += bytes.length;
    if (!this.started && text.length > 0) {
      this.started = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    this.guard.slice(bytes.length);
    this.collect(this.tokenize(text), out);
    this.guard.endSlice();
  }

  private collect(result: unknown, out: RawRecord[]): void {
    if (result === none) return;
    const tokens = (isMany(result) ? getManyValues(result as never) : [result]) as Token[];
    for (const t of tokens) {
      // The first token decides: an array's elements are records; anything else is a sequence of values.
      if (!this.assemble) {
        const array = this.format !== 'ndjson' && t.name === 'startArray';
        this.assemble = (array ? streamArray() : streamValues()) as unknown as Step;
        this.guard.recordDepth = array ? 1 : 0;
      }
      this.guard.token(t);
      const item = this.assemble(t) as { key: number; value: unknown } | typeof none;
      if (item === none) continue;
      const text = JSON.stringify(item.value) ?? 'null';
      this.guard.recordDone(item.key);
      out.push({ index: item.key, offset: null, line: 0, value: item.value, text });
    }
  }

  private toEtlError(err: unknown): EtlError {
    if (err instanceof EtlError) return err;
    const e = err as Error;
    const code = e instanceof TypeError && /encoded data was not valid/i.test(e.message) ? 'E_ENCODING' : 'E_PARSE';
    return new EtlError(code, `invalid ${code === 'E_ENCODING' ? 'UTF-8' : 'JSON'} (stream-json) within the first ${this.bytes} bytes: ${e.message}`, { source: this.source }, { cause: err });
  }
}

/**
 * --max-record-bytes for the token path, checked while a record is being assembled, so that an oversized
 * record fails before stream-json has built it in memory. Tokens carry no offsets, so the guard keeps two
 * lower bounds of the record's size in bytes of input and fails when either passes the limit:
 * - from its tokens: brackets, literals, numbers as written, and the UTF-8 bytes of every decoded key and
 *   string plus its quotes (a decoded string is never longer than its escaped source);
 * - from the input slices: a record still open after slice k that began in slice s spans at least the bytes
 *   of slices s+1..k, whitespace included.
 * Neither ever exceeds the record's real size, so a record within the limit is never refused.
 */
class RecordSizeGuard {
  /** Depth of the values that are records: 1 inside a top-level array, 0 for a sequence of values. */
  recordDepth = 0;
  private depth = 0;
  private open = false;
  private index = 0;
  private tokenBytes = 0;
  /** Bytes of every slice before the current one. */
  private before = 0;
  private current = 0;
  /** Bytes of every slice up to and including the one the open record began in. */
  private startEnd = 0;
  private readonly max: number;
  private readonly source: string;

  constructor(max: number, source: string) {
    this.max = max;
    this.source = source;
  }

  slice(bytes: number): void {
    this.current = bytes;
  }

  endSlice(): void {
    this.before += this.current;
    this.current = 0;
    if (this.open) this.check(this.before - this.startEnd);
  }

  token(t: Token): void {
    const name = t.name;
    const opens = name === 'startObject' || name === 'startArray';
    const closes = name === 'endObject' || name === 'endArray';
    if (!this.open && this.depth === this.recordDepth && !closes) {
      this.open = true;
      this.tokenBytes = 0;
      this.startEnd = this.before + this.current;
    }
    if (opens) this.depth++;
    else if (closes) this.depth--;
    if (!this.open) return;
    if (opens || closes) this.tokenBytes += 1;
    else if (name === 'keyValue') this.tokenBytes += Buffer.byteLength(t.value as string) + 3; // quotes and ':'
    else if (name === 'stringValue') this.tokenBytes += Buffer.byteLength(t.value as string) + 2;
    else if (name === 'numberValue') this.tokenBytes += (t.value as string).length;
    else this.tokenBytes += name === 'falseValue' ? 5 : 4; // true, null
    this.check(this.tokenBytes);
  }

  recordDone(index: number): void {
    this.index = index;
    // The record ended in this slice: every slice strictly between its first and this one was all record.
    this.check(this.before - this.startEnd);
    this.open = false;
    this.index = index + 1;
  }

  private check(atLeast: number): void {
    if (atLeast > this.max) {
      throw new EtlError('E_RECORD_TOO_LARGE', `record is larger than --max-record-bytes (${this.max} bytes)`, { source: this.source, recordIndex: this.index });
    }
  }
}
