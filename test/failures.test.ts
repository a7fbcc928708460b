/**
 * One error path for every stage (issue 9): whatever fails upstream of the warehouse (a gzip cut short or
 * corrupt, JSON cut mid-record, an S3 body that stalls past --retries, a proxy that ignores Range on a
 * resumed read), the process exits 1 promptly with the source and offset, the warehouse holds whole batches
 * only, the fact table keeps its keys, the ledger says failed, and a re-run with the intact input ends equal
 * to a clean run. On both warehouses, into an empty warehouse (a first load: MariaDB drops the fact table's
 * secondary keys) and into one that already holds data. Expected contents come from the independent model.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Readable, type Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, it } from 'node:test';
import { generate } from '../bench/generate.ts';
import { EtlError } from '../src/errors.ts';
import { DEFAULTS } from '../src/options.ts';
import { parseStage } from '../src/parse/stream.ts';
import { runLoad } from '../src/pipeline/load.ts';
import { DecodeStream } from '../src/sources/decode.ts';
import { resolveSources } from '../src/sources/resolve.ts';
import type { Source } from '../src/sources/types.ts';
import { openWarehouse } from '../src/warehouse/index.ts';
import { FACT_DDL } from '../src/warehouse/mysql/dialect.ts';
import { adminConnection } from './helpers/mysql.ts';
import { applyOrders, emptyModel, modelSnapshot } from './helpers/model.ts';
import { BIN, ROOT, runCli, tempDir, type RunResult } from './helpers/run.ts';
import { BUCKET, S3_ENV, startFaultProxy, startS3, type Fault, type FaultProxy, type TestS3 } from './helpers/s3.ts';
import { DIALECTS, FACT_KEYS, factKeys, untilFactAlterWaits, withUser, type TestWarehouse } from './helpers/warehouses.ts';

const BATCH = 500;
const files = tempDir();
let s3: TestS3;
let prior: string;
let bigJson: Buffer;
let bigOrders: unknown[];
let priorOrders: unknown[];

before(async () => {
  prior = join(files.dir, 'prior.json');
  const big = join(files.dir, 'big.json');
  await generate(prior, { orders: 3000, customers: 900, products: 300, ids: 'string', style: 'compact', seed: 5 });
  // Re-delivers some of prior's orders and changes some of its customers and products (version 1).
  await generate(big, { orders: 12000, customers: 1500, products: 400, ids: 'string', style: 'pretty', version: 1, seed: 6, firstOrderId: 2001 });
  bigJson = readFileSync(big);
  bigOrders = JSON.parse(bigJson.toString('utf8'));
  priorOrders = JSON.parse(readFileSync(prior, 'utf8'));
  s3 = await startS3();
  await s3.put('exports/big.json', bigJson);
});
after(async () => {
  await s3.close();
  files.cleanup();
});

/**
 * Runs `work` with a fresh MariaDB database and the URL of a user of its own, granted `grants` on that database
 * only; the user and the database are dropped afterwards.
 */
async function asUser(grants: string, work: (db: TestWarehouse, url: string) => Promise<void>): Promise<void> {
  const db = await DIALECTS.find((d) => d.name === 'mysql')!.fresh();
  try {
    await withUser(db, 'user', grants, (url) => work(db, url));
  } finally {
    await db.drop();
  }
}

/** prior's lines are all in the fact table, and its keys are back. */
async function assertPriorLoaded(db: TestWarehouse): Promise<void> {
  assert.deepEqual(await factKeys(db), FACT_KEYS);
  const [facts] = await db.query<any>('SELECT COUNT(*) AS n FROM orders');
  assert.equal(Number(facts.n), priorOrders.reduce((n: number, o: any) => n + o.products.length, 0));
}

/** The bin as a user runs it, killed if it has not ended within `limitMs`. */
function runBinTimed(args: string[], env: NodeJS.ProcessEnv, limitMs: number, stdinFile?: string): Promise<{ code: number | null; stderr: string; ms: number; timedOut: boolean }> {
  return new Promise((resolve, reject) => {
    const t = Date.now();
    const stdin = stdinFile === undefined ? 'ignore' : openSync(stdinFile, 'r');
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: [stdin, 'ignore', 'pipe'] });
    if (typeof stdin === 'number') closeSync(stdin);
    let stderr = '';
    let timedOut = false;
    child.stderr!.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, limitMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr, ms: Date.now() - t, timedOut });
    });
  });
}

/** The model of the warehouse after `before` and then the first `k` records of the big export. */
function expected(withPrior: boolean, k: number) {
  const m = emptyModel();
  if (withPrior) applyOrders(m, priorOrders);
  applyOrders(m, bigOrders.slice(0, k));
  return modelSnapshot(m);
}

async function assertEqualsModel(db: TestWarehouse, want: ReturnType<typeof expected>, what: string): Promise<void> {
  const got = await db.snapshot();
  assert.deepEqual([got.customers.length, got.products.length, got.facts.length], [want.customers.length, want.products.length, want.facts.length], `${what}: row counts`);
  assert.deepEqual([got.customers, got.products, got.facts], [want.customers, want.products, want.facts], what);
  assert.deepEqual([[...got.customerKeys].sort(), [...got.productKeys].sort()], [[...want.customerKeys].sort(), [...want.productKeys].sort()], `${what}: surrogate keys`);
}

/**
 * The keys are as the schema declares them: on MySQL the fact table's secondary keys and foreign keys are all
 * there (a first load drops them and must put them back); DuckDB declares keys on the dimensions only.
 */
async function assertFactKeys(db: TestWarehouse): Promise<void> {
  if (db.dialect === 'mysql') {
    const [row] = await db.query<any>('SHOW CREATE TABLE orders');
    const ddl = String(row['Create Table']);
    for (const k of ['ix_orders_product_sk', 'ix_orders_customer_sk', 'fk_orders_product', 'fk_orders_customer']) assert.ok(ddl.includes(k), `orders has ${k}:\n${ddl}`);
  } else {
    const rows = await db.query<any>("SELECT table_name AS t, constraint_type AS c FROM duckdb_constraints() WHERE constraint_type <> 'NOT NULL' ORDER BY ALL");
    const keys = rows.map((r) => `${r.t} ${r.c}`);
    for (const k of ['customers PRIMARY KEY', 'customers UNIQUE', 'products PRIMARY KEY', 'products UNIQUE']) assert.ok(keys.includes(k), `${k}: ${JSON.stringify(keys)}`);
  }
}

interface FailureCase {
  name: string;
  /** The failing command's source and extra flags (with whatever it needs set up), and its teardown. */
  arrange(): Promise<{ source: string; flags: string[]; cleanup(): Promise<void> }>;
  /** Put the intact input where the re-run reads it; the re-run's source and flags. */
  repair(): Promise<{ source: string; flags: string[] }>;
  /** What the error must say. */
  message: RegExp;
}

function fileCase(name: string, file: string, broken: () => Buffer, intact: () => Buffer, message: RegExp): FailureCase {
  const path = join(files.dir, file);
  return {
    name,
    async arrange() {
      writeFileSync(path, broken());
      return { source: path, flags: [], cleanup: async () => {} };
    },
    async repair() {
      writeFileSync(path, intact());
      return { source: path, flags: [] };
    },
    message,
  };
}

function s3Case(name: string, proxy: () => Promise<FaultProxy>, flags: string[], message: RegExp): FailureCase {
  return {
    name,
    async arrange() {
      const p = await proxy();
      return { source: `s3://${BUCKET}/exports/big.json`, flags: ['--s3-endpoint', p.endpoint, ...flags], cleanup: () => p.close() };
    },
    async repair() {
      return { source: `s3://${BUCKET}/exports/big.json`, flags: ['--s3-endpoint', s3.endpoint] };
    },
    message,
  };
}

const gz = () => gzipSync(bigJson);
const CASES: FailureCase[] = [
  ...[0.3, 0.6, 0.9].map((at) =>
    fileCase(`a gzip cut at ${at * 100}%`, `cut-${at}.json.gz`, () => gz().subarray(0, Math.floor(gz().length * at)), gz, /cut-0\.\d\.json\.gz: not valid gzip: the data ends inside a gzip member, after \d+ compressed bytes: the file is cut short/),
  ),
  fileCase(
    'a gzip with corrupt bytes in the middle',
    'corrupt.json.gz',
    () => {
      const b = Buffer.from(gz());
      b.fill(0xff, Math.floor(b.length / 2), Math.floor(b.length / 2) + 64);
      return b;
    },
    gz,
    /corrupt\.json\.gz.*byte \d+.*(not valid gzip|invalid JSON)/,
  ),
  fileCase(
    'a JSON file cut mid-record',
    'cut.json',
    () => bigJson.subarray(0, bigJson.indexOf('"order_id": 9001,') + 40),
    () => bigJson,
    /cut\.json: record \d+, byte \d+, line \d+: invalid JSON: expected the rest of a value .*truncated/,
  ),
  s3Case(
    'an S3 body that stalls past --retries',
    () => startFaultProxy(s3.endpoint, Array.from({ length: 6 }, (_, i): Fault => ({ after: i === 0 ? 2_000_000 : 0, kind: 'stall' }))),
    ['--s3-stall-timeout', '1', '--retries', '1'],
    /s3:\/\/exports\/exports\/big\.json: byte \d+: giving up on s3:\/\/exports\/exports\/big\.json at byte \d+ of \d+ after 2 failed attempt\(s\): no (bytes|response) for 1s/,
  ),
  s3Case(
    'a proxy that ignores Range on the resumed request',
    () =>
      startFaultProxy(s3.endpoint, [{ after: 2_000_000, kind: 'cut' }], {
        ignoreRange: { body: bigJson, etag: `"${createHash('md5').update(bigJson).digest('hex')}"` },
      }),
    [],
    /s3:\/\/exports\/exports\/big\.json: byte \d+: .*resuming at byte \d+ asked for Range bytes=\d+- but the server answered HTTP 200/,
  ),
];

for (const dialect of DIALECTS) {
  for (const withPrior of [false, true]) {
    describe(`a failure upstream of the warehouse ends the load cleanly (${dialect.name}, ${withPrior ? 'a later load' : 'a first load'})`, () => {
      for (const c of CASES) {
        it(c.name, async () => {
          const db = await dialect.fresh();
          try {
            if (withPrior) {
              const r = await runBinTimed(['load', prior, '--db', db.url, '--no-progress'], {}, 60_000);
              assert.equal(r.code, 0, r.stderr);
            }
            const { source, flags, cleanup } = await c.arrange();
            let r;
            try {
              r = await runBinTimed(['load', source, '--db', db.url, '--batch-size', String(BATCH), '--no-progress', ...flags], S3_ENV, 30_000);
            } finally {
              await cleanup();
            }
            assert.equal(r.timedOut, false, `still running after 30 s: ${r.stderr}`);
            assert.equal(r.code, 1, r.stderr);
            assert.match(r.stderr, c.message);
            assert.doesNotMatch(r.stderr, /internal/);

            const [ledger] = await db.query<any>('SELECT status, error, records_committed FROM etl_loads WHERE source_uri = ?', [source]);
            assert.equal(ledger.status, 'failed');
            assert.ok(String(ledger.error).length > 0 && r.stderr.includes(String(ledger.error).slice(0, 60)), `the ledger keeps the error: ${ledger.error}`);
            const k = Number(ledger.records_committed);
            assert.equal(k % BATCH, 0, `whole batches only: ${k} records committed`);
            await assertEqualsModel(db, expected(withPrior, k), `after the failure, ${k} records committed`);
            await assertFactKeys(db);

            const fixed = await c.repair();
            const again = await runBinTimed(['load', fixed.source, '--db', db.url, '--batch-size', String(BATCH), '--no-progress', ...fixed.flags], S3_ENV, 60_000);
            assert.equal(again.code, 0, again.stderr);
            await assertEqualsModel(db, expected(withPrior, bigOrders.length), 'after the re-run with the intact input');
            await assertFactKeys(db);
          } finally {
            await db.drop();
          }
        });
      }
    });
  }
}

/** A source whose bytes are `bytes`, in 64 KiB chunks, until fail() is called: then its stream errors. */
function failingSource(bytes: Buffer) {
  let stream: Readable | null = null;
  let at = 0;
  const source: Source = {
    uri: 'test://failing-body',
    format: 'json',
    info: async () => ({ size: bytes.length, fingerprint: 'failing-body' }),
    open: () =>
      (stream = new Readable({
        read() {
          if (at >= bytes.length) this.push(null);
          else this.push(bytes.subarray(at, (at += 65536)));
        },
      })),
  };
  const fail = () => stream!.destroy(new EtlError('E_S3', 'the body broke', { source: source.uri, byteOffset: at }));
  return { source, fail };
}

for (const dialect of DIALECTS) {
  describe(`the order of things after a failure (${dialect.name})`, () => {
    it('lets the batch in flight commit, then records the failure, then restores the keys, then closes; nothing runs after close', async () => {
      const db = await dialect.fresh();
      try {
        const { source, fail } = failingSource(bigJson);
        const events: string[] = [];
        const wh = await openWarehouse(db.url, { retries: 2 });
        const apply = wh.applyBatch.bind(wh);
        const finish = wh.finishSource.bind(wh);
        const endLoad = wh.endLoad.bind(wh);
        wh.applyBatch = async (loadId, batch) => {
          events.push(`apply ${batch.firstIndex}`);
          // The source breaks while this batch is in the warehouse's hands.
          if (batch.firstIndex === 1000) fail();
          const counts = await apply(loadId, batch);
          events.push(`committed ${batch.firstIndex}`);
          return counts;
        };
        wh.finishSource = async (loadId, status, error) => {
          events.push(`ledger ${status}`);
          return finish(loadId, status, error);
        };
        wh.endLoad = async () => {
          events.push('keys restored');
          return endLoad();
        };
        await assert.rejects(runLoad([source], wh, { ...DEFAULTS, batchSize: 500, parser: 'scanner', force: false }), /test:\/\/failing-body: byte \d+: the body broke/);
        await wh.close();
        events.push('closed');
        // Batches are handed over while the one before is still in the database's hands; every one handed over
        // before the failure commits, and only then are the failure recorded, the keys restored, the warehouse closed.
        const applied = events.filter((e) => e.startsWith('apply ')).map((e) => e.slice(6));
        assert.deepEqual(applied, ['0', '500', '1000']);
        assert.deepEqual(events.slice(-3), ['ledger failed', 'keys restored', 'closed']);
        assert.deepEqual(events.filter((e) => e.startsWith('committed ')).map((e) => e.slice(10)), applied, 'each committed, in order, before the failure was recorded');
        await assert.rejects(wh.applyBatch(1, { firstIndex: 0, nextIndex: 0, orders: [], rejects: [] }), /already closed/);
        const [ledger] = await db.query<any>('SELECT status, records_committed, error FROM etl_loads');
        assert.deepEqual([ledger.status, Number(ledger.records_committed)], ['failed', 1500]);
        assert.match(ledger.error, /the body broke/);
        await assertEqualsModel(db, expected(false, 1500), 'the three committed batches');
        await assertFactKeys(db);
        if (db.dialect === 'mysql') {
          const left = await db.query<any>('SELECT ID FROM information_schema.PROCESSLIST WHERE DB = ? AND ID <> CONNECTION_ID()', [db.mysql!.name]);
          assert.deepEqual(left, [], 'no connection of the engine is left open');
        }
      } finally {
        await db.drop();
      }
    });

    it('reports a failure to finish the failed load beside its error, and the next load completes it', async () => {
      const db = await dialect.fresh();
      try {
        const { source, fail } = failingSource(bigJson);
        const notes: string[] = [];
        const wh = await openWarehouse(db.url, { retries: 2 });
        const apply = wh.applyBatch.bind(wh);
        wh.applyBatch = async (loadId, batch) => {
          if (batch.firstIndex === 1000) fail();
          return apply(loadId, batch);
        };
        // The end of the load (moving deferred facts, restoring the fact keys) fails as a lost server would make it.
        wh.endLoad = async () => {
          throw new Error('connection lost to mysql://etl:s3cret@db.example/warehouse');
        };
        await assert.rejects(
          runLoad([source], wh, { ...DEFAULTS, batchSize: 500, parser: 'scanner', force: false }, { note: (m) => notes.push(m) }),
          /test:\/\/failing-body: byte \d+: the body broke/,
          'the load reports its own error, not the one of finishing it',
        );
        await wh.close();
        assert.equal(notes.length, 1, JSON.stringify(notes));
        assert.match(notes[0]!, /^finishing the failed load also failed \(connection lost to mysql:\/\/\*\*\*:\*\*\*@db\.example\/warehouse\); the next load or init finishes it$/);
        assert.doesNotMatch(notes[0]!, /s3cret/);
        await assertEqualsModel(db, expected(false, 1500), 'the batches committed before the failure');
        if (db.dialect === 'mysql') {
          // A first load dropped the fact table's secondary keys, and nothing built them again.
          const [row] = await db.query<any>('SHOW CREATE TABLE orders');
          assert.doesNotMatch(String(row['Create Table']), /fk_orders_product/, 'the keys are still missing after the unfinished load');
        }
        // init finishes what the load left, then the intact file loads.
        const init = await runCli(['init', '--db', db.url]);
        assert.equal(init.code, 0, init.stderr);
        await assertFactKeys(db);
        const big = files.file(`intact-${dialect.name}.json`, bigJson);
        const again = await runCli(['load', big, '--db', db.url, '--batch-size', String(BATCH), '--no-progress']);
        assert.equal(again.code, 0, again.stderr);
        await assertEqualsModel(db, expected(false, bigOrders.length), 'the intact file after the unfinished load');
        await assertFactKeys(db);
      } finally {
        await db.drop();
      }
    });

    it('refuses to resume with a --max-rejects below the rejects an interrupted attempt committed, with a clear error', async () => {
      const db = await dialect.fresh();
      try {
        const bad = (i: number) => ({ order_id: `bad-${i}`, order_date: 'not a date', customer: { customer_id: 'c' }, products: [] });
        const good = (bigOrders as object[]).slice(0, 4000);
        // Five invalid records first, then thousands of good ones, then a syntax error at the very end.
        const text = JSON.stringify([...[1, 2, 3, 4, 5].map(bad), ...good], null, 1);
        const file = files.file('rejects-then-broken.json', text.slice(0, -2) + ',,]');
        const first = await runBinTimed(['load', file, '--db', db.url, '--batch-size', '2', '--no-progress'], {}, 60_000);
        assert.equal(first.code, 1, first.stderr);
        const [ledger] = await db.query<any>('SELECT status, rejected FROM etl_loads');
        assert.deepEqual([ledger.status, Number(ledger.rejected)], ['failed', 5]);
        const again = await runBinTimed(['load', file, '--db', db.url, '--batch-size', '2', '--no-progress', '--max-rejects', '2'], {}, 60_000);
        assert.equal(again.code, 1);
        assert.match(again.stderr, /\[E_MAX_REJECTS\].*rejects-then-broken\.json: an earlier attempt at this source already committed 5 invalid records, more than --max-rejects \(2\)/);
        assert.doesNotMatch(again.stderr, /internal/i);
      } finally {
        await db.drop();
      }
    });
  });
}

describe('a reconnect mid-load (mysql)', () => {
  it('drops the dimension caches: a row another writer changed in between is written again as the load order says', async () => {
    const db = await DIALECTS.find((d) => d.name === 'mysql')!.fresh();
    const killer = await adminConnection();
    try {
      const order = (id: number, customer: object) => ({ order_id: id, order_date: '2024-01-01', customer, products: [{ product_id: 'P', name: 'p', category: 'c', price: 1, quantity: 1 }] });
      const x = { customer_id: 'C-X', name: 'as loaded', email: 'x@example.com', address: 'here' };
      const other = (n: number) => ({ customer_id: `C-${n}`, name: 'other', email: null, address: null });
      const file = files.file('cache.json', JSON.stringify([order(1, x), order(2, other(2)), order(3, other(3)), order(4, other(4)), order(5, other(5)), order(6, x)]));
      const wh = await openWarehouse(db.url, { retries: 3 });
      const apply = wh.applyBatch.bind(wh);
      let killed = 0;
      wh.applyBatch = async (loadId, batch) => {
        if (batch.firstIndex === 2) {
          // Between two batches: another writer changes C-X, and the load's connection dies.
          await db.query("UPDATE customers SET name = 'changed by another writer' WHERE customer_id = 'C-X'");
          const [rows] = await killer.query('SELECT ID FROM information_schema.PROCESSLIST WHERE DB = ? AND ID <> CONNECTION_ID() AND ID <> ?', [db.mysql!.name, (db.mysql!.admin as unknown as { threadId: number }).threadId]);
          for (const r of rows as { ID: number }[]) {
            await killer.query(`KILL ${Number(r.ID)}`);
            killed++;
          }
        }
        return apply(loadId, batch);
      };
      try {
        const sources = await resolveSources([file], { format: undefined, s3: { stallTimeout: 5, retries: 0 }, note: () => {} });
        await runLoad(sources, wh, { ...DEFAULTS, batchSize: 2, parser: 'scanner', force: false });
      } finally {
        await wh.close();
      }
      assert.equal(killed, 1, 'the load had one connection, and it was killed');
      const [row] = await db.query<any>("SELECT name FROM customers WHERE customer_id = 'C-X'");
      assert.equal(row.name, 'as loaded', 'the last occurrence in the file wins, as if loaded after the other writer');
    } finally {
      await killer.end();
      await db.drop();
    }
  });
});

describe('smaller hazards of the same family', () => {
  it('stream-json stops an oversized record while assembling it, counting bytes, not UTF-16 units', async () => {
    // A record that never ends: a check after assembly would never come.
    let sent = 0;
    const endless = new Readable({
      read() {
        sent += 65536;
        this.push(sent === 65536 ? '[{"order_id": 1, "note": "' + 'x'.repeat(65536 - 26) : 'x'.repeat(65536));
      },
    });
    const stage = parseStage('stream-json', { format: 'json', source: 'endless.json', maxRecordBytes: 256 * 1024 });
    await assert.rejects(pipeline(endless, stage, new Writable({ objectMode: true, write: (_r, _e, cb) => cb() })), (err: EtlError) => err.code === 'E_RECORD_TOO_LARGE' && /record 0/.test(err.message));
    assert.ok(sent < 1024 * 1024, `stopped after ${sent} bytes`);
    // 600 two-byte characters are 1,200 bytes: over a limit of 1,024 for both parsers.
    const wide = Buffer.from(JSON.stringify([{ order_id: 1, name: 'é'.repeat(600) }]));
    for (const kind of ['scanner', 'stream-json'] as const) {
      const s = parseStage(kind, { format: 'json', source: 'wide.json', maxRecordBytes: 1024 });
      await assert.rejects(pipeline(Readable.from([wide]), s, new Writable({ objectMode: true, write: (_r, _e, cb) => cb() })), /larger than --max-record-bytes \(1024 bytes\)/, kind);
      const ok = parseStage(kind, { format: 'json', source: 'wide.json', maxRecordBytes: 2048 });
      await pipeline(Readable.from([wide]), ok, new Writable({ objectMode: true, write: (_r, _e, cb) => cb() }));
    }
  });

  it('stream-json says where it found a syntax error: the bytes, and the record as far as it is known', async () => {
    const parse = async (text: string | Buffer, format: 'json' | 'ndjson' = 'json'): Promise<EtlError> => {
      const stage = parseStage('stream-json', { format, source: 'bad.json', maxRecordBytes: 1 << 20, requireOrders: true });
      let caught: unknown = null;
      await pipeline(Readable.from([Buffer.from(text)]), stage, new Writable({ objectMode: true, write: (_r, _e, cb) => cb() })).catch((e: unknown) => {
        caught = e;
      });
      assert.ok(caught instanceof EtlError, `${String(text).slice(0, 40)}: fails with an EtlError`);
      return caught;
    };
    // Found at the end of the input: the record still open, or the next one between records.
    const openText = '[{"order_id": 1},\n{"order_id": 2, "x": tru}]';
    const open = await parse(openText);
    assert.equal(open.code, 'E_PARSE');
    assert.equal(open.context.recordIndex, 1);
    assert.ok(open.message.startsWith(`bad.json: record 1: invalid JSON (stream-json) found at the end of the input (byte ${openText.length}): `), open.message);
    const truncated = await parse('[{"order_id": 1}, {"order_id": 2}');
    assert.equal(truncated.context.recordIndex, 2);
    // Found inside a slice of 64 KiB: its bytes, and the record the slice began in as the first possible one.
    const records = Array.from({ length: 400 }, (_, i) => JSON.stringify({ order_id: i, pad: 'x'.repeat(300) }));
    records[300] = records[300]!.replace('"pad"', '"pad" 1');
    const mid = await parse(`[${records.join(',\n')}]`);
    assert.equal(mid.context.recordIndex, undefined, 'not known exactly');
    const m = /found while reading bytes (\d+) to (\d+), in record (\d+) or a later one: /.exec(mid.message);
    assert.ok(m, mid.message);
    const at = Buffer.byteLength(`[${records.slice(0, 300).join(',\n')},\n`) + records[300]!.indexOf(' 1');
    assert.ok(Number(m[1]) <= at && at < Number(m[2]) && Number(m[2]) - Number(m[1]) <= 65536 + 67, `${at} in ${m[1]} to ${m[2]}`);
    assert.ok(Number(m[3]) <= 300 && Number(m[3]) > 100, `record ${m[3]}`);
    // Invalid UTF-8 in a later slice: the decoder fails before the slice is counted; the range still holds it.
    const text = `[${records.join(',\n')}]`;
    const bad = Buffer.byteLength(text.slice(0, text.indexOf('"order_id":300')));
    const bytes = Buffer.from(text);
    bytes[bad] = 0xff;
    const utf8 = await parse(bytes);
    assert.equal(utf8.code, 'E_ENCODING');
    const u = /found while reading bytes (\d+) to (\d+)/.exec(utf8.message);
    assert.ok(u && Number(u[1]) <= bad && bad < Number(u[2]), `${bad} in ${utf8.message}`);
    // Before any record, and after the one value of a document that is not an array: no record named.
    const before = await parse('x[{"order_id": 1}]');
    assert.doesNotMatch(before.message, /record/);
    assert.match(before.message, /found while reading bytes 0 to 18: /);
    const after = await parse('{"order_id": 1, "customer": {"customer_id": "C"}, "products": []} x');
    assert.doesNotMatch(after.message, /record/, after.message);
    const ndjson = await parse('{"order_id": 1}\n{"order_id": 2', 'ndjson');
    assert.equal(ndjson.context.recordIndex, 1);
  });

  it('tears down the gunzip with the decode stage', async () => {
    const decode = new DecodeStream('x.json.gz', { maxRatio: 1000, maxBytes: 1 << 30 });
    const half = gz().subarray(0, 100_000);
    decode.resume(); // read and drop what it inflates
    await new Promise<void>((r) => decode.write(half, () => r()));
    const gunzip = (decode as unknown as { gunzip: Transform | null }).gunzip;
    assert.ok(gunzip, 'gunzip started');
    decode.destroy();
    await new Promise((r) => setImmediate(r));
    assert.equal(gunzip.destroyed, true);
  });

  for (const dialect of DIALECTS) {
    it(`refuses a source whose name is longer than the ledger keeps, before loading the ones before it, alike on both warehouses (${dialect.name})`, async () => {
      let dir = files.dir;
      for (let i = 0; i < 9; i++) dir = join(dir, String(i).repeat(250));
      mkdirSync(dir, { recursive: true });
      const far = join(dir, 'orders.json');
      writeFileSync(far, readFileSync(prior));
      const db = await dialect.fresh();
      try {
        const r = await runCli(['load', prior, far, '--db', db.url]);
        assert.equal(r.code, 1, r.stderr);
        assert.match(r.stderr, /orders\.json: a source's name is longer than the 2048 characters the load ledger keeps: give it by a shorter path/);
        const loads = await runCli(['loads', '--db', db.url, '--json']);
        assert.equal(loads.stdout.trim(), '', 'nothing loaded');
      } finally {
        await db.drop();
      }
    });
  }

  it('refuses --max-heap-mb it cannot apply (exit 2, naming the flag)', async () => {
    const r = await runBinTimed(['load', prior, '--db', 'duckdb:/nonexistent/never.duckdb', '--max-heap-mb', '10'], {}, 30_000);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--max-heap-mb: "10" is not allowed; expected an integer from 64/);
  });

  it('out of memory: exit 1 naming the source; the batches committed before stay, and the same command with more heap goes on after them', async () => {
    // Three small orders, then one of 200,000 lines (17 MB): more than a heap of 64 MB holds as objects.
    const order = (n: number, lines: number) => ({
      order_id: `O${n}`,
      order_date: '2024-01-01',
      total_amount: 1,
      customer: { customer_id: `C${n}`, name: 'n', email: 'e', address: 'a' },
      products: Array.from({ length: lines }, (_, i) => ({ product_id: `P${i}`, name: `name ${i}`, category: 'c', price: 1.5, quantity: 1 })),
    });
    const path = join(files.dir, 'one-huge-order.json');
    writeFileSync(path, JSON.stringify([order(1, 1), order(2, 2), order(3, 1), order(4, 200_000)]));
    const db = await DIALECTS.find((d) => d.name === 'duckdb')!.fresh();
    try {
      const args = ['load', path, '--db', db.url, '--batch-size', '1', '--max-record-bytes', '100000000'];
      const r = await runBinTimed([...args, '--max-heap-mb', '64'], {}, 60_000);
      assert.equal(r.code, 1, r.stderr);
      assert.ok(
        r.stderr.includes(`out of memory within --max-heap-mb 64 while loading ${path}; lower --batch-size or raise --max-heap-mb (the batches committed are kept: the same command goes on after them)`),
        r.stderr,
      );
      assert.deepEqual(await db.query<any>('SELECT order_id FROM orders ORDER BY order_id'), [{ order_id: 'O1' }, { order_id: 'O2' }, { order_id: 'O2' }, { order_id: 'O3' }]);
      // Standard input has no ledger position: the message does not promise that a re-run goes on after them.
      const piped = await runBinTimed(['load', '-', '--db', db.url, '--batch-size', '1', '--max-record-bytes', '100000000', '--max-heap-mb', '64'], {}, 60_000, path);
      assert.equal(piped.code, 1, piped.stderr);
      assert.ok(piped.stderr.includes('out of memory within --max-heap-mb 64 while loading -; lower --batch-size or raise --max-heap-mb (the batches committed are kept; this source has no ledger position and is read again from its start)'), piped.stderr);
      const again = await runBinTimed([...args, '--max-heap-mb', '1024'], {}, 60_000);
      assert.equal(again.code, 0, again.stderr);
      const [count] = await db.query<any>('SELECT COUNT(*) AS n, COUNT(DISTINCT order_id) AS orders FROM orders');
      assert.deepEqual([Number(count.n), Number(count.orders)], [200_004, 4]);
    } finally {
      await db.drop();
    }
  });

  it('MariaDB: a query that holds the fact table: a bulk load keeps the keys it cannot drop, and building them waits at most --lock-timeout', async () => {
    const db = await DIALECTS.find((d) => d.name === 'mysql')!.fresh();
    const reader = await adminConnection();
    const saved = { ...FACT_DDL };
    Object.assign(FACT_DDL, { dropKeysWaitSeconds: 1, buildKeysNoteSeconds: 1, buildKeysMinWaitSeconds: 1 });
    const keys = async () => (await db.query<any>("SELECT DISTINCT INDEX_NAME AS k FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'orders' ORDER BY 1")).map((r) => String(r.k));
    const hold = async () => {
      await reader.query('BEGIN');
      await reader.query('SELECT COUNT(*) FROM orders');
    };
    try {
      assert.equal((await runCli(['init', '--db', db.url])).code, 0);
      const all = await keys();
      await reader.query(`USE \`${db.mysql!.name}\``);
      // A first load under an open transaction that read the fact table: it cannot drop the keys; it loads with them.
      await hold();
      const first = await runCli(['load', prior, '--db', db.url]);
      assert.equal(first.code, 0, first.stderr);
      assert.match(first.stderr, /a query or open transaction held the fact table for more than 1s: this load keeps its keys and maintains them row by row \(slower\)/);
      assert.deepEqual(await keys(), all);
      await reader.query('COMMIT');
      // Keys left missing (by a load killed before its end), and the table held: init waits --lock-timeout, then
      // fails naming what is not built; once the query has ended, init builds them.
      await db.query('ALTER TABLE orders DROP FOREIGN KEY fk_orders_product, DROP FOREIGN KEY fk_orders_customer');
      await db.query('ALTER TABLE orders DROP KEY ix_orders_product_sk, DROP KEY ix_orders_customer_sk');
      await hold();
      const t = Date.now();
      const held = await runCli(['init', '--db', db.url, '--lock-timeout', '3']);
      assert.equal(held.code, 1, held.stderr);
      assert.ok(Date.now() - t < 30_000, `init gave up after ${Date.now() - t} ms`);
      assert.match(held.stderr, /building the fact table's keys waits for a query or open transaction that holds it; at most 3s \(--lock-timeout\)/);
      assert.match(held.stderr, /\[E_LOCK\].*the fact table's keys \(ix_orders_product_sk, ix_orders_customer_sk, fk_orders_product, fk_orders_customer\) are not built: a query or open transaction held the table \(or a dimension table its foreign keys refer to\) for more than 3s \(--lock-timeout\); no loaded data is lost, and the next load or init builds them/);
      await reader.query('COMMIT');
      const freed = await runCli(['init', '--db', db.url]);
      assert.equal(freed.code, 0, freed.stderr);
      assert.deepEqual(await keys(), all);
    } finally {
      Object.assign(FACT_DDL, saved);
      await reader.end();
      await db.drop();
    }
  });

  for (const history of ['none', 'customers,products']) {
    it(`MariaDB: a user without ALTER loads (history: ${history}), keeping the fact table's keys it may not drop, and says so`, async () => {
      await asUser('SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, INDEX, REFERENCES, CREATE TEMPORARY TABLES', async (db, url) => {
        assert.equal((await runCli(['init', '--db', db.url, '--history', history])).code, 0);
        const r = await runCli(['load', prior, '--db', url, '--batch-size', String(BATCH)]);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stderr, /the fact table keeps its keys, maintained row by row \(slower\): ALTER command denied .*\(dropping them for a bulk load takes ALTER on oe_test_/);
        await assertPriorLoaded(db);
      });
    });
  }

  for (const history of ['none', 'customers,products']) {
    it(`MariaDB: a user with only SELECT, INSERT, UPDATE, DELETE and CREATE TEMPORARY TABLES loads into a warehouse init made (history: ${history})`, async () => {
      await asUser('SELECT, INSERT, UPDATE, DELETE, CREATE TEMPORARY TABLES', async (db, url) => {
        assert.equal((await runCli(['init', '--db', db.url, '--history', history])).code, 0);
        // A ledger made before its index by source name, which this user cannot add.
        await db.query('ALTER TABLE etl_loads DROP KEY ix_etl_loads_uri');
        for (const source of [prior, prior]) {
          const r = await runCli(['load', source, '--db', url, '--batch-size', String(BATCH), '--force']);
          assert.equal(r.code, 0, r.stderr);
          assert.doesNotMatch(r.stderr, /CREATE command denied/);
          assert.match(r.stderr, /the load ledger is not indexed by source name \(the next load or init by a user with ALTER/);
        }
        await assertPriorLoaded(db);
      });
    });
  }

  it('MariaDB: a user without CREATE TEMPORARY TABLES is told that the staging tables were refused, not the load lock', async () => {
    await asUser('SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, ALTER, INDEX, REFERENCES', async (_db, url) => {
      const r = await runCli(['load', prior, '--db', url]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /load failed \[E_DB\]: cannot create the staging tables \(temporary tables of the session\) on mysql:\/\/.*: Access denied for user/);
      assert.doesNotMatch(r.stderr, /load lock/);
    });
  });

  it('MariaDB: a bulk load into a fact table whose keys a killed load left missing builds them once, at its end (not before, to drop them again)', async () => {
    const db = await DIALECTS.find((d) => d.name === 'mysql')!.fresh();
    const reader = await adminConnection();
    try {
      assert.equal((await runCli(['init', '--db', db.url])).code, 0);
      assert.deepEqual(await factKeys(db), FACT_KEYS);
      // What a first load killed after dropping the keys leaves: the fact table without its secondary keys.
      await db.query('ALTER TABLE orders DROP FOREIGN KEY fk_orders_product, DROP FOREIGN KEY fk_orders_customer');
      await db.query('ALTER TABLE orders DROP KEY ix_orders_product_sk, DROP KEY ix_orders_customer_sk');
      // A query holds the fact table: any ALTER of it waits, so the first one the load runs shows where it is.
      await reader.query(`USE \`${db.mysql!.name}\``);
      await reader.query('BEGIN');
      await reader.query('SELECT COUNT(*) FROM orders');
      let ended: RunResult | null = null;
      const running = runCli(['load', prior, '--db', db.url, '--batch-size', String(BATCH), '--lock-timeout', '60']).then((r) => (ended = r));
      await untilFactAlterWaits(db, 'the load', 60, () => (ended === null ? null : (ended as RunResult).stderr));
      // The ALTER that waits is the one after every batch: building the keys before the load would have waited
      // with nothing committed.
      const [ledger] = await db.query<any>('SELECT COUNT(*) AS n, SUM(records_committed) AS records FROM etl_loads');
      assert.equal(Number(ledger.n), 1);
      assert.equal(Number(ledger.records), priorOrders.length, 'every batch is committed before the keys are built');
      await reader.query('COMMIT');
      const r = await running;
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(await factKeys(db), FACT_KEYS);
      const [facts] = await db.query<any>('SELECT COUNT(*) AS n FROM orders');
      assert.equal(Number(facts.n), priorOrders.reduce((n: number, o: any) => n + o.products.length, 0));
    } finally {
      await reader.query('ROLLBACK').catch(() => {});
      await reader.end();
      await db.drop();
    }
  });

  it('MariaDB: a load committed whole whose fact keys cannot be built in time prints its summary, then fails with E_LOCK (exit 1)', async () => {
    const db = await DIALECTS.find((d) => d.name === 'mysql')!.fresh();
    const reader = await adminConnection();
    const saved = { ...FACT_DDL };
    Object.assign(FACT_DDL, { buildKeysNoteSeconds: 1, buildKeysMinWaitSeconds: 1 });
    try {
      assert.equal((await runCli(['init', '--db', db.url])).code, 0);
      // The keys missing (a killed bulk load) and a query holding the fact table for the whole load: the load
      // drops nothing and writes every batch, and building the keys at its end waits --lock-timeout, then fails.
      await db.query('ALTER TABLE orders DROP FOREIGN KEY fk_orders_product, DROP FOREIGN KEY fk_orders_customer');
      await db.query('ALTER TABLE orders DROP KEY ix_orders_product_sk, DROP KEY ix_orders_customer_sk');
      await reader.query(`USE \`${db.mysql!.name}\``);
      await reader.query('BEGIN');
      await reader.query('SELECT COUNT(*) FROM orders');
      const r = await runCli(['load', prior, '--db', db.url, '--lock-timeout', '1', '--json']);
      assert.equal(r.code, 1, r.stderr);
      const summary = JSON.parse(r.stdout);
      assert.equal(summary.orders, priorOrders.length);
      assert.equal(summary.sources[0].status, 'loaded');
      assert.equal(summary.error.code, 'E_LOCK');
      assert.match(summary.error.message, /^the fact table's keys \(.*\) are not built: /);
      assert.match(r.stderr, /loaded 1 of 1 source\(s\) into .*\n  orders 3,000, fact rows [\d,]+, rejected 0\n/);
      assert.match(r.stderr, /load failed \[E_LOCK\]: the fact table's keys \(ix_orders_product_sk, ix_orders_customer_sk, fk_orders_product, fk_orders_customer\) are not built: .*no loaded data is lost, and the next load or init builds them\n$/);
      // The summary comes before the error.
      assert.ok(r.stderr.indexOf('loaded 1 of 1') < r.stderr.indexOf('[E_LOCK]'));
      await reader.query('COMMIT');
      const [ledger] = await db.query<any>('SELECT status, records_committed AS n FROM etl_loads');
      assert.deepEqual([ledger.status, Number(ledger.n)], ['completed', priorOrders.length]);
      const again = await runCli(['load', prior, '--db', db.url]);
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stderr, /skipped|already loaded/);
      assert.deepEqual(await factKeys(db), FACT_KEYS, 'the next load built the keys');
    } finally {
      Object.assign(FACT_DDL, saved);
      await reader.query('ROLLBACK').catch(() => {});
      await reader.end();
      await db.drop();
    }
  });

  it('gives orders-etl query a read-only session with foreign key checks on, one statement at a time (mysql)', async () => {
    const db = await DIALECTS.find((d) => d.name === 'mysql')!.fresh();
    try {
      assert.equal((await runCli(['load', prior, '--db', db.url])).code, 0);
      const fk = await runCli(['query', 'SELECT @@foreign_key_checks AS fk, @@tx_read_only AS ro', '--db', db.url, '--json']);
      assert.equal(fk.code, 0, fk.stderr);
      assert.deepEqual(JSON.parse(fk.stdout), { fk: 1, ro: 1 });
      const two = await runCli(['query', 'SELECT 1; DELETE FROM customers', '--db', db.url]);
      assert.equal(two.code, 1);
      const del = await runCli(['query', 'DELETE FROM customers', '--db', db.url]);
      assert.equal(del.code, 1);
      assert.match(del.stderr, /one statement that reads .*starts with DELETE/);
      // A statement that reads but writes through a function is stopped by the session itself.
      await db.query('CREATE FUNCTION wipe() RETURNS INT DETERMINISTIC MODIFIES SQL DATA BEGIN DELETE FROM customers; RETURN 1; END');
      const hidden = await runCli(['query', 'SELECT wipe()', '--db', db.url]);
      assert.equal(hidden.code, 1, hidden.stdout);
      assert.match(hidden.stderr, /read only|READ ONLY/i);
      assert.equal((await db.query<any>('SELECT COUNT(*) AS n FROM customers'))[0].n > 0, true);
    } finally {
      await db.drop();
    }
  });
});
