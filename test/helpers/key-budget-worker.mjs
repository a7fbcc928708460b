// Run in a worker by test/warehouse/key-budget.test.ts: the key budget as the engine's worker computes it
// (through tsx, as bin/worker.js runs the sources: a worker does not inherit the test's loader).
import { parentPort } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
const { dimensionKeyBytes } = await import('../../src/warehouse/sql-warehouse.ts');
parentPort.postMessage(dimensionKeyBytes());
