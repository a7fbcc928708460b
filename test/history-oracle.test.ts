/**
 * The history oracle (test/helpers/history-oracle.ts) checked on its own, without any warehouse, so that the
 * warehouse tests (test/history.test.ts) compare the engine with something known to be right:
 * - the hand-made cases of issue 13's acceptance, after each of their loads, against versions and fact
 *   pointers written out by hand from the rules;
 * - mixed modes (one dimension SCD1: last in load order wins, whatever the date);
 * - on the random generators' inputs, the properties that define versions, checked by a second, simpler
 *   computation (each observed day's value, each fact's version); and that the per-day-unique inputs give the
 *   same result whatever the order of files and records, while the general ones do not (so the randomized
 *   warehouse tests exercise load order);
 * - that the generators produce what those tests rely on: same-day conflicts, late changes, re-deliveries.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CASES, GENERAL, UNIQUE, EQUALITY, MOVES, PRICE, QUIET, REDELIVERY, SAME_DAY, A, B, C, W, X, perDayUniqueExports, randomHistoryExports, rng, shuffled, validRecords, type HistoryCase } from './helpers/history-inputs.ts';
import { BOTH, CUSTOMERS_ONLY, PRODUCTS_ONLY, historyFlag, historyOracle, sameAttributes, type HistoryExpectation, type HistoryMode, type Version } from './helpers/history-oracle.ts';

const after = (c: HistoryCase, loads: number, mode: HistoryMode = BOTH): HistoryExpectation => historyOracle(c.files.slice(0, loads).map(validRecords), mode);

/** A key's versions as [valid_from, valid_to, ...attributes, is_current]. */
function versions(e: HistoryExpectation, dimension: 'customers' | 'products', key: string): unknown[][] {
  const all = dimension === 'customers' ? e.customerVersions : e.productVersions;
  return (all!.get(key) ?? []).map((v) => [v.validFrom, v.validTo, ...v.attributes, v.isCurrent]);
}

/** Every fact as "order/line: customer version, product version" (the valid_from each points at). */
function pointers(e: HistoryExpectation): string[] {
  return e.factRows.map((f) => `${f.orderId}/${f.lineNo} ${f.orderDate}: c ${f.customerValidFrom}, p ${f.productValidFrom}`).sort();
}

const ann = (address: string | null) => ['Ann Lee', 'ann@example.com', address];
const widget = (price: string, category = 'tools') => ['Widget', category, price];

describe('the history oracle on the hand-made cases, against versions written out by hand', () => {
  it(MOVES.title, () => {
    const moved = after(MOVES, 1);
    assert.deepEqual(versions(moved, 'customers', 'C1'), [
      ['2024-01-10', '2024-03-01', ...ann(A), false],
      ['2024-03-01', '2024-06-01', ...ann(B), false],
      ['2024-06-01', null, ...ann(C), true],
    ]);
    assert.deepEqual(versions(moved, 'products', 'P1'), [['2024-01-10', null, ...widget('5.00'), true]]);
    assert.deepEqual(pointers(moved), [
      'O1/1 2024-01-10: c 2024-01-10, p 2024-01-10',
      'O2/1 2024-02-20: c 2024-01-10, p 2024-01-10',
      'O3/1 2024-03-01: c 2024-03-01, p 2024-01-10',
      'O4/1 2024-04-15: c 2024-03-01, p 2024-01-10',
      'O5/1 2024-06-01: c 2024-06-01, p 2024-01-10',
    ]);

    // X on 02-01 splits A: A until 02-01, X until the next observation (A on 02-20), which starts a version
    // of its own, where O2's fact moves.
    const split = after(MOVES, 2);
    const splitVersions = [
      ['2024-01-10', '2024-02-01', ...ann(A), false],
      ['2024-02-01', '2024-02-20', ...ann(X), false],
      ['2024-02-20', '2024-03-01', ...ann(A), false],
      ['2024-03-01', '2024-06-01', ...ann(B), false],
      ['2024-06-01', null, ...ann(C), true],
    ];
    assert.deepEqual(versions(split, 'customers', 'C1'), splitVersions);
    assert.deepEqual(pointers(split), [
      'O1/1 2024-01-10: c 2024-01-10, p 2024-01-10',
      'O2/1 2024-02-20: c 2024-02-20, p 2024-01-10',
      'O3/1 2024-03-01: c 2024-03-01, p 2024-01-10',
      'O4/1 2024-04-15: c 2024-03-01, p 2024-01-10',
      'O5/1 2024-06-01: c 2024-06-01, p 2024-01-10',
      'O6/1 2024-02-01: c 2024-02-01, p 2024-01-10',
    ]);

    // B on 04-01 matches the version in effect: nothing changes but the new fact.
    const matched = after(MOVES, 3);
    assert.deepEqual(versions(matched, 'customers', 'C1'), splitVersions);
    assert.deepEqual([matched.customers, matched.products], [split.customers, split.products]);
    assert.deepEqual(pointers(matched), [...pointers(split), 'O7/1 2024-04-01: c 2024-03-01, p 2024-01-10'].sort());

    // A on 01-02, before the first version, with its attributes: the first version starts earlier; so does P1's.
    const extended = after(MOVES, 4);
    assert.deepEqual(versions(extended, 'customers', 'C1'), [['2024-01-02', '2024-02-01', ...ann(A), false], ...splitVersions.slice(1)]);
    assert.deepEqual(versions(extended, 'products', 'P1'), [['2024-01-02', null, ...widget('5.00'), true]]);
    assert.ok(pointers(extended).includes('O1/1 2024-01-10: c 2024-01-02, p 2024-01-02'));
    assert.ok(pointers(extended).includes('O8/1 2024-01-02: c 2024-01-02, p 2024-01-02'));

    // W on 2023-12-01, with other attributes: a version before the first.
    const preceded = after(MOVES, 5);
    assert.deepEqual(versions(preceded, 'customers', 'C1'), [
      ['2023-12-01', '2024-01-02', ...ann(W), false],
      ['2024-01-02', '2024-02-01', ...ann(A), false],
      ...splitVersions.slice(1),
    ]);
    assert.deepEqual(versions(preceded, 'products', 'P1'), [['2023-12-01', null, ...widget('5.00'), true]]);
    assert.deepEqual(pointers(preceded), [
      'O1/1 2024-01-10: c 2024-01-02, p 2023-12-01',
      'O2/1 2024-02-20: c 2024-02-20, p 2023-12-01',
      'O3/1 2024-03-01: c 2024-03-01, p 2023-12-01',
      'O4/1 2024-04-15: c 2024-03-01, p 2023-12-01',
      'O5/1 2024-06-01: c 2024-06-01, p 2023-12-01',
      'O6/1 2024-02-01: c 2024-02-01, p 2023-12-01',
      'O7/1 2024-04-01: c 2024-03-01, p 2023-12-01',
      'O8/1 2024-01-02: c 2024-01-02, p 2023-12-01',
      'O9/1 2023-12-01: c 2023-12-01, p 2023-12-01',
    ]);
  });

  it(PRICE.title, () => {
    const april = after(PRICE, 1);
    assert.deepEqual(versions(april, 'products', 'P7'), [['2024-04-05', null, ...widget('12.50'), true]]);
    const both = after(PRICE, 2);
    assert.deepEqual(versions(both, 'products', 'P7'), [
      ['2024-03-01', '2024-04-01', ...widget('10.00'), false],
      ['2024-04-01', null, ...widget('12.50'), true],
    ]);
    assert.deepEqual(versions(both, 'products', 'P8'), [['2024-04-05', null, ...widget('3.00'), true]]);
    assert.deepEqual(versions(both, 'customers', 'C20'), [['2024-03-01', null, ...ann('Main St'), true]]);
    assert.deepEqual(pointers(both), [
      'O21/1 2024-04-05: c 2024-03-01, p 2024-04-01',
      'O21/2 2024-04-05: c 2024-03-01, p 2024-04-05',
      'O22/1 2024-05-01: c 2024-03-01, p 2024-04-01',
      'O23/1 2024-03-01: c 2024-03-01, p 2024-03-01',
      'O24/1 2024-03-10: c 2024-03-01, p 2024-03-01',
      'O25/1 2024-04-01: c 2024-03-01, p 2024-04-01',
    ]);
    // A whole fact row, as compared with a warehouse.
    assert.ok(both.facts.includes(JSON.stringify(['O21', 1, '2024-04-05', '28.00', 'P7', '2024-04-01', 'C20', '2024-03-01', 2])));
  });

  it(SAME_DAY.title, () => {
    const first = after(SAME_DAY, 1);
    // O32 (B) comes after O31 (A) on 05-05: B for the whole day; O33 (A) on 05-04 is a version of its own.
    assert.deepEqual(versions(first, 'customers', 'C3'), [
      ['2024-05-04', '2024-05-05', ...ann(A), false],
      ['2024-05-05', null, ...ann(B), true],
    ]);
    // Two lines of P30 in one order: the later line (2.00) wins.
    assert.deepEqual(versions(first, 'products', 'P30'), [['2024-06-06', null, ...widget('2.00'), true]]);
    assert.deepEqual(versions(first, 'products', 'P31'), [['2024-05-04', null, ...widget('4.00'), true]]);
    assert.deepEqual(pointers(first), [
      'O31/1 2024-05-05: c 2024-05-05, p 2024-05-04',
      'O32/1 2024-05-05: c 2024-05-05, p 2024-05-04',
      'O33/1 2024-05-04: c 2024-05-04, p 2024-05-04',
      'O35/1 2024-06-06: c 2024-06-06, p 2024-06-06',
      'O35/2 2024-06-06: c 2024-06-06, p 2024-06-06',
      'O35/3 2024-06-06: c 2024-06-06, p 2024-05-04',
    ]);
    // A later A on 05-05 makes the day A, equal to 05-04: one version. P30 on 06-06 becomes 1.00.
    const second = after(SAME_DAY, 2);
    assert.deepEqual(versions(second, 'customers', 'C3'), [['2024-05-04', null, ...ann(A), true]]);
    assert.deepEqual(versions(second, 'products', 'P30'), [['2024-06-06', null, ...widget('1.00'), true]]);
    assert.deepEqual(
      pointers(second).filter((p) => /^O3[1-4]/.test(p)),
      ['O31/1 2024-05-05: c 2024-05-04, p 2024-05-04', 'O32/1 2024-05-05: c 2024-05-04, p 2024-05-04', 'O33/1 2024-05-04: c 2024-05-04, p 2024-05-04', 'O34/1 2024-05-05: c 2024-05-04, p 2024-05-04'],
    );
  });

  it(EQUALITY.title, () => {
    const e = after(EQUALITY, 1);
    assert.deepEqual([...e.customerVersions!.keys()], ['17']);
    assert.deepEqual(versions(e, 'customers', '17'), [
      ['2024-07-01', '2024-07-02', 'Cafe\u0301', null, A, false],
      ['2024-07-02', '2024-07-04', 'Cafe\u0301', '', A, false],
      ['2024-07-04', null, 'Caf\u00e9', '', A, true],
    ]);
    assert.deepEqual(versions(e, 'products', 'P40'), [
      ['2024-07-01', '2024-07-04', ...widget('3.00'), false],
      ['2024-07-04', null, ...widget('3.00', 'tools '), true],
    ]);
    assert.deepEqual(pointers(e), [
      'O41/1 2024-07-01: c 2024-07-01, p 2024-07-01',
      'O42/1 2024-07-02: c 2024-07-02, p 2024-07-01',
      'O43/1 2024-07-03: c 2024-07-02, p 2024-07-01',
      'O44/1 2024-07-04: c 2024-07-04, p 2024-07-04',
    ]);
  });

  it(REDELIVERY.title, () => {
    const first = after(REDELIVERY, 1);
    assert.deepEqual(versions(first, 'customers', 'C5'), [['2024-08-01', null, ...ann(A), true]]);
    assert.deepEqual(pointers(first), ['O51/1 2024-08-01: c 2024-08-01, p 2024-08-01', 'O52/1 2024-10-10: c 2024-08-01, p 2024-10-10']);
    const second = after(REDELIVERY, 2);
    assert.deepEqual(versions(second, 'customers', 'C5'), [
      ['2024-08-01', '2024-09-01', ...ann(A), false],
      ['2024-09-01', '2024-10-10', ...ann(B), false],
      ['2024-10-10', null, ...ann(A), true],
    ]);
    assert.deepEqual(versions(second, 'products', 'P50'), [['2024-08-01', null, ...widget('5.00'), true]]);
    assert.deepEqual(versions(second, 'products', 'P51'), [
      ['2024-08-15', '2024-10-10', ...widget('8.00'), false],
      ['2024-10-10', null, ...widget('7.00'), true],
    ]);
    assert.deepEqual(versions(second, 'products', 'P52'), [['2024-09-01', null, ...widget('6.00'), true]]);
    assert.deepEqual(pointers(second), [
      'O51/1 2024-09-01: c 2024-09-01, p 2024-09-01',
      'O51/2 2024-09-01: c 2024-09-01, p 2024-09-01',
      'O52/1 2024-08-15: c 2024-08-01, p 2024-08-15',
    ]);
  });

  it(QUIET.title, () => {
    const e = after(QUIET, 1);
    assert.deepEqual(versions(e, 'customers', 'C6'), [['2024-09-09', null, ...ann(A), true]]);
    assert.deepEqual(versions(e, 'products', 'P60'), [['2024-09-11', null, ...widget('1.00'), true]]);
    assert.deepEqual(pointers(e), ['O63/1 2024-09-11: c 2024-09-09, p 2024-09-11']);
  });
});

describe('the history oracle with one dimension SCD1', () => {
  it('customers only: products are the SCD1 model, last in load order; facts name products by key alone', () => {
    const e = after(PRICE, 2, CUSTOMERS_ONLY);
    assert.equal(e.productVersions, null);
    assert.deepEqual(e.products, [JSON.stringify(['P7', ...widget('12.50')]), JSON.stringify(['P8', ...widget('3.00')])]);
    assert.deepEqual(versions(e, 'customers', 'C20'), [['2024-03-01', null, ...ann('Main St'), true]]);
    assert.ok(e.facts.includes(JSON.stringify(['O23', 1, '2024-03-01', '10.00', 'P7', null, 'C20', '2024-03-01', 1])));
  });

  it('products only: the customer who moved is her last loaded address (W, the oldest date)', () => {
    const e = after(MOVES, 5, PRODUCTS_ONLY);
    assert.equal(e.customerVersions, null);
    assert.deepEqual(e.customers, [JSON.stringify(['C1', ...ann(W)])]);
    assert.deepEqual(versions(e, 'products', 'P1'), [['2023-12-01', null, ...widget('5.00'), true]]);
    assert.ok(pointers(e).includes('O2/1 2024-02-20: c null, p 2023-12-01'));
  });

  it('--history values', () => {
    assert.deepEqual([BOTH, CUSTOMERS_ONLY, PRODUCTS_ONLY, { customers: false, products: false }].map(historyFlag), ['customers,products', 'customers', 'products', 'none']);
  });
});

/** Observations of a key, in load order, as [day, attributes], computed without the oracle. */
function observationsOf(exports: readonly (readonly unknown[])[]) {
  const customers = new Map<string, [string, (string | null)[]][]>();
  const products = new Map<string, [string, (string | null)[]][]>();
  const orders = new Map<string, any>();
  const push = (m: Map<string, [string, (string | null)[]][]>, key: unknown, on: string, attrs: (string | null)[]) => {
    const list = m.get(String(key)) ?? [];
    list.push([on, attrs]);
    m.set(String(key), list);
  };
  const t = (v: unknown) => (v === null || v === undefined ? null : String(v));
  for (const file of exports) {
    for (const o of file as any[]) {
      const on = String(o.order_date).slice(0, 10);
      push(customers, o.customer.customer_id, on, [t(o.customer.name), t(o.customer.email), t(o.customer.address)]);
      for (const p of o.products) push(products, p.product_id, on, [t(p.name), t(p.category), p.price === null ? null : Number(p.price).toFixed(2)]);
      orders.set(String(o.order_id), o);
    }
  }
  return { customers, products, orders };
}

/**
 * The properties that define a key's versions, checked against its observations: the versions tile the time
 * from the first observed day on, the last is the only current one, neighbours differ, each starts on an
 * observed day, and the version in effect on each observed day has that day's value (its last observation).
 */
function assertDefiningProperties(key: string, vs: Version[], observations: [string, (string | null)[]][]): void {
  const dayValue = new Map<string, (string | null)[]>();
  for (const [on, attrs] of [...observations].reverse()) if (!dayValue.has(on)) dayValue.set(on, attrs);
  const days = [...dayValue.keys()].sort();
  assert.equal(vs[0]!.validFrom, days[0], `${key}: the first version starts on the first observed day`);
  vs.forEach((v, i) => {
    const next = vs[i + 1];
    assert.equal(v.validTo, next ? next.validFrom : null, `${key}: versions tile the time`);
    assert.equal(v.isCurrent, !next, `${key}: only the last is current`);
    if (next) assert.ok(v.validFrom < next.validFrom && !sameAttributes(v.attributes, next.attributes), `${key}: neighbours differ`);
    assert.ok(dayValue.has(v.validFrom), `${key}: a version starts on an observed day`);
  });
  for (const [on, attrs] of dayValue) {
    const v = vs.findLast((x) => x.validFrom <= on)!;
    assert.deepEqual(v.attributes, attrs, `${key} on ${on}: the day's last observation`);
  }
}

function assertOracleProperties(exports: readonly (readonly unknown[])[]): HistoryExpectation {
  const e = historyOracle(exports, BOTH);
  const obs = observationsOf(exports);
  assert.deepEqual([...e.customerVersions!.keys()].sort(), [...obs.customers.keys()].sort());
  assert.deepEqual([...e.productVersions!.keys()].sort(), [...obs.products.keys()].sort());
  for (const [key, vs] of e.customerVersions!) assertDefiningProperties(key, vs, obs.customers.get(key)!);
  for (const [key, vs] of e.productVersions!) assertDefiningProperties(key, vs, obs.products.get(key)!);
  // Facts: the last delivery of each order, each line with the version in effect on its date.
  const inEffect = (vs: Version[], on: string) => vs.find((v) => v.validFrom <= on && (v.validTo === null || on < v.validTo))!.validFrom;
  const facts = [...obs.orders.values()].flatMap((o) =>
    o.products.map((p: any, i: number) => {
      const on = String(o.order_date).slice(0, 10);
      const total = o.total_amount === null ? null : Number(o.total_amount).toFixed(2);
      const c = String(o.customer.customer_id);
      return JSON.stringify([String(o.order_id), i + 1, on, total, String(p.product_id), inEffect(e.productVersions!.get(String(p.product_id))!, on), c, inEffect(e.customerVersions!.get(c)!, on), p.quantity]);
    }),
  );
  assert.deepEqual(e.facts, facts.sort());
  return e;
}

const ORDERS = [
  [0, 1, 2, 3],
  [3, 2, 1, 0],
  [2, 0, 3, 1],
];

describe('the history oracle on random inputs', () => {
  it('general inputs: the versions and facts satisfy their defining properties, in several load orders', () => {
    const exports = randomHistoryExports(GENERAL);
    const results = ORDERS.map((order) => assertOracleProperties(order.map((i) => exports[i]!)));
    // Same-day conflicts and re-deliveries make the result depend on the load order.
    assert.notDeepEqual(results[0]!.customers, results[1]!.customers);
  });

  it('per-day-unique inputs: the same versions and facts whatever the order of files and records', () => {
    const exports = perDayUniqueExports(UNIQUE);
    const [first, ...others] = [
      ...ORDERS.map((order) => order.map((i) => exports[i]!)),
      [shuffled(exports.flat(), rng(7))], // one file, records in another order
    ].map(assertOracleProperties);
    for (const e of others) assert.deepEqual([e.customers, e.products, e.facts], [first!.customers, first!.products, first!.facts]);
  });

  it('the generators give what the randomized warehouse tests rely on', () => {
    const general = randomHistoryExports(GENERAL);
    const all = general.flat() as any[];
    const obs = observationsOf(general);
    const count = (m: Map<string, [string, (string | null)[]][]>, f: (list: [string, (string | null)[]][]) => number) => [...m.values()].reduce((n, list) => n + f(list), 0);
    // Two different observations of a key on one day.
    const conflicts = (list: [string, (string | null)[]][]) =>
      list.filter(([on, a], i) => list.some(([on2, b], j) => j < i && on2 === on && !sameAttributes(a, b))).length;
    // Late changes: an observation dated before one already loaded, with other attributes than it.
    const late = (list: [string, (string | null)[]][]) => list.filter(([on, a], i) => list.some(([on2, b], j) => j < i && on2 > on && !sameAttributes(a, b))).length;
    assert.ok(count(obs.customers, conflicts) > 10 && count(obs.products, conflicts) > 10, 'same-day conflicts');
    assert.ok(count(obs.customers, late) > 30 && count(obs.products, late) > 30, 'late changes');
    const e = historyOracle(general, BOTH);
    assert.ok([...e.customerVersions!.values()].filter((vs) => vs.length >= 3).length > 10, 'customers with several versions');
    assert.ok([...e.productVersions!.values()].filter((vs) => vs.length >= 3).length > 10, 'products with several versions');
    assert.ok(new Set(all.map((o) => String(o.order_id))).size < all.length - 20, 're-deliveries');
    assert.ok(all.some((o) => o.products.length === 0) && all.some((o) => typeof o.order_date === 'string' && o.order_date.length > 10), 'empty orders, timestamps');
    assert.ok(general.every((f) => f.length > 50), 'every file has orders');

    const unique = perDayUniqueExports(UNIQUE);
    const u = observationsOf(unique);
    for (const m of [u.customers, u.products]) for (const [key, list] of m) assert.equal(new Set(list.map(([on]) => on)).size, list.length, `${key}: one observation per day`);
    assert.equal(new Set(unique.flat().map((o: any) => String(o.order_id))).size, unique.flat().length, 'no re-delivery');
    assert.ok(count(u.customers, late) > 30, 'late changes');
  });

  it('every hand-made case is valid input for the oracle at every step', () => {
    for (const c of CASES) for (let i = 1; i <= c.files.length; i++) assertOracleProperties(c.files.slice(0, i).map(validRecords));
  });
});
