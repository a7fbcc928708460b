/**
 * Structural scanner: finds where each record of an export starts and ends in a byte stream, without
 * building tokens. Each complete record's bytes are handed to `JSON.parse`, which validates it fully; the
 * scanner itself validates everything between records (the array brackets, commas, whitespace, trailing
 * data). This is the engine's fast path (see bench/RESULTS.md): it crosses into JavaScript once per record
 * instead of once per token.
 *
 * Pure core: no streams, no I/O. Feed it chunks with `push`, then call `end`.
 *
 * Modes:
 * - `json`: exactly one top-level value. If it is an array, each element is a record; otherwise the value
 *   itself is the one record (an export of a single order).
 * - `ndjson`: a sequence of top-level values separated by whitespace; each is a record.
 * - with `recordsPath`: a JSON document whose records are the elements of the array at that path
 *   (`{"orders": [...]}`); the bytes around the array go to the EnvelopeNavigator (envelope.ts), the array's
 *   elements through the same loop as a top-level array's.
 */
import { isUtf8 } from 'node:buffer';
import { none } from 'stream-chain/defs.js';
import { jsonVerifier } from 'stream-json/utils/verifier.js';
import { EtlError } from '../errors.ts';
import { READ_DEPTH, type InputFormat, type RawRecord } from '../model.ts';
import { EnvelopeNavigator } from './envelope.ts';
import { numberLiterals } from './literals.ts';
import { BARE, CUT_LEXEME, describeByte, EXACT_DIGITS, firstInvalidUtf8, lineFeeds, stringEnd, tokenizerMessage, trailingBackslashes, WS } from './json-bytes.ts';
import { ARRAY_NOT_LINES, checkTopLevelKeys, checkTopLevelRecord, keysInPrefix } from './shape.ts';

export interface ScannerOptions {
  format: InputFormat;
  source: string;
  maxRecordBytes: number;
  /** The keys from the top-level object down to the array of records (--records-path); none: the top level. */
  recordsPath?: readonly string[] | null;
  /**
   * A top level that holds no orders is an error: a top-level value that is not an array must look like an
   * order (see shape.ts). Set by the load; the plain-JSON conformance tests leave it off.
   */
  requireOrders?: boolean;
}

const enum Phase {
  Start, // before the top-level value
  ArrayFirst, // after '[', expecting a value or ']'
  ArrayValue, // after ',', expecting a value
  ArrayAfter, // after a value, expecting ',' or ']'
  Done, // after the top-level value: whitespace only
  Envelope, // with a records path: outside the array of records (the navigator reads these bytes)
}

const enum Kind {
  None,
  Container,
  String,
  Bare,
}

const BOM = [0xef, 0xbb, 0xbf];

/** A value cut off by the end of the input is searched for its first syntax error up to this size. */
const VERIFY_MAX = 16 * 1024 * 1024;

/** `bytes` without the start of a UTF-8 character that the end of the input cut (up to 3 bytes). */
function withoutCutCharacter(bytes: Buffer): Buffer {
  for (let cut = 1; cut <= 3 && cut <= bytes.length; cut++) {
    const b = bytes[bytes.length - cut]!;
    if ((b & 0xc0) !== 0x80) {
      // The lead byte of the last character: drop it and its continuation bytes if they are fewer than it needs.
      const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
      return need > cut ? bytes.subarray(0, bytes.length - cut) : bytes;
    }
  }
  return bytes;
}

export class RecordScanner {
  private readonly opts: ScannerOptions;
  private format: InputFormat;
  private phase = Phase.Start;
  private inArray = false;
  /** Absolute offset of the current chunk's first byte. */
  private base = 0;
  private line = 1;
  private nextIndex = 0;
  private bomMatched = 0;

  // The value being scanned.
  private kind = Kind.None;
  private depth = 0;
  private inString = false;
  /** Backslashes at the end of the previous chunk inside a string (their parity escapes a leading quote). */
  private carryBackslashes = 0;
  private valueStart = 0; // absolute
  private valueLine = 1;
  private valueIsArray = false;
  /** Digits of the number literal being read, and whether the value holds a long one (RawRecord.literals). */
  private numberDigits = 0;
  private longNumbers = false;
  private pieces: Buffer[] = [];
  private piecesLength = 0;
  /** With a records path: reads the document around the array of records. */
  private readonly envelope: EnvelopeNavigator | null;

  constructor(opts: ScannerOptions) {
    this.opts = opts;
    this.format = opts.format;
    this.envelope = opts.recordsPath ? new EnvelopeNavigator(opts.recordsPath, opts.source) : null;
    if (this.envelope) {
      this.format = 'json';
      this.phase = Phase.Envelope;
    }
  }

  /** Scan one chunk; completed records are appended to `out`. */
  push(chunk: Buffer, out: RawRecord[]): void {
    let i = 0;
    const len = chunk.length;
    // A UTF-8 byte-order mark is not JSON, but Windows tools write it: skip one at the very start, even when
    // it arrives split across chunks.
    while (this.bomMatched < 3 && i < len) {
      if (chunk[i] === BOM[this.bomMatched]) {
        this.bomMatched++;
        i++;
      } else {
        if (this.bomMatched > 0) this.fail(i, 'the rest of a UTF-8 byte-order mark');
        this.bomMatched = 3;
      }
    }
    if (this.envelope) this.scanDocument(chunk, i, out);
    else this.scanRecords(chunk, i, out);
    if (this.kind !== Kind.None) this.keepPiece(chunk);
    this.base += len;
  }

  /** With a records path: the navigator reads up to the array, the records loop reads the array, and so on. */
  private scanDocument(chunk: Buffer, i: number, out: RawRecord[]): void {
    const envelope = this.envelope!;
    while (i < chunk.length) {
      if (this.phase === Phase.Envelope) {
        i = envelope.scan(chunk, i, this.base);
        if (envelope.inArray) {
          this.inArray = true;
          this.phase = Phase.ArrayFirst;
          this.line = envelope.line;
        }
      } else {
        i = this.scanRecords(chunk, i, out);
      }
    }
  }

  /**
   * The records loop, the engine's hot path: from `i` to the chunk's end, or, with a records path, to just
   * after the array's ']'. Returns where it stopped.
   */
  private scanRecords(chunk: Buffer, i: number, out: RawRecord[]): number {
    const len = chunk.length;
    while (i < len) {
      if (this.kind !== Kind.None) {
        i = this.scanValue(chunk, i, out);
        continue;
      }
      const c = chunk[i]!;
      if (WS[c]) {
        if (c === 0x0a) this.line++;
        i++;
        continue;
      }
      switch (this.phase) {
        case Phase.Start:
          if (c === 0x5b && this.format !== 'ndjson') {
            this.format = 'json';
            this.inArray = true;
            this.phase = Phase.ArrayFirst;
            i++;
          } else {
            if (this.format === 'auto') this.format = 'ndjson';
            i = this.startValue(chunk, i);
          }
          break;
        case Phase.ArrayFirst:
          if (c === 0x5d) {
            if (this.envelope) return this.leaveArray(i + 1);
            this.phase = Phase.Done;
            i++;
          } else {
            i = this.startValue(chunk, i);
          }
          break;
        case Phase.ArrayValue:
          if (c === 0x5d) this.fail(i, "a value after ',' (trailing comma before ']')", undefined, this.nextIndex);
          i = this.startValue(chunk, i);
          break;
        case Phase.ArrayAfter:
          if (c === 0x2c) this.phase = Phase.ArrayValue;
          else if (c === 0x5d) {
            if (this.envelope) return this.leaveArray(i + 1);
            this.phase = Phase.Done;
          } else this.fail(i, `',' or ']' after array element, found ${describeByte(c)}`, undefined, this.nextIndex);
          i++;
          break;
        case Phase.Done:
          if (this.format === 'ndjson') {
            i = this.startValue(chunk, i);
          } else {
            // An object after a top-level object: JSON Lines read as one JSON document (a .json name, --format json).
            const lines = !this.inArray && c === 0x7b ? '; if the file holds one JSON object per line (JSON Lines), load it with --format ndjson' : '';
            this.fail(i, `end of input after the top-level value, found ${describeByte(c)}${lines}`);
          }
          break;
      }
    }
    return i;
  }

  /** The array of records has closed (at `i - 1`): back to the navigator for the rest of the document. */
  private leaveArray(i: number): number {
    this.inArray = false;
    this.phase = Phase.Envelope;
    this.envelope!.leaveArray(this.line, this.base + i - 1);
    return i;
  }

  /** The input has ended: flush a trailing bare value and check that the document is complete. */
  end(out: RawRecord[]): void {
    if (this.bomMatched > 0 && this.bomMatched < 3) this.fail(0, 'the rest of a UTF-8 byte-order mark (the input ends inside it)', this.base);
    if (this.kind === Kind.Bare) this.finishValue(null, 0, out);
    if (this.kind !== Kind.None) throw this.truncatedValue();
    if (this.envelope) {
      if (this.phase !== Phase.Envelope) this.fail(0, "more array elements or ']' (the input is truncated)", this.base, this.nextIndex);
      this.envelope.end(this.base);
      return;
    }
    if (this.format !== 'ndjson') {
      if (this.phase === Phase.Start) this.fail(0, 'a JSON value (the input is empty)', this.base);
      if (this.phase !== Phase.Done) this.fail(0, "more array elements or ']' (the input is truncated)", this.base, this.nextIndex);
    }
  }

  /**
   * The input ended inside a value. Its brackets never balanced, so the scanner read on to the end: the
   * first real syntax error in it (a line cut short in NDJSON, say) is more useful than "truncated" at EOF.
   */
  private truncatedValue(): EtlError {
    const found = this.pendingError();
    if (found) return found;
    return new EtlError('E_PARSE', `invalid JSON: expected the rest of a value that starts at byte ${this.valueStart} (the input is truncated)`, {
      source: this.opts.source,
      recordIndex: this.nextIndex,
      byteOffset: this.base,
      line: this.line,
    });
  }

  /**
   * The syntax error in the value the input has stopped inside, if its bytes so far already hold one; null
   * when they do not (or when the scanner is between values). A record's grammar is otherwise checked when
   * it ends: this is for input that pauses part way through one (a stalled download, a writer that stays
   * open), so that a record already broken fails the load then, not when (or if) the rest of it arrives.
   * Costs a pass over the value's bytes so far (up to maxBytes), so the caller asks only when input idles.
   */
  pendingError(maxBytes = VERIFY_MAX): EtlError | null {
    // Up to maxBytes of valid UTF-8 (offsets count bytes): a value larger still is only checked whole.
    if (this.kind === Kind.None || this.kind === Kind.Bare || this.piecesLength > maxBytes) return null;
    const bytes = withoutCutCharacter(Buffer.concat(this.pieces, this.piecesLength));
    if (!isUtf8(bytes)) return null; // said, with its offset, when the record ends
    const text = bytes.toString('utf8');
    const found = this.locate(text, true);
    return found ? new EtlError('E_PARSE', `invalid JSON: ${found.message}`, { source: this.opts.source, recordIndex: this.nextIndex, byteOffset: found.byteOffset, line: found.line }) : null;
  }

  /** Bytes consumed so far. */
  get bytesScanned(): number {
    return this.base;
  }

  private startValue(chunk: Buffer, i: number): number {
    const c = chunk[i]!;
    this.valueStart = this.base + i;
    this.valueIsArray = c === 0x5b;
    this.valueLine = this.line;
    this.numberDigits = 0;
    this.longNumbers = false;
    if (c === 0x7b || c === 0x5b) {
      this.kind = Kind.Container;
      this.depth = 1;
      this.inString = false;
      this.carryBackslashes = 0;
      this.pieceStart = i;
      return i + 1;
    }
    if (c === 0x22) {
      this.kind = Kind.String;
      this.inString = true;
      this.carryBackslashes = 0;
      this.pieceStart = i;
      return i + 1;
    }
    if (c === 0x2d || (c >= 0x30 && c <= 0x39) || c === 0x74 || c === 0x66 || c === 0x6e) {
      this.kind = Kind.Bare;
      this.pieceStart = i;
      return i + 1;
    }
    // A UTF-16 export (Windows tools write it) starts with its byte-order mark.
    const utf16 = this.base + i === 0 && ((c === 0xff && chunk[i + 1] === 0xfe) || (c === 0xfe && chunk[i + 1] === 0xff)) ? ': the file starts with a UTF-16 byte-order mark; exports must be UTF-8 (iconv -f UTF-16 -t UTF-8 converts one)' : '';
    this.fail(i, `a JSON value, found ${describeByte(c)}${utf16}`, undefined, this.nextIndex);
  }

  /** Where the current value starts inside the current chunk (0 when it began in an earlier chunk). */
  private pieceStart = 0;

  private scanValue(chunk: Buffer, i: number, out: RawRecord[]): number {
    const len = chunk.length;
    if (this.kind === Kind.Bare) {
      while (i < len && BARE[chunk[i]!]) i++;
      if (i < len) this.finishValue(chunk, i, out);
      return i;
    }
    // Digits of the number literal being read (a quote sets it to 0: a string's bytes are not counted).
    let digits = this.numberDigits;
    while (i < len) {
      if (this.inString) {
        const q = stringEnd(chunk, i, this.carryBackslashes);
        if (q < 0) {
          this.carryBackslashes = trailingBackslashes(chunk, i, len, this.carryBackslashes);
          this.numberDigits = 0;
          return len;
        }
        this.carryBackslashes = 0;
        i = q + 1;
        this.inString = false;
        if (this.kind === Kind.String) {
          this.finishValue(chunk, i, out);
          return i;
        }
        continue;
      }
      // Whitespace first: most of what lies between strings in an indented export.
      const c = chunk[i]!;
      if (c <= 0x20) {
        digits = 0;
        if (c === 0x0a) this.line++;
      } else if (c === 0x22) {
        digits = 0;
        this.inString = true;
      } else if (c <= 0x39 && c >= 0x30) {
        if (++digits > EXACT_DIGITS && this.depth <= READ_DEPTH) this.longNumbers = true;
      } else if (c === 0x7b || c === 0x5b) {
        digits = 0;
        this.depth++;
      } else if (c === 0x7d || c === 0x5d) {
        digits = 0;
        if (--this.depth === 0) {
          this.numberDigits = 0;
          this.finishValue(chunk, i + 1, out);
          return i + 1;
        }
      } else if (c !== 0x2e) {
        // An e or E after a digit is an exponent (outside strings only true and false hold an e otherwise).
        if (digits > 0 && (c === 0x65 || c === 0x45) && this.depth <= READ_DEPTH) this.longNumbers = true;
        digits = 0;
      }
      i++;
    }
    this.numberDigits = digits;
    return i;
  }

  private keepPiece(chunk: Buffer): void {
    const piece = chunk.subarray(this.pieceStart);
    this.piecesLength += piece.length;
    this.pieces.push(piece);
    this.pieceStart = 0;
    this.checkSize(0);
  }

  private checkSize(extra: number): void {
    if (this.piecesLength + extra > this.opts.maxRecordBytes) {
      // A top level too large to read whole: if its keys say it wraps the orders, say that instead.
      if (!this.inArray && this.nextIndex === 0 && this.opts.requireOrders && this.opts.format !== 'ndjson') {
        checkTopLevelKeys(keysInPrefix(Buffer.concat(this.pieces)), { source: this.opts.source, byteOffset: this.valueStart, line: this.valueLine });
      }
      // A JSON array read as JSON Lines (--format ndjson) is one record as large as the file.
      const array = this.format === 'ndjson' && this.nextIndex === 0 && this.valueIsArray;
      throw new EtlError(
        'E_RECORD_TOO_LARGE',
        `record is larger than --max-record-bytes (${this.opts.maxRecordBytes} bytes)${array ? `; it is a JSON array: if the file is one array of orders, not JSON Lines, ${ARRAY_NOT_LINES}` : ''}`,
        { source: this.opts.source, recordIndex: this.nextIndex, byteOffset: this.valueStart, line: this.valueLine },
      );
    }
  }

  /** The value ends before `end` in `chunk` (or at the end of input when chunk is null). */
  private finishValue(chunk: Buffer | null, end: number, out: RawRecord[]): void {
    let bytes: Buffer;
    if (chunk === null) {
      bytes = this.pieces.length === 1 ? this.pieces[0]! : Buffer.concat(this.pieces, this.piecesLength);
    } else if (this.pieces.length === 0) {
      bytes = chunk.subarray(this.pieceStart, end);
      this.checkSize(bytes.length);
    } else {
      this.checkSize(end);
      this.pieces.push(chunk.subarray(0, end));
      bytes = Buffer.concat(this.pieces, this.piecesLength + end);
    }
    this.pieces = [];
    this.piecesLength = 0;
    this.kind = Kind.None;
    const index = this.nextIndex++;
    if (!isUtf8(bytes)) {
      throw new EtlError('E_ENCODING', `invalid UTF-8 at byte ${this.valueStart + firstInvalidUtf8(bytes)}`, {
        source: this.opts.source,
        recordIndex: index,
        byteOffset: this.valueStart,
        line: this.valueLine,
      });
    }
    const text = bytes.toString('utf8');
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      throw this.syntaxError(text, index, err);
    }
    if (this.inArray) {
      this.phase = Phase.ArrayAfter;
    } else {
      this.phase = Phase.Done;
      // A wrapped export ({"orders": [...]}) must not load as one invalid record; NDJSON named as such is
      // one record per line, whatever its first line is.
      if (index === 0 && this.opts.requireOrders && this.opts.format !== 'ndjson') {
        checkTopLevelRecord(value, { source: this.opts.source, byteOffset: this.valueStart, line: this.valueLine });
      }
    }
    out.push({ index, offset: this.valueStart, line: this.valueLine, value, text, literals: this.longNumbers ? numberLiterals(text) : null });
  }

  /** JSON.parse does not always say where; stream-json's verifier does, to the character. */
  private syntaxError(text: string, index: number, cause: unknown): EtlError {
    const found = this.locate(text);
    return new EtlError('E_PARSE', `invalid JSON: ${found?.message ?? (cause instanceof Error ? cause.message : String(cause))}`, {
      source: this.opts.source,
      recordIndex: index,
      byteOffset: found?.byteOffset ?? this.valueStart,
      line: found?.line ?? this.valueLine,
    }, { cause });
  }

  /**
   * Where the current value's text (from valueStart) first breaks JSON's grammar, by stream-json's verifier,
   * the text taken as complete: an incomplete text is an error too, unless `paused` (the input stopped there and
   * more may come). The verifier holds back an error in the last characters while more could mend it (6
   * characters after a control character in a string, 16 after a bad literal), which taking the text as complete
   * brings out; paused, an error at the very end, or at a literal or escape that the end cut (`tru`, `\u00`), is
   * only the cut. Null when the verifier finds nothing. One pass over the text either way.
   */
  private locate(text: string, paused = false): { message: string; byteOffset: number; line: number } | null {
    // A stream-chain flushable: a call with `none` checks that the document is complete.
    const verify = jsonVerifier() as unknown as (chunk: string | typeof none) => unknown;
    let atEnd = false;
    try {
      verify(text);
      atEnd = true;
      verify(none);
    } catch (verr) {
      const v = verr as { offset?: number; message?: string };
      if (typeof v.offset !== 'number' || typeof v.message !== 'string') return null;
      if (paused && atEnd && (v.offset >= text.length || CUT_LEXEME.test(text.slice(v.offset)))) return null;
      // Not the verifier's line: it also ends lines at CR, U+2028 and U+2029; the scanner's lines end at LF.
      const before = text.slice(0, v.offset);
      return { message: tokenizerMessage(v.message), byteOffset: this.valueStart + Buffer.byteLength(before), line: this.valueLine + lineFeeds(before) };
    }
    return null;
  }

  /** `record`: the index of the record the error is at, where there is one (a value that starts or should start one). */
  private fail(i: number, expected: string, absolute?: number, record?: number): never {
    throw new EtlError('E_PARSE', `invalid JSON: expected ${expected}`, {
      source: this.opts.source,
      recordIndex: record,
      byteOffset: absolute ?? this.base + i,
      line: this.line,
    });
  }
}
