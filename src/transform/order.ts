/**
 * One order record -> validated rows: the order's fact lines, its customer, its products. Pure functions.
 *
 * Every value that reaches the warehouse is produced here as the exact text the database should store:
 * natural keys as strings, money as a decimal string, dates as YYYY-MM-DD. Anything that cannot be stored
 * faithfully is a rejection with a reason, never a silent rounding or truncation.
 */
import { LIMITS, literalKey, type CustomerRow, type NumberLiterals, type OrderLine, type OrderRows, type SplitResult } from '../model.ts';

class Invalid extends Error {}

/**
 * Split one record into rows, or say why it cannot be loaded. `literals`: its numbers that a double may not
 * hold exactly (RawRecord.literals), taken from their text where they are used.
 */
export function splitOrder(value: unknown, index: number, offset: number | null, raw: string, literals: NumberLiterals | null = null): SplitResult {
  try {
    return toRows(value, index, offset, literals);
  } catch (err) {
    if (err instanceof Invalid) return { kind: 'reject', index, offset, reason: err.message, raw, arrayRecord: Array.isArray(value) };
    throw err;
  }
}

/** The order's rows, made as one object (a spread into another cost a copy of every order). */
function toRows(value: unknown, index: number, offset: number | null, lits: NumberLiterals | null): OrderRows {
  const order = asObject(value, 'record');
  // `lits &&`: a path's key is made only for a record that has long literals.
  const orderId = naturalKey(order.order_id, 'order_id', lits && lits.get(literalKey('order_id')));
  const orderDate = date(order.order_date, 'order_date');
  const totalAmount = money(order.total_amount, 'total_amount', true, lits && lits.get(literalKey('total_amount')));
  const c = asObject(order.customer, 'customer');
  let customer: CustomerRow;
  try {
    customer = {
      customerId: naturalKey(c.customer_id, 'customer_id', lits && lits.get(literalKey('customer', 'customer_id'))),
      name: text(c.name, 'name', lits && lits.get(literalKey('customer', 'name'))),
      email: text(c.email, 'email', lits && lits.get(literalKey('customer', 'email'))),
      address: text(c.address, 'address', lits && lits.get(literalKey('customer', 'address'))),
    };
  } catch (err) {
    throw within('customer', err);
  }
  const items = order.products;
  if (!Array.isArray(items)) throw new Invalid(`products: expected an array, got ${typeName(items)}`);
  const lines: OrderLine[] = new Array(items.length);
  for (let i = 0; i < items.length; i++) {
    // Field names in messages are built only for a record that is rejected: this loop runs for every line.
    try {
      const p = asObject(items[i], '');
      lines[i] = {
        productId: naturalKey(p.product_id, 'product_id', lits && lits.get(literalKey('products', i, 'product_id'))),
        name: text(p.name, 'name', lits && lits.get(literalKey('products', i, 'name'))),
        category: text(p.category, 'category', lits && lits.get(literalKey('products', i, 'category'))),
        price: money(p.price, 'price', true, lits && lits.get(literalKey('products', i, 'price'))),
        quantity: quantity(p.quantity, 'quantity', lits && lits.get(literalKey('products', i, 'quantity'))),
      };
    } catch (err) {
      throw within(`products[${i}]`, err);
    }
  }
  return { kind: 'order', index, offset, orderId, orderDate, totalAmount, customer, lines };
}

/** A field's problem, said from the record's top: "name: ..." within customer is "customer.name: ...". */
function within(path: string, err: unknown): unknown {
  if (!(err instanceof Invalid)) return err;
  return new Invalid(err.message.startsWith(':') ? `${path}${err.message}` : `${path}.${err.message}`);
}

function asObject(v: unknown, field: string): Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    throw new Invalid(`${field}: expected an object, got ${typeName(v)}`);
  }
  return v as Record<string, unknown>;
}

function typeName(v: unknown): string {
  if (v === undefined) return 'nothing (missing)';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return `a ${typeof v}`;
}

/**
 * Natural keys: integers and strings alike become text; 17 and "17" are the same key. `literal`: the number's
 * text where its double may not be exact (RawRecord.literals): an integer of any size is then its digits.
 */
function naturalKey(v: unknown, field: string, literal: string | null | undefined): string {
  let s: string;
  if (typeof v === 'string') {
    s = v;
    if (s.length === 0) throw new Invalid(`${field}: empty`);
  } else if (typeof v === 'number' && literal) {
    const d = exactDecimal(literal);
    if (d === null || d.includes('.')) throw new Invalid(`${field}: ${literal} is not an integer id`);
    s = d;
  } else if (typeof v === 'number') {
    // Beyond 2^53 JSON.parse has already rounded the id: refuse rather than load a different key.
    if (!Number.isSafeInteger(v)) throw new Invalid(`${field}: ${v} is not an integer id that can be read exactly (export large ids as strings)`);
    // At most 17 ASCII characters: nothing for checkText to find.
    return String(v);
  } else {
    throw new Invalid(`${field}: expected a string or an integer, got ${typeName(v)}`);
  }
  checkText(s, field, LIMITS.naturalKeyChars);
  return s;
}

/**
 * Text attributes. A number is taken as its exact value written out in plain decimals (1.50 as 1.5, 1e2 as
 * 100, 12345678901234567890 digit for digit: `literal`, RawRecord.literals), never rounded.
 */
function text(v: unknown, field: string, literal: string | null | undefined): string | null {
  if (v === undefined || v === null) return null;
  let s: string;
  if (typeof v === 'string') s = v;
  else if (typeof v === 'number' && literal) s = exactDecimal(literal) ?? outOfRange(field, literal, ...TEXT_RANGE);
  // Without a literal the double is the number's value, and its shortest text reads back as it.
  else if (typeof v === 'number' && Number.isFinite(v)) s = exactDecimal(String(v))!;
  else throw new Invalid(`${field}: expected a string, got ${typeName(v)}`);
  checkText(s, field, LIMITS.textChars);
  return s;
}

function checkText(s: string, field: string, maxChars: number): void {
  // String length counts UTF-16 units; the column counts characters. Count code points only when it matters.
  if (s.length > maxChars && [...s].length > maxChars) {
    throw new Invalid(`${field}: longer than ${maxChars} characters`);
  }
  if (!s.isWellFormed()) throw new Invalid(`${field}: contains an unpaired UTF-16 surrogate (\\ud800-\\udfff escape), which is not text`);
}

/**
 * A literal exactDecimal does not write out (its decimal point more than 400 places from its first digit), in
 * the words the field uses for a value out of its range: `large` for 1e400, `small` for 1e-400.
 */
function outOfRange(field: string, literal: string, large: string, small: string): never {
  throw new Invalid(`${field}: ${literal} ${(literalParts(literal)?.point ?? 0) > 0 ? large : small}`);
}

const TEXT_RANGE = ['is too large to store as text (more than 400 digits written out)', 'is too small to store as text (more than 400 decimal places written out)'] as const;

/**
 * The exact value of a JSON number literal in plain decimals, without an exponent or zeros that say nothing:
 * "-12.5", "0", "100" (of "1e2"), "0.000000000000000000006" (of "6e-21"); null when the decimal point would
 * lie more than 400 places from the first digit that is written (no column holds such a value; "1e999999999"
 * is not written out). A literal's own digits are all kept: the record's size limit bounds them.
 */
export function exactDecimal(literal: string): string | null {
  const parts = literalParts(literal);
  if (!parts) return null;
  const { sign, point } = parts;
  let digits = parts.digits;
  let end = digits.length;
  while (end > 1 && digits.charCodeAt(end - 1) === 0x30) end--;
  digits = digits.slice(0, end);
  if (digits === '0') return '0';
  if (point > 400 || point < -400) return null;
  const int = point <= 0 ? '0' : point >= digits.length ? digits + '0'.repeat(point - digits.length) : digits.slice(0, point);
  const frac = point >= digits.length ? '' : point <= 0 ? '0'.repeat(-point) + digits : digits.slice(point);
  return `${sign}${int}${frac ? `.${frac}` : ''}`;
}

/**
 * A JSON number literal as its sign, its digits without leading zeros (one 0 left of a zero) and `point`, the
 * number of those digits before its decimal point (negative: zeros after the point come first); null for a
 * text that is not a number literal.
 */
function literalParts(literal: string): { sign: string; digits: string; point: number } | null {
  const m = /^(-?)([0-9]+)(?:\.([0-9]+))?(?:[eE]([+-]?[0-9]+))?$/.exec(literal);
  if (!m) return null;
  const digits = m[2]! + (m[3] ?? '');
  let lead = 0;
  while (lead < digits.length - 1 && digits.charCodeAt(lead) === 0x30) lead++;
  return { sign: m[1]!, digits: digits.slice(lead), point: m[2]!.length + (m[4] ? Number(m[4]) : 0) - lead };
}

const DECIMAL = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?$/;

/**
 * Money as exact decimal text. A JSON number has already been read into a double: where its literal has at
 * most 15 significant digits and no exponent, `String(n)` is a text of the literal's value (the shortest that
 * reads back as the same double), and DECIMAL(12,2) never needs more digits; any other literal comes as
 * `literal` (RawRecord.literals) and is read exactly. So nothing is rounded on the way.
 */
export function money(v: unknown, field: string, optional: boolean, literal?: string | null): string | null {
  if ((v === undefined || v === null) && optional) return null;
  let s: string;
  if (typeof v === 'number' && literal) {
    s = exactDecimal(literal) ?? outOfRange(field, literal, `has more than ${LIMITS.moneyIntegerDigits} integer digits`, `has more than ${LIMITS.moneyScale} decimal places`);
    if (decimalPlaces(s) > LIMITS.moneyScale) s = doubleSpelling(v, s) ?? s;
  } else if (typeof v === 'number') {
    // The common case, without number-to-text conversion: a value with at most two decimals, in range. For
    // such a value (at most 12 significant digits) the text below is exactly what the general path gives.
    const cents = Math.round(v * 100);
    if (cents / 100 === v && cents <= MAX_CENTS && cents >= -MAX_CENTS) return centsText(cents);
    if (!Number.isFinite(v)) throw new Invalid(`${field}: ${v} is not a finite amount`);
    s = plainDecimal(v);
  } else if (typeof v === 'string') {
    s = v.trim();
  } else {
    throw new Invalid(`${field}: expected a decimal amount, got ${typeName(v)}`);
  }
  const m = DECIMAL.exec(s);
  if (!m) throw new Invalid(`${field}: ${JSON.stringify(v)} is not a decimal amount`);
  let frac = m[2] ? m[2].slice(1) : '';
  frac = frac.replace(/0+$/, '');
  if (frac.length > LIMITS.moneyScale) {
    // A long literal as written (5e-324, not its 324 decimals).
    throw new Invalid(`${field}: ${typeof v === 'number' && literal ? literal : s} has more than ${LIMITS.moneyScale} decimal places`);
  }
  if (m[1]!.length > LIMITS.moneyIntegerDigits) {
    throw new Invalid(`${field}: ${typeof v === 'number' && literal ? literal : s} has more than ${LIMITS.moneyIntegerDigits} integer digits`);
  }
  const sign = s.startsWith('-') && (m[1] !== '0' || frac !== '') ? '-' : '';
  return `${sign}${m[1]}.${frac.padEnd(LIMITS.moneyScale, '0')}`;
}

function decimalPlaces(s: string): number {
  const point = s.indexOf('.');
  return point < 0 ? 0 : s.length - point - 1;
}

/**
 * Where `exact` (a literal's exact value) is the double `v` printed with 16 or 17 significant digits, as
 * printf's %.17g and exporters built on it write 19.99 (19.989999999999998): that double's shortest text,
 * which is what the exporter held. Otherwise null: the literal says more than a double does, and is taken as
 * written.
 */
function doubleSpelling(v: number, exact: string): string | null {
  if (!Number.isFinite(v) || v === 0) return null;
  if (exactDecimal(v.toPrecision(17)) !== exact && exactDecimal(v.toPrecision(16)) !== exact) return null;
  return plainDecimal(v);
}

const MAX_CENTS = 10 ** (LIMITS.moneyIntegerDigits + LIMITS.moneyScale) - 1;

function centsText(cents: number): string {
  const a = cents < 0 ? -cents : cents;
  const frac = a % 100;
  return `${cents < 0 ? '-' : ''}${(a - frac) / 100}.${frac < 10 ? '0' : ''}${frac}`;
}

/** A finite double's value in plain decimals (its shortest text, written out). */
function plainDecimal(n: number): string {
  const s = String(n);
  return /e/i.test(s) ? exactDecimal(s)! : s;
}

function quantity(v: unknown, field: string, literal: string | null | undefined): number {
  let n: number;
  if (typeof v === 'number' && literal) {
    const d = exactDecimal(literal);
    if (d === null) outOfRange(field, literal, 'is too large', 'is not an integer');
    if (d.includes('.')) throw new Invalid(`${field}: ${literal} is not an integer`);
    if (d.startsWith('-')) throw new Invalid(`${field}: ${literal} is negative`);
    if (d.length > String(LIMITS.maxQuantity).length) throw new Invalid(`${field}: ${literal} is too large`);
    n = Number(d);
  } else if (typeof v === 'number') n = v;
  else if (typeof v === 'string' && /^[0-9]+$/.test(v.trim())) n = Number(v.trim());
  else throw new Invalid(`${field}: expected a non-negative integer, got ${typeName(v)}${typeof v === 'string' ? ` ${JSON.stringify(v)}` : ''}`);
  if (!Number.isInteger(n)) throw new Invalid(`${field}: ${n} is not an integer`);
  if (n < 0) throw new Invalid(`${field}: ${n} is negative`);
  if (n > LIMITS.maxQuantity) throw new Invalid(`${field}: ${n} is too large`);
  return n;
}

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})(?:$|[T ])/;

/** Dates: `YYYY-MM-DD`, or an ISO timestamp whose date part is taken as written (no time zone shift). */
/** Dates already checked, and the date each gives (an export has a few hundred distinct dates, or so). */
const checkedDates = new Map<string, string>();

/**
 * The longest date text kept in checkedDates: a timestamp with nanoseconds and an offset has 35 characters. Its
 * fraction of a second may have any number of digits, and 10,000 texts of up to --max-record-bytes each stayed
 * in the heap: 150 orders with a 2 MB fraction each ran out of the default heap.
 */
const CACHED_DATE_CHARS = 64;

function date(v: unknown, field: string): string {
  if (typeof v !== 'string') throw new Invalid(`${field}: expected a date string YYYY-MM-DD, got ${typeName(v)}`);
  const known = checkedDates.get(v);
  if (known !== undefined) return known;
  const checked = checkDate(v, field);
  if (v.length > CACHED_DATE_CHARS) return checked;
  if (checkedDates.size >= 10_000) checkedDates.clear();
  checkedDates.set(v, checked);
  return checked;
}

function checkDate(v: string, field: string): string {
  const m = ISO_DATE.exec(v);
  if (!m) throw new Invalid(`${field}: ${JSON.stringify(v)} is not a date (YYYY-MM-DD)`);
  const y = Number(m[1]);
  const mo = Number(m[2]);
  const d = Number(m[3]);
  const dt = new Date(Date.UTC(y, mo - 1, d));
  if (y < 1000) throw new Invalid(`${field}: ${JSON.stringify(v)} is before year 1000, outside the DATE range`);
  if (mo < 1 || mo > 12 || dt.getUTCMonth() !== mo - 1 || dt.getUTCDate() !== d) {
    throw new Invalid(`${field}: ${JSON.stringify(v)} is not a calendar date`);
  }
  if (v.length > 10) {
    // A time of day in range, a leap second (:60) only in the last minute of a UTC hour (whatever local
    // minute its offset makes that: 05:29:60+05:30), and a time zone offset of at most 18 hours (java.time's
    // range; the zones in use span -12:00 to +14:00).
    const t = /^\d{4}-\d{2}-\d{2}[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(?:Z|([+-])(\d{2}):?(\d{2}))?$/.exec(v);
    const minute = Number(t?.[2] ?? 0);
    const seconds = Number(t?.[3] ?? 0);
    const offsetMinutes = Number(t?.[6] ?? 0);
    const offset = Number(t?.[5] ?? 0) * 60 + offsetMinutes;
    const utcMinute = (minute + (t?.[4] === '+' ? 60 - offsetMinutes : offsetMinutes)) % 60;
    if (!t || Number(t[1]) > 23 || minute > 59 || seconds > 60 || (seconds === 60 && utcMinute !== 59) || offsetMinutes > 59 || offset > 18 * 60) {
      throw new Invalid(`${field}: ${JSON.stringify(v)} is not a date (YYYY-MM-DD) or ISO timestamp`);
    }
  }
  return `${m[1]}-${m[2]}-${m[3]}`;
}
