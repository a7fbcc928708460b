/** The progress line's text (pipeline/progress.ts): elapsed time, rates, the time left, units that say what they are. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatDuration, formatProgress } from '../../src/pipeline/progress.ts';

const MIB = 1024 * 1024;

describe('the progress line', () => {
  it('shows bytes of the total in MiB, orders, both rates, the time elapsed and the time left', () => {
    assert.equal(
      formatProgress({ elapsedMs: 12_000, bytesRead: 120 * MIB, totalBytes: 480 * MIB, orders: 310_000 }),
      '120.0 MiB of 480.0 MiB (25.0%)  310,000 orders  25,833 orders/s  10.0 MiB/s  elapsed 0:12  ETA 0:36',
    );
  });

  it('has no total, percentage or ETA when a size is unknown (stdin)', () => {
    assert.equal(formatProgress({ elapsedMs: 2_000, bytesRead: 3 * MIB, totalBytes: null, orders: 4000 }), '3.0 MiB  4,000 orders  2,000 orders/s  1.5 MiB/s  elapsed 0:02');
  });

  it('waits for a second and some bytes before it guesses the time left', () => {
    assert.equal(formatProgress({ elapsedMs: 0, bytesRead: 0, totalBytes: 10 * MIB, orders: 0 }), '0.0 MiB of 10.0 MiB (0.0%)  0 orders  elapsed 0:00');
    assert.doesNotMatch(formatProgress({ elapsedMs: 500, bytesRead: MIB, totalBytes: 10 * MIB, orders: 10 }), /ETA/);
    assert.match(formatProgress({ elapsedMs: 90 * 60_000, bytesRead: MIB, totalBytes: 3 * MIB, orders: 10 }), /elapsed 1:30:00  ETA 3:00:00$/);
  });

  it('writes durations as m:ss or h:mm:ss', () => {
    assert.deepEqual([0, 999, 65_000, 3_600_000, 3_723_000].map(formatDuration), ['0:00', '0:01', '1:05', '1:00:00', '1:02:03']);
  });
});
