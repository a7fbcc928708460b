/**
 * bench/report.ts renderResults: what RESULTS.md says of a part the run skipped. The README's quick look and a
 * tiny run (--sweep-size 0) skip the --batch-size sweep; the file said "first load of 0 orders" above an empty
 * table.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { renderResults, startResults, type BenchResults, type EngineRun, type EngineSummary } from '../../bench/report.ts';

/** A run that measured nothing: every list empty. */
function emptyRun(over: Partial<BenchResults> = {}): BenchResults {
  return { ...startResults({ machine: [], defaultBatchSize: '10000', referenceMax: 0, sweepSize: 0, serverCpuUnavailable: null }), ...over };
}

describe('bench results, the --batch-size sweep', () => {
  it('says the sweep was not run, instead of an empty table of 0 orders', () => {
    const md = renderResults(emptyRun());
    assert.match(md, /## --batch-size sweep\n\nNot run \(`--sweep-size 0`, or no `--batch-sizes`\)\.\n/);
    assert.doesNotMatch(md, /first load of 0 orders/);
    assert.doesNotMatch(md, /\| batch size \|/);
  });

  it('keeps the table when the sweep ran', () => {
    const run = (seconds: number, peakRssMb: number): EngineRun => ({ seconds, summary: { orders: 1000, peakRssMb } as EngineSummary, processCpu: null, serverCpuMs: null });
    const md = renderResults(emptyRun({ sweepSize: 1000, sweep: [{ batchSize: 500, mariadb: run(4, 80), duckdb: null }, { batchSize: 1000, mariadb: run(2, 85), duckdb: run(1, 120) }] }));
    assert.match(md, /## --batch-size sweep \(first load of 1,000 orders, both warehouses\)\n\n\| batch size \|/);
    assert.match(md, /\n\| 500 \| 4\.0 \| 250 \| 80 \| — \| — \| — \|\n\| 1000 \| 2\.0 \| 500 \| 85 \| 1\.0 \| 1,000 \| 120 \|\n/);
    assert.doesNotMatch(md, /Not run/);
  });
});
