/**
 * An independent, in-memory implementation of history dimensions (SCD Type 2, issue 13), written from the
 * issue's text and the interface the engine implements, not from the engine: what a warehouse must hold after
 * loading these exports in this order. The tests compare warehouses with it (test/history.test.ts), and it is
 * itself checked against versions written out by hand (test/history-oracle.test.ts).
 *
 * The rules it implements, and nothing else:
 * - Every valid order is an observation, on its order_date, of its customer (once per order, also when it has
 *   no lines) and of the product of each of its lines (line order: a later line is later in load order). Load
 *   order is files in the order given, records in file order, across all loads. A re-delivered order observes
 *   again on its new date; its earlier delivery's observations stay.
 * - Per natural key of a history dimension: the value of an observed day is the attributes of its last
 *   observation in load order; consecutive observed days with equal values are one version; valid_from is the
 *   version's first observed day, valid_to the next version's valid_from (NULL for the last, the current one).
 *   Equality is exact: strings as they are ('' is not null), money as its 2-decimal text.
 * - A dimension not in history mode is SCD1: the independent model of test/helpers/model.ts.
 * - Facts: the last delivery of each order, each line pointing at the version of its product and of its
 *   customer in effect on the order's date (valid_from <= date < valid_to, or valid_to NULL).
 *
 * Surrogate keys are not modelled: the engine hands them out in arrival order, so versions and facts are
 * compared by natural key and valid_from (the SIGKILL test compares keys with a clean run of the engine).
 *
 * Every record given must be one the engine accepts: rejected records are not observations, so a test that
 * plants an invalid record leaves it out of the oracle's input. Values are normalized as model.ts does (ids as
 * String, money as 2-decimal text, dates as the first 10 characters); whole (small) exports, plain JSON.parse.
 */
import { readFileSync } from 'node:fs';
import { applyOrders, emptyModel, modelSnapshot } from './model.ts';

/** Which dimensions keep history; the other ones are SCD1. */
export interface HistoryMode {
  customers: boolean;
  products: boolean;
}

export const BOTH: HistoryMode = { customers: true, products: true };
export const CUSTOMERS_ONLY: HistoryMode = { customers: true, products: false };
export const PRODUCTS_ONLY: HistoryMode = { customers: false, products: true };

/** The value of --history for a mode. */
export function historyFlag(mode: HistoryMode): string {
  const dims = [mode.customers && 'customers', mode.products && 'products'].filter((d): d is string => Boolean(d));
  return dims.length === 0 ? 'none' : dims.join(',');
}

/** A dimension row's attributes in column order: customers [name, email, address]; products [name, category, price]. */
export type Attributes = readonly (string | null)[];

export interface Version {
  key: string;
  validFrom: string;
  /** Exclusive; null for the current version. */
  validTo: string | null;
  isCurrent: boolean;
  attributes: Attributes;
}

export interface ExpectedFact {
  orderId: string;
  lineNo: number;
  orderDate: string;
  totalAmount: string | null;
  productId: string;
  /** The valid_from of the product version the line points at; null when products are SCD1. */
  productValidFrom: string | null;
  customerId: string;
  /** The valid_from of the customer version the line points at; null when customers are SCD1. */
  customerValidFrom: string | null;
  quantity: number;
}

/** A warehouse as sorted JSON rows, without surrogate keys: what the oracle and a snapshot are compared by. */
export interface ComparableHistory {
  customers: string[];
  products: string[];
  facts: string[];
}

export interface HistoryExpectation extends ComparableHistory {
  mode: HistoryMode;
  /** Versions by natural key, each key's sorted by valid_from; null for an SCD1 dimension. */
  customerVersions: Map<string, Version[]> | null;
  productVersions: Map<string, Version[]> | null;
  factRows: ExpectedFact[];
}

// The comparable row of each kind. A snapshot of a warehouse (history-snapshot.ts) writes the same rows.

/** A version of a history dimension: [key, valid_from, valid_to, ...attributes, is_current]. */
export const versionRow = (v: Version): string => JSON.stringify([v.key, v.validFrom, v.validTo, ...v.attributes, v.isCurrent]);
/** A row of an SCD1 dimension, as test/helpers/model.ts writes it: [key, ...attributes]. */
export const scd1Row = (key: string, attributes: Attributes): string => JSON.stringify([key, ...attributes]);
export const factRow = (f: ExpectedFact): string =>
  JSON.stringify([f.orderId, f.lineNo, f.orderDate, f.totalAmount, f.productId, f.productValidFrom, f.customerId, f.customerValidFrom, f.quantity]);

const id = (v: unknown) => String(v);
const text = (v: unknown) => (v === undefined || v === null ? null : String(v));
const money = (v: unknown) => (v === undefined || v === null ? null : Number(v).toFixed(2));
const day = (v: unknown) => String(v).slice(0, 10);

export const sameAttributes = (a: Attributes, b: Attributes): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

/** Per natural key, per observed day, the attributes of the day's last observation so far. */
type Observations = Map<string, Map<string, Attributes>>;

function observe(into: Observations, key: string, on: string, attributes: Attributes): void {
  let days = into.get(key);
  if (!days) into.set(key, (days = new Map()));
  // Observations arrive in load order: the last one set for a day is the day's value.
  days.set(on, attributes);
}

/** A key's versions from its observed days: equal consecutive days merge; each ends where the next begins. */
export function versionsOf(key: string, days: Map<string, Attributes>): Version[] {
  const versions: Version[] = [];
  for (const on of [...days.keys()].sort()) {
    const attributes = days.get(on)!;
    const last = versions.at(-1);
    if (last && sameAttributes(last.attributes, attributes)) continue;
    if (last) last.validTo = on;
    versions.push({ key, validFrom: on, validTo: null, isCurrent: false, attributes });
  }
  versions.at(-1)!.isCurrent = true;
  return versions;
}

/** The version of a key in effect on a day. */
export function versionOn(versions: Version[] | undefined, on: string): Version {
  const v = versions?.findLast((x) => x.validFrom <= on);
  if (!v || (v.validTo !== null && on >= v.validTo)) throw new Error(`oracle: no version of ${versions?.[0]?.key} in effect on ${on}`);
  return v;
}

/**
 * The expected warehouse after loading `exports` (each an array of orders as parsed JSON) in this order, into
 * a warehouse whose history dimensions are `mode`'s.
 */
export function historyOracle(exports: readonly (readonly unknown[])[], mode: HistoryMode): HistoryExpectation {
  const customerDays: Observations = new Map();
  const productDays: Observations = new Map();
  const scd1 = emptyModel();
  const orders = new Map<string, { orderDate: string; totalAmount: string | null; customerId: string; lines: { productId: string; quantity: number }[] }>();
  for (const records of exports) {
    applyOrders(scd1, records as any[]);
    for (const o of records as any[]) {
      const on = day(o.order_date);
      const c = o.customer;
      observe(customerDays, id(c.customer_id), on, [text(c.name), text(c.email), text(c.address)]);
      for (const p of o.products) observe(productDays, id(p.product_id), on, [text(p.name), text(p.category), money(p.price)]);
      // A re-delivery replaces the order's lines; its earlier observations were recorded above and stay.
      orders.set(id(o.order_id), {
        orderDate: on,
        totalAmount: money(o.total_amount),
        customerId: id(c.customer_id),
        lines: o.products.map((p: any) => ({ productId: id(p.product_id), quantity: Number(p.quantity) })),
      });
    }
  }

  const versionsByKey = (obs: Observations) => new Map([...obs].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([key, days]) => [key, versionsOf(key, days)]));
  const customerVersions = mode.customers ? versionsByKey(customerDays) : null;
  const productVersions = mode.products ? versionsByKey(productDays) : null;

  const factRows: ExpectedFact[] = [];
  for (const [orderId, o] of orders) {
    const customerValidFrom = customerVersions ? versionOn(customerVersions.get(o.customerId), o.orderDate).validFrom : null;
    o.lines.forEach((l, i) =>
      factRows.push({
        orderId,
        lineNo: i + 1,
        orderDate: o.orderDate,
        totalAmount: o.totalAmount,
        productId: l.productId,
        productValidFrom: productVersions ? versionOn(productVersions.get(l.productId), o.orderDate).validFrom : null,
        customerId: o.customerId,
        customerValidFrom,
        quantity: l.quantity,
      }),
    );
  }

  const scd1Rows = modelSnapshot(scd1);
  const rows = (versions: Map<string, Version[]>) => [...versions.values()].flat().map(versionRow).sort();
  return {
    mode,
    customerVersions,
    productVersions,
    factRows,
    customers: customerVersions ? rows(customerVersions) : scd1Rows.customers,
    products: productVersions ? rows(productVersions) : scd1Rows.products,
    facts: factRows.map(factRow).sort(),
  };
}

/** The oracle over export files (JSON arrays), read whole. */
export function historyOracleOfFiles(paths: readonly string[], mode: HistoryMode): HistoryExpectation {
  return historyOracle(
    paths.map((p) => JSON.parse(readFileSync(p, 'utf8')) as unknown[]),
    mode,
  );
}
