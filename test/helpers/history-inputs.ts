/**
 * The inputs of the history (SCD2, issue 13) tests, shared by the oracle's own tests
 * (test/history-oracle.test.ts, which write the expected versions out by hand) and the warehouse tests
 * (test/history.test.ts, which compare the engine with the oracle):
 * - hand-made cases: sequences of small exports, each meant to be loaded as its own `load`, in order;
 * - two deterministic generators of observations with shuffled dates, spread over several files: a general one
 *   (same-day conflicts, A -> B -> A changes, re-deliveries to other dates, empty orders, a product twice in
 *   one order) and one where each natural key has at most one observation per day and no order is
 *   re-delivered, whose result must not depend on the load order.
 */
import { rng } from '../../bench/generate.ts';

/** mulberry32, the generator's: a small deterministic PRNG. */
export { rng };

type Json = Record<string, unknown>;

export const customer = (customer_id: string | number, address: string | null, more: Json = {}): Json => ({
  customer_id,
  name: 'Ann Lee',
  email: 'ann@example.com',
  address,
  ...more,
});

export const line = (product_id: string | number, price: unknown, quantity: unknown = 1, more: Json = {}): Json => ({
  product_id,
  name: 'Widget',
  category: 'tools',
  price,
  quantity,
  ...more,
});

export const order = (order_id: string | number, order_date: string, c: Json, products: Json[] = [], total_amount: unknown = 10): Json => ({
  order_id,
  order_date,
  total_amount,
  customer: c,
  products,
});

export interface CaseFile {
  name: string;
  records: Json[];
  /** Indexes of the records the engine rejects: they are not observations. */
  rejected?: number[];
}

export interface HistoryCase {
  title: string;
  /** Loaded one `load` per file, in this order. */
  files: CaseFile[];
}

/** A file's records as the oracle sees them: without the rejected ones. */
export const validRecords = (f: CaseFile): Json[] => f.records.filter((_, i) => !f.rejected?.includes(i));

// Addresses of the customer who moves.
export const A = '1 Elm St';
export const B = '2 Oak Ave';
export const C = '3 Pine Rd';
export const X = '9 Birch Ln';
export const W = '7 Ash Ct';

const P1 = [line('P1', 5)];

/**
 * C1 moves twice (A, then B on 03-01, then C on 06-01); then, each in a later load: an order dated before the
 * first move with another address X (a split: the A version's stored fact of 02-20 moves to a new version), an
 * order that matches the version in effect (nothing changes), an order before the first version with the same
 * address (it extends the first version back) and one with another address (a version before the first).
 */
export const MOVES: HistoryCase = {
  title: 'a customer who moves twice, then late orders: a split, a match, an extension and a version before the first',
  files: [
    {
      name: 'moves.json',
      records: [
        order('O1', '2024-01-10', customer('C1', A), P1, 5),
        order('O2', '2024-02-20', customer('C1', A), P1, 5),
        order('O3', '2024-03-01', customer('C1', B), P1, 5),
        order('O4', '2024-04-15', customer('C1', B), P1, 5),
        order('O5', '2024-06-01', customer('C1', C), P1, 5),
      ],
    },
    { name: 'late-split.json', records: [order('O6', '2024-02-01', customer('C1', X), P1, 5)] },
    { name: 'late-match.json', records: [order('O7', '2024-04-01', customer('C1', B), P1, 5)] },
    { name: 'late-extend.json', records: [order('O8', '2024-01-02', customer('C1', A), P1, 5)] },
    { name: 'late-precede.json', records: [order('O9', '2023-12-01', customer('C1', W), P1, 5)] },
  ],
};

/**
 * P7 costs 12.50 from 04-01 and 10.00 before; the April and May orders come first, the March ones (and the
 * order on the day of the change) in a later load. Prices are written as numbers and as strings.
 */
export const PRICE: HistoryCase = {
  title: 'a product price change with orders on both sides, the earlier side loaded later',
  files: [
    {
      name: 'april.json',
      records: [
        order('O21', '2024-04-05', customer('C20', 'Main St'), [line('P7', 12.5, 2), line('P8', 3)], 28),
        order('O22', '2024-05-01', customer('C20', 'Main St'), [line('P7', '12.50', 1)], 12.5),
      ],
    },
    {
      name: 'march.json',
      records: [
        order('O23', '2024-03-01', customer('C20', 'Main St'), [line('P7', 10, 1)], 10),
        order('O24', '2024-03-10', customer('C20', 'Main St'), [line('P7', '10.00', 3)], 30),
        order('O25', '2024-04-01', customer('C20', 'Main St'), [line('P7', 12.5, 1)], 12.5),
      ],
    },
  ],
};

/**
 * Two different observations on one day: within a file (the later wins for the whole day), within one order
 * (the later line wins), and in a later load that makes the day equal to the day before (the versions merge
 * into one) or changes a single-version key's attributes without a new version.
 */
export const SAME_DAY: HistoryCase = {
  title: 'two different observations on the same day, in one file, in one order and in a later load',
  files: [
    {
      name: 'day-1.json',
      records: [
        order('O31', '2024-05-05', customer('C3', A), [line('P31', 4)], 4),
        order('O32', '2024-05-05', customer('C3', B), [line('P31', 4)], 4),
        order('O33', '2024-05-04', customer('C3', A), [line('P31', 4)], 4),
        order('O35', '2024-06-06', customer('C4', 'Quay'), [line('P30', 1, 1), line('P30', 2, 5), line('P31', 4)], 15),
      ],
    },
    {
      name: 'day-2.json',
      records: [
        order('O34', '2024-05-05', customer('C3', A), [line('P31', 4)], 4),
        order('O36', '2024-06-06', customer('C4', 'Quay'), [line('P30', '1.00', 2)], 2),
      ],
    },
  ],
};

/**
 * Exact equality: the key 17 written as a number and as a string is one key; null and '' differ; a
 * precomposed é differs from e + combining accent; a trailing space differs; 3, "3.00" and "3" are one price.
 */
export const EQUALITY: HistoryCase = {
  title: 'exact attribute equality: 17 and "17", null and \'\', é composed or not, a trailing space, 3 and "3.00"',
  files: [
    {
      name: 'equality.json',
      records: [
        order('O41', '2024-07-01', customer(17, A, { name: 'Cafe\u0301', email: null }), [line('P40', 3)], 3),
        order('O42', '2024-07-02', customer('17', A, { name: 'Cafe\u0301', email: '' }), [line('P40', '3.00')], 3),
        order('O43', '2024-07-03', customer(17, A, { name: 'Cafe\u0301', email: '' }), [line('P40', '3')], 3),
        order('O44', '2024-07-04', customer('17', A, { name: 'Caf\u00e9', email: '' }), [line('P40', 3, 1, { category: 'tools ' })], 3),
      ],
    },
  ],
};

/**
 * Re-delivered orders: O51 moves from 08-01 to 09-01 with another address and other lines; O52 moves back
 * from 10-10 to 08-15 with another price. The first deliveries' observations stay: C5 keeps a version from
 * 10-10 and P50 a version, though no current fact points at them.
 */
export const REDELIVERY: HistoryCase = {
  title: 're-delivered orders point at the versions of their new date; their earlier observations stay',
  files: [
    {
      name: 'redelivery-1.json',
      records: [order('O51', '2024-08-01', customer('C5', A), [line('P50', 5)], 5), order('O52', '2024-10-10', customer('C5', A), [line('P51', 7)], 7)],
    },
    {
      name: 'redelivery-2.json',
      records: [
        order('O51', '2024-09-01', customer('C5', B), [line('P52', 6), line('P52', 6, 2)], 18),
        order('O52', '2024-08-15', customer('C5', A), [line('P51', 8)], 8),
      ],
    },
  ],
};

/**
 * An order without lines observes its customer; a rejected record (negative quantity) observes nothing; a
 * timestamp's date part is the day.
 */
export const QUIET: HistoryCase = {
  title: 'an order without lines observes its customer, a rejected record nothing, a timestamp its date',
  files: [
    {
      name: 'quiet.json',
      records: [
        order('O61', '2024-09-09', customer('C6', A), [], 0),
        order('O62', '2024-09-10', customer('C6', 'Z'), [line('P60', 1, -1)], 1),
        order('O63', '2024-09-11T23:30:00+02:00', customer('C6', A), [line('P60', 1)], 1),
      ],
      rejected: [1],
    },
  ],
};

export const CASES: HistoryCase[] = [MOVES, PRICE, SAME_DAY, EQUALITY, REDELIVERY, QUIET];

export function shuffled<T>(xs: readonly T[], rand: () => number): T[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

export interface GeneratorOptions {
  seed: number;
  /** About this many orders (the per-day-unique generator stops at the end of a day). */
  orders: number;
  customers: number;
  products: number;
  /** Distinct order dates, drawn from 2024: fewer days, more observations of a key on one day. */
  days: number;
  files: number;
}

/** The general inputs of the randomized tests: about 420 orders over 60 days, in 4 files. */
export const GENERAL: GeneratorOptions = { seed: 13, orders: 420, customers: 40, products: 30, days: 60, files: 4 };
/** The per-day-unique inputs: about 240 orders over 100 days, in 4 files (small: they load at --batch-size 1 too). */
export const UNIQUE: GeneratorOptions = { seed: 31, orders: 240, customers: 40, products: 30, days: 100, files: 4 };

const dateOf = (dayOfYear: number) => new Date(Date.UTC(2024, 0, 1 + dayOfYear)).toISOString().slice(0, 10);

/**
 * Each key's attributes over the year: variant 0 from the start, then 0 to 3 changes on random days, each to
 * another of three variants (so A -> B -> A happens). An observation on a day sees the variant in effect,
 * or (8%) any variant: a correction, or a conflict with another observation of the day.
 */
function timelines(n: number, rand: () => number) {
  const changes = Array.from({ length: n + 1 }, () => {
    const points: { from: number; variant: number }[] = [{ from: -1, variant: 0 }];
    const count = Math.floor(rand() * 4);
    for (const from of Array.from({ length: count }, () => Math.floor(rand() * 366)).sort((a, b) => a - b)) {
      const current = points.at(-1)!.variant;
      points.push({ from, variant: (current + 1 + Math.floor(rand() * 2)) % 3 });
    }
    return points;
  });
  return (key: number, dayOfYear: number): number => {
    if (rand() < 0.08) return Math.floor(rand() * 3);
    return changes[key]!.findLast((p) => p.from <= dayOfYear)!.variant;
  };
}

/** Variants differ in address, in name, and in email null versus ''. */
function customerAttributes(n: number, variant: number): Json {
  return {
    name: variant === 2 ? `Name ${n} B` : `Name ${n}`,
    email: [`c${n}@example.com`, null, ''][variant],
    address: [`${n} First St`, `${n} Second Ave`, `${n} Second Ave`][variant],
  };
}

/** Variants differ in price and in category case; prices are written as numbers or as strings. */
function productAttributes(n: number, variant: number, rand: () => number): Json {
  const base = ((n * 7) % 50) + 0.99;
  const price = [base, base + 1.25, base][variant]!;
  return { name: `Product ${n}`, category: ['tools', 'tools', 'Tools'][variant], price: rand() < 0.5 ? Number(price.toFixed(2)) : price.toFixed(2) };
}

/** Integer-like keys are written as numbers or strings at random (one key); the others carry a prefix. */
const keyOf = (n: number, prefix: string, rand: () => number): string | number => (n % 5 === 0 ? (rand() < 0.5 ? n : String(n)) : `${prefix}${n}`);

function pickDays(count: number, rand: () => number): number[] {
  return shuffled(
    Array.from({ length: 366 }, (_, i) => i),
    rand,
  ).slice(0, count);
}

function dateText(dayOfYear: number, rand: () => number): string {
  const d = dateOf(dayOfYear);
  return rand() < 0.1 ? `${d}T${String(Math.floor(rand() * 24)).padStart(2, '0')}:15:00Z` : d;
}

function splitIntoFiles(orders: Json[], files: number, rand: () => number): Json[][] {
  const out: Json[][] = Array.from({ length: files }, () => []);
  for (const o of orders) out[Math.floor(rand() * files)]!.push(o);
  return out;
}

/**
 * The general generator: orders on random days of a small pool (so keys are observed several times on one
 * day), dates shuffled, each order in a random file. 10% re-deliver an earlier order on another date, with
 * other lines and sometimes another customer; 5% have no lines; products may repeat within an order.
 */
export function randomHistoryExports(o: GeneratorOptions): Json[][] {
  const rand = rng(o.seed);
  const days = pickDays(o.days, rand);
  const customerVariant = timelines(o.customers, rand);
  const productVariant = timelines(o.products, rand);
  const orderIds: (string | number)[] = [];
  const orders: Json[] = [];
  for (let i = 0; i < o.orders; i++) {
    const dayOfYear = days[Math.floor(rand() * days.length)]!;
    const c = 1 + Math.floor(rand() * o.customers);
    const lines = rand() < 0.05 ? 0 : 1 + Math.floor(rand() * 3);
    const products = Array.from({ length: lines }, () => {
      const p = 1 + Math.floor(rand() * o.products);
      return { product_id: keyOf(p, 'P', rand), ...productAttributes(p, productVariant(p, dayOfYear), rand), quantity: Math.floor(rand() * 5) };
    });
    const redeliver = orderIds.length > 0 && rand() < 0.1;
    let orderId: string | number = i % 4 === 0 ? i : `O${i}`;
    if (redeliver) {
      const earlier = orderIds[Math.floor(rand() * orderIds.length)]!;
      orderId = typeof earlier === 'number' && rand() < 0.5 ? String(earlier) : earlier;
    } else orderIds.push(orderId);
    const total = rand() < 0.1 ? null : Math.round(rand() * 100000) / 100;
    orders.push(order(orderId, dateText(dayOfYear, rand), { customer_id: keyOf(c, 'C', rand), ...customerAttributes(c, customerVariant(c, dayOfYear)) }, products, total));
  }
  return splitIntoFiles(orders, o.files, rand);
}

/**
 * The per-day-unique generator: on each day of the pool, a few orders whose customers are distinct and whose
 * products are distinct across the day's orders, so each natural key has at most one observation per day; no
 * order is re-delivered. The orders are then shuffled and spread over the files.
 */
export function perDayUniqueExports(o: GeneratorOptions): Json[][] {
  const rand = rng(o.seed);
  const customerVariant = timelines(o.customers, rand);
  const productVariant = timelines(o.products, rand);
  const orders: Json[] = [];
  const range = (n: number) => Array.from({ length: n }, (_, i) => i + 1);
  for (const dayOfYear of pickDays(o.days, rand)) {
    if (orders.length >= o.orders) break;
    const customers = shuffled(range(o.customers), rand).slice(0, 1 + Math.floor(rand() * 4));
    const free = shuffled(range(o.products), rand);
    for (const c of customers) {
      const products = free.splice(0, Math.floor(rand() * 4)).map((p) => ({
        product_id: keyOf(p, 'P', rand),
        ...productAttributes(p, productVariant(p, dayOfYear), rand),
        quantity: 1 + Math.floor(rand() * 4),
      }));
      const i = orders.length;
      orders.push(order(i % 4 === 0 ? i : `O${i}`, dateText(dayOfYear, rand), { customer_id: keyOf(c, 'C', rand), ...customerAttributes(c, customerVariant(c, dayOfYear)) }, products, Math.round(rand() * 100000) / 100));
    }
  }
  return splitIntoFiles(shuffled(orders, rand), o.files, rand);
}
