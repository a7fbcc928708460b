/**
 * An independent, in-memory implementation of the load rules, written from the text and not from
 * the engine, to check warehouses against: load order, SCD1 last-wins dimensions, order-level replacement.
 * It uses plain JSON.parse on whole (small) files.
 */
export interface ModelState {
  customers: Map<string, { name: string | null; email: string | null; address: string | null }>;
  products: Map<string, { name: string | null; category: string | null; price: string | null }>;
  /** order_id -> its lines */
  orders: Map<string, { order_date: string; total_amount: string | null; customer_id: string; lines: { product_id: string; quantity: number }[] }>;
}

export function emptyModel(): ModelState {
  return { customers: new Map(), products: new Map(), orders: new Map() };
}

const id = (v: unknown) => String(v);
const text = (v: unknown) => (v === undefined || v === null ? null : String(v));
const money = (v: unknown) => (v === undefined || v === null ? null : Number(v).toFixed(2));

/** Apply one export (an array of orders, or NDJSON lines already parsed) in order. */
export function applyOrders(state: ModelState, orders: any[]): void {
  for (const o of orders) {
    const c = o.customer;
    state.customers.set(id(c.customer_id), { name: text(c.name), email: text(c.email), address: text(c.address) });
    for (const p of o.products) state.products.set(id(p.product_id), { name: text(p.name), category: text(p.category), price: money(p.price) });
    state.orders.set(id(o.order_id), {
      order_date: String(o.order_date).slice(0, 10),
      total_amount: money(o.total_amount),
      customer_id: id(c.customer_id),
      lines: o.products.map((p: any) => ({ product_id: id(p.product_id), quantity: Number(p.quantity) })),
    });
  }
}

/** The warehouse as comparable rows keyed by natural keys (surrogate keys compared separately). */
export interface Snapshot {
  customers: string[];
  products: string[];
  facts: string[];
}

export interface KeyedSnapshot extends Snapshot {
  /** natural key -> surrogate key, as text. */
  customerKeys: Map<string, string>;
  productKeys: Map<string, string>;
}

/**
 * The model's warehouse. Surrogate keys are handed out in order of first appearance across all loads, from 1:
 * a Map keeps the position of a key's first set() whatever is set later, so a key's position is its key.
 */
export function modelSnapshot(state: ModelState): KeyedSnapshot {
  const customers = [...state.customers].map(([k, v]) => JSON.stringify([k, v.name, v.email, v.address]));
  const products = [...state.products].map(([k, v]) => JSON.stringify([k, v.name, v.category, v.price]));
  const facts: string[] = [];
  for (const [oid, o] of state.orders) {
    o.lines.forEach((l, i) => facts.push(JSON.stringify([oid, i + 1, o.order_date, o.total_amount, l.product_id, o.customer_id, l.quantity])));
  }
  const keys = (m: Map<string, unknown>) => new Map([...m.keys()].map((k, i) => [k, String(i + 1)]));
  return {
    customers: customers.sort(),
    products: products.sort(),
    facts: facts.sort(),
    customerKeys: keys(state.customers),
    productKeys: keys(state.products),
  };
}
