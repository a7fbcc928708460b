/**
 * SIGKILL of a load in mid-run, shared by the fault tests of both dimension modes: the bin loads an S3 object
 * through a fault proxy that stalls the body part-way, so the load cannot finish whenever the kill comes, and
 * it is killed once it has committed something (what the ledger says of the running load on MySQL; on DuckDB, which holds its file
 * locked, once the write-ahead log has stopped growing for 1.5 s: stalled at the proxy, nothing is left to
 * commit). Returns the records the ledger says were committed; the ledger must still say `running`, and
 * `orders-etl loads` `interrupted` (`running` before the kill, on MySQL).
 * On MySQL, `atLeast` waits for that many committed records first (the stall must come after them).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { BIN, ROOT, runCli } from './run.ts';
import { S3_ENV } from './s3.ts';
import type { TestWarehouse } from './warehouses.ts';

export async function killLoadMidRun(db: TestWarehouse, source: string, endpoint: string, batch: number, atLeast = 1): Promise<number> {
  const child = spawn(process.execPath, [BIN, 'load', source, '--db', db.url, '--batch-size', String(batch), '--s3-endpoint', endpoint, '--s3-stall-timeout', '300'], {
    cwd: ROOT,
    env: { ...process.env, ...S3_ENV },
    stdio: 'ignore',
  });
  const exited = new Promise<void>((r) => child.on('exit', () => r()));
  const wal = `${db.url.replace(/^duckdb:/, '')}.wal`;
  let lastSize = -1;
  let stableSince = Date.now();
  const committedSomething = async () => {
    if (db.dialect === 'mysql') return Number((await db.query<any>("SELECT records_committed AS n FROM etl_loads WHERE status = 'running'").catch(() => []))[0]?.n ?? 0) >= atLeast;
    const size = existsSync(wal) ? statSync(wal).size : 0;
    if (size !== lastSize) [lastSize, stableSince] = [size, Date.now()];
    return size > 0 && Date.now() - stableSince > 1500;
  };
  for (let i = 0; i < 1200 && !(await committedSomething()); i++) await new Promise((r) => setTimeout(r, 25));
  // `orders-etl loads` tells a live load (MySQL: DuckDB lets no other process read the file meanwhile) from a
  // killed one, whose row still says running.
  const shown = async () => {
    const r = await runCli(['loads', '--db', db.url, '--json']);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout.split('\n')[0]!).status as string;
  };
  if (db.dialect === 'mysql') assert.equal(await shown(), 'running', 'orders-etl loads while the load runs');
  child.kill('SIGKILL');
  await exited;
  const [ledger] = await db.query<any>('SELECT status, records_committed FROM etl_loads ORDER BY load_id DESC LIMIT 1');
  assert.equal(ledger?.status, 'running', 'the killed load never finished');
  // MySQL frees the killed connection's lock once it has seen the connection close: a moment after the kill.
  let status = await shown();
  for (let i = 0; i < 40 && status !== 'interrupted'; i++) {
    await new Promise((r) => setTimeout(r, 50));
    status = await shown();
  }
  assert.equal(status, 'interrupted', 'orders-etl loads once the load was killed');
  return Number(ledger?.records_committed ?? 0);
}
