/**
 * Numbers that a double cannot hold exactly (more than 15 digits, an exponent) are read from their literal,
 * by both parsers, fed in slices of any size: an amount, price or quantity is stored exactly or rejected,
 * never rounded (10.000000000000000001 was 10.00, 1e-30 was 0.00); an integer id keeps all its digits; a
 * number given for a text attribute is its exact value in plain decimals. A long literal in a field the
 * engine does not read changes nothing.
 */
import assert from 'node:assert/strict';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, it } from 'node:test';
import type { OrderRows, ParserKind, RawRecord, Rejection, SplitResult } from '../../src/model.ts';
import { parseStage } from '../../src/parse/stream.ts';
import { exactDecimal, splitOrder } from '../../src/transform/order.ts';

async function split(kind: ParserKind, text: string, slice: number, options: { format?: 'json' | 'ndjson'; recordsPath?: string[] } = {}): Promise<SplitResult[]> {
  const bytes = Buffer.from(text);
  const slices: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += slice) slices.push(bytes.subarray(i, i + slice));
  const records: RawRecord[] = [];
  await pipeline(
    Readable.from(slices, { objectMode: false }),
    parseStage(kind, { format: options.format ?? 'json', source: 'doc', maxRecordBytes: 1 << 24, recordsPath: options.recordsPath ?? null }),
    new Writable({
      objectMode: true,
      write: (batch: RawRecord[], _e, cb) => {
        records.push(...batch);
        cb();
      },
    }),
  );
  return records.map((r) => splitOrder(r.value, r.index, r.offset, r.text, r.literals));
}

/** An order whose fields are given as JSON text, so that numbers keep their literals. */
const order = (fields: { id?: string; total?: string; customer?: string; product?: string; extra?: string }) =>
  `{"order_id": ${fields.id ?? '1'}, "order_date": "2024-01-01", "total_amount": ${fields.total ?? '1.00'}${fields.extra ?? ''},
    "customer": {"customer_id": 1${fields.customer ?? ''}}, "products": [{"product_id": "P", "price": 2.50, "quantity": 1}, {"product_id": "Q", "quantity": 1${fields.product ?? ''}}]}`;

const reason = (r: SplitResult) => {
  assert.equal(r.kind, 'reject', `expected a rejection, got ${JSON.stringify(r)}`);
  return (r as Rejection).reason;
};
const rows = (r: SplitResult) => {
  assert.equal(r.kind, 'order', `expected an order, got ${JSON.stringify(r)}`);
  return r as OrderRows;
};

describe('exactDecimal', () => {
  it('writes a JSON number literal out exactly, in plain decimals', () => {
    const cases: [string, string | null][] = [
      ['0', '0'], ['-0', '0'], ['-0.000', '0'], ['0e999999999', '0'], ['17', '17'], ['17.0', '17'], ['1.7e1', '17'], ['1E+2', '100'],
      ['1.50', '1.5'], ['-12.5e-1', '-1.25'], ['6e-21', '0.000000000000000000006'], ['1e21', '1000000000000000000000'],
      ['12345678901234567890', '12345678901234567890'], ['10.000000000000000001', '10.000000000000000001'], ['0.0000001', '0.0000001'],
      ['1e399', '1' + '0'.repeat(399)], ['1e400', null], ['1e-400', '0.' + '0'.repeat(399) + '1'], ['1e-402', null], ['1e999999999', null],
    ];
    for (const [literal, want] of cases) assert.equal(exactDecimal(literal), want, literal);
  });
});

for (const kind of ['scanner', 'stream-json'] as const) describe(`numbers read exactly, ${kind}`, () => {
  for (const slice of [1, 7, 1 << 16]) {
    it(`rejects amounts, prices and quantities that a double would have rounded, and keeps the exact ones (slices of ${slice} bytes)`, async () => {
      const input = `[${[
        order({ total: '10.000000000000000001' }),
        order({ total: '10.000000000000000000', product: ', "price": 1.999e1, "quantity": 2e0' }),
        order({ product: ', "price": 19.9900000000000001' }),
        order({ product: ', "quantity": 2.0000000000000001' }),
        order({ total: '1e-30' }),
        order({ total: '5e-324' }),
        order({ product: ', "price": -4.9e-21' }),
        order({ total: '1e400' }),
        order({ product: ', "quantity": 1e999999999' }),
        order({ total: '1E+2' }),
        order({ total: '123456789012.5' }),
      ].join(',\n')}]`;
      const r = await split(kind, input, slice);
      assert.equal(r.length, 11);
      assert.equal(reason(r[0]!), 'total_amount: 10.000000000000000001 has more than 2 decimal places');
      assert.equal(rows(r[1]!).totalAmount, '10.00');
      assert.deepEqual(rows(r[1]!).lines.map((l) => [l.price, l.quantity]), [['2.50', 1], ['19.99', 2]]);
      assert.equal(reason(r[2]!), 'products[1].price: 19.9900000000000001 has more than 2 decimal places');
      assert.equal(reason(r[3]!), 'products[1].quantity: 2.0000000000000001 is not an integer');
      assert.equal(reason(r[4]!), 'total_amount: 1e-30 has more than 2 decimal places');
      assert.equal(reason(r[5]!), 'total_amount: 5e-324 has more than 2 decimal places');
      assert.equal(reason(r[6]!), 'products[1].price: -4.9e-21 has more than 2 decimal places');
      assert.equal(reason(r[7]!), 'total_amount: 1e400 is too large or too small to write out');
      assert.equal(reason(r[8]!), 'products[1].quantity: 1e999999999 is not a quantity that can be stored');
      assert.equal(rows(r[9]!).totalAmount, '100.00');
      assert.equal(reason(r[10]!), 'total_amount: 123456789012.5 has more than 10 integer digits');
    });
  }

  it('keeps every digit of an integer id, refuses one that is not an integer, and takes 17, 17.0 and 1.7e1 as 17', async () => {
    const input = `[${[
      order({ id: '12345678901234567890123', customer: '' }).replace('"customer_id": 1', '"customer_id": 9007199254740993'),
      order({ id: '1.0000000000000000001' }),
      order({ id: '1.7e1', product: ', "product_id": 170e-1' }),
    ].join(',')}]`;
    const r = await split(kind, input, 5);
    assert.equal(rows(r[0]!).orderId, '12345678901234567890123');
    assert.equal(rows(r[0]!).customer.customerId, '9007199254740993');
    assert.equal(reason(r[1]!), 'order_id: 1.0000000000000000001 is not an integer id');
    assert.equal(rows(r[2]!).orderId, '17');
    assert.equal(rows(r[2]!).lines[1]!.productId, '17');
  });

  it('gives a number for a text attribute as its exact value in plain decimals, the same text as the string of it', async () => {
    const input = `[${[
      order({ customer: ', "name": 12345678901234567890, "email": 0.0000001, "address": 3.14159265358979323846', product: ', "name": 1e21, "category": 1.50' }),
      order({ customer: ', "name": "12345678901234567890", "email": 17.0' }),
    ].join(',')}]`;
    const r = await split(kind, input, 3);
    assert.deepEqual(rows(r[0]!).customer, { customerId: '1', name: '12345678901234567890', email: '0.0000001', address: '3.14159265358979323846' });
    assert.deepEqual([rows(r[0]!).lines[1]!.name, rows(r[0]!).lines[1]!.category], ['1000000000000000000000', '1.5']);
    assert.deepEqual([rows(r[1]!).customer.name, rows(r[1]!).customer.email], ['12345678901234567890', '17']);
  });

  it('takes the last of a key given twice, as JSON.parse does, long literal or not', async () => {
    const input = `[${[
      order({ total: '10.000000000000000001, "total_amount": 5' }),
      order({ total: '5, "total_amount": 10.000000000000000001' }),
      order({ total: '7', product: ', "price": 1e-30, "price": "3.00"' }),
    ].join(',')}]`;
    const r = await split(kind, input, 1 << 16);
    assert.equal(rows(r[0]!).totalAmount, '5.00');
    assert.equal(reason(r[1]!), 'total_amount: 10.000000000000000001 has more than 2 decimal places');
    assert.equal(rows(r[2]!).lines[1]!.price, '3.00');
  });

  it('ignores long literals in fields it does not read, however deep, also in NDJSON and under --records-path', async () => {
    const extra = `, "geo": {"lat": 52.520008123456789123, "deep": ${'['.repeat(2000)}1e999${']'.repeat(2000)}}, "weights": [1.00000000000000000001]`;
    const cases: [string, { format?: 'ndjson'; recordsPath?: string[] }][] = [
      [`[${order({ extra })}]`, {}],
      [`${order({ extra }).replace(/\n/g, ' ')}\n${order({ total: '1e-30' }).replace(/\n/g, ' ')}\n`, { format: 'ndjson' }],
      [`{"meta": {"n": 1e400}, "data": {"orders": [${order({ extra })}, ${order({ total: '1e-30' })}]}}`, { recordsPath: ['data', 'orders'] }],
    ];
    for (const [text, options] of cases) {
      const r = await split(kind, text, 11, options);
      assert.equal(rows(r[0]!).totalAmount, '1.00', JSON.stringify(options));
      if (r.length > 1) assert.equal(reason(r[1]!), 'total_amount: 1e-30 has more than 2 decimal places');
    }
  });
});
