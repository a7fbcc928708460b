/** splitOrder: valid orders become exact rows; invalid ones become rejections with a reason. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { OrderRows, Rejection } from '../../src/model.ts';
import { money, splitOrder } from '../../src/transform/order.ts';

const good = () => ({
  order_id: 1,
  order_date: '2024-02-29',
  total_amount: 59.97,
  customer: { customer_id: 'C-1', name: 'Ann', email: 'a@x', address: '1 St' },
  products: [
    { product_id: 'P01', name: 'Mug', category: 'Kitchen', price: 19.99, quantity: 3 },
    { product_id: 7, name: 'Tea', category: 'Food', price: '0.10', quantity: '2' },
  ],
});

function reject(mutate: (o: any) => void): string {
  const o = good();
  mutate(o);
  const r = splitOrder(o, 4, 100, JSON.stringify(o));
  assert.equal(r.kind, 'reject', `expected a rejection for ${JSON.stringify(o)}`);
  assert.equal((r as Rejection).index, 4);
  assert.equal((r as Rejection).offset, 100);
  return (r as Rejection).reason;
}

describe('splitOrder', () => {
  it('turns an order into one fact line per product, a customer row and product rows, as exact text', () => {
    const r = splitOrder(good(), 0, 0, '') as OrderRows;
    assert.equal(r.kind, 'order');
    assert.equal(r.orderId, '1');
    assert.equal(r.orderDate, '2024-02-29');
    assert.equal(r.totalAmount, '59.97');
    assert.deepEqual(r.customer, { customerId: 'C-1', name: 'Ann', email: 'a@x', address: '1 St' });
    assert.deepEqual(
      r.lines.map((l) => [l.productId, l.price, l.quantity]),
      [['P01', '19.99', 3], ['7', '0.10', 2]],
    );
  });

  it('keeps money exact: no binary-float drift, no rounding', () => {
    assert.equal(money(19.99, 'x', false), '19.99');
    assert.equal(money(1e-7 * 0, 'x', false), '0.00');
    assert.equal(money('9999999999.99', 'x', false), '9999999999.99');
    assert.equal(money(-5, 'x', false), '-5.00');
    assert.equal(money('12.50', 'x', false), '12.50');
    assert.throws(() => money(0.125, 'price', false), /more than 2 decimal places/);
    assert.throws(() => money(0.1 + 0.2, 'price', false), /more than 2 decimal places/);
    assert.throws(() => money(12345678901, 'price', false), /integer digits/);
    assert.throws(() => money('1e3', 'price', false), /not a decimal amount/);
  });

  it('rejects orders that cannot be loaded, saying why', () => {
    assert.match(reject((o) => delete o.customer), /^customer: expected an object, got nothing/);
    assert.match(reject((o) => delete o.customer.customer_id), /customer\.customer_id: expected a string or an integer/);
    assert.match(reject((o) => delete o.products[1].product_id), /products\[1\]\.product_id/);
    assert.match(reject((o) => (o.products[0].quantity = 1.5)), /products\[0\]\.quantity: 1\.5 is not an integer/);
    assert.match(reject((o) => (o.products[0].quantity = -1)), /negative/);
    assert.match(reject((o) => (o.products[0].quantity = 'many')), /quantity: expected a non-negative integer/);
    assert.match(reject((o) => (o.products[0].price = 'abc')), /price: "abc" is not a decimal amount/);
    assert.match(reject((o) => (o.total_amount = {})), /total_amount: expected a decimal amount/);
    assert.match(reject((o) => (o.order_date = '2023-02-29')), /not a calendar date/);
    assert.match(reject((o) => (o.order_date = '29/02/2024')), /not a date/);
    assert.match(reject((o) => (o.order_id = 2 ** 60)), /not an integer id that can be read exactly/);
    assert.match(reject((o) => (o.order_id = '')), /order_id: empty/);
    assert.match(reject((o) => (o.products = {})), /products: expected an array/);
    assert.match(reject((o) => (o.customer.name = 'x'.repeat(256))), /longer than 255 characters/);
    assert.match(reject((o) => (o.customer.name = '\ud800')), /unpaired UTF-16 surrogate/);
  });

  it('counts characters, not UTF-16 units, against column widths', () => {
    const o = good();
    o.customer.name = '😀'.repeat(255); // 510 UTF-16 units, 255 characters
    assert.equal(splitOrder(o, 0, 0, '').kind, 'order');
  });

  it('accepts ISO timestamps for the date, keeping the date as written', () => {
    const o = good();
    o.order_date = '2024-03-01T23:30:00-05:00';
    assert.equal((splitOrder(o, 0, 0, '') as OrderRows).orderDate, '2024-03-01');
    for (const ok of ['2024-03-01T00:00', '2024-03-01 23:59:59.999Z', '2024-06-30T23:59:60Z', '2024-07-01T08:59:60+09:00', '2017-01-01T05:29:60+05:30', '2016-12-31T18:14:60-05:45', '2024-03-01T12:00:00+1400', '2024-03-01T12:00-18:00']) {
      o.order_date = ok;
      assert.equal(splitOrder(o, 0, 0, '').kind, 'order', ok);
    }
    // The time part is checked too: a timestamp that is not one is not taken for its date.
    for (const bad of ['2024-03-01T25:99:99', '2024-03-01T24:00', '2024-03-01T12:60', '2024-03-01T12:00:61', '2024-03-01T12:00+19:00', '2024-03-01T12:00+18:01', '2024-03-01T12:00-18:59', '2024-03-01T12:30:60Z', '2017-01-01T05:59:60+05:30', '2024-03-01T12:00+05:60', '2024-03-01T1:00']) {
      o.order_date = bad;
      const r = splitOrder(o, 0, 0, '');
      assert.equal(r.kind, 'reject', bad);
    }
  });

  it('gives a number the same money text whether it takes the fast path or the general one (the number written as text)', () => {
    const outcome = (v: unknown) => {
      try {
        return money(v, 'price', false);
      } catch (err) {
        return `rejected: ${(err as Error).message.replace(/^price: .*? (has|is)/, '$1')}`;
      }
    };
    let seed = 7;
    const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
    const values = [0, -0, 0.1, 0.01, 0.005, 1.005, 12.3, -0.5, 9999999999.99, -9999999999.99, 10000000000, 9999999999.995, 1e-7, 1e21, 2 ** 53];
    for (let i = 0; i < 20000; i++) {
      values.push(Math.round((rand() - 0.5) * 2e12) / 100); // two decimals, the whole range
      values.push(Math.round((rand() - 0.5) * 2e7) / 1000); // three decimals
      values.push((rand() - 0.5) * 1e4); // many decimals
    }
    for (const v of values) {
      if (/e/i.test(String(v))) continue; // text in exponent form is not a decimal amount either way
      assert.equal(outcome(v), outcome(String(v)), `money(${v})`);
    }
  });
});

describe('splitOrder memory', () => {
  it('keeps no long date text once its order is split (a fraction of a second may have any number of digits)', () => {
    // 150 orders, each dated with a distinct 2 MB fraction of a second, ran out of the default heap: the dates
    // already checked kept every text, up to 10,000 of them.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < 60; i++) {
      const o = good();
      o.order_date = `2024-03-05T00:00:00.${String(i).padStart(4, '0')}${'0'.repeat(1024 * 1024)}Z`;
      const r = splitOrder(o, i, 0, '') as OrderRows;
      assert.equal(r.orderDate, '2024-03-05');
    }
    gc();
    const grown = process.memoryUsage().heapUsed - before;
    assert.ok(grown < 16 * 1024 * 1024, `the heap grew by ${Math.round(grown / 1024 / 1024)} MB for 60 MB of dates split`);
  });
});
