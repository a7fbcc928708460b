/**
 * Deterministic order-export generator. Streams any number of orders to a file (never a whole-file buffer),
 * honouring the write stream's backpressure.
 *
 *   node --import tsx bench/generate.ts --orders 100000 --out /tmp/orders.json [--customers N] [--products N]
 *     [--ids int|string] [--style pretty|compact|ndjson] [--gzip] [--version N] [--seed N]
 *
 * `--version` changes some dimension attributes (names, emails, prices), for incremental runs; order ids of
 * version N start where a version-0 file of the same size would be re-delivering some of them.
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
}

/** mulberry32: small, fast, deterministic. */
function rng(seed: number): () => number {
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

/** Attributes depend only on the key and the version, so every occurrence in a file agrees unless told otherwise. */
function customer(n: number, ids: 'int' | 'string', version: number) {
  const changed = version > 0 && n % 7 === version % 7;
  const first = FIRST[n % FIRST.length]!;
  const last = LAST[(n >> 4) % LAST.length]!;
  return {
    customer_id: customerId(n, ids),
    name: `${first} ${last}`,
    email: `${first.toLowerCase()}.${n}${changed ? `.v${version}` : ''}@example.com`,
    address: `${(n % 200) + 1} ${STREETS[n % STREETS.length]}`,
  };
}

function product(n: number, ids: 'int' | 'string', version: number) {
  const changed = version > 0 && n % 5 === version % 5;
  const cents = 199 + ((n * 7919) % 20000) + (changed ? 100 * version : 0);
  return {
    product_id: productId(n, ids),
    name: `${NOUNS[n % NOUNS.length]} ${n}`,
    category: CATEGORIES[n % CATEGORIES.length]!,
    price: Number((cents / 100).toFixed(2)),
  };
}

export async function generate(out: string, o: GenerateOptions): Promise<void> {
  const ids = o.ids ?? 'int';
  const style = o.style ?? 'pretty';
  const version = o.version ?? 0;
  const customers = o.customers ?? Math.max(1, Math.ceil(o.orders / 5));
  const products = o.products ?? Math.max(1, Math.min(10000, Math.ceil(o.orders / 20)));
  const rand = rng((o.seed ?? 42) + version * 1000003);
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
  for (let i = 0; i < o.orders; i++) {
    const lines = 1 + Math.floor(rand() * 4);
    const c = 1 + Math.floor(rand() * customers);
    const items = [];
    let total = 0;
    for (let l = 0; l < lines; l++) {
      const p = product(1 + Math.floor(rand() * products), ids, version);
      const quantity = 1 + Math.floor(rand() * 5);
      total += Math.round(p.price * 100) * quantity;
      items.push({ ...p, quantity });
    }
    const day = 1 + (i % 28);
    const order = {
      order_id: firstId + i,
      order_date: `2024-${String(1 + (i % 12)).padStart(2, '0')}-${String(day).padStart(2, '0')}`,
      total_amount: total / 100,
      customer: customer(c, ids, version),
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

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const get = (name: string) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const out = get('out');
  const orders = Number(get('orders'));
  if (!out || !Number.isInteger(orders) || orders < 0) {
    process.stderr.write('usage: generate.ts --orders N --out FILE [--customers N] [--products N] [--ids int|string] [--style pretty|compact|ndjson] [--gzip] [--version N] [--seed N]\n');
    process.exit(2);
  }
  const num = (name: string) => (get(name) === undefined ? undefined : Number(get(name)));
  await generate(out, {
    orders,
    customers: num('customers'),
    products: num('products'),
    ids: (get('ids') as 'int' | 'string' | undefined) ?? 'int',
    style: (get('style') as 'pretty' | 'compact' | 'ndjson' | undefined) ?? 'pretty',
    gzip: args.includes('--gzip'),
    version: num('version'),
    seed: num('seed'),
    firstOrderId: num('first-order-id'),
  });
}
