/**
 * Number literals that a double may not hold exactly, with where they are in their record, so that the
 * transform can take such a number from its literal instead of from JSON.parse's double (which rounds
 * 10.000000000000000001 to 10 and 1e-400 to 0 without a word). Only records that hold one get a map: the
 * parsers flag them (json-bytes.ts EXACT_DIGITS), and every other number's double is its literal's value.
 */
import { literalKey, READ_DEPTH, readsNumberAt, type NumberLiterals } from '../model.ts';
import { EXACT_DIGITS } from './json-bytes.ts';

/** More digits than a double holds exactly, or an exponent. */
export function isLongNumber(literal: string): boolean {
  let digits = 0;
  for (let i = 0; i < literal.length; i++) {
    const c = literal.charCodeAt(i);
    if (c >= 0x30 && c <= 0x39) {
      if (++digits > EXACT_DIGITS) return true;
    } else if (c === 0x65 || c === 0x45) {
      return true;
    }
  }
  return false;
}

/**
 * Follows one record's tokens (stream-json's names, from its first token to its last) and keeps the long
 * number literals by path (model.ts literalKey). A path's value is its last one, as JSON.parse takes the last
 * of a key given twice: any other value there later (a short number, a string, an object) removes the long one.
 */
export class LiteralTracker {
  /** Per open container (up to READ_DEPTH): the key of the value being read in it, or its index in an array. */
  private readonly keys: (string | number)[] = [];
  private readonly arrays: boolean[] = [];
  private depth = 0;
  private found: Map<string, string> | null = null;
  /** The keys (last path segments) under which `found` holds a literal: only such a key given twice matters. */
  private readonly names = new Set<string>();

  token(name: string, value?: unknown): void {
    switch (name) {
      case 'startObject':
      case 'startArray':
        this.otherValue();
        if (this.depth < READ_DEPTH) {
          this.arrays[this.depth] = name === 'startArray';
          this.keys[this.depth] = -1;
        }
        this.depth++;
        return;
      case 'endObject':
      case 'endArray':
        this.depth--;
        return;
      case 'keyValue':
        if (this.depth <= READ_DEPTH) this.keys[this.depth - 1] = value as string;
        return;
      case 'numberValue':
        this.nextValue();
        this.number(value as string);
        return;
      default:
        this.otherValue();
    }
  }

  /** The long literals of the record just read (null: none), and ready for the next. */
  take(): NumberLiterals | null {
    const found = this.found;
    this.found = null;
    this.names.clear();
    this.depth = 0;
    return found;
  }

  /** A value starts: in an array, at the next index. */
  private nextValue(): void {
    const d = this.depth;
    if (d > 0 && d <= READ_DEPTH && this.arrays[d - 1]) (this.keys[d - 1] as number)++;
  }

  /** A value that is not a number. */
  private otherValue(): void {
    this.nextValue();
    this.forget();
  }

  private number(literal: string): void {
    const d = this.depth;
    if (d === 0 || d > READ_DEPTH) return;
    if (!isLongNumber(literal) || !readsNumberAt(this.keys, d)) return this.forget();
    const last = this.keys[d - 1]!;
    (this.found ??= new Map()).set(literalKey(...this.keys.slice(0, d)), literal);
    if (typeof last === 'string') this.names.add(last);
  }

  /**
   * Where a long literal stood at the path of the value starting (its key given twice), it is gone. A path
   * that a later value of a key higher up removes altogether (`"customer"` given twice, the second without
   * that field) may keep its literal: the transform takes a literal only for a value that is a number.
   */
  private forget(): void {
    const d = this.depth;
    if (this.found === null || d === 0 || d > READ_DEPTH) return;
    const last = this.keys[d - 1]!;
    if (typeof last === 'string' && this.names.has(last)) this.found.delete(literalKey(...this.keys.slice(0, d)));
  }
}

const isSpace = (c: number) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
/** Bytes of a number literal after its first. */
const isNumberPart = (c: number) => (c >= 0x30 && c <= 0x39) || c === 0x2e || c === 0x65 || c === 0x45 || c === 0x2b || c === 0x2d;

/**
 * The long number literals of a record's JSON text (which JSON.parse has accepted), by path; null when it
 * holds none. A loop over the text, no recursion: a record may nest deeper than the call stack.
 */
export function numberLiterals(text: string): NumberLiterals | null {
  const tracker = new LiteralTracker();
  const n = text.length;
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    // Whitespace first: most of what lies between strings in an indented export.
    if (c <= 0x20) {
      i++;
    } else if (c === 0x22) {
      // The closing quote: the next one after an even number of backslashes.
      let j = text.indexOf('"', i + 1);
      for (;;) {
        if (j < 0) return tracker.take(); // not JSON.parse's text: cannot happen
        let b = 0;
        while (text.charCodeAt(j - 1 - b) === 0x5c) b++;
        if ((b & 1) === 0) break;
        j = text.indexOf('"', j + 1);
      }
      let k = j + 1;
      while (k < n && isSpace(text.charCodeAt(k))) k++;
      if (text.charCodeAt(k) === 0x3a) {
        const key = text.slice(i + 1, j);
        tracker.token('keyValue', key.includes('\\') ? (JSON.parse(text.slice(i, j + 1)) as string) : key);
      } else {
        tracker.token('stringValue');
      }
      i = j + 1;
    } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      let j = i + 1;
      while (j < n && isNumberPart(text.charCodeAt(j))) j++;
      tracker.token('numberValue', text.slice(i, j));
      i = j;
    } else if (c === 0x7b) {
      tracker.token('startObject');
      i++;
    } else if (c === 0x5b) {
      tracker.token('startArray');
      i++;
    } else if (c === 0x7d) {
      tracker.token('endObject');
      i++;
    } else if (c === 0x5d) {
      tracker.token('endArray');
      i++;
    } else if (c === 0x74 || c === 0x6e || c === 0x66) {
      // true, null, false
      tracker.token('trueValue');
      i += c === 0x66 ? 5 : 4;
    } else {
      i++; // ':' and ','
    }
  }
  return tracker.take();
}
