/**
 * Numbers that a double cannot hold exactly (more than 15 digits, an exponent) are read from their literal,
 * by both parsers, fed in slices of any size: an amount, price or quantity is stored exactly or rejected,
 * never rounded (10.000000000000000001 was 10.00, 1e-30 was 0.00); an integer id keeps all its digits; a
 * number given for a text attribute is its exact value in plain decimals. A long literal in a field the
 * engine does not read changes nothing.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { literalKey, type OrderRows, type ParserKind, type RawRecord, type Rejection, type SplitResult } from '../../src/model.ts';
import { numberLiterals } from '../../src/parse/literals.ts';
import { exactDecimal, splitOrder } from '../../src/transform/order.ts';
import { parseChunks } from '../helpers/parse.ts';

function parse(kind: ParserKind, text: string, slice: number, options: { format?: 'json' | 'ndjson'; recordsPath?: string[] } = {}): Promise<RawRecord[]> {
  return parseChunks(kind, Buffer.from(text), slice, options);
}

async function split(kind: ParserKind, text: string, slice: number, options: { format?: 'json' | 'ndjson'; recordsPath?: string[] } = {}): Promise<SplitResult[]> {
  return (await parse(kind, text, slice, options)).map((r) => splitOrder(r.value, r.index, r.offset, r.text, r.literals));
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
        order({ total: '-1e-402' }),
        order({ product: ', "quantity": 1e-999' }),
        order({ customer: ', "name": 1e400' }),
        order({ product: ', "category": 1e-402' }),
        order({ total: `1${'0'.repeat(450)}` }),
        order({ total: `0.${'0'.repeat(500)}1e50` }),
      ].join(',\n')}]`;
      const r = await split(kind, input, slice);
      assert.equal(r.length, 17);
      assert.equal(reason(r[0]!), 'total_amount: 10.000000000000000001 has more than 2 decimal places');
      assert.equal(rows(r[1]!).totalAmount, '10.00');
      assert.deepEqual(rows(r[1]!).lines.map((l) => [l.price, l.quantity]), [['2.50', 1], ['19.99', 2]]);
      assert.equal(reason(r[2]!), 'products[1].price: 19.9900000000000001 has more than 2 decimal places');
      assert.equal(reason(r[3]!), 'products[1].quantity: 2.0000000000000001 is not an integer');
      assert.equal(reason(r[4]!), 'total_amount: 1e-30 has more than 2 decimal places');
      assert.equal(reason(r[5]!), 'total_amount: 5e-324 has more than 2 decimal places');
      assert.equal(reason(r[6]!), 'products[1].price: -4.9e-21 has more than 2 decimal places');
      assert.equal(reason(r[7]!), 'total_amount: 1e400 has more than 10 integer digits');
      assert.equal(reason(r[8]!), 'products[1].quantity: 1e999999999 is too large');
      assert.equal(rows(r[9]!).totalAmount, '100.00');
      assert.equal(reason(r[10]!), 'total_amount: 123456789012.5 has more than 10 integer digits');
      // Beyond what exactDecimal writes out: said in the words the field uses for a value out of its range.
      assert.equal(reason(r[11]!), 'total_amount: -1e-402 has more than 2 decimal places');
      assert.equal(reason(r[12]!), 'products[1].quantity: 1e-999 is not an integer');
      assert.equal(reason(r[13]!), 'customer.name: 1e400 is too large to store as text (more than 400 digits written out)');
      assert.equal(reason(r[14]!), 'products[1].category: 1e-402 is too small to store as text (more than 400 decimal places written out)');
      // Large or small by where the decimal point lies, not by the exponent's sign.
      assert.equal(reason(r[15]!), `total_amount: 1${'0'.repeat(450)} has more than 10 integer digits`);
      assert.equal(reason(r[16]!), `total_amount: 0.${'0'.repeat(500)}1e50 has more than 2 decimal places`);
    });
  }

  it('takes an amount printed with 16 or 17 digits (printf %.17g) as the double it spells, and nothing else', async () => {
    const input = `[${[
      order({ total: '19.989999999999998', product: ', "price": 0.10000000000000001' }),
      order({ total: '-1234.5699999999999' }),
      order({ total: '0.30000000000000004' }),
      order({ product: ', "price": 19.989999999999999' }),
      order({ product: ', "price": 2.0000000000000001' }),
      order({ total: '1.9989999999999998e1' }),
    ].join(',')}]`;
    const r = await split(kind, input, 9);
    assert.equal(rows(r[0]!).totalAmount, '19.99');
    assert.equal(rows(r[0]!).lines[1]!.price, '0.10');
    assert.equal(rows(r[1]!).totalAmount, '-1234.57');
    // The double nearest 0.1 + 0.2 is not 0.30: its shortest text has 17 decimals.
    assert.equal(reason(r[2]!), 'total_amount: 0.30000000000000004 has more than 2 decimal places');
    // The same double as 19.99, but not how a double is printed: the literal says more than the double.
    assert.equal(reason(r[3]!), 'products[1].price: 19.989999999999999 has more than 2 decimal places');
    assert.equal(reason(r[4]!), 'products[1].price: 2.0000000000000001 has more than 2 decimal places');
    assert.equal(rows(r[5]!).totalAmount, '19.99');
  });

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
      order({ customer: ', "email": 1e-7', product: ', "category": 12345678901234567890.5' }),
    ].join(',')}]`;
    const r = await split(kind, input, 3);
    assert.deepEqual(rows(r[0]!).customer, { customerId: '1', name: '12345678901234567890', email: '0.0000001', address: '3.14159265358979323846' });
    assert.deepEqual([rows(r[0]!).lines[1]!.name, rows(r[0]!).lines[1]!.category], ['1000000000000000000000', '1.5']);
    assert.deepEqual([rows(r[1]!).customer.name, rows(r[1]!).customer.email], ['12345678901234567890', '17']);
    assert.deepEqual([rows(r[2]!).customer.email, rows(r[2]!).lines[1]!.category], ['0.0000001', '12345678901234567890.5']);
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

  it('collects literals only for a record with a long number in a field the transform reads', async () => {
    const unread = `, "created_ns": 1733212345678901234, "geo": {"lat": 1e-30}, "customer_note": {"name": 1e21}, "products_seen": [{"price": 1e-30}]`;
    const deep = `, "customer": {"customer_id": 1, "x": {"name": {"c": 1e400}}}, "lines": [[[1e-30]]], "more": [{"x": [1.00000000000000000001]}]`;
    const records = await parse(kind, `[${order({ extra: unread })}, ${order({ extra: deep })}, ${order({ total: '1e-30', product: ', "price": 1e-30' })}]`, 5);
    assert.equal(records[0]!.literals, null);
    assert.equal(records[1]!.literals, null);
    assert.deepEqual([...(records[2]!.literals ?? [])], [[literalKey('total_amount'), '1e-30'], [literalKey('products', 1, 'price'), '1e-30']]);
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

describe('numberLiterals', () => {
  it('keeps the last value of a key given twice, whatever its type', () => {
    const map = numberLiterals(
      '{"order_id": 1e-30, "order_id": "x", "total_amount": 1e-30, "total_amount": {"c": 1}, "customer": {"name": 1e-30, "name": [2], ' +
        '"email": 1e-30, "email": null, "address": 1e-30, "address": 2, "customer_id": 2, "customer_id": 1e-30}}',
    );
    assert.deepEqual([...(map ?? [])], [[literalKey('customer', 'customer_id'), '1e-30']]);
  });

  it('keeps paths apart whatever their names hold', () => {
    const keys = [literalKey('a', 'b'), literalKey('a:b'), literalKey('1:a'), literalKey('a', 0), literalKey('a', '0'), literalKey('a#0'), literalKey('a', 1, 'b'), literalKey('p', 1, 'ab8:cdefghij'), literalKey('p', 11, 'ab', 'cdefghij')];
    assert.equal(new Set(keys).size, keys.length);
  });

  it('reads keys with escapes and strings with escaped quotes and backslashes', () => {
    const map = numberLiterals('{"s": "a\\"b\\\\", "total\\u005famount": 1e-30, "\\\\": 1e400, "order_\\"id": 1e400, "products": ["\\"", {"pr\\u0069ce": 1e-3}]}');
    assert.deepEqual([...(map ?? [])], [[literalKey('total_amount'), '1e-30'], [literalKey('products', 1, 'price'), '1e-3']]);
  });
});
