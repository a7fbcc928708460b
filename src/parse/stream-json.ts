/**
 * The stream-json parser path (`--parser stream-json`): stream-json's tokenizer (packed mode) and its
 * streamArray / streamValues assemblers, driven synchronously inside one stream stage, so that tokens never
 * cross a stream boundary (stream-json's own benchmark: that crossing dominates the cost). It emits the same
 * arrays of records as the scanner path. The scanner (parse/scanner.ts) is the default because it is several
 * times faster on the same input (bench/RESULTS.md); this path is the reference incremental parser, and the
 * conformance tests run both. stream-json does not report record offsets: its records carry offset null.
 *
 * With a records path (`{"orders": [...]}`), a PathFollower routes the tokens: those of the array's elements
 * go to streamArray, everything else is only tokenized (which validates it) and dropped. Strings, keys and
 * numbers then come from the tokenizer in chunks, not packed, so that a huge one beside the array is never
 * held whole (a packed key of 300 MB there ran out of the default heap).
 */
import { Transform, type TransformCallback } from 'node:stream';
import { getManyValues, isMany, none } from 'stream-chain/defs.js';
import { jsonParser } from 'stream-json/parser.js';
import streamArray from 'stream-json/streamers/stream-array.js';
import streamValues from 'stream-json/streamers/stream-values.js';
import { EtlError } from '../errors.ts';
import type { InputFormat, RawRecord } from '../model.ts';
import { tokenizerMessage } from './json-bytes.ts';
import { LiteralTracker } from './literals.ts';
import type { ScannerOptions } from './scanner.ts';
import { checkTopLevelKeys, checkTopLevelRecord, formatRecordsPath, pathNotFound, type KeySeen } from './shape.ts';

type Token = { name: string; value?: unknown };
type Step = (chunk: unknown) => unknown;

/**
 * Input is tokenized in slices of at most this many bytes, so that a record's size is known to within one
 * slice on each side while it is being assembled (see RecordSizeGuard).
 */
const SLICE = 64 * 1024;

/**
 * Bytes of input before a slice that an error found while reading it may begin in: the decoder holds back up
 * to 3 bytes of a character cut by the slice's start, the tokenizer up to 16 characters of a token it has
 * not matched yet (stream-json's parser, MAX_PATTERN_SIZE), of up to 4 bytes each.
 */
const HELD_BACK = 3 + 16 * 4;

export class StreamJsonParseStream extends Transform {
  private readonly source: string;
  private readonly opts: ScannerOptions;
  private readonly follower: PathFollower | null;
  /** Without a records path, for a top level that is not an array: its keys, in case it is too large. */
  private readonly topKeys: KeySeen[] = [];
  // ignoreBOM: the decoder hands a byte-order mark on, and feed() skips exactly one (the scanner's rule).
  private readonly decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  /** Null until the input's first byte that is not whitespace decides an `auto` format (sniff). */
  private tokenize: Step | null;
  /** The format read: `auto` until sniff decides it, as the scanner does from the same byte. */
  private format: InputFormat;
  private assemble: Step | null = null;
  private readonly guard: RecordSizeGuard;
  /** The long number literals of the record being read (RawRecord.literals). */
  private readonly literals = new LiteralTracker();
  private started = false;
  /** Bytes fed to the tokenizer so far. */
  private bytes = 0;
  /** The slice being fed: an error is found while reading it (see toEtlError). */
  private sliceStart = 0;
  private sliceEnd = 0;
  /**
   * The record the input was in when the slice being fed began (recordHere), or null; -1 at the end of the
   * input. The tokenizer throws away the tokens of a call that fails, so an error found inside a slice lies
   * in that record or a later one of the slice.
   */
  private recordAtSliceStart: number | null = null;
  /** Milliseconds spent parsing (for the summary's stage breakdown). */
  busyMs = 0;

  constructor(opts: ScannerOptions) {
    super({ readableObjectMode: true, readableHighWaterMark: 1 });
    this.source = opts.source;
    this.opts = opts;
    this.guard = new RecordSizeGuard(opts.maxRecordBytes, opts.source);
    if (opts.recordsPath) {
      this.follower = new PathFollower(opts.recordsPath, opts.source);
      this.format = 'json';
      this.tokenize = jsonParser({ packKeys: false, packNumbers: false, packStrings: false, jsonStreaming: false }) as unknown as Step;
    } else {
      this.follower = null;
      this.format = opts.format;
      this.tokenize = opts.format === 'auto' ? null : valuesTokenizer(opts.format);
    }
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
    // Whatever fails now is found at the end of the input, where the tokenizer holds at most the last token.
    this.sliceStart = this.sliceEnd = this.bytes;
    this.recordAtSliceStart = -1;
    try {
      const rest = this.decoder.decode();
      const tokenize = this.tokenize ?? this.sniff(rest);
      if (tokenize) {
        this.collect(tokenize(rest), out);
        this.collect(tokenize(none), out);
      }
      if (this.follower) this.follower.end();
      else if (!this.assemble && this.opts.format !== 'ndjson') throw new Error('the input is empty');
    } catch (err) {
      cb(this.toEtlError(err));
      return;
    }
    if (out.length > 0) this.push(out);
    cb();
  }

  private feed(bytes: Buffer, out: RawRecord[]): void {
    this.sliceStart = this.bytes;
    this.sliceEnd = this.bytes + bytes.length;
    this.recordAtSliceStart = this.recordHere();
    let text = this.decoder.decode(bytes, { stream: true });
    this.bytes += bytes.length;
    if (!this.started && text.length > 0) {
      this.started = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    this.guard.slice(bytes.length);
    const tokenize = this.tokenize ?? this.sniff(text);
    if (tokenize) this.collect(tokenize(text), out);
    this.guard.endSlice();
  }

  /**
   * An `auto` format (standard input, a name without a known extension) is decided by the first character
   * that is not whitespace, as the scanner decides it: '[' is a JSON array, anything else a sequence of
   * values (JSON Lines). Leading whitespace says nothing: null until that character comes.
   */
  private sniff(text: string): Step | null {
    const first = text.search(/[^ \t\n\r]/);
    if (first < 0) return null;
    this.format = text.charCodeAt(first) === 0x5b ? 'json' : 'ndjson';
    this.tokenize = valuesTokenizer(this.format);
    return this.tokenize;
  }

  private collect(result: unknown, out: RawRecord[]): void {
    if (result === none) return;
    const tokens = (isMany(result) ? getManyValues(result as never) : [result]) as Token[];
    for (let t of tokens) {
      if (this.follower) {
        const routed = this.follower.route(t);
        if (routed === null) continue;
        t = routed;
      }
      // The first token decides: an array's elements are records; anything else is a sequence of values.
      if (!this.assemble) {
        const array = this.follower !== null || (this.format !== 'ndjson' && t.name === 'startArray');
        this.assemble = (array ? streamArray() : streamValues()) as unknown as Step;
        this.guard.recordDepth = array ? 1 : 0;
      }
      if (this.guard.recordDepth === 0 && this.opts.requireOrders) this.noteTopKey(t);
      this.guard.token(t);
      if (this.guard.isOpen) this.literals.token(t.name, t.value);
      const item = this.assemble(t) as { key: number; value: unknown } | typeof none;
      if (item === none) continue;
      if (item.key === 0 && this.guard.recordDepth === 0 && this.opts.requireOrders && this.opts.format !== 'ndjson') {
        checkTopLevelRecord(item.value, { source: this.source });
      }
      const text = stringify(item.value);
      this.guard.recordDone(item.key);
      out.push({ index: item.key, offset: null, line: 0, value: item.value, text, literals: this.literals.take() });
    }
  }

  /**
   * The index of the record the input is in (RecordSizeGuard.recordAt), or null outside the records: before
   * the first token, and after the one value of a JSON document that is not an array.
   */
  private recordHere(): number | null {
    if (!this.assemble) return null;
    if (this.follower === null && this.format !== 'ndjson' && this.guard.recordDepth === 0 && this.guard.recordsDone > 0) return null;
    return this.guard.recordAt();
  }

  /** The keys of a top-level object and their values' kinds, while the first value is being assembled. */
  private pendingTopKey: string | null = null;
  private topDepth = 0;
  private noteTopKey(t: Token): void {
    if (this.topKeys.length >= 50 || this.guard.recordsDone > 0) return;
    const name = t.name;
    if (this.topDepth === 1 && this.pendingTopKey !== null && name !== 'keyValue') {
      this.topKeys.push({ key: this.pendingTopKey, kind: TOKEN_KINDS[name] ?? 'a value' });
      this.pendingTopKey = null;
    }
    if (this.topDepth === 1 && name === 'keyValue') this.pendingTopKey = t.value as string;
    if (name === 'startObject' || name === 'startArray') this.topDepth++;
    else if (name === 'endObject' || name === 'endArray') this.topDepth--;
  }

  private toEtlError(err: unknown): EtlError {
    // A top level too large to assemble: if its keys say it wraps the orders, say that instead.
    if (err instanceof EtlError && err.code === 'E_RECORD_TOO_LARGE' && this.guard.recordDepth === 0 && this.guard.recordsDone === 0 && this.opts.requireOrders && this.opts.format !== 'ndjson') {
      try {
        checkTopLevelKeys(this.topKeys, { source: this.source });
      } catch (shape) {
        return shape as EtlError;
      }
    }
    if (err instanceof EtlError) return err;
    const e = err as Error;
    const code = e instanceof TypeError && /encoded data was not valid/i.test(e.message) ? 'E_ENCODING' : 'E_PARSE';
    // The tokenizer reports no position: the error was found while reading the slice being fed (at most SLICE
    // bytes; it may begin up to HELD_BACK bytes before it, in what the decoder and the tokenizer held back), or
    // at the end of the input, where the record is the one still open (or the next, between records).
    const atEnd = this.recordAtSliceStart === -1;
    const recordIndex = atEnd ? this.recordHere() : null;
    const from = this.recordAtSliceStart !== null && !atEnd ? `, in record ${this.recordAtSliceStart} or a later one` : '';
    const where = atEnd ? `at the end of the input (byte ${this.bytes})` : `while reading bytes ${Math.max(0, this.sliceStart - HELD_BACK)} to ${this.sliceEnd}${from}`;
    const context = recordIndex === null ? { source: this.source } : { source: this.source, recordIndex };
    return new EtlError(code, `invalid ${code === 'E_ENCODING' ? 'UTF-8' : 'JSON'} (stream-json) found ${where}: ${code === 'E_PARSE' ? tokenizerMessage(e.message) : e.message}`, context, { cause: err });
  }
}

/** The tokenizer for a JSON document (`json`) or a sequence of values (`ndjson`), without a records path. */
function valuesTokenizer(format: 'json' | 'ndjson'): Step {
  return jsonParser({ packValues: true, streamValues: false, jsonStreaming: format === 'ndjson' }) as unknown as Step;
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

  /** Inside a record: from its first token to its last. */
  get isOpen(): boolean {
    return this.open;
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

  /** Records assembled so far. */
  recordsDone = 0;

  /**
   * The index of the record the input is in: the one open, or the next one between records; null outside
   * the records (before a top-level array opens or after it closes).
   */
  recordAt(): number | null {
    return this.open || this.depth >= this.recordDepth ? this.index : null;
  }

  recordDone(index: number): void {
    this.recordsDone++;
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

/**
 * A record's text, for the rejects table: JSON.stringify, which recurses, and without recursion for a value
 * nested deeper than the stack allows (JSON sets no depth limit; the scanner path keeps the source text).
 */
function stringify(value: unknown): string {
  try {
    return JSON.stringify(value) ?? 'null';
  } catch (err) {
    if (!(err instanceof RangeError)) throw err;
  }
  const parts: string[] = [];
  const stack: { value: object; keys: string[] | null; next: number }[] = [];
  const put = (v: unknown): void => {
    if (v === null || typeof v !== 'object') parts.push(JSON.stringify(v) ?? 'null');
    else if (Array.isArray(v)) {
      parts.push('[');
      stack.push({ value: v, keys: null, next: 0 });
    } else {
      parts.push('{');
      stack.push({ value: v, keys: Object.keys(v), next: 0 });
    }
  };
  put(value);
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    const size = top.keys ? top.keys.length : (top.value as unknown[]).length;
    if (top.next === size) {
      parts.push(top.keys ? '}' : ']');
      stack.pop();
      continue;
    }
    if (top.next > 0) parts.push(',');
    const i = top.next++;
    if (top.keys) {
      parts.push(JSON.stringify(top.keys[i]), ':');
      put((top.value as Record<string, unknown>)[top.keys[i]!]);
    } else {
      put((top.value as unknown[])[i]);
    }
  }
  return parts.join('');
}

/** A key longer than this cannot be on a path given on a command line; only its start is kept (envelope.ts). */
const MAX_KEY_CHARS = 4096;

const TOKEN_KINDS: Record<string, string> = {
  startObject: 'an object',
  startArray: 'an array',
  stringValue: 'a string',
  startString: 'a string',
  numberValue: 'a number',
  startNumber: 'a number',
  trueValue: 'a boolean',
  falseValue: 'a boolean',
  nullValue: 'null',
};

/**
 * --records-path on the token stream: follows the path's keys through the objects on the way and hands on
 * only the tokens of the array there, as if it were the top-level array (a startArray, its elements'
 * tokens with strings packed again, an endArray). The same rules and messages as the scanner's
 * EnvelopeNavigator (envelope.ts): the top level must be an object, each step an object, the last an array;
 * a missing key names the keys that are there; a key of the path seen twice is an error.
 */
class PathFollower {
  private readonly path: readonly string[];
  private readonly source: string;
  private started = false;
  /** Objects open along the path: 1 inside the top-level object. */
  private depth = 0;
  /** Containers (and strings) open inside a value off the path. */
  private off = 0;
  /** Containers open inside the array of records, below the array itself. */
  private inner = 0;
  private inRecords = false;
  private found = false;
  private onPath = false;
  private key = '';
  private seen: KeySeen[] = [];
  private seenCount = 0;
  /** A string, key or number of a record, from its chunks. */
  private text = '';
  /** A key on the way to the array, from its chunks: its first MAX_KEY_CHARS only (no longer key is on a path). */
  private keyText: string | null = null;

  constructor(path: readonly string[], source: string) {
    this.path = path;
    this.source = source;
  }

  /** The token to assemble, or null for one outside the array of records. */
  route(t: Token): Token | null {
    let name = t.name;
    if (this.inRecords) {
      if (name === 'startString' || name === 'startKey' || name === 'startNumber') {
        this.text = '';
        return null;
      }
      if (name === 'stringChunk' || name === 'numberChunk') {
        this.text += t.value as string;
        return null;
      }
      if (name === 'endString') return { name: 'stringValue', value: this.text };
      if (name === 'endKey') return { name: 'keyValue', value: this.text };
      if (name === 'endNumber') return { name: 'numberValue', value: this.text };
      if (name === 'startObject' || name === 'startArray') this.inner++;
      else if (name === 'endObject' || name === 'endArray') {
        if (this.inner === 0) {
          this.inRecords = false;
          this.found = true;
          return t;
        }
        this.inner--;
      }
      return t;
    }
    if (this.off > 0) {
      if (name === 'startObject' || name === 'startArray' || name === 'startString' || name === 'startNumber') this.off++;
      else if (name === 'endObject' || name === 'endArray' || name === 'endString' || name === 'endNumber') this.off--;
      return null;
    }
    // A key of an object on the way, in chunks.
    if (name === 'startKey') {
      this.keyText = '';
      return null;
    }
    if (name === 'stringChunk' && this.keyText !== null) {
      if (this.keyText.length <= MAX_KEY_CHARS) this.keyText += (t.value as string).slice(0, MAX_KEY_CHARS + 1 - this.keyText.length);
      return null;
    }
    if (name === 'endKey') {
      name = 'keyValue';
      t = { name, value: this.keyText ?? '' };
      this.keyText = null;
    }
    if (!this.started) {
      this.started = true;
      if (name !== 'startObject') {
        const array = name === 'startArray' ? ' (leave out --records-path to load the elements of a top-level array)' : '';
        this.fail(`the top level is ${TOKEN_KINDS[name] ?? 'a value'}, not an object${array}`);
      }
      this.enterObject();
      return null;
    }
    if (name === 'keyValue') {
      this.key = t.value as string;
      const wanted = this.path[this.depth - 1];
      if (this.found && this.key === wanted) {
        this.fail(`the key ${JSON.stringify(this.key)} appears twice in the object at ${this.where(this.depth - 1)}: which array holds the orders is ambiguous`);
      }
      this.onPath = !this.found && this.key === wanted;
      return null;
    }
    if (name === 'endObject') {
      if (!this.found) this.notFound();
      this.depth--;
      return null;
    }
    // A value: on the path, or skipped.
    if (!this.found) {
      if (this.seen.length < 50) this.seen.push({ key: this.key, kind: TOKEN_KINDS[name] ?? 'a value' });
      this.seenCount++;
    }
    if (this.onPath) {
      this.onPath = false;
      const at = formatRecordsPath(this.path.slice(0, this.depth));
      if (this.depth === this.path.length) {
        if (name !== 'startArray') this.fail(`the value at ${at} is ${TOKEN_KINDS[name] ?? 'a value'}, not an array of orders`);
        this.inRecords = true;
        this.inner = 0;
        return t;
      }
      if (name !== 'startObject') this.fail(`the value at ${at} is ${TOKEN_KINDS[name] ?? 'a value'}, not an object`);
      this.enterObject();
      return null;
    }
    if (name === 'startObject' || name === 'startArray' || name === 'startString' || name === 'startNumber') this.off = 1;
    return null;
  }

  /** The input has ended (the tokenizer has checked that the document is complete). */
  end(): void {
    if (!this.started) throw new EtlError('E_PARSE', 'invalid JSON: the input is empty', { source: this.source });
  }

  private enterObject(): void {
    this.depth++;
    this.seen = [];
    this.seenCount = 0;
  }

  private where(depth: number): string {
    return depth === 0 ? 'the top level' : formatRecordsPath(this.path.slice(0, depth));
  }

  private notFound(): never {
    this.fail(pathNotFound(this.path, this.depth, this.seen, this.seenCount));
  }

  private fail(message: string): never {
    throw new EtlError('E_PARSE', `--records-path ${formatRecordsPath(this.path)}: ${message}`, { source: this.source });
  }
}
