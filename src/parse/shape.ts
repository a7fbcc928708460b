/**
 * Is this an export of orders at all? Without --records-path, a document whose top level is not an array is
 * read as one record. That is right for an export of a single order; for an export wrapped in an object
 * (`{"orders": [...]}`, `{"data": ...}`, `{"results": ...}`) it would load nothing and count the whole file as
 * one invalid record. So a top-level value that is not an array must look like an order, or the load stops
 * with the keys it found and the --records-path that would reach the array.
 */
import { EtlError, shellWord, type ErrorContext } from '../errors.ts';
import { describeValueStart, WS } from './json-bytes.ts';

/** An object with any of these is an order, valid or not (an invalid one is rejected with its reason). */
const ORDER_FIELDS = ['order_id', 'order_date', 'customer', 'products'];

/** A key of the top-level object and what its value is ("an array"), as far as it was read. */
export interface KeySeen {
  key: string;
  kind: string;
}

/** Keys listed in a message; the rest are counted. */
const KEYS_SHOWN = 8;

export function looksLikeOrder(value: unknown): boolean {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  return ORDER_FIELDS.some((f) => Object.hasOwn(value, f));
}

/** Refuses a top-level value (read whole) that is not an order. */
export function checkTopLevelRecord(value: unknown, where: ErrorContext): void {
  if (looksLikeOrder(value)) return;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new EtlError('E_PARSE', `the top level is ${kindOf(value)}, not an order or an array of orders`, where);
  }
  const keys = Object.entries(value as Record<string, unknown>).map(([key, v]) => ({ key, kind: kindOf(v) }));
  throw notOrders(keys, keys.length, findArray(value as Record<string, unknown>), where);
}

/** The same for a top-level object too large to read whole: what its first bytes say about its keys. */
export function checkTopLevelKeys(keys: KeySeen[], where: ErrorContext): void {
  if (keys.some((k) => ORDER_FIELDS.includes(k.key))) return;
  const array = keys.find((k) => k.kind === 'an array');
  throw notOrders(keys, keys.length, array ? [array.key] : null, where, ' (the part read so far)');
}

/**
 * The keys of a top-level object and the kinds of their values, from its first bytes, without validating
 * them (the object is too large to read whole; this only feeds a message).
 */
export function keysInPrefix(bytes: Buffer): KeySeen[] {
  const keys: KeySeen[] = [];
  let depth = 0;
  let expectKey = false;
  let key: string | null = null;
  let i = 0;
  while (i < bytes.length) {
    const c = bytes[i]!;
    if (c === 0x22) {
      let j = i + 1;
      while (j < bytes.length && bytes[j] !== 0x22) j += bytes[j] === 0x5c ? 2 : 1;
      if (j >= bytes.length) break;
      if (depth === 1 && expectKey) {
        key = decodeKey(bytes.subarray(i, j + 1));
        expectKey = false;
      } else if (depth === 1 && key !== null) {
        keys.push({ key, kind: 'a string' });
        key = null;
      }
      i = j + 1;
      continue;
    }
    if (!WS[c] && c !== 0x3a && depth === 1 && key !== null) {
      keys.push({ key, kind: describeValueStart(c) });
      key = null;
    }
    if (c === 0x7b || c === 0x5b) {
      if (++depth === 1) expectKey = c === 0x7b;
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
    } else if (c === 0x2c && depth === 1) {
      expectKey = true;
    }
    i++;
  }
  return keys;
}

function decodeKey(quoted: Buffer): string {
  const text = quoted.toString('utf8');
  try {
    return JSON.parse(text) as string;
  } catch {
    return text.slice(1, -1);
  }
}

function notOrders(keys: KeySeen[], count: number, arrayPath: string[] | null, where: ErrorContext, partial = ''): EtlError {
  const shown = keys.slice(0, KEYS_SHOWN).map((k) => `${JSON.stringify(k.key)} (${k.kind})`);
  const more = count > KEYS_SHOWN ? `, and ${count - KEYS_SHOWN} more` : '';
  const listed = keys.length === 0 ? 'an empty object' : `an object with the keys ${shown.join(', ')}${more}${partial}`;
  const hint = arrayPath
    ? `if the orders are the array under ${arrayPath.map((k) => JSON.stringify(k)).join(' > ')}, load them with --records-path ${shellWord(formatRecordsPath(arrayPath))}`
    : 'if the orders are an array inside it, give its path with --records-path (as in --records-path data.orders)';
  return new EtlError('E_PARSE', `the top level is ${listed}, not an order (no ${ORDER_FIELDS[0]}); ${hint}`, where);
}

/**
 * Where the orders likely are: the first array, breadth first and a few levels down, whose first element
 * looks like an order; else the first array at all.
 */
function findArray(root: Record<string, unknown>): string[] | null {
  let any: string[] | null = null;
  let level: { path: string[]; value: Record<string, unknown> }[] = [{ path: [], value: root }];
  for (let depth = 0; depth < 4 && level.length > 0; depth++) {
    const next: typeof level = [];
    for (const { path, value } of level) {
      for (const [k, v] of Object.entries(value)) {
        if (Array.isArray(v)) {
          if (looksLikeOrder(v[0])) return [...path, k];
          any ??= [...path, k];
        } else if (v !== null && typeof v === 'object') {
          next.push({ path: [...path, k], value: v as Record<string, unknown> });
        }
      }
    }
    level = next;
  }
  return any;
}

function kindOf(v: unknown): string {
  if (Array.isArray(v)) return 'an array';
  if (v === null) return 'null';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return 'a string';
  if (typeof v === 'number') return 'a number';
  return `a ${typeof v}`;
}

/**
 * --records-path leads to an object without the path's next key: name the keys that are there, and the
 * path to the first array among them, the likeliest home of the orders.
 */
export function pathNotFound(path: readonly string[], depth: number, seen: KeySeen[], seenCount: number): string {
  const shown = seen.slice(0, KEYS_SHOWN).map((k) => `${JSON.stringify(k.key)} (${k.kind})`);
  const more = seenCount > shown.length ? `, and ${seenCount - shown.length} more` : '';
  const keys = seenCount === 0 ? 'it is an empty object' : `its keys: ${shown.join(', ')}${more}`;
  const array = seen.find((k) => k.kind === 'an array');
  const hint = array ? `; did you mean --records-path ${shellWord(formatRecordsPath([...path.slice(0, depth - 1), array.key]))}?` : '';
  const where = depth === 1 ? 'at the top level' : `in the object at ${formatRecordsPath(path.slice(0, depth - 1))}`;
  return `no key ${JSON.stringify(path[depth - 1])} ${where} (${keys})${hint}`;
}

/** What to do about a JSON array read as JSON Lines (a .ndjson name, --format ndjson): one record, an array. */
export const ARRAY_NOT_LINES = 'load it with --format json';

/** A records path as it is written on the command line: keys joined by dots, a dot inside a key as `\.`. */
export function formatRecordsPath(path: readonly string[]): string {
  return path.map((k) => k.replace(/[\\.]/g, (c) => `\\${c}`)).join('.');
}
