/**
 * orders-etl loads and orders-etl rejects (issue 12), on both warehouses, as a user runs them: the ledger and
 * the quarantined records without knowing a table name, in every output format; the load's summary says
 * where its rejects went; the raw record is cut for the terminal in the table only, and says so.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cutText, redact } from '../src/errors.ts';
import { commandFlags } from '../src/options.ts';
import { ROOT, runBin, runCli, tempDir } from './helpers/run.ts';
import { DIALECTS, type TestWarehouse } from './helpers/warehouses.ts';

const INITIAL = join(ROOT, 'fixtures', 'orders_initial.json');
const LONG = 'x'.repeat(300);

for (const dialect of DIALECTS) describe(`orders-etl loads and rejects on ${dialect.name}`, () => {
  let db: TestWarehouse;
  const files = tempDir();
  let mixed: string;
  let lines: string[];
  let summary: string;

  before(async () => {
    db = await dialect.fresh();
    assert.equal((await runCli(['load', INITIAL, '--db', db.url])).code, 0);
    lines = [
      JSON.stringify({ sku: 'A', note: LONG }),
      JSON.stringify({ order_id: 'M1', order_date: '2024-02-01', customer: { customer_id: 'C9' }, products: [] }),
      JSON.stringify({ order_id: 'M2', order_date: 'someday', customer: { customer_id: 'C9' }, products: [] }),
    ];
    mixed = files.file('mixed.ndjson', lines.join('\n'));
    const r = await runCli(['load', mixed, '--db', db.url]);
    assert.equal(r.code, 0, r.stderr);
    summary = r.stderr;
    assert.equal((await runCli(['load', files.file('broken.json', '[{"order_id": 1,'), '--db', db.url])).code, 1);
  });
  after(async () => {
    await db.drop();
    files.cleanup();
  });

  it('says in the load summary where the rejected records went', () => {
    assert.match(summary, /rejected 2 \(see them: orders-etl rejects --load 2 --db '?(mysql|duckdb):\S+\)\n/);
  });

  it('lists the ledger, newest first, with status, source, times, counts and the error', async () => {
    const table = await runCli(['loads', '--db', db.url]);
    assert.equal(table.code, 0, table.stderr);
    const out = table.stdout.trimEnd().split('\n');
    assert.match(out[0]!, /^load_id \| status +\| source_uri +\| started_at +\| finished_at +\| records_committed \| orders \| fact_rows \| rejected \| customers_inserted \|/);
    assert.match(out[2]!, /^ +3 \| failed +\| ….*\/broken\.json +\| \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \| \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \| +0 \|/);
    assert.match(out[4]!, /^ +1 \| completed \| .*orders_initial\.json/);
    assert.match(out.at(-2)!, /^\(3 rows\)$/);
    assert.match(out.at(-1)!, /^\(source_uri, error cut to fit the terminal where marked …; --json or --csv give them whole\)$/);

    const json = await runCli(['loads', '--db', db.url, '--json']);
    const rows = json.stdout.trimEnd().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(rows.map((r) => [r.load_id, r.status, r.records_committed, r.orders, r.fact_rows, r.rejected]), [
      [3, 'failed', 0, 0, 0, 0],
      [2, 'completed', 3, 1, 0, 2],
      [1, 'completed', 5, 5, 7, 0],
    ]);
    assert.match(rows[0].error, /broken\.json: .*truncated/);
    assert.match(rows[1].started_at, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    assert.equal(rows[1].error, null);

    const csv = await runCli(['loads', '--db', db.url, '--csv']);
    assert.match(csv.stdout, /^load_id,status,source_uri,started_at,finished_at,records_committed,orders,fact_rows,rejected,/);
    assert.equal(csv.stdout.trimEnd().split('\n').length, 4);
  });

  it('lists the rejects of a load: record index, byte offset, reason, the raw record cut in the table only', async () => {
    const table = await runCli(['rejects', '--load', '2', '--db', db.url]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^load_id \| record_index \| byte_offset \| reason +\| raw +\| source_uri/);
    assert.match(table.stdout, /\n +2 \| +0 \| +0 \| order_id: [^|]*\| \{"sku":"A","note":"x+… \|/);
    assert.match(table.stdout, /\n +2 \| +2 \| +\d+ \| order_date: "someday" is not a date/);
    assert.match(table.stdout, /\(2 rows\)\n\(reason, raw(, source_uri)? cut to fit the terminal where marked …; --json or --csv give them whole\)\n$/);

    const json = await runCli(['rejects', '--load', '2', '--db', db.url, '--json']);
    const rows = json.stdout.trimEnd().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(rows.map((r) => [r.load_id, r.record_index, r.byte_offset]), [[2, 0, 0], [2, 2, lines[0]!.length + lines[1]!.length + 2]]);
    assert.equal(rows[0].raw, JSON.stringify({ sku: 'A', note: LONG }), 'whole in --json');
    const csv = await runCli(['rejects', '--db', db.url, '--csv']);
    assert.ok(csv.stdout.includes(LONG), 'whole in --csv');

    const none = await runCli(['rejects', '--load', '1', '--db', db.url]);
    assert.equal(none.stdout.trimEnd().split('\n').at(-1), '(0 rows)');
  });

  it('refuses a --load that is not a load id (exit 2), and says "loads failed" and "rejects failed" for a warehouse that is not there', async () => {
    for (const bad of ['0', 'abc', '-1', '1.5']) {
      const r = await runCli(['rejects', '--load', bad, '--db', db.url]);
      assert.equal(r.code, 2, bad);
      assert.equal(r.stderr, `orders-etl: --load: ${JSON.stringify(bad)} is not allowed; expected an integer from 1 to 9007199254740991\n`);
    }
    const t = tempDir();
    try {
      const missing = await runCli(['loads', '--db', `duckdb:${join(t.dir, 'nothing.duckdb')}`]);
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /^orders-etl: loads failed \[E_DB\]: no warehouse at .*nothing\.duckdb/);
      const none = await runCli(['rejects', '--db', `duckdb:${join(t.dir, 'nothing.duckdb')}`]);
      assert.equal(none.code, 1);
      assert.match(none.stderr, /^orders-etl: rejects failed \[E_DB\]: no warehouse at .*nothing\.duckdb/);
    } finally {
      t.cleanup();
    }
  });

  it('shows the --format and --records-path a source was read with (read_with); reads, and on init migrates, a ledger made before that column', async () => {
    const order = (id: string) => ({ order_id: id, order_date: '2024-02-01', customer: { customer_id: 'C9' }, products: [] });
    const wrapped = files.file('wrapped.json', JSON.stringify({ 'my data': { orders: [order('W1')] } }));
    const jsonLines = files.file('lines.txt', `${JSON.stringify(order('L1'))}\n${JSON.stringify(order('L2'))}\n`);
    for (const args of [[wrapped, '--records-path', 'my data.orders'], [jsonLines, '--format', 'ndjson']]) {
      const r = await runCli(['load', ...args, '--db', db.url]);
      assert.equal(r.code, 0, r.stderr);
    }
    const ledger = async () => {
      const r = await runCli(['loads', '--db', db.url, '--json']);
      assert.equal(r.code, 0, r.stderr);
      return r.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    };
    assert.deepEqual((await ledger()).map((r) => [r.load_id, r.read_with]), [[5, '--format ndjson'], [4, "--records-path 'my data.orders'"], [3, null], [2, null], [1, null]]);
    const table = await runCli(['loads', '--db', db.url]);
    assert.match(table.stdout.split('\n')[0]!, /\| error +\| read_with$/);

    // As an earlier version left it: the ledger is shown without the column, and the next init or load adds it.
    await db.query('ALTER TABLE etl_loads DROP COLUMN read_with');
    const old = await ledger();
    assert.equal(old.length, 5);
    assert.ok(!('read_with' in old[0]!));
    const init = await runCli(['init', '--db', db.url]);
    assert.equal(init.code, 0, init.stderr);
    assert.deepEqual((await ledger()).map((r) => r.read_with), [null, null, null, null, null]);

    // A load that an earlier version started and did not finish: resumed, it records how the source is read.
    await db.query("UPDATE etl_loads SET status = 'failed' WHERE load_id = 5");
    const resumed = await runCli(['load', jsonLines, '--format', 'ndjson', '--db', db.url]);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.deepEqual((await ledger()).map((r) => [r.load_id, r.status, r.read_with]), [[5, 'completed', '--format ndjson'], [4, 'completed', null], [3, 'failed', null], [2, 'completed', null], [1, 'completed', null]]);
  });

  if (dialect.name === 'mysql') {
    it('indexes the ledger by source name, and on init adds the index to a ledger made before it', async () => {
      // A load asks of every source the ledger holds whether its name was loaded since with other content: by
      // a scan of the later loads without the index (a re-run of a prefix of 100,000 objects: 17 minutes).
      const uriIndex = async () => (await db.query("SELECT COLUMN_NAME AS c FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'etl_loads' AND INDEX_NAME = 'ix_etl_loads_uri' ORDER BY SEQ_IN_INDEX")).map((r) => r.c);
      assert.deepEqual(await uriIndex(), ['source_uri', 'load_id']);
      await db.query('ALTER TABLE etl_loads DROP KEY ix_etl_loads_uri');
      const init = await runCli(['init', '--db', db.url]);
      assert.equal(init.code, 0, init.stderr);
      assert.deepEqual(await uriIndex(), ['source_uri', 'load_id']);
    });
  }
});

describe('the commands the messages suggest, pasted into a shell', () => {
  /** `command` as a POSIX shell splits it into words. */
  const words = (command: string): string[] => execFileSync('sh', ['-c', `printf '%s\\0' ${command}`]).toString('utf8').split('\0').slice(0, -1);

  it('name the warehouse as --db gave it, credentials as placeholders, with --db-ssl-ca; nothing when it came from the environment', () => {
    const secret = 's3cret-do-not-print';
    const flags = commandFlags(`mysql://etl:${secret}@db.example:3306/shop?ssl-mode=VERIFY_CA`, '/etc/ssl/our ca.pem');
    assert.equal(flags, " --db 'mysql://<user>:<password>@db.example:3306/shop?ssl-mode=VERIFY_CA' --db-ssl-ca '/etc/ssl/our ca.pem'");
    assert.equal(commandFlags('mysql://etl@db.example/shop', undefined), " --db 'mysql://<user>:<password>@db.example/shop'");
    assert.equal(commandFlags('mysql://db.example/shop', undefined), ' --db mysql://db.example/shop');
    assert.equal(commandFlags('duckdb:./w.duckdb', undefined), ` --db duckdb:${join(process.cwd(), 'w.duckdb')}`);
    assert.equal(commandFlags(undefined, undefined), '');
    // Passwords with @ or a space, as the driver takes them (up to the last @): none of it shown, here or by redact().
    for (const url of [`mysql://etl:p@${secret}@db.example/shop`, `mysql://etl:p ${secret}@db.example/shop`]) {
      assert.equal(commandFlags(url, undefined), " --db 'mysql://<user>:<password>@db.example/shop'");
      assert.equal(redact(`cannot connect to ${url}: refused`), 'cannot connect to mysql://***:***@db.example/shop: refused');
    }
    // Only a MySQL URL has credentials: a DuckDB path with an @ is a path.
    assert.equal(commandFlags('duckdb://me@w.duckdb', undefined), ` --db duckdb:${join(process.cwd(), 'me@w.duckdb')}`);
    // --db from the environment is not repeated; --db-ssl-ca, which no variable holds, is.
    assert.equal(commandFlags(undefined, '/etc/ca.pem'), ' --db-ssl-ca /etc/ca.pem');
  });

  it("quote a warehouse path with a space and a quote, in the summary's hint and in E_ALL_REJECTED's", async () => {
    const t = tempDir();
    try {
      mkdirSync(join(t.dir, "it's a dir"));
      const location = `duckdb:${join(t.dir, "it's a dir", 'w.duckdb')}`;
      const mixed = t.file('mixed.ndjson', '{"sku": "A"}\n{"order_id": "M1", "order_date": "2024-02-01", "customer": {"customer_id": "C9"}, "products": []}\n');
      const loaded = await runCli(['load', mixed, '--db', location]);
      assert.equal(loaded.code, 0, loaded.stderr);
      const hint = /\(see them: (orders-etl rejects .*)\)\n/.exec(loaded.stderr)?.[1];
      const failed = await runCli(['load', t.file('items.ndjson', '{"sku": "B"}\n'), '--db', location]);
      assert.equal(failed.code, 1, failed.stderr);
      const hint2 = /see them with (orders-etl rejects .*)\n$/.exec(failed.stderr)?.[1];
      // The ledger keeps the same message, the command as pasteable as on stderr.
      const ledger = await runCli(['loads', '--db', location, '--json']);
      const failedLoad = ledger.stdout.trimEnd().split('\n').map((l) => JSON.parse(l)).find((r) => r.load_id === 2);
      assert.ok(failedLoad?.error?.endsWith(`see them with ${hint2}`), `${failedLoad?.error}`);
      // From ORDERS_ETL_DB, the warehouse is not repeated: the pasted command finds it the same way.
      const fromEnv = await runCli(['load', mixed, '--force'], { ORDERS_ETL_DB: location });
      assert.equal(fromEnv.code, 0, fromEnv.stderr);
      assert.match(fromEnv.stderr, /\(see them: orders-etl rejects --load 3\)\n/);
      for (const [command, load, reason] of [[hint, '1', /^order_id: /], [hint2, '2', /^order_id: /]] as const) {
        assert.ok(command, loaded.stderr + failed.stderr);
        const argv = words(command);
        assert.deepEqual(argv.slice(0, 5), ['orders-etl', 'rejects', '--load', load, '--db']);
        assert.equal(argv[5], location);
        const shown = await runCli([...argv.slice(1), '--json']);
        assert.equal(shown.code, 0, shown.stderr);
        const rows = shown.stdout.trimEnd().split('\n').map((l) => JSON.parse(l));
        assert.equal(rows.length, 1);
        assert.match(rows[0].reason, reason);
      }
    } finally {
      t.cleanup();
    }
  });
});

for (const dialect of DIALECTS) describe(`the ledger's times on ${dialect.name}`, () => {
  it('are UTC whatever the time zone of the process that loaded (MySQL: the session is +00:00)', async () => {
    const db = await dialect.fresh();
    const t = tempDir();
    try {
      const file = t.file('mixed.ndjson', [JSON.stringify({ order_id: 'Z1', order_date: 'someday', customer: { customer_id: 'C1' }, products: [] }), JSON.stringify({ order_id: 'Z2', order_date: '2024-02-01', customer: { customer_id: 'C1' }, products: [] })].join('\n'));
      // A process of its own: DuckDB reads the local time zone once per process. UTC-10 all year (no summer time).
      const before = Date.now();
      const r = await runBin(['load', file, '--db', db.url, '--no-progress'], { env: { TZ: 'Pacific/Honolulu' } });
      assert.equal(r.code, 0, r.stderr);
      const [row] = await db.query<any>(`SELECT ${['started_at', 'updated_at', 'finished_at'].map((c) => `CAST(${c} AS ${dialect.name === 'mysql' ? 'CHAR' : 'VARCHAR'}) AS ${c}`).join(', ')} FROM etl_loads`);
      const [reject] = await db.query<any>(`SELECT CAST(rejected_at AS ${dialect.name === 'mysql' ? 'CHAR' : 'VARCHAR'}) AS rejected_at FROM etl_rejects`);
      for (const [column, value] of Object.entries({ ...row, ...reject })) {
        const at = Date.parse(`${String(value).replace(' ', 'T')}Z`);
        assert.ok(at >= before - 60_000 && at <= Date.now() + 60_000, `${column} ${value} is not the UTC time of the load (${new Date(before).toISOString()})`);
      }
    } finally {
      await db.drop();
      t.cleanup();
    }
  });
});

describe('text cut to fit a column (reasons, errors, raw records)', () => {
  it('never splits a surrogate pair: a reason of emoji cut at 1,024 units ends on a whole one, not U+FFFD', () => {
    assert.equal(cutText('abc', 5), 'abc');
    assert.equal(cutText('abc', 2), 'ab');
    assert.equal(cutText('a😀', 2), 'a');
    assert.equal(cutText('😀😀', 3), '😀');
    const reason = `total_amount: "${'😀'.repeat(600)}" is not a decimal amount`;
    const cut = cutText(reason, 1024);
    assert.ok(cut.isWellFormed() && reason.startsWith(cut) && cut.length >= 1023, `${cut.length} units`);
  });
});
