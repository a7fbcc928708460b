/** Micro-batches (pipeline/batch.ts): records per batch, and the bounds on lines, on orders' text and on rejected text besides. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Batch, OrderRows, Rejection, SplitResult } from '../../src/model.ts';
import { BATCH_LIMITS, BatchStream } from '../../src/pipeline/batch.ts';

function order(index: number, lines: number): OrderRows {
  const line = { productId: 'P1', name: 'Mug', category: 'Kitchen', price: '1.00', quantity: 1 };
  return { kind: 'order', index, offset: null, orderId: `O${index}`, orderDate: '2024-03-01', totalAmount: null, customer: { customerId: 'C1', name: null, email: null, address: null }, lines: Array.from({ length: lines }, () => line) };
}

function reject(index: number, chars: number): Rejection {
  return { kind: 'reject', index, offset: null, reason: 'order_id: missing', raw: 'x'.repeat(chars), arrayRecord: false };
}

/** The batches of `items`, handed to the stream in groups of 7 (as the split stage hands them on). */
async function batches(batchSize: number, items: SplitResult[]): Promise<Batch[]> {
  const stream = new BatchStream(batchSize);
  const out: Batch[] = [];
  stream.on('data', (b: Batch) => out.push(b));
  const done = new Promise((resolve, reject) => stream.on('end', resolve).on('error', reject));
  for (let i = 0; i < items.length; i += 7) stream.write(items.slice(i, i + 7));
  stream.end();
  await done;
  return out;
}

const shape = (bs: Batch[]) => bs.map((b) => [b.firstIndex, b.nextIndex, b.orders.length, b.rejects.length]);

describe('BatchStream', () => {
  it('cuts a batch at the batch size in records, orders and rejects alike', async () => {
    const items: SplitResult[] = Array.from({ length: 25 }, (_, i) => (i % 5 === 4 ? reject(i, 10) : order(i, 2)));
    assert.deepEqual(shape(await batches(10, items)), [[0, 10, 8, 2], [10, 20, 8, 2], [20, 25, 4, 1]]);
  });

  it('cuts it sooner at the lines of orders larger than most, and at the text of large rejects', async () => {
    // 10 records a batch: at most 100 lines (10 per record of the batch size), 10,000 characters of rejects.
    assert.deepEqual([BATCH_LIMITS.linesPerOrder, BATCH_LIMITS.rawCharsPerRecord], [10, 1000]);
    const big = Array.from({ length: 12 }, (_, i) => order(i, 30));
    assert.deepEqual(shape(await batches(10, big)), [[0, 4, 4, 0], [4, 8, 4, 0], [8, 12, 4, 0]]);
    // One order over the bound alone is a batch of its own: a batch holds at least one record.
    assert.deepEqual(shape(await batches(10, [order(0, 1), order(1, 500), order(2, 1)])), [[0, 2, 2, 0], [2, 3, 1, 0]]);
    const rejects = [reject(0, 4000), reject(1, 4000), reject(2, 4000), order(3, 1), reject(4, 20_000)];
    assert.deepEqual(shape(await batches(10, rejects)), [[0, 3, 0, 3], [3, 5, 1, 1]]);
    // Where batches end depends on the input and the batch size only: a re-run from a batch's start cuts alike.
    assert.deepEqual(shape(await batches(10, big.slice(4))), [[4, 8, 4, 0], [8, 12, 4, 0]]);
  });

  it('cuts it sooner at the text of orders with long values, however few lines they have', async () => {
    // Every value at its longest (128-character ids, 255-character names): 10,000 such orders of 10 lines in
    // one batch ran out of the default heap. 10 orders a batch: at most 10,000 characters of values.
    assert.equal(BATCH_LIMITS.charsPerOrder, 1000);
    const long = (i: number): OrderRows => {
      const o = order(i, 10);
      const name = '名'.repeat(255);
      o.customer = { customerId: `C${i}`.padEnd(128, '0'), name, email: name, address: name };
      o.lines = o.lines.map((l, n) => ({ ...l, productId: `P${i}-${n}`.padEnd(128, '0'), name, category: name }));
      return o;
    };
    // 893 characters of the order and its customer, 642 a line: 7,313 an order.
    const orders = Array.from({ length: 6 }, (_, i) => long(i));
    assert.deepEqual(shape(await batches(10, orders)), [[0, 2, 2, 0], [2, 4, 2, 0], [4, 6, 2, 0]]);
    // Orders of a few short values are cut by their count only.
    assert.deepEqual(shape(await batches(10, Array.from({ length: 20 }, (_, i) => order(i, 5)))), [[0, 10, 10, 0], [10, 20, 10, 0]]);
  });
});
