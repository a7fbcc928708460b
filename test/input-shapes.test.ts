/**
 * Input shapes through the CLI, on both warehouses (issue 12): exports wrapped in an object load with
 * --records-path (plain, gzip, both parsers) exactly as the bare array does; without it, a wrapped export is
 * an error that names its keys and the flag, recorded as failed in the ledger; a source that had records and
 * rejected every one of them fails whatever --max-rejects says, and its rejects stay readable.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { ROOT, runCli, tempDir } from './helpers/run.ts';
import { DIALECTS, type TestWarehouse } from './helpers/warehouses.ts';

const INITIAL = join(ROOT, 'fixtures', 'orders_initial.json');
const orders = JSON.parse(readFileSync(INITIAL, 'utf8')) as unknown[];

for (const dialect of DIALECTS) describe(`input shapes into ${dialect.name}`, () => {
  const files = tempDir();
  let db: TestWarehouse;
  let reference: Awaited<ReturnType<TestWarehouse['snapshot']>>;
  let wrapped: string;
  let nested: string;
  let wrappedGz: string;

  before(async () => {
    wrapped = files.file('wrapped.json', JSON.stringify({ meta: { exported: '2024-06-01', tricky: '] } "' }, orders, next: null }, null, 2));
    nested = files.file('nested.json', JSON.stringify({ data: { page: 1, 'v1.2': { orders } }, links: [{ rel: 'next' }] }));
    wrappedGz = files.file('wrapped.json.gz', gzipSync(readFileSync(wrapped)));
    const ref = await dialect.fresh();
    try {
      assert.equal((await runCli(['load', INITIAL, '--db', ref.url])).code, 0);
      reference = await ref.snapshot();
    } finally {
      await ref.drop();
    }
  });
  after(() => files.cleanup());
  beforeEach(async () => {
    db = await dialect.fresh();
  });
  afterEach(async () => {
    await db.drop();
  });

  const same = async () => {
    const got = await db.snapshot();
    assert.deepEqual([got.customers, got.products, got.facts], [reference.customers, reference.products, reference.facts]);
  };

  for (const parser of ['scanner', 'stream-json']) {
    it(`loads {"orders": [...]} with --records-path orders, plain and gzip, parser ${parser}`, async () => {
      for (const file of [wrapped, wrappedGz]) {
        const r = await runCli(['load', file, '--db', db.url, '--records-path', 'orders', '--parser', parser, '--json']);
        assert.equal(r.code, 0, r.stderr);
        const s = JSON.parse(r.stdout);
        assert.deepEqual([s.orders, s.factRows, s.rejected], [5, 7, 0]);
      }
      await same();
    });

    it(`descends a dotted path with an escaped dot, parser ${parser}`, async () => {
      const r = await runCli(['load', nested, '--db', db.url, '--records-path', 'data.v1\\.2.orders', '--parser', parser]);
      assert.equal(r.code, 0, r.stderr);
      await same();
    });
  }

  it('without --records-path, refuses a wrapped export with its keys and the flag to use (exit 1, ledger failed)', async () => {
    for (const parser of ['scanner', 'stream-json']) {
      const r = await runCli(['load', wrapped, '--db', db.url, '--parser', parser, '--force']);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /^orders-etl: load failed \[E_PARSE\]: .*wrapped\.json: .*the top level is an object with the keys "meta" \(an object\), "orders" \(an array\), "next" \(null\), not an order \(no order_id\); if the orders are the array under "orders", load them with --records-path orders\n$/);
    }
    const loads = await db.query<{ status: string; error: string }>('SELECT status, error FROM etl_loads');
    assert.deepEqual(loads.map((l) => l.status), ['failed', 'failed']);
    assert.match(loads[0]!.error, /--records-path orders/);
    assert.equal(Number((await db.query<{ n: unknown }>('SELECT COUNT(*) AS n FROM orders'))[0]!.n), 0);
    const nestedHint = await runCli(['load', nested, '--db', db.url]);
    assert.equal(nestedHint.code, 1);
    // Quoted as one shell word: the shell would take the backslash of \. away.
    assert.match(nestedHint.stderr, /--records-path 'data\.v1\\\.2\.orders'\n$/);
  });

  it('names the keys that are there when --records-path leads nowhere', async () => {
    const r = await runCli(['load', wrapped, '--db', db.url, '--records-path', 'data.orders']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /--records-path data\.orders: no key "data" at the top level \(its keys: "meta" \(an object\), "orders" \(an array\), "next" \(null\)\); did you mean --records-path orders\?/);
  });

  it('fails a source whose every record was rejected, whatever --max-rejects says; its rejects stay', async () => {
    const t = tempDir();
    try {
      const bad = t.file('items.ndjson', '{"sku": "A", "qty": 1}\n{"sku": "B", "qty": 2}\n{"sku": "C", "qty": 3}\n');
      const r = await runCli(['load', bad, '--db', db.url, '--max-rejects', '1000000']);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /load failed \[E_ALL_REJECTED\]: .*items\.ndjson: every record \(3\) was rejected, none loaded: a source without one valid order is taken for the wrong file or shape, whatever --max-rejects allows \(the first: order_id: .*\); see them with orders-etl rejects --load 1 --db (\S+)\n$/);
      // The command it gives names this warehouse as --db gave it, a MySQL URL with placeholders for its credentials.
      const where = /--db (\S+)\n$/.exec(r.stderr)![1]!;
      const url = new URL(db.url);
      assert.equal(where, url.protocol === 'mysql:' ? `'mysql://<user>:<password>@${url.host}${url.pathname}${url.search}'` : db.url);
      const [load] = await db.query<{ status: string }>('SELECT status FROM etl_loads');
      assert.equal(load!.status, 'failed');
      assert.equal((await db.query('SELECT record_index FROM etl_rejects')).length, 3);
      // A re-run says the same: the source is not skipped as if it had been loaded.
      const again = await runCli(['load', bad, '--db', db.url, '--max-rejects', '1000000']);
      assert.equal(again.code, 1);
      assert.match(again.stderr, /E_ALL_REJECTED/);
      // A JSON array named .ndjson is one record, an array: the message says which flag reads it, and it does.
      const array = t.file('array.ndjson', JSON.stringify(orders.slice(0, 2)));
      const asLines = await runCli(['load', array, '--db', db.url]);
      assert.equal(asLines.code, 1, asLines.stderr);
      assert.match(asLines.stderr, /array\.ndjson: every record \(1\) was rejected, .*\(the first: record: expected an object, got an array\); it is one JSON array read as JSON Lines: load it with --format json; see them with /);
      const asJson = await runCli(['load', array, '--db', db.url, '--format', 'json']);
      assert.equal(asJson.code, 0, asJson.stderr);
      // One good record among them is a load with rejects, as before.
      const mixed = t.file('mixed.ndjson', '{"sku": "A"}\n' + JSON.stringify(orders[0]) + '\n');
      const ok = await runCli(['load', mixed, '--db', db.url]);
      assert.equal(ok.code, 0, ok.stderr);
      assert.match(ok.stderr, /rejected 1\b/);
    } finally {
      t.cleanup();
    }
  });

  it('takes another --records-path or --format as another source: never skipped as loaded or resumed at the other framing', async () => {
    const t = tempDir();
    try {
      const count = async () => Number((await db.query<{ n: unknown }>('SELECT COUNT(DISTINCT order_id) AS n FROM orders'))[0]!.n);
      // A first attempt at the wrong array fails with records committed (rejected); the right one loads them all.
      const two = t.file('two-arrays.json', JSON.stringify({ meta: [{ x: 1 }, { x: 2 }], orders }));
      assert.equal((await runCli(['load', two, '--db', db.url, '--records-path', 'meta'])).code, 1);
      const right = await runCli(['load', two, '--db', db.url, '--records-path', 'orders', '--json']);
      assert.equal(right.code, 0, right.stderr);
      assert.deepEqual([JSON.parse(right.stdout).orders, JSON.parse(right.stdout).skipped], [orders.length, 0]);
      await same();
      // Each array of one file is a source of its own; the same one again is skipped.
      const halves = t.file('halves.json', JSON.stringify({ a: orders.slice(0, 2), b: orders.slice(2) }));
      const again = await dialect.fresh();
      try {
        for (const [path, skipped] of [['a', 0], ['b', 0], ['b', 1]] as const) {
          const r = await runCli(['load', halves, '--db', again.url, '--records-path', path, '--json']);
          assert.equal(r.code, 0, r.stderr);
          assert.equal(JSON.parse(r.stdout).skipped, skipped, path);
        }
        assert.equal(Number((await again.query<{ n: unknown }>('SELECT COUNT(DISTINCT order_id) AS n FROM orders'))[0]!.n), orders.length);
      } finally {
        await again.drop();
      }
      // A JSON array read as NDJSON is one record, rejected; read as its name says, every order loads.
      await db.drop();
      db = await dialect.fresh();
      assert.equal((await runCli(['load', INITIAL, '--db', db.url, '--format', 'ndjson'])).code, 1);
      assert.equal((await runCli(['load', INITIAL, '--db', db.url])).code, 0);
      assert.equal(await count(), orders.length);
      await same();
    } finally {
      t.cleanup();
    }
  });

  it('loads a gzip padded with zero bytes as gzip -d does, and refuses data after the padding', async () => {
    const t = tempDir();
    try {
      const gz = gzipSync(readFileSync(INITIAL));
      // Padding past the 256 KiB read: some in the chunk of the gzip data, the rest in chunks after it.
      const padded = t.file('padded.json.gz', Buffer.concat([gz, Buffer.alloc(300 * 1024)]));
      const r = await runCli(['load', padded, '--db', db.url]);
      assert.equal(r.code, 0, r.stderr);
      await same();
      // A second gzip after padding: zlib stops at the padding and would drop it without a word.
      for (const [name, bytes] of [
        ['appended.json.gz', Buffer.concat([gz, Buffer.alloc(512), gz])],
        ['appended-later.json.gz', Buffer.concat([gz, Buffer.alloc(300 * 1024), gz])],
      ] as const) {
        const bad = await runCli(['load', t.file(name, bytes), '--db', db.url]);
        assert.equal(bad.code, 1, `${name}: ${bad.stderr}`);
        assert.match(bad.stderr, new RegExp(`load failed \\[E_PARSE\\]: .*${name.replace(/\./g, '\\.')}: .*not valid gzip: data after the end of the gzip stream that is not zero padding`));
      }
    } finally {
      t.cleanup();
    }
  });
});
