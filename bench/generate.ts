/**
 * Deterministic order-export generator. Streams any number of orders to a file (never a whole-file buffer),
 * honouring the write stream's backpressure. The same options always give the same bytes.
 *
 *   npm run generate -- --orders N --out FILE [options]    (or node --import tsx bench/generate.ts ...)
 *
 *   --customers N          customer numbers drawn from 1..N (default orders/5)
 *   --products N           product numbers drawn from 1..N (default orders/20, at most 10,000)
 *   --ids int|string       natural keys as JSON integers (17) or strings ("C000017", "P00017"); default int
 *   --style pretty|compact|ndjson   a pretty-printed JSON array (default), a one-line array, or JSON Lines
 *   --gzip                 gzip the output
 *   --seed N               the random stream (default 42)
 *   --first-order-id N     the first new order id (default 1)
 *   --version N            attribute version: with N > 0 some customers get another email and some products
 *                          another price. Which ones: by default customers with n % 7 == N % 7 and products with
 *                          n % 5 == N % 5; --change-customers / --change-products choose a fraction instead.
 *                          The version also changes the random stream (other orders than version 0).
 *   --change-customers F   with --version > 0: the fraction F (0..1) of customer numbers whose email changes,
 *                          chosen by a hash of the number and the version
 *   --change-products F    with --version > 0: the fraction F (0..1) of product numbers whose price changes
 *   --redeliver F          the fraction F (0..1) of this file's orders that re-deliver earlier orders: distinct
 *                          ids from 1..first-order-id - 1, spread evenly through the file, each with freshly
 *                          drawn lines (other products and quantities, and another line count three times in
 *                          four). The other orders take new ids from --first-order-id up.
 *   --year Y               the year of the order dates (default 2024; the dates cycle through its months):
 *                          a later year makes an increment of the next period, dated after everything before
 *
 * An increment for a warehouse loaded from `--orders 1000000` (ids 1..1,000,000), as bench/incremental.ts makes it:
 *
 *   --orders 200000 --first-order-id 1000001 --redeliver 0.5 --version 1 --customers 200000 --products 10000
 *   --change-customers 0.32 --change-products 1
 *
 * Without the last three options the output is byte for byte what earlier versions of this generator wrote
 * (the tests depend on it).
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { createGzip } from 'node:zlib';
import type { Writable } from 'node:stream';

export interface GenerateOptions {
  orders: number;
  customers?: number;
  products?: number;
  ids?: 'int' | 'string';
  style?: 'pretty' | 'compact' | 'ndjson';
  gzip?: boolean;
  version?: number;
  seed?: number;
  /** First order id (default 1); a later "version" may overlap earlier ids to re-deliver orders. */
  firstOrderId?: number;
  /** With version > 0: the fraction (0..1) of customers whose email changes (default: n % 7 == version % 7). */
  changeCustomers?: number;
  /** With version > 0: the fraction (0..1) of products whose price changes (default: n % 5 == version % 5). */
  changeProducts?: number;
  /**
   * The fraction (0..1) of orders that re-deliver earlier ones: distinct ids from 1..firstOrderId - 1, spread
   * evenly through the file, with freshly drawn lines. Default 0.
   */
  redeliver?: number;
  /** The year of every order date (default 2024): a later year makes an increment of the next period. */
  year?: number;
}

/** mulberry32: small, fast, deterministic (the tests' random inputs use it too). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const FIRST = ['Ann', 'Bob', 'Chloé', 'Dmitri', 'Eve', 'Fatima', 'Gus', 'Hana', 'Ivan', 'Józef', 'Kenji', 'Lena', 'Mo', 'Nia', 'Otto', 'Priya'];
const LAST = ['Smith', 'Müller', 'García', 'Nakamura', 'O\'Brien', 'Kowalski', 'Okafor', 'Lindqvist', 'Rossi', 'Novák'];
const STREETS = ['Main St', 'High St', 'Rue de la Paix', 'Hauptstraße', 'Elm Ave', 'Via Roma', 'Calle Mayor'];
const CATEGORIES = ['Kitchen', 'Garden', 'Books', 'Toys', 'Electronics', 'Food', 'Clothing', 'Sports'];
const NOUNS = ['Mug', 'Lamp', 'Chair', 'Kettle', 'Novel', 'Ball', 'Phone case', 'Scarf', 'Tea 🍵', 'Rake'];

function customerId(n: number, ids: 'int' | 'string'): number | string {
  return ids === 'int' ? n : `C${String(n).padStart(6, '0')}`;
}

function productId(n: number, ids: 'int' | 'string'): number | string {
  return ids === 'int' ? n : `P${String(n).padStart(5, '0')}`;
}

/** A number in [0, 1) from a key, a version and a salt (murmur3's finalizer): which keys a version changes. */
function unitHash(n: number, version: number, salt: number): number {
  let h = (Math.imul(n, 0x9e3779b1) ^ Math.imul(version + 1, 0x85ebca6b) ^ salt) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return ((h ^ (h >>> 16)) >>> 0) / 4294967296;
}

/** Which keys of a dimension have changed attributes in a version: the default modulus rule, or a fraction. */
type Changed = (n: number) => boolean;

function changedCustomers(version: number, fraction: number | undefined): Changed {
  if (version <= 0) return () => false;
  if (fraction === undefined) return (n) => n % 7 === version % 7;
  return (n) => unitHash(n, version, 0x63) < fraction;
}

function changedProducts(version: number, fraction: number | undefined): Changed {
  if (version <= 0) return () => false;
  if (fraction === undefined) return (n) => n % 5 === version % 5;
  return (n) => unitHash(n, version, 0x70) < fraction;
}

/** Attributes depend only on the key and the version, so every occurrence in a file agrees unless told otherwise. */
function customer(n: number, ids: 'int' | 'string', version: number, isChanged: Changed) {
  const changed = isChanged(n);
  const first = FIRST[n % FIRST.length]!;
  const last = LAST[(n >> 4) % LAST.length]!;
  return {
    customer_id: customerId(n, ids),
    name: `${first} ${last}`,
    email: `${first.toLowerCase()}.${n}${changed ? `.v${version}` : ''}@example.com`,
    address: `${(n % 200) + 1} ${STREETS[n % STREETS.length]}`,
  };
}

function product(n: number, ids: 'int' | 'string', version: number, isChanged: Changed) {
  const changed = isChanged(n);
  const cents = 199 + ((n * 7919) % 20000) + (changed ? 100 * version : 0);
  return {
    product_id: productId(n, ids),
    name: `${NOUNS[n % NOUNS.length]} ${n}`,
    category: CATEGORIES[n % CATEGORIES.length]!,
    price: Number((cents / 100).toFixed(2)),
  };
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/**
 * Which records re-deliver an earlier order, and which id each takes: R = round(fraction x orders) records,
 * evenly spaced (record i is one when floor((i+1)R/N) > floor(iR/N)), taking ids 1 + (k x step + offset) mod B
 * for k = 0..R-1 over the B earlier ids. A step coprime to B makes that a permutation: distinct ids, spread over
 * the whole earlier range, in O(1) memory.
 */
export function redeliveryPlan(orders: number, earlierIds: number, fraction: number, seed: number) {
  const count = Math.round(fraction * orders);
  if (count > earlierIds) {
    throw new RangeError(`redeliver: ${count} re-deliveries need as many earlier order ids, but only ${earlierIds} come before first-order-id`);
  }
  let step = Math.max(1, Math.round(earlierIds * 0.6180339887));
  while (earlierIds > 1 && gcd(step, earlierIds) !== 1) step++;
  const offset = earlierIds > 0 ? (seed * 7919) % earlierIds : 0;
  return {
    count,
    isRedelivery: (i: number) => count > 0 && Math.floor(((i + 1) * count) / orders) > Math.floor((i * count) / orders),
    /** The k-th re-delivered id (k from 0). */
    id: (k: number) => 1 + ((k * step + offset) % earlierIds),
  };
}

function fraction(name: string, v: number | undefined): void {
  if (v !== undefined && !(v >= 0 && v <= 1)) throw new RangeError(`${name}: expected a fraction from 0 to 1, got ${v}`);
}

export async function generate(out: string, o: GenerateOptions): Promise<void> {
  fraction('changeCustomers', o.changeCustomers);
  fraction('changeProducts', o.changeProducts);
  fraction('redeliver', o.redeliver);
  const ids = o.ids ?? 'int';
  const style = o.style ?? 'pretty';
  const version = o.version ?? 0;
  const customers = o.customers ?? Math.max(1, Math.ceil(o.orders / 5));
  const products = o.products ?? Math.max(1, Math.min(10000, Math.ceil(o.orders / 20)));
  const rand = rng((o.seed ?? 42) + version * 1000003);
  const customerChanged = changedCustomers(version, o.changeCustomers);
  const productChanged = changedProducts(version, o.changeProducts);
  const file = createWriteStream(out, { highWaterMark: 1 << 20 });
  let sink: Writable = file;
  if (o.gzip) {
    const gz = createGzip({ level: 6 });
    gz.pipe(file);
    sink = gz;
  }
  const write = async (s: string) => {
    if (!sink.write(s)) await once(sink, 'drain');
  };
  const indent = style === 'pretty' ? 2 : undefined;
  let buf = style === 'ndjson' ? '' : '[';
  const firstId = o.firstOrderId ?? 1;
  const year = o.year ?? 2024;
  if (!Number.isInteger(year) || year < 1000 || year > 9999) throw new RangeError(`year: expected a four-digit year, got ${o.year}`);
  const redeliveries = redeliveryPlan(o.orders, firstId - 1, o.redeliver ?? 0, o.seed ?? 42);
  let redelivered = 0;
  for (let i = 0; i < o.orders; i++) {
    const lines = 1 + Math.floor(rand() * 4);
    const c = 1 + Math.floor(rand() * customers);
    const items = [];
    let total = 0;
    for (let l = 0; l < lines; l++) {
      const p = product(1 + Math.floor(rand() * products), ids, version, productChanged);
      const quantity = 1 + Math.floor(rand() * 5);
      total += Math.round(p.price * 100) * quantity;
      items.push({ ...p, quantity });
    }
    const day = 1 + (i % 28);
    const orderId = redeliveries.isRedelivery(i) ? redeliveries.id(redelivered++) : firstId + i - redelivered;
    const order = {
      order_id: orderId,
      order_date: `${year}-${String(1 + (i % 12)).padStart(2, '0')}-${String(day).padStart(2, '0')}`,
      total_amount: total / 100,
      customer: customer(c, ids, version, customerChanged),
      products: items,
    };
    const text = JSON.stringify(order, null, indent);
    if (style === 'ndjson') buf += `${text}\n`;
    else buf += (i === 0 ? (indent ? '\n' : '') : indent ? ',\n' : ',') + (indent ? text.replace(/^/gm, '  ') : text);
    if (buf.length > 1 << 16) {
      await write(buf);
      buf = '';
    }
  }
  if (style !== 'ndjson') buf += indent ? '\n]\n' : ']';
  await write(buf);
  sink.end();
  await once(file, 'finish');
}

const USAGE = `usage: npm run generate -- --orders N --out FILE [--customers N] [--products N]
  [--ids int|string] [--style pretty|compact|ndjson] [--gzip] [--seed N] [--first-order-id N] [--version N]
  [--change-customers F] [--change-products F] [--redeliver F] [--year Y]
(see the header of bench/generate.ts for what each does)
`;

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const get = (name: string) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const fail = (msg: string): never => {
    process.stderr.write(`generate: ${msg}\n${USAGE}`);
    process.exit(2);
  };
  const out = get('out');
  const orders = Number(get('orders'));
  if (!out || !Number.isInteger(orders) || orders < 0) fail(`--orders must be a whole number >= 0 and --out a file (got --orders ${get('orders')}, --out ${out})`);
  const num = (name: string, integer: boolean) => {
    const v = get(name);
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n) || (integer && !Number.isInteger(n))) fail(`--${name} ${v}: expected ${integer ? 'a whole number' : 'a number'}`);
    return n;
  };
  const choice = <T extends string>(name: string, allowed: readonly T[], def: T): T => {
    const v = get(name) ?? def;
    return allowed.includes(v as T) ? (v as T) : fail(`--${name} ${v}: expected one of ${allowed.join(', ')}`);
  };
  try {
    await generate(out!, {
      orders,
      customers: num('customers', true),
      products: num('products', true),
      ids: choice<'int' | 'string'>('ids', ['int', 'string'], 'int'),
      style: choice<'pretty' | 'compact' | 'ndjson'>('style', ['pretty', 'compact', 'ndjson'], 'pretty'),
      gzip: args.includes('--gzip'),
      version: num('version', true),
      seed: num('seed', true),
      firstOrderId: num('first-order-id', true),
      changeCustomers: num('change-customers', false),
      changeProducts: num('change-products', false),
      redeliver: num('redeliver', false),
      year: num('year', true),
    });
  } catch (err) {
    if (err instanceof RangeError) fail(err.message);
    throw err;
  }
}
