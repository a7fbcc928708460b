/**
 * Bad input, faults and convergence, against the real MariaDB and DuckDB: after any failure, re-running the
 * same command gives exactly the warehouse the independent model (test/helpers/model.ts) says a clean run
 * gives, surrogate keys included.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { generate } from '../bench/generate.ts';
import { SERVER_WATCH } from '../src/warehouse/mysql/connection.ts';
import { REDELIVERED_REPLACE } from '../src/warehouse/mysql/dialect.ts';
import { applyOrders, emptyModel, modelSnapshot, type KeyedSnapshot as Snap } from './helpers/model.ts';
import { startCountingProxy, startFreezingProxy } from './helpers/mysql-proxy.ts';
import { adminConnection, killConnections, mysqlServer, privateServerOnly, withPrivateGlobal } from './helpers/mysql.ts';
import { ROOT, runCli, tempDir } from './helpers/run.ts';
import { BUCKET, S3_ENV, startFaultProxy, startS3 } from './helpers/s3.ts';
import { killLoadMidRun } from './helpers/sigkill.ts';
import { DIALECTS, type DialectName, type TestWarehouse } from './helpers/warehouses.ts';

const MYSQL = DIALECTS.find((d) => d.name === 'mysql')!;
// The S3 client reads its credentials from the environment (s3rver's built-in account).
Object.assign(process.env, S3_ENV, { AWS_EC2_METADATA_DISABLED: 'true' });

function same(a: Snap, b: Snap, what = '') {
  assert.deepEqual([a.customers.length, a.products.length, a.facts.length], [b.customers.length, b.products.length, b.facts.length], `${what}: row counts`);
  assert.deepEqual([a.customers, a.products, a.facts], [b.customers, b.products, b.facts], what);
  // Surrogate keys too: they depend only on the input, whatever was rolled back or retried on the way.
  assert.deepEqual([[...a.customerKeys].sort(), [...a.productKeys].sort()], [[...b.customerKeys].sort(), [...b.productKeys].sort()], `${what}: surrogate keys`);
}

const files = tempDir();
let big: string;
let cleanBig: Snap;

/** What a clean run of these exports, in this order, gives: the independent model's warehouse. */
function cleanRun(...paths: string[]): Snap {
  const m = emptyModel();
  for (const p of paths) applyOrders(m, JSON.parse(readFileSync(p, 'utf8')));
  return modelSnapshot(m);
}

/** `work` with the MySQL server watch's timings set small (connection.ts SERVER_WATCH), restored after. */
async function withServerWatch(timings: Partial<typeof SERVER_WATCH>, work: () => Promise<void>): Promise<void> {
  const saved = { ...SERVER_WATCH };
  Object.assign(SERVER_WATCH, timings);
  try {
    await work();
  } finally {
    Object.assign(SERVER_WATCH, saved);
  }
}

async function withDb<T>(dialect: DialectName, fn: (db: TestWarehouse) => Promise<T>): Promise<T> {
  const db = await DIALECTS.find((d) => d.name === dialect)!.fresh();
  try {
    return await fn(db);
  } finally {
    await db.drop();
  }
}

before(async () => {
  big = join(files.dir, 'big.json');
  await generate(big, { orders: 30000, customers: 3000, products: 500, ids: 'string', style: 'pretty', seed: 11 });
  cleanBig = cleanRun(big);
});
after(() => files.cleanup());

for (const { name: dialect } of DIALECTS) describe(`faults and bad input (${dialect})`, () => {
  it('quarantines invalid records in etl_rejects with reason, offset and raw record; they never touch dimensions', async () => {
    const ok = (id: number, email: string) => ({ order_id: id, order_date: '2024-01-02', total_amount: 5, customer: { customer_id: 1, name: 'A', email, address: 'x' }, products: [{ product_id: 'P', name: 'p', category: 'c', price: 5, quantity: 1 }] });
    const bad = [
      { order_id: 2, order_date: '2024-01-02', products: [] },
      { ...ok(3, 'evil@x'), customer: { name: 'no id', email: 'evil@x' } },
      { ...ok(4, 'evil@x'), products: [{ name: 'no product id', price: 1, quantity: 1 }] },
      { ...ok(5, 'evil@x'), products: [{ product_id: 'P', name: 'p', category: 'c', price: 5, quantity: -2 }] },
      { ...ok(6, 'evil@x'), products: [{ product_id: 'P', name: 'p', category: 'c', price: 5, quantity: 1.5 }] },
      { ...ok(7, 'evil@x'), total_amount: 'twelve' },
      { ...ok(8, 'evil@x'), order_date: '2024-13-01' },
      { ...ok(9, 'evil@x'), products: [{ product_id: 'P', name: 'EVIL', category: 'c', price: 'cheap', quantity: 1 }] },
    ];
    const records = [ok(1, 'good@x'), ...bad, ok(10, 'good@x')];
    const file = files.file('planted.json', JSON.stringify(records, null, 1));
    await withDb(dialect, async (db) => {
      const r = await runCli(['load', file, '--db', db.url, '--json', '--batch-size', '3']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(JSON.parse(r.stdout).rejected, bad.length);
      const rejects = await db.query<any>('SELECT record_index, byte_offset, reason, raw, source_uri FROM etl_rejects ORDER BY record_index');
      assert.deepEqual(rejects.map((x) => Number(x.record_index)), [1, 2, 3, 4, 5, 6, 7, 8]);
      const text = readFileSync(file, 'utf8');
      for (const x of rejects) {
        assert.equal(x.source_uri, file);
        assert.deepEqual(JSON.parse(x.raw), records[Number(x.record_index)], 'the raw record');
        assert.equal(text.slice(Number(x.byte_offset), Number(x.byte_offset) + x.raw.length), x.raw, 'offset points at it');
      }
      assert.deepEqual(rejects.map((x) => x.reason.split(':')[0]), ['customer', 'customer.customer_id', 'products[0].product_id', 'products[0].quantity', 'products[0].quantity', 'total_amount', 'order_date', 'products[0].price']);
      const customers = await db.query<any>('SELECT email FROM customers');
      assert.deepEqual(customers.map((c) => c.email), ['good@x']);
      const products = await db.query<any>('SELECT name FROM products');
      assert.deepEqual(products.map((p) => p.name), ['p']);
      // Re-running does not duplicate rejects.
      assert.equal((await runCli(['load', file, '--db', db.url, '--force'])).code, 0);
      assert.equal((await db.query<any>('SELECT COUNT(*) AS n FROM etl_rejects'))[0].n, String(bad.length * 2), 'a forced run is a new load with its own rejects');
      // Beyond --max-rejects the load fails.
      const strict = await runCli(['load', file, '--db', db.url, '--force', '--max-rejects', '3']);
      assert.equal(strict.code, 1);
      // The error names the record that went over the limit: the fourth invalid one.
      assert.match(strict.stderr, /planted\.json: record 4, byte \d+: more than --max-rejects \(3\) invalid records; this record is the one over the limit: products\[0\]\.quantity: /);
      // The limit is per source: two sources of 8 rejects each, under a limit of 10, load.
      const copy = files.file('planted-copy.json', JSON.stringify(records, null, 1));
      const two = await runCli(['load', file, copy, '--db', db.url, '--force', '--max-rejects', '10', '--json']);
      assert.equal(two.code, 0, two.stderr);
      assert.equal(JSON.parse(two.stdout).rejected, bad.length * 2);
    });
  });

  it('fails on malformed JSON naming source and offset, keeps committed batches, and converges when re-run with the fixed file', async () => {
    const full = readFileSync(big);
    const broken = join(files.dir, 'broken.json');
    const cut = full.indexOf('"order_id": 20001,');
    writeFileSync(broken, Buffer.concat([full.subarray(0, cut), Buffer.from('"order_id": 20001,, "x": }')]));
    await withDb(dialect, async (db) => {
      const r = await runCli(['load', broken, '--db', db.url, '--batch-size', '1000']);
      assert.equal(r.code, 1);
      assert.match(r.stderr, new RegExp(`${broken.replace(/[.]/g, '\\.')}: record 20000, byte \\d+, line \\d+: invalid JSON`));
      const ledger = await db.query<any>('SELECT status, records_committed FROM etl_loads');
      assert.equal(ledger[0].status, 'failed');
      // Whole batches only: those committed before the error reached the writer (the pipeline holds at most a
      // few in its buffers, which are dropped with it), and nothing of the batch that holds the bad record.
      const committed = Number(ledger[0].records_committed);
      assert.ok(committed % 1000 === 0 && committed >= 15000 && committed <= 20000, `committed ${committed}`);
      assert.equal(Number((await db.query<any>('SELECT COUNT(DISTINCT order_id) AS n FROM orders'))[0].n), committed);
      writeFileSync(broken, full);
      const again = await runCli(['load', broken, '--db', db.url, '--batch-size', '1000']);
      assert.equal(again.code, 0, again.stderr);
      same(await db.snapshot(), cleanBig, 'after the fix');
    });
    for (const [name, content] of [
      ['truncated.json', full.subarray(0, Math.floor(full.length / 2))],
      ['orders.csv.json', Buffer.from('order_id,order_date,total\n1,2024-01-01,5\n')],
      ['truncated.json.gz', gzipSync(full).subarray(0, 50_000)],
    ] as const) {
      const p = files.file(name, content);
      await withDb(dialect, async (db) => {
        const r = await runCli(['load', p, '--db', db.url]);
        assert.equal(r.code, 1, name);
        assert.match(r.stderr, new RegExp(`${name.replace(/[.]/g, '\\.')}.*(truncated|expected a JSON value|not valid gzip)`), r.stderr);
      });
    }
  });

  it('stops a record over --max-record-bytes and a gzip bomb with clear errors', async () => {
    const huge = files.file('huge.json', JSON.stringify([{ order_id: 1, note: 'x'.repeat(100_000) }]));
    const bomb = files.file('bomb.json.gz', gzipSync(Buffer.from(`[${' '.repeat(40 * 1024 * 1024)}]`)));
    await withDb(dialect, async (db) => {
      const r = await runCli(['load', huge, '--db', db.url, '--max-record-bytes', '65536']);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /record 0, byte 1.*larger than --max-record-bytes/);
      const b = await runCli(['load', bomb, '--db', db.url]);
      assert.equal(b.code, 1);
      assert.match(b.stderr, /bomb\.json\.gz.*gzip inflates more than 200x/);
    });
  });

  it('converges after the process is killed with SIGKILL mid-load, resuming from the last committed batch', async () => {
    // The load reads from S3 through a proxy that stalls the body part-way (test/helpers/sigkill.ts).
    const s3 = await startS3();
    const proxy = await startFaultProxy(s3.endpoint, [{ after: 9_000_000, kind: 'stall' }]);
    try {
      await s3.put('sigkill/big.json', readFileSync(big));
      const source = `s3://${BUCKET}/sigkill/big.json`;
      await withDb(dialect, async (db) => {
        const committed = await killLoadMidRun(db, source, proxy.endpoint, 500);
        assert.ok(committed > 0 && committed % 500 === 0 && committed < 30000, `killed after ${committed} records`);
        const prefix = emptyModel();
        applyOrders(prefix, (JSON.parse(readFileSync(big, 'utf8')) as unknown[]).slice(0, committed));
        same(await db.snapshot(), modelSnapshot(prefix), 'whole batches only after SIGKILL');
        const r = await runCli(['load', source, '--db', db.url, '--batch-size', '500', '--s3-endpoint', s3.endpoint, '--json']);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(JSON.parse(r.stdout).sources[0].resumedFrom, committed, 'resumed from the last committed batch, not restarted');
        same(await db.snapshot(), cleanBig, 'after SIGKILL and re-run');
      });
    } finally {
      await proxy.close();
      await s3.close();
    }
  });

  it('keeps two loads running at once from interleaving: the result is one load after the other', async () => {
    const a = join(files.dir, 'ca.json');
    const b = join(files.dir, 'cb.json');
    await generate(a, { orders: 4000, customers: 300, products: 100, ids: 'int', seed: 21 });
    await generate(b, { orders: 4000, customers: 300, products: 100, ids: 'int', seed: 22, version: 1 });
    const ab = cleanRun(a, b);
    const ba = cleanRun(b, a);
    await withDb(dialect, async (db) => {
      const [ra, rb] = await Promise.all([
        runCli(['load', a, '--db', db.url, '--batch-size', '200']),
        runCli(['load', b, '--db', db.url, '--batch-size', '200']),
      ]);
      assert.equal(ra.code, 0, ra.stderr);
      assert.equal(rb.code, 0, rb.stderr);
      const got = await db.snapshot();
      const key = (s: Snap) => JSON.stringify([s.customers, s.products, s.facts, [...s.customerKeys].sort(), [...s.productKeys].sort()]);
      assert.ok([ab, ba].some((s) => key(s) === key(got)), 'equals a then b, or b then a, keys included');
    });
  });

  it('refuses an unverifiable TLS connection instead of falling back to plain text', async () => {
    // The tests' server: without TLS, or (the private one) with a certificate from a CA the client was not given.
    const url = new URL((await mysqlServer()).url);
    url.pathname = '/tls_check';
    url.search = '?ssl-mode=VERIFY_IDENTITY';
    const r = await runCli(['load', join(ROOT, 'fixtures', 'orders_initial.json'), '--db', url.toString()]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`cannot connect to mysql://${url.host.replace(/[.]/g, '\\.')}/tls_check`));
  });
});

/** 2,000 orders, then 4,000 of which half re-deliver them with other lines (a bulk load into the first's warehouse). */
let redelivery: Promise<{ base: string; increment: string }> | null = null;
function redeliveryFiles(): Promise<{ base: string; increment: string }> {
  redelivery ??= (async () => {
    const base = join(files.dir, 'redeliver-base.json');
    const increment = join(files.dir, 'redeliver-increment.json');
    await generate(base, { orders: 2000, customers: 300, products: 60, ids: 'string', style: 'pretty', seed: 31 });
    await generate(increment, { orders: 4000, customers: 300, products: 60, ids: 'string', style: 'pretty', seed: 32, version: 1, firstOrderId: 2001, redeliver: 0.5 });
    return { base, increment };
  })();
  return redelivery;
}

/** Load `path` (--retries 8) while the server kills its connections; it must succeed after two kills or more. */
async function loadKillingConnections(db: TestWarehouse, path: string, batch: number): Promise<{ r: Awaited<ReturnType<typeof runCli>>; kills: number }> {
  let done = false;
  const load = runCli(['load', path, '--db', db.url, '--batch-size', String(batch), '--json', '--retries', '8']).finally(() => (done = true));
  const kills = await killConnections(db.mysql!, () => done);
  const r = await load;
  assert.equal(r.code, 0, r.stderr);
  assert.ok(kills >= 2, `killed ${kills} connections`);
  return { r, kills };
}

/** Rows of orders delivered again that wait to replace their lines (MySQL). */
async function waitingRows(db: TestWarehouse): Promise<number> {
  const [row] = await db.query<any>('SELECT (SELECT COUNT(*) FROM etl_redelivered_sizes) + (SELECT COUNT(*) FROM etl_redelivered_lines) AS n');
  return Number(row.n);
}

describe('faults of the MySQL server', () => {
  const dialect = MYSQL.name;
  it('keeps the re-delivered orders of a bulk load killed mid-run waiting, committed; the next init puts them in place, the re-run finishes', async () => {
    // A bulk load into a filled warehouse (its sources large against the fact table) replaces re-delivered
    // orders at its end (MysqlWarehouse.deferReplaces): killed before it, they wait in etl_redelivered_*.
    const { base, increment } = await redeliveryFiles();
    const s3 = await startS3();
    const bytes = readFileSync(increment);
    const proxy = await startFaultProxy(s3.endpoint, [{ after: Math.floor(bytes.length * 0.6), kind: 'stall' }]);
    // Replaced in parts of 7 orders (init and the re-run's end run in this process): every part's bounds hold.
    const part = REDELIVERED_REPLACE.partOrders;
    REDELIVERED_REPLACE.partOrders = 7;
    try {
      await s3.put('redeliver/increment.json', bytes);
      const source = `s3://${BUCKET}/redeliver/increment.json`;
      await withDb(dialect, async (db) => {
        assert.equal((await runCli(['load', base, '--db', db.url, '--batch-size', '500'])).code, 0);
        const committed = await killLoadMidRun(db, source, proxy.endpoint, 250, 500);
        assert.ok(committed >= 500 && committed % 250 === 0 && committed < 4000, `killed after ${committed} records`);
        const orders = JSON.parse(readFileSync(increment, 'utf8')) as { order_id: string }[];
        const baseIds = new Set((JSON.parse(readFileSync(base, 'utf8')) as { order_id: string }[]).map((o) => o.order_id));
        const redelivered = new Set(orders.slice(0, committed).filter((o) => baseIds.has(o.order_id)).map((o) => o.order_id));
        assert.ok(redelivered.size > 0, 'the committed batches re-delivered orders');
        const [waiting] = await db.query<any>('SELECT COUNT(*) AS n FROM etl_redelivered_sizes');
        assert.equal(Number(waiting.n), redelivered.size, 'every re-delivered order of the committed batches waits, committed');
        const init = await runCli(['init', '--db', db.url]);
        assert.equal(init.code, 0, init.stderr);
        const prefix = emptyModel();
        applyOrders(prefix, JSON.parse(readFileSync(base, 'utf8')));
        applyOrders(prefix, orders.slice(0, committed));
        same(await db.snapshot(), modelSnapshot(prefix), 'the committed batches, re-delivered orders replaced, after init');
        assert.equal(await waitingRows(db), 0, 'nothing waits after init');
        const r = await runCli(['load', source, '--db', db.url, '--batch-size', '250', '--s3-endpoint', s3.endpoint, '--json']);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(JSON.parse(r.stdout).sources[0].resumedFrom, committed, 'resumed from the last committed batch');
        same(await db.snapshot(), cleanRun(base, increment), 'after SIGKILL, init and re-run');
      });
    } finally {
      REDELIVERED_REPLACE.partOrders = part;
      await proxy.close();
      await s3.close();
    }
  });

  it('ends a load whose server stops answering (a stuck server process) instead of waiting for ever; the re-run converges', async () => {
    await withServerWatch({ silenceMs: 1000, answerMs: 1000 }, () =>
      withDb(dialect, async (db) => {
        for (const retries of ['0', '1']) {
          // The second COMMIT reaches the server, and from then on nothing comes back, nor does a new connection.
          const proxy = await startFreezingProxy(db.url, /^\s*COMMIT\s*$/i, 2);
          // Without the watch the load would wait for ever, and the test with it: the proxy goes away after
          // 30 s, the load then fails otherwise, and so does the test.
          const bound = setTimeout(() => void proxy.close(), 30_000);
          try {
            const started = Date.now();
            const r = await runCli(['load', big, '--db', proxy.url, '--batch-size', '500', '--retries', retries]);
            assert.equal(r.code, 1, r.stderr);
            assert.ok(Date.now() - started < 30_000, `failed after ${Date.now() - started} ms`);
            // The engine's first words are about the stuck statement; with a retry, the reconnection fails too.
            const said = retries === '0' ? /stopped answering: a statement waited \d+ s without a byte from the server, and a second connection got no answer within 1 s/ : /E_DB_CONNECTION/;
            assert.match(r.stderr, said, r.stderr);
            assert.doesNotMatch(r.stderr, /internal/, r.stderr);
            assert.ok(proxy.connections() >= (retries === '0' ? 2 : 3), `${proxy.connections()} connections: the load's and the watch's question${retries === '0' ? '' : ', then the retry'}`);
          } finally {
            clearTimeout(bound);
            // The server sees the load's connection end: its transaction and its lock go with it.
            await proxy.close();
          }
        }
        const again = await runCli(['load', big, '--db', db.url, '--batch-size', '500']);
        assert.equal(again.code, 0, again.stderr);
        same(await db.snapshot(), cleanBig, 'after a stuck server and a re-run');
      }),
    );
  });

  it('lets a statement that is slow, not stuck, finish: the server answers when asked, also behind a proxy whose connection ids are its own', async () => {
    await withServerWatch({ silenceMs: 200, answerMs: 2000 }, () =>
      withDb(dialect, async (db) => {
        assert.equal((await runCli(['load', big, '--db', db.url])).code, 0);
        // Behind ProxySQL or MaxScale the id the engine is given is no thread of the server's, and a question may
        // reach another server: the thread's absence from the process list is no sign that the server is stuck.
        for (const ownIds of [false, true]) {
          const proxy = await startCountingProxy(db.url, { ownIds });
          try {
            // Two seconds without a byte from the server: it is asked, several times, and answers each time.
            const r = await runCli(['query', 'SELECT SLEEP(2) AS slept, COUNT(*) AS n FROM customers', '--db', proxy.url, '--json']);
            assert.equal(r.code, 0, r.stderr);
            assert.deepEqual(JSON.parse(r.stdout), { slept: 0, n: cleanBig.customers.length });
            assert.ok(proxy.connections() >= 3, `${proxy.connections()} connections: the query's, and the watch asking more than once`);
          } finally {
            await proxy.close();
          }
        }
      }),
    );
  });

  it('leaves no question to the server open once the statement has ended and its connection closed', async () => {
    await withServerWatch({ silenceMs: 200, answerMs: 5000 }, () =>
      withDb(dialect, async (db) => {
        assert.equal((await runCli(['load', big, '--db', db.url])).code, 0);
        // New connections are slow to be greeted: the watch's question is still under way when the query ends.
        const proxy = await startCountingProxy(db.url, { slowAfterFirstMs: 3000 });
        try {
          const r = await runCli(['query', 'SELECT SLEEP(1) AS slept', '--db', proxy.url, '--json']);
          assert.equal(r.code, 0, r.stderr);
          assert.ok(proxy.connections() >= 2, `${proxy.connections()} connections: the query's, and the watch's question`);
          // An open question would keep the engine's worker alive for seconds after its work (bin: 'the engine
          // did not stop by itself').
          const deadline = Date.now() + 1000;
          while (proxy.open() > 0 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20));
          assert.equal(proxy.open(), 0, 'connections still open a second after the query ended');
        } finally {
          await proxy.close();
        }
      }),
    );
  });

  it('retries batches on a fresh connection when the server kills its connections mid-load', async () => {
    await withDb(dialect, async (db) => {
      const { r, kills } = await loadKillingConnections(db, big, 500);
      const retries = JSON.parse(r.stdout).retries;
      assert.ok(retries >= kills, `every kill cost the engine a retry on a fresh connection: ${retries} retries for ${kills} kills`);
      same(await db.snapshot(), cleanBig, 'after killed connections');
    });
  });

  it('retries a bulk load that re-delivers orders on fresh connections when the server kills its connections: the orders that wait survive', async () => {
    const { base, increment } = await redeliveryFiles();
    await withDb(dialect, async (db) => {
      assert.equal((await runCli(['load', base, '--db', db.url, '--batch-size', '500'])).code, 0);
      await loadKillingConnections(db, increment, 200);
      same(await db.snapshot(), cleanRun(base, increment), 'after killed connections');
      assert.equal(await waitingRows(db), 0, 'nothing waits after the load');
    });
  });

  it('retries taking the load lock when the server kills the connection waiting for it', async () => {
    // The first connection of a load, deterministically: another session holds the load lock, the engine waits
    // for it in GET_LOCK, and the server kills the engine's connection there. CI once lost a load to a kill
    // at this point (the lock was taken outside the retries).
    const initial = join(ROOT, 'fixtures', 'orders_initial.json');
    await withDb(dialect, async (db) => {
      const holder = await adminConnection();
      try {
        const lockName = `orders-etl:${db.mysql!.name}`;
        const [held] = await holder.query('SELECT GET_LOCK(?, 0) AS got', [lockName]);
        assert.equal(Number((held as { got: unknown }[])[0]!.got), 1, 'the test holds the load lock');
        const load = runCli(['load', initial, '--db', db.url, '--retries', '3', '--json']);
        let waiting: number | undefined;
        try {
          for (let i = 0; i < 400 && waiting === undefined; i++) {
            await new Promise((r) => setTimeout(r, 25));
            const [rows] = await holder.query("SELECT ID FROM information_schema.PROCESSLIST WHERE DB = ? AND INFO LIKE 'SELECT GET_LOCK%'", [db.mysql!.name]);
            waiting = (rows as { ID: number }[])[0]?.ID;
          }
          if (waiting !== undefined) await holder.query(`KILL ${Number(waiting)}`);
        } finally {
          // Whatever happened, the load gets the lock and ends before the database is dropped.
          await holder.query('SELECT RELEASE_LOCK(?)', [lockName]);
        }
        const r = await load;
        assert.ok(waiting !== undefined, 'the load never waited for the lock');
        assert.equal(r.code, 0, r.stderr);
        assert.ok(JSON.parse(r.stdout).retries >= 1, 'the kill cost a retry');
      } finally {
        await holder.end();
      }
      same(await db.snapshot(), cleanRun(initial), 'after a kill while waiting for the lock');
    });
  });

  it('retries after a lock wait timeout', { skip: privateServerOnly('this test changes the global innodb_lock_wait_timeout') }, async () => {
    const initial = join(ROOT, 'fixtures', 'orders_initial.json');
    const incremental = join(ROOT, 'fixtures', 'orders_incremental.json');
    const want = cleanRun(initial, incremental);
    await withDb(dialect, async (db) => {
      assert.equal((await runCli(['load', initial, '--db', db.url])).code, 0);
      const blocker = await adminConnection();
      try {
        await withPrivateGlobal('innodb_lock_wait_timeout', 1, async () => {
          await blocker.query(`USE \`${db.mysql!.name}\``);
          await blocker.query('START TRANSACTION');
          await blocker.query("SELECT * FROM customers WHERE customer_id = '501' FOR UPDATE");
          const load = runCli(['load', incremental, '--db', db.url, '--retries', '8', '--json']);
          await new Promise((r) => setTimeout(r, 2500));
          await blocker.query('COMMIT');
          const r = await load;
          assert.equal(r.code, 0, r.stderr);
          assert.ok(JSON.parse(r.stdout).retries >= 1, 'the batch waited on the lock, timed out, and was retried');
        });
      } finally {
        await blocker.end();
      }
      same(await db.snapshot(), want, 'after a lock wait timeout');
    });
  });

  it("splits batches to fit the server's max_allowed_packet whatever --batch-size says", { skip: privateServerOnly('this test changes the global max_allowed_packet') }, async () => {
    await withSmallPacket(async (fresh, loadData) => {
      const r = await runCli(['load', big, '--db', fresh.url, '--batch-size', '10000']);
      assert.equal(r.code, 0, r.stderr);
      same(await fresh.snapshot(), cleanBig, `packet 32 KiB, ${loadData ? 'LOAD DATA' : 'INSERT'}`);
    });
  });

  it('quarantines a rejected record larger than max_allowed_packet: whole by LOAD DATA, cut to fit (and said so) by INSERT', { skip: privateServerOnly('this test changes the global max_allowed_packet') }, async () => {
    // A name of 60,000 characters, each escaped in JSON (\"): 120 KB of raw record, doubled again by SQL's escapes,
    // against a packet of 32 KiB; then a valid order, committed in the same batch.
    const order = (id: number, name: string) => ({ order_id: id, order_date: '2024-01-01', customer: { customer_id: 1, name }, products: [{ product_id: 'P', price: 1, quantity: 1 }] });
    const input = files.file('huge-reject.json', JSON.stringify([order(1, '"'.repeat(60_000)), order(2, 'ok')]));
    const raw = JSON.stringify(order(1, '"'.repeat(60_000)));
    await withSmallPacket(async (fresh, loadData) => {
      const r = await runCli(['load', input, '--db', fresh.url, '--json']);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual([JSON.parse(r.stdout).orders, JSON.parse(r.stdout).rejected], [1, 1]);
      const rejects = await runCli(['rejects', '--db', fresh.url, '--json']);
      assert.equal(rejects.code, 0, rejects.stderr);
      const [row] = rejects.stdout.trim().split('\n').map((l) => JSON.parse(l) as { reason: string; raw: string });
      if (!loadData) {
        const said = /^customer\.name: longer than 255 characters \(raw record cut to its first (\d+) of (\d+) characters: the server's max_allowed_packet is too small for it without LOAD DATA LOCAL\)$/.exec(row!.reason);
        assert.ok(said, row!.reason);
        assert.deepEqual([Number(said[1]), Number(said[2])], [row!.raw.length, raw.length]);
        assert.ok(row!.raw.length > 1000 && raw.startsWith(row!.raw), `cut raw: ${row!.raw.length} characters`);
      } else {
        assert.equal(row!.reason, 'customer.name: longer than 255 characters');
        assert.equal(row!.raw.replace(/\s/g, ''), raw);
      }
    });
  });
});

/**
 * `work` on a fresh MySQL database of the private server with a max_allowed_packet of 32 KiB, twice: rows
 * written by LOAD DATA LOCAL, then by INSERT statements (ORDERS_ETL_NO_LOAD_DATA).
 */
async function withSmallPacket(work: (fresh: TestWarehouse, loadData: boolean) => Promise<void>): Promise<void> {
  await withPrivateGlobal('max_allowed_packet', 32768, async () => {
    for (const loadData of [true, false]) {
      const fresh = await MYSQL.fresh();
      const saved = process.env.ORDERS_ETL_NO_LOAD_DATA;
      if (!loadData) process.env.ORDERS_ETL_NO_LOAD_DATA = '1';
      try {
        await work(fresh, loadData);
      } finally {
        if (saved === undefined) delete process.env.ORDERS_ETL_NO_LOAD_DATA;
        else process.env.ORDERS_ETL_NO_LOAD_DATA = saved;
        await fresh.drop();
      }
    }
  });
}
