/**
 * The heap the dimension keys' strings may take (sql-warehouse.ts dimensionKeyBytes), in a worker limited as
 * bin/orders-etl.js limits the engine's: from --max-heap-mb (the old generation), not V8's heap_size_limit, which
 * adds the young generation (218 MB at 160): a fifth of that let two dimensions of long ids fill a heap of 64 MB.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';

async function budgetWithin(heapMb: number): Promise<number> {
  const worker = new Worker(new URL('../helpers/key-budget-worker.mjs', import.meta.url), {
    resourceLimits: { maxOldGenerationSizeMb: heapMb, maxYoungGenerationSizeMb: 32 },
  });
  const [bytes] = (await once(worker, 'message')) as [number];
  await worker.terminate();
  return bytes;
}

describe('the dimension keys\' byte budget', () => {
  it('is a third of what --max-heap-mb leaves above 48 MB, for each dimension', async () => {
    const MiB = 2 ** 20;
    assert.equal(await budgetWithin(160), Math.floor((112 * MiB) / 3));
    assert.equal(await budgetWithin(64), Math.floor((16 * MiB) / 3));
    // Two dimensions' budgets and the 48 MB kept for the rest stay within the heap.
    for (const heapMb of [64, 160, 1024]) assert.ok(2 * (await budgetWithin(heapMb)) + 48 * MiB < heapMb * MiB, `${heapMb} MB`);
  });
});
