/**
 * How many terminal columns a string takes, for aligning the query table: East Asian wide and fullwidth
 * characters and emoji take 2, combining marks and other zero-width characters 0, the rest 1. Measured per
 * grapheme cluster (Intl.Segmenter), so an emoji sequence joined by ZWJ, a flag or a letter with its accents
 * counts once, as terminals draw it.
 *
 * No dependency: string-width would bring four packages for what this table and Node's Unicode property
 * escapes cover (README, *Dependencies*). The wide ranges are those of Unicode's EastAsianWidth.txt (W and F)
 * outside the emoji, which \p{Emoji_Presentation} covers.
 */

/** Code point ranges of East Asian Wide (W) and Fullwidth (F) characters, sorted, inclusive. */
const WIDE: readonly [number, number][] = [
  [0x1100, 0x115f], // Hangul Jamo initial consonants
  [0x2329, 0x232a],
  [0x2e80, 0x303e], // CJK radicals, Kangxi, ideographic description, CJK symbols and punctuation
  [0x3041, 0x33ff], // Hiragana, Katakana, Bopomofo, Hangul compatibility Jamo, Kanbun, CJK strokes, enclosed
  [0x3400, 0x4dbf], // CJK Extension A
  [0x4e00, 0x9fff], // CJK Unified Ideographs
  [0xa000, 0xa4cf], // Yi
  [0xa960, 0xa97f], // Hangul Jamo Extended-A
  [0xac00, 0xd7a3], // Hangul syllables
  [0xf900, 0xfaff], // CJK compatibility ideographs
  [0xfe10, 0xfe19], // vertical forms
  [0xfe30, 0xfe6f], // CJK compatibility forms, small form variants
  [0xff00, 0xff60], // fullwidth forms
  [0xffe0, 0xffe6],
  [0x16fe0, 0x16fe4],
  [0x17000, 0x18cff], // Tangut
  [0x1aff0, 0x1b2ff], // Kana supplement and extensions, Nushu
  [0x1f200, 0x1f2ff], // enclosed ideographic supplement
  [0x20000, 0x2fffd], // CJK extensions B and later
  [0x30000, 0x3fffd],
];

function isWide(cp: number): boolean {
  let lo = 0;
  let hi = WIDE.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const [a, b] = WIDE[mid]!;
    if (cp < a) hi = mid - 1;
    else if (cp > b) lo = mid + 1;
    else return true;
  }
  return false;
}

// Drawn two columns wide: emoji shown as emoji by default, or asked to be (VS16), and flags (regional indicators).
const EMOJI = /\p{Emoji_Presentation}|\uFE0F|\p{Regional_Indicator}/u;
// Nothing drawn: combining marks, format characters (ZWJ, ZWNJ, soft hyphen, ...), control characters.
const ZERO = /^[\p{Mn}\p{Me}\p{Cf}\p{Cc}]$/u;
const ASCII_PRINTABLE = /^[\x20-\x7e]*$/;

const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/** Terminal columns of one grapheme cluster. */
function graphemeWidth(g: string): number {
  if (EMOJI.test(g)) return 2;
  const cp = g.codePointAt(0)!;
  const first = String.fromCodePoint(cp);
  if (ZERO.test(first)) return g.length === first.length ? 0 : graphemeWidth(g.slice(first.length));
  return isWide(cp) ? 2 : 1;
}

export function displayWidth(s: string): number {
  if (ASCII_PRINTABLE.test(s)) return s.length;
  let w = 0;
  for (const { segment } of segmenter.segment(s)) w += graphemeWidth(segment);
  return w;
}

/**
 * `s` cut to at most `max` columns, with an ellipsis where it was cut: at the end, or at the start when the
 * end is what matters (`keep: 'end'`, for paths: the file name).
 */
export function truncateToWidth(s: string, max: number, keep: 'start' | 'end' = 'start'): string {
  if (displayWidth(s) <= max) return s;
  const graphemes = Array.from(segmenter.segment(s), (g) => g.segment);
  if (keep === 'end') graphemes.reverse();
  const kept: string[] = [];
  let w = 0;
  for (const g of graphemes) {
    const gw = graphemeWidth(g);
    if (w + gw > max - 1) break;
    kept.push(g);
    w += gw;
  }
  return keep === 'end' ? `…${kept.reverse().join('')}` : `${kept.join('')}…`;
}
