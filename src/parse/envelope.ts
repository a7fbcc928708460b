/**
 * --records-path: the way from the top of a JSON document down to the array of orders, as in
 * `{"orders": [...]}` or `{"meta": {...}, "data": {"orders": [...]}}`. The scanner (scanner.ts) scans that
 * array's elements exactly as it scans a top-level array; the bytes around the array, the envelope, come here.
 *
 * The navigator follows the path's keys through the objects on the way and skips every other value byte by
 * byte, keeping nothing of it: a sibling value may be larger than memory. Everything it reads is also fed to
 * stream-json's verifier as if the array were empty (`{"meta": {...}, "orders": []}`), so the envelope is
 * validated as strictly as a record is by JSON.parse, and the verifier keeps no more than a lexeme either.
 * The verifier is fed before the array's first record is scanned, so a malformed envelope fails before any
 * record of it is loaded.
 *
 * Pure core: no streams, no I/O.
 */
import { none } from 'stream-chain/defs.js';
import { jsonVerifier } from 'stream-json/utils/verifier.js';
import { EtlError } from '../errors.ts';
import { BARE, CUT_LEXEME, describeByte, describeValueStart, firstInvalidUtf8, lineFeeds, stringEnd, tokenizerMessage, trailingBackslashes, WS } from './json-bytes.ts';
import { formatRecordsPath, pathNotFound, type KeySeen } from './shape.ts';

const enum Nav {
  Root, // before the top-level value: '{'
  KeyOrEnd, // after '{': a key or '}'
  Key, // after ',': a key
  InKey, // inside a key's quotes
  Colon, // after a key: ':'
  Value, // after ':': the key's value
  Skip, // inside a value off the path
  After, // after a value: ',' or '}'
  Done, // after the top-level object: whitespace only
}

const enum Skip {
  Container,
  String,
  Bare,
}

/** Keys remembered per object searched, for the message when the path's key is not there. */
const KEYS_REMEMBERED = 50;
/** A key longer than this cannot be on a path given on a command line; only its start is kept. */
const MAX_KEY_BYTES = 4096;
/**
 * Characters of the text fed to the verifier kept for its error positions. It finds an error only once it
 * has read past the lexeme that holds it, so an error may lie in text fed earlier: a lexeme is under 300
 * characters (stream-json's verifier reads strings and digits 256 at a time).
 */
const TEXT_KEPT = 16 * 1024;

/** Text fed to the verifier: its first character's index among all fed, and its first byte's offset in the input. */
interface FedText {
  char: number;
  byte: number;
  text: string;
}

type Verify = (chunk: string | typeof none) => unknown;

export class EnvelopeNavigator {
  private readonly path: readonly string[];
  private readonly source: string;
  private state = Nav.Root;
  /** Objects open along the path: 1 inside the top-level object. */
  private depth = 0;
  /** The array has been reached (its records are being, or have been, scanned). */
  private found = false;
  /** The value of the current key is the next step of the path. */
  private onPath = false;
  /** Set when `scan` stops right after the array's '['. */
  inArray = false;
  /** 1-based line of the next byte (the scanner takes it over inside the array). */
  line = 1;

  // The key being read.
  private keyPieces: Buffer[] = [];
  private keyBytes = 0;
  private keyCarry = 0;
  private key = '';
  /** Keys of the object being searched and what their values are. */
  private seen: KeySeen[] = [];
  private seenCount = 0;

  // The value being skipped.
  private skipKind = Skip.Container;
  private skipDepth = 0;
  private skipInString = false;
  private skipCarry = 0;

  private readonly verify = jsonVerifier() as unknown as Verify;
  private readonly decoder = new TextDecoder('utf-8', { fatal: true });
  /** Characters fed to the verifier so far (its error offsets count them). */
  private fedChars = 0;
  /** The last texts fed, at least TEXT_KEPT characters of them: where an error the verifier reports lies. */
  private fed: FedText[] = [];
  /** Bytes of a character cut by the end of the last chunk, which the decoder holds until the rest comes. */
  private heldBytes = 0;

  constructor(path: readonly string[], source: string) {
    this.path = path;
    this.source = source;
  }

  /**
   * Read the envelope from `start`, with `base` the absolute offset of the chunk's first byte. Returns where
   * it stopped: the chunk's end, or just after the array's '[' (`inArray` is then set).
   */
  scan(chunk: Buffer, start: number, base: number): number {
    let i = start;
    const len = chunk.length;
    this.chunk = chunk;
    this.chunkBase = base;
    this.fedTo = start;
    while (i < len) {
      if (this.state === Nav.Skip) {
        i = this.skip(chunk, i);
        continue;
      }
      if (this.state === Nav.InKey) {
        i = this.readKey(chunk, i, base);
        continue;
      }
      const c = chunk[i]!;
      if (WS[c]) {
        if (c === 0x0a) this.line++;
        i++;
        continue;
      }
      switch (this.state) {
        case Nav.Root:
          if (c !== 0x7b) {
            const array = c === 0x5b ? ' (leave out --records-path to load the elements of a top-level array)' : '';
            this.fail(base + i, `the top level is ${describeValueStart(c)}, not an object${array}`);
          }
          this.enterObject();
          i++;
          break;
        case Nav.KeyOrEnd:
        case Nav.Key:
          if (c === 0x22) {
            this.state = Nav.InKey;
            this.keyPieces = [];
            this.keyBytes = 0;
            this.keyCarry = 0;
            i++;
            this.keyStart = i;
          } else if (c === 0x7d && this.state === Nav.KeyOrEnd) {
            this.closeObject(base + i);
            i++;
          } else {
            this.syntax(base + i, `expected ${this.state === Nav.KeyOrEnd ? "a key or '}'" : 'a key'}, found ${describeByte(c)}`);
          }
          break;
        case Nav.Colon:
          if (c !== 0x3a) this.syntax(base + i, `expected ':' after the key ${JSON.stringify(this.key)}, found ${describeByte(c)}`);
          this.state = Nav.Value;
          i++;
          break;
        case Nav.Value:
          i = this.startValue(chunk, i, base);
          if (this.inArray) {
            this.flushTo(i);
            return i;
          }
          break;
        case Nav.After:
          if (c === 0x2c) this.state = Nav.Key;
          else if (c === 0x7d) this.closeObject(base + i);
          else this.syntax(base + i, `expected ',' or '}' after the value of ${JSON.stringify(this.key)}, found ${describeByte(c)}`);
          i++;
          break;
        case Nav.Done:
          this.syntax(base + i, `expected the end of input after the top-level object, found ${describeByte(c)}`);
      }
    }
    if (this.state === Nav.InKey) this.keepKeyPiece(chunk);
    this.flushTo(i);
    this.chunk = null;
    return i;
  }

  /** The scanner consumed the array's ']', at absolute offset `at`: the rest of the envelope follows. */
  leaveArray(line: number, at: number): void {
    this.inArray = false;
    this.line = line;
    this.state = Nav.After;
    this.verifyText(']', at);
  }

  /** The input has ended at absolute offset `total`: the envelope must be complete. */
  end(total: number): void {
    if (this.state === Nav.Skip && this.skipKind === Skip.Bare) this.state = Nav.After;
    if (this.state === Nav.Root) this.syntax(total, 'expected a JSON value (the input is empty)');
    if (this.state !== Nav.Done) {
      this.errorBeforeEnd();
      this.syntax(total, 'expected the rest of the top-level object (the input is truncated)');
    }
    let rest: string;
    try {
      rest = this.decoder.decode();
    } catch {
      throw new EtlError('E_ENCODING', 'invalid UTF-8 at the end of the input', { source: this.source, byteOffset: total });
    }
    this.verifyText(rest, total - this.heldBytes);
    try {
      this.verify(none);
    } catch (err) {
      throw this.verifierError(err);
    }
  }

  // --- the path -----------------------------------------------------------------------------------------

  private enterObject(): void {
    this.depth++;
    this.state = Nav.KeyOrEnd;
    this.seen = [];
    this.seenCount = 0;
  }

  private closeObject(at: number): void {
    // Every object the navigator closes itself is on the path; closing one before the array was found
    // means its key is not there.
    if (!this.found) this.notFound(at);
    this.depth--;
    this.state = this.depth === 0 ? Nav.Done : Nav.After;
  }

  private keyStart = 0;

  private readKey(chunk: Buffer, i: number, base: number): number {
    const len = chunk.length;
    if (i >= len) return i;
    const q = stringEnd(chunk, i, this.keyCarry);
    if (q < 0) {
      this.keyCarry = trailingBackslashes(chunk, i, len, this.keyCarry);
      return len;
    }
    this.keyCarry = 0;
    this.keepKeyPiece(chunk, q);
    this.finishKey(base + q);
    return q + 1;
  }

  /** Keep the key's bytes from keyStart up to `end` (the chunk's end by default), up to MAX_KEY_BYTES. */
  private keepKeyPiece(chunk: Buffer, end = chunk.length): void {
    const room = MAX_KEY_BYTES - this.keyBytes;
    if (room > 0 && end > this.keyStart) {
      const piece = chunk.subarray(this.keyStart, Math.min(end, this.keyStart + room));
      this.keyPieces.push(Buffer.from(piece));
      this.keyBytes += piece.length;
    }
    this.keyStart = 0;
  }

  private finishKey(at: number): void {
    const raw = Buffer.concat(this.keyPieces, this.keyBytes);
    this.keyPieces = [];
    let key: string;
    try {
      // The key's escapes are what the verifier checks; a key cut at MAX_KEY_BYTES matches nothing anyway.
      key = raw.includes(0x5c) ? (JSON.parse(`"${raw.toString('utf8')}"`) as string) : raw.toString('utf8');
    } catch {
      key = raw.toString('utf8');
    }
    this.key = key;
    this.state = Nav.Colon;
    const wanted = this.path[this.depth - 1];
    if (this.found) {
      if (key === wanted) this.fail(at, `the key ${JSON.stringify(key)} appears twice in the object at ${this.where(this.depth - 1)}: which array holds the orders is ambiguous`);
      this.onPath = false;
    } else {
      this.onPath = key === wanted;
    }
  }

  private startValue(chunk: Buffer, i: number, base: number): number {
    const c = chunk[i]!;
    if (!this.found) {
      if (this.seen.length < KEYS_REMEMBERED) this.seen.push({ key: this.key, kind: describeValueStart(c) });
      this.seenCount++;
    }
    if (this.onPath) {
      this.onPath = false;
      const at = this.path.slice(0, this.depth);
      if (this.depth === this.path.length) {
        if (c !== 0x5b) this.fail(base + i, `the value at ${formatRecordsPath(at)} is ${describeValueStart(c)}, not an array of orders`);
        this.found = true;
        this.inArray = true;
        return i + 1;
      }
      if (c !== 0x7b) this.fail(base + i, `the value at ${formatRecordsPath(at)} is ${describeValueStart(c)}, not an object`);
      this.enterObject();
      return i + 1;
    }
    // Off the path: skipped, whatever it is.
    this.state = Nav.Skip;
    this.skipInString = false;
    this.skipCarry = 0;
    if (c === 0x7b || c === 0x5b) {
      this.skipKind = Skip.Container;
      this.skipDepth = 1;
    } else if (c === 0x22) {
      this.skipKind = Skip.String;
      this.skipInString = true;
    } else if (c === 0x2d || (c >= 0x30 && c <= 0x39) || c === 0x74 || c === 0x66 || c === 0x6e) {
      this.skipKind = Skip.Bare;
    } else {
      this.syntax(base + i, `expected a JSON value after ${JSON.stringify(this.key)}, found ${describeByte(c)}`);
    }
    return i + 1;
  }

  /** Past a value off the path: the same structural scan as the scanner's, keeping nothing. */
  private skip(chunk: Buffer, i: number): number {
    const len = chunk.length;
    if (this.skipKind === Skip.Bare) {
      while (i < len && BARE[chunk[i]!]) i++;
      if (i < len) this.state = Nav.After;
      return i;
    }
    while (i < len) {
      if (this.skipInString) {
        const q = stringEnd(chunk, i, this.skipCarry);
        if (q < 0) {
          this.skipCarry = trailingBackslashes(chunk, i, len, this.skipCarry);
          return len;
        }
        this.skipCarry = 0;
        i = q + 1;
        this.skipInString = false;
        if (this.skipKind === Skip.String) {
          this.state = Nav.After;
          return i;
        }
        continue;
      }
      const c = chunk[i]!;
      if (c === 0x22) {
        this.skipInString = true;
      } else if (c === 0x7b || c === 0x5b) {
        this.skipDepth++;
      } else if (c === 0x7d || c === 0x5d) {
        if (--this.skipDepth === 0) {
          this.state = Nav.After;
          return i + 1;
        }
      } else if (c === 0x0a) {
        this.line++;
      }
      i++;
    }
    return i;
  }

  // --- validation ---------------------------------------------------------------------------------------

  /** The chunk being scanned, and how far into it the verifier has been fed. */
  private chunk: Buffer | null = null;
  private chunkBase = 0;
  private fedTo = 0;

  /** Feed the verifier the current chunk's bytes up to index `to` (exclusive). */
  private flushTo(to: number): void {
    const chunk = this.chunk;
    if (!chunk || to <= this.fedTo) return;
    const from = this.fedTo;
    this.fedTo = to;
    this.feed(chunk.subarray(from, to), this.chunkBase + from);
  }

  private feed(bytes: Buffer, base: number): void {
    if (bytes.length === 0) return;
    let text: string;
    try {
      text = this.decoder.decode(bytes, { stream: true });
    } catch {
      const at = base + firstInvalidUtf8(bytes);
      throw new EtlError('E_ENCODING', `invalid UTF-8 at byte ${at}`, { source: this.source, byteOffset: at });
    }
    // The text starts with the bytes of a character the last chunk cut, and leaves out those this one cuts.
    const start = base - this.heldBytes;
    this.heldBytes += bytes.length - Buffer.byteLength(text);
    this.verifyText(text, start);
  }

  /** `base`: absolute offset of the text's first byte. */
  private verifyText(text: string, base: number): void {
    if (text === '') return;
    const fed = this.fed;
    fed.push({ char: this.fedChars, byte: base, text });
    while (fed.length > 2 && fed[1]!.char <= this.fedChars - TEXT_KEPT) fed.shift();
    try {
      this.verify(text);
    } catch (err) {
      throw this.verifierError(err);
    }
    this.fedChars += text.length;
  }

  /**
   * The input ends before the envelope does. The verifier may hold back an error in the last characters it
   * was fed (it waits for 6 characters after a control character in a string, 16 after a bad literal): told
   * that the input has ended, it reports it, and that error is the one to give. One at the very end, or at a
   * literal or escape the end cut, is only the truncation, which the caller reports.
   */
  private errorBeforeEnd(): void {
    try {
      this.verify(none);
    } catch (err) {
      const at = (err as { offset?: number }).offset;
      if (typeof at !== 'number' || at >= this.fedChars) return;
      const rest = this.fed.filter((f) => f.char + f.text.length > at).map((f) => f.text.slice(Math.max(0, at - f.char))).join('');
      if (!CUT_LEXEME.test(rest)) throw this.verifierError(err);
    }
  }

  /**
   * The verifier's error, at the byte and line it names: its offset counts the characters fed to it, which
   * may lie in a text fed before the one it failed on. The navigator's line is that of the end of the text
   * fed; the line feeds after the error come off it.
   */
  private verifierError(err: unknown): EtlError {
    const v = err as { offset?: number; message?: string };
    const fed = this.fed;
    let k = fed.length - 1;
    while (k > 0 && typeof v.offset === 'number' && fed[k]!.char > v.offset) k--;
    let where: { byteOffset: number; line: number } | null = null;
    if (typeof v.offset === 'number' && k >= 0 && fed[k]!.char <= v.offset) {
      const first = fed[k]!;
      const within = v.offset - first.char;
      let after = lineFeeds(first.text.slice(within));
      for (let j = k + 1; j < fed.length; j++) after += lineFeeds(fed[j]!.text);
      where = { byteOffset: first.byte + Buffer.byteLength(first.text.slice(0, within)), line: this.line - after };
    }
    const message = tokenizerMessage(v.message ?? String(err));
    return new EtlError('E_PARSE', `invalid JSON around the records (--records-path ${formatRecordsPath(this.path)}): ${message}`, {
      source: this.source,
      ...where,
    }, { cause: err });
  }

  // --- messages -----------------------------------------------------------------------------------------

  /** "the top level" or "data.orders": the object reached by the first `depth` keys. */
  private where(depth: number): string {
    return depth === 0 ? 'the top level' : formatRecordsPath(this.path.slice(0, depth));
  }

  private notFound(at: number): never {
    this.fail(at, pathNotFound(this.path, this.depth, this.seen, this.seenCount));
  }

  /**
   * Errors of the navigator come after the verifier has seen every byte before them: when the JSON is
   * malformed earlier, that is the error to report.
   */
  private fail(at: number, message: string): never {
    this.flushTo(at - this.chunkBase);
    throw new EtlError('E_PARSE', `--records-path ${formatRecordsPath(this.path)}: ${message}`, { source: this.source, byteOffset: at, line: this.line });
  }

  private syntax(at: number, message: string): never {
    this.flushTo(at - this.chunkBase);
    throw new EtlError('E_PARSE', `invalid JSON: ${message}`, { source: this.source, byteOffset: at, line: this.line });
  }
}
