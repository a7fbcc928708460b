/**
 * Byte-level facts about JSON text that the structural scanners share (scanner.ts for the records,
 * envelope.ts for what lies around them): whitespace, the bytes of bare values, where a string ends and the
 * backslash runs at a chunk's end, and how to name a byte in a message.
 */

export const WS = new Uint8Array(256);
WS[0x20] = WS[0x09] = WS[0x0a] = WS[0x0d] = 1;

/** Bytes that may continue a number or a literal; anything else ends a bare value. */
export const BARE = new Uint8Array(256);
for (const c of '0123456789+-.eEtrufalsn') BARE[c.charCodeAt(0)] = 1;
for (let c = 0x41; c <= 0x5a; c++) BARE[c] = BARE[c + 0x20] = 1;

/**
 * A number literal longer than this many digits, or with an exponent, may not be what JSON.parse's double
 * holds: up to 15 significant digits every decimal reads back exactly (DBL_DIG), and an exponent can put a
 * value below the smallest double or between two far apart. A record with one is read exactly
 * (parse/literals.ts, transform/order.ts exactDecimal); every other number's double is its literal's value.
 * Only numbers at most model.ts READ_DEPTH levels deep are such a record's: a long literal deeper than that
 * (in a field the engine does not read) changes nothing.
 */
export const EXACT_DIGITS = 15;

/**
 * Where a string that is being read ends in `chunk`: the first quote at or after `i` that no backslash
 * escapes, or -1 when the string goes on past the chunk (trailingBackslashes then gives the next `carry`).
 * `carry`: the backslashes that ended the previous chunk inside this string; their parity escapes a quote
 * at the very start of this one.
 */
export function stringEnd(chunk: Buffer, i: number, carry: number): number {
  for (;;) {
    const q = chunk.indexOf(0x22, i);
    if (q < 0) return -1;
    let j = q - 1;
    while (j >= i && chunk[j] === 0x5c) j--;
    const n = q - 1 - j + (j < i && i === 0 ? carry : 0);
    if ((n & 1) === 0) return q;
    i = q + 1; // an escaped quote
  }
}

/**
 * Backslashes at the end of `chunk[from..len)`; when the run reaches back to the start of the chunk
 * (`from` is 0), those carried from the previous chunk count too. Their parity says whether a quote at the
 * start of the next chunk is escaped.
 */
export function trailingBackslashes(chunk: Buffer, from: number, len: number, carry: number): number {
  let n = 0;
  let j = len - 1;
  while (j >= from && chunk[j] === 0x5c) {
    n++;
    j--;
  }
  return j < from && from === 0 ? n + carry : n;
}

/**
 * A literal or an escape that the end of a text cut (`tru`, `\u00`): what follows may complete it. The
 * verifier, told that such a text is complete, reports an error there that is only the cut.
 */
export const CUT_LEXEME = /^(?:t(?:r(?:ue?)?)?|f(?:a(?:l(?:se?)?)?)?|n(?:u(?:ll?)?)?|\\(?:u[0-9a-fA-F]{0,3})?)$/;

/**
 * The line feeds in `text`: how many lines it moves on, as the scanners count lines (by LF only; a CR, U+2028
 * or U+2029 is no line end for them, though stream-json's verifier counts one for each).
 */
export function lineFeeds(text: string): number {
  let n = 0;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

/**
 * A message of stream-json's tokenizer or verifier in the engine's words: "Verifier cannot parse input:
 * expected ','" is "expected ','", "Parser has expected a value" (the input ended) "expected a value", and its
 * "escaped characters" says what is wrong with them.
 */
export function tokenizerMessage(message: string): string {
  return message
    .replace(/^ERROR at \d+ \(\d+, \d+\): /, '')
    .replace(/^(?:Verifier|Parser) (?:cannot parse input: |has (?=expected ))/, '')
    .replace(/^escaped characters$/, 'a control character or an invalid escape in a string');
}

export function describeByte(c: number): string {
  if (c >= 0x21 && c < 0x7f) return `'${String.fromCharCode(c)}'`;
  return `byte 0x${c.toString(16).padStart(2, '0')}`;
}

/** What kind of JSON value starts with this byte, for messages ("an array", "a string"). */
export function describeValueStart(c: number): string {
  if (c === 0x7b) return 'an object';
  if (c === 0x5b) return 'an array';
  if (c === 0x22) return 'a string';
  if (c === 0x74 || c === 0x66) return 'a boolean';
  if (c === 0x6e) return 'null';
  if (c === 0x2d || (c >= 0x30 && c <= 0x39)) return 'a number';
  return describeByte(c);
}

/** Index of the first byte that does not belong to a well-formed UTF-8 sequence (rare error path). */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    let need: number;
    let min: number;
    if (b < 0x80) {
      i++;
      continue;
    } else if (b >= 0xc2 && b <= 0xdf) {
      need = 1;
      min = 0x80;
    } else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      min = 0x800;
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      min = 0x10000;
    } else {
      return i;
    }
    if (i + need >= bytes.length) return i;
    let cp = b & (0x3f >> need);
    for (let k = 1; k <= need; k++) {
      const cb = bytes[i + k]!;
      if ((cb & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (cb & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += need + 1;
  }
  return i;
}
