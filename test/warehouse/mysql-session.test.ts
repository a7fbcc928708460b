/**
 * The session the engine opens on MySQL/MariaDB (src/warehouse/mysql/connection.ts) is the same whatever the
 * server's defaults for new sessions: a server whose global autocommit is 0, where the ledger's rows written
 * outside a batch's transaction were rolled back when the connection closed; one whose global
 * sql_select_limit cut every SELECT short; safe updates, a small max_join_size or a short max_statement_time.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { generate } from '../../bench/generate.ts';
import { freshDatabase, privateServerOnly, withPrivateGlobal, type TestDb } from '../helpers/mysql.ts';
import { ROOT, runCli, tempDir } from '../helpers/run.ts';

describe('the MySQL session of a load', () => {
  let db: TestDb;
  const files = tempDir();
  before(async () => {
    db = await freshDatabase();
  });
  after(async () => {
    await db.drop();
    files.cleanup();
  });

  it('writes the ledger on a server whose global autocommit is 0', { skip: privateServerOnly('this test changes the global autocommit') }, async () => {
    const good = join(ROOT, 'fixtures', 'orders_initial.json');
    // Every record rejected: the load fails after its batch committed. Cut short: it fails before its first batch.
    const rejected = files.file('rejected.json', JSON.stringify([{ order_id: 1, order_date: '2024-13-01', customer: { customer_id: 1 }, products: [] }]));
    const cut = files.file('cut.json', '[{"order_id": 2, "order_date": "2024-05-01", "customer": {"customer_id": 1}, "products": []},');
    await withPrivateGlobal('autocommit', 0, async () => {
      // --keep-fact-keys: no ALTER TABLE at the end, whose implicit commit hid the loss for a first load.
      const ok = await runCli(['load', good, '--keep-fact-keys', '--db', db.url]);
      assert.equal(ok.code, 0, ok.stderr);
      for (const bad of [rejected, cut]) assert.equal((await runCli(['load', bad, '--db', db.url])).code, 1);
    });
    const rows = await db.query<{ source_uri: string; status: string; finished: number; error: string | null }>(
      'SELECT source_uri, status, finished_at IS NOT NULL AS finished, error FROM etl_loads ORDER BY load_id',
    );
    assert.deepEqual(
      rows.map((r) => [r.source_uri, r.status, Number(r.finished), r.error !== null]),
      [
        [good, 'completed', 1, false],
        [rejected, 'failed', 1, true],
        [cut, 'failed', 1, true],
      ],
    );
  });

  it('reads every row on a server whose global sql_select_limit is small: the keys of a load, query, loads', { skip: privateServerOnly('this test changes the global sql_select_limit') }, async () => {
    const other = await freshDatabase();
    try {
      const [initial, incremental] = ['orders_initial.json', 'orders_incremental.json'].map((f) => join(ROOT, 'fixtures', f));
      await withPrivateGlobal('sql_select_limit', 2, async () => {
        // The second load reads the 4 customers and 4 products the first wrote: it read 2 of each, and failed on duplicate keys.
        for (const file of [initial, incremental]) {
          const r = await runCli(['load', file, '--db', other.url]);
          assert.equal(r.code, 0, r.stderr);
        }
        const q = await runCli(['query', 'SELECT DISTINCT customer_sk FROM orders ORDER BY 1', '--csv', '--db', other.url]);
        assert.deepEqual([q.code, q.stdout], [0, 'customer_sk\n1\n2\n3\n4\n5\n']);
        const loads = await runCli(['loads', '--csv', '--db', other.url]);
        assert.equal(loads.stdout.trim().split('\n').length, 3, loads.stdout);
      });
    } finally {
      await other.drop();
    }
  });

  it('loads and reads on a server whose globals turn on safe updates and a small max_join_size', { skip: privateServerOnly('this test changes the global sql_safe_updates and max_join_size') }, async () => {
    // sql_safe_updates refused the staging tables' clearing (a DELETE without a key in its WHERE: error 1175);
    // a max_join_size of 3 refused every SELECT that examines more rows (error 1104), such as the read of the
    // dimension keys, a history load's stores, query's join and the ledger's listing.
    const scd1 = await freshDatabase();
    const history = await freshDatabase();
    try {
      const [initial, incremental] = ['orders_initial.json', 'orders_incremental.json'].map((f) => join(ROOT, 'fixtures', f));
      const init = await runCli(['init', '--history', 'customers,products', '--db', history.url]);
      assert.equal(init.code, 0, init.stderr);
      await withPrivateGlobal('sql_safe_updates', 1, () =>
        withPrivateGlobal('max_join_size', 3, async () => {
          for (const target of [scd1, history]) {
            for (const file of [initial, incremental]) {
              const r = await runCli(['load', file, '--db', target.url]);
              assert.equal(r.code, 0, r.stderr);
            }
            const q = await runCli(['query', 'SELECT COUNT(*) AS n FROM orders o JOIN customers c USING (customer_sk) JOIN products p USING (product_sk)', '--csv', '--db', target.url]);
            assert.equal(q.code, 0, q.stderr);
            const loads = await runCli(['loads', '--csv', '--db', target.url]);
            assert.equal(loads.stdout.trim().split('\n').length, 3, loads.stdout + loads.stderr);
          }
        }),
      );
      for (const target of [scd1, history]) {
        const [row] = await target.query<{ n: number }>('SELECT COUNT(*) AS n FROM orders');
        assert.ok(Number(row!.n) > 0);
      }
    } finally {
      await scd1.drop();
      await history.drop();
    }
  });

  it('loads on a server whose global max_statement_time is short', { skip: privateServerOnly('this test changes the global max_statement_time') }, async () => {
    // 50 ms: a batch of 10,000 orders was stopped at its commit ('Query execution was interrupted
    // (max_statement_time exceeded)'), and a re-run at the same statement.
    const other = await freshDatabase();
    try {
      const big = join(files.dir, 'statement-time.json');
      await generate(big, { orders: 30000, seed: 11 });
      await withPrivateGlobal('max_statement_time', 0.05, async () => {
        const r = await runCli(['load', big, '--db', other.url]);
        assert.equal(r.code, 0, r.stderr);
      });
      const [row] = await other.query<{ n: number }>('SELECT COUNT(DISTINCT order_id) AS n FROM orders');
      assert.equal(Number(row!.n), 30000);
    } finally {
      await other.drop();
    }
  });
});
