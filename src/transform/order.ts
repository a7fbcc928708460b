/**
 * One order record -> validated rows: the order's fact lines, its customer, its products. Pure functions.
 *
 * Every value that reaches the warehouse is produced here as the exact text the database should store:
 * natural keys as strings, money as a decimal string, dates as YYYY-MM-DD. Anything that cannot be stored
 * faithfully is a rejection with a reason, never a silent rounding or truncation.
 */
import { LIMITS, type CustomerRow, type OrderLine, type OrderRows, type SplitResult } from '../model.ts';

class Invalid extends Error {}

/** Split one record into rows, or say why it cannot be loaded. */
export function splitOrder(value: unknown, index: number, offset: number | null, raw: string): SplitResult {
  try {
    return toRows(value, index, offset);
  } catch (err) {
    if (err instanceof Invalid) return { kind: 'reject', index, offset, reason: err.message, raw, arrayRecord: Array.isArray(value) };
    throw err;
  }
}

/** The order's rows, made as one object (a spread into another cost a copy of every order). */
function toRows(value: unknown, index: number, offset: number | null): OrderRows {
  const order = asObject(value, 'record');
  const orderId = naturalKey(order.order_id, 'order_id');
  const orderDate = date(order.order_date, 'order_date');
  const totalAmount = money(order.total_amount, 'total_amount', true);
  const c = asObject(order.customer, 'customer');
  let customer: CustomerRow;
  try {
    customer = { customerId: naturalKey(c.customer_id, 'customer_id'), name: text(c.name, 'name'), email: text(c.email, 'email'), address: text(c.address, 'address') };
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
        productId: naturalKey(p.product_id, 'product_id'),
        name: text(p.name, 'name'),
        category: text(p.category, 'category'),
        price: money(p.price, 'price', true),
        quantity: quantity(p.quantity, 'quantity'),
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

/** Natural keys: integers and strings alike become text; 17 and "17" are the same key. */
function naturalKey(v: unknown, field: string): string {
  let s: string;
  if (typeof v === 'string') {
    s = v;
    if (s.length === 0) throw new Invalid(`${field}: empty`);
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

function text(v: unknown, field: string): string | null {
  if (v === undefined || v === null) return null;
  let s: string;
  if (typeof v === 'string') s = v;
  else if (typeof v === 'number' && Number.isFinite(v)) s = String(v);
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

const DECIMAL = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?$/;

/**
 * Money as exact decimal text. A JSON number has already been read into a double; `String(n)` gives the
 * shortest text that reads back as the same double, which is the source text for every value with at most 15
 * significant digits, and DECIMAL(12,2) never needs more. So nothing is rounded on the way.
 */
export function money(v: unknown, field: string, optional: boolean): string | null {
  if ((v === undefined || v === null) && optional) return null;
  let s: string;
  if (typeof v === 'number') {
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
    throw new Invalid(`${field}: ${s} has more than ${LIMITS.moneyScale} decimal places`);
  }
  if (m[1]!.length > LIMITS.moneyIntegerDigits) {
    throw new Invalid(`${field}: ${s} has more than ${LIMITS.moneyIntegerDigits} integer digits`);
  }
  const sign = s.startsWith('-') && (m[1] !== '0' || frac !== '') ? '-' : '';
  return `${sign}${m[1]}.${frac.padEnd(LIMITS.moneyScale, '0')}`;
}

const MAX_CENTS = 10 ** (LIMITS.moneyIntegerDigits + LIMITS.moneyScale) - 1;

function centsText(cents: number): string {
  const a = cents < 0 ? -cents : cents;
  const frac = a % 100;
  return `${cents < 0 ? '-' : ''}${(a - frac) / 100}.${frac < 10 ? '0' : ''}${frac}`;
}

function plainDecimal(n: number): string {
  const s = String(n);
  if (!/e/i.test(s)) return s;
  // Exponent form appears below 1e-6 and at 1e21 and above: both outside DECIMAL(12,2) unless zero-ish.
  if (Math.abs(n) < 1) return n.toFixed(20).replace(/0+$/, '').replace(/\.$/, '');
  return s; // rejected by the pattern above as not a (storable) decimal
}

function quantity(v: unknown, field: string): number {
  let n: number;
  if (typeof v === 'number') n = v;
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

function date(v: unknown, field: string): string {
  if (typeof v !== 'string') throw new Invalid(`${field}: expected a date string YYYY-MM-DD, got ${typeName(v)}`);
  const known = checkedDates.get(v);
  if (known !== undefined) return known;
  const checked = checkDate(v, field);
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
