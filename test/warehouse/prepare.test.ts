/**
 * prepareBatch (src/warehouse/prepare.ts) against a plain model of SCD1 "last occurrence wins": random batches
 * with repeated customers, products and order ids, rejects between the orders (so record indexes have gaps),
 * orders without lines, and either dimension kept as history. Each SCD1 dimension's rows come once per key in
 * order of first appearance with the key's last row, and every row of every order (repeated deliveries included)
 * finds its key's row by position.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Batch, OrderRows } from '../../src/model.ts';
import { CUSTOMERS, PRODUCTS } from '../../src/warehouse/dimensions.ts';
import { attributeHash } from '../../src/warehouse/keys.ts';
import { prepareBatch } from '../../src/warehouse/prepare.ts';
import { rng } from '../helpers/history-inputs.ts';

function randomBatch(r: () => number, firstIndex: number): Batch {
  const batch: Batch = { firstIndex, nextIndex: firstIndex, orders: [], rejects: [] };
  const n = 1 + Math.floor(r() * 60);
  for (let index = firstIndex; index < firstIndex + n; index++) {
    batch.nextIndex = index + 1;
    if (r() < 0.15) {
      batch.rejects.push({ kind: 'reject', index, offset: null, reason: 'bad', raw: '{}', arrayRecord: false });
      continue;
    }
    const version = String(Math.floor(r() * 1000));
    const lines = Array.from({ length: Math.floor(r() * 4) }, () => ({
      productId: `P${Math.floor(r() * 12)}`,
      name: `n${version}`,
      category: null,
      price: version,
      quantity: 1,
    }));
    batch.orders.push({
      kind: 'order',
      index,
      offset: null,
      orderId: `O${Math.floor(r() * 20)}`,
      orderDate: '2024-01-01',
      totalAmount: null,
      customer: { customerId: `C${Math.floor(r() * 15)}`, name: version, email: null, address: null },
      lines,
    });
  }
  return batch;
}

/** Keys in order of first appearance, each with its last row. */
function lastWins<R>(rows: [string, R][]): { ids: string[]; rows: R[] } {
  const model = new Map<string, R>();
  for (const [id, row] of rows) model.set(id, row);
  return { ids: [...model.keys()], rows: [...model.values()] };
}

describe('prepareBatch', () => {
  it('keeps one row per SCD1 key (its last, in order of first appearance) and finds it for every row by position', () => {
    const r = rng(7);
    for (let round = 0; round < 400; round++) {
      const batch = randomBatch(r, Math.floor(r() * 1_000_000));
      const history = { customers: r() < 0.3, products: r() < 0.3 };
      const p = prepareBatch(batch, history);
      const customers = lastWins(batch.orders.map((o): [string, OrderRows['customer']] => [o.customer.customerId, o.customer]));
      const products = lastWins(batch.orders.flatMap((o) => o.lines.map((l): [string, OrderRows['lines'][number]] => [l.productId, l])));
      if (history.customers) {
        assert.deepEqual(p.customers, []);
        assert.equal(p.customerRows, null);
      } else {
        assert.deepEqual(p.customers, customers.rows);
        for (const o of batch.orders) assert.equal(p.customers[p.customerRows!.of(o, 0)]!.customerId, o.customer.customerId);
      }
      if (history.products) {
        assert.deepEqual(p.products, []);
        assert.equal(p.productRows, null);
      } else {
        assert.deepEqual(p.products, products.rows);
        for (const o of batch.orders) {
          o.lines.forEach((l, i) => assert.equal(p.products[p.productRows!.of(o, i)]!.productId, l.productId));
        }
      }
      // The last delivery of each order, in order of first appearance; the fact rows are its lines.
      const orders = lastWins(batch.orders.map((o): [string, OrderRows] => [o.orderId, o]));
      assert.deepEqual(p.orders, orders.rows);
      assert.equal(p.factRows, orders.rows.reduce((n, o) => n + o.lines.length, 0));
      assert.equal(p.rejects, batch.rejects);
    }
  });

  it("hashes a dimension's row as attributeHash of its values (planning compares one with the other)", () => {
    const r = rng(5);
    const text = () => (r() < 0.2 ? null : r() < 0.1 ? '' : `v${Math.floor(r() * 5)}`);
    for (let round = 0; round < 2000; round++) {
      const customer = { customerId: 'C1', name: text(), email: text(), address: text() };
      const product = { productId: 'P1', name: text(), category: text(), price: text() };
      assert.equal(CUSTOMERS.hash(customer), attributeHash(CUSTOMERS.values(customer)));
      assert.equal(PRODUCTS.hash(product), attributeHash(PRODUCTS.values(product)));
    }
  });
});
