/**
 * `orders-etl query` as a user runs it, on both warehouses (issue 12): rows streamed in bounded memory in
 * every format (measured on the real process), one rule for JSON numbers, RFC 4180 CSV, a table padded by
 * display width with a bounded preview, "query failed" errors, and a read-only session that creates nothing:
 * a missing warehouse is an error naming it.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { generate } from '../bench/generate.ts';
import { adminConnection, privateServerOnly, withPrivateGlobal } from './helpers/mysql.ts';
import { startCountingProxy, startQueryCutProxy } from './helpers/mysql-proxy.ts';
import { BIN, ROOT, runBin, runCli, tempDir } from './helpers/run.ts';
import { DIALECTS, type TestWarehouse } from './helpers/warehouses.ts';

const INITIAL = join(ROOT, 'fixtures', 'orders_initial.json');
const INCREMENTAL = join(ROOT, 'fixtures', 'orders_incremental.json');

/** Terminal columns, written independently of src/cli/width.ts for the characters these tests use. */
function columnsOf(s: string): number {
  let w = 0;
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (cp >= 0x300 && cp <= 0x36f) continue; // combining accents
    w += (cp >= 0x3040 && cp <= 0x30ff) || (cp >= 0x4e00 && cp <= 0x9fff) || cp === 0x1f375 || cp === 0x1f600 ? 2 : 1;
  }
  return w;
}

/** The display columns at which a table line has its ' | ' separators. */
function separators(line: string): number[] {
  const at: number[] = [];
  const parts = line.split(' | ');
  let col = 0;
  for (const p of parts.slice(0, -1)) {
    col += columnsOf(p);
    at.push(col);
    col += 3;
  }
  return at;
}

/** The engine's peak RSS in MB, as the bin reports it with ORDERS_ETL_REPORT_RSS=1. */
function peakRss(stderr: string): number {
  const m = /orders-etl: peak RSS (\d+) MB/.exec(stderr);
  assert.ok(m, `no peak RSS in: ${stderr}`);
  return Number(m[1]);
}

/** `orders-etl query sql --db url` running: the child, its exit (code, signal), and its stderr so far. */
function spawnQuery(sql: string, url: string) {
  const child = spawn(process.execPath, [BIN, 'query', sql, '--db', url], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  return { child, exited, stderr: () => stderr };
}

/** MySQL: the threads of other sessions whose statement holds `marker` (a comment in it). */
async function serverThreads(marker: string): Promise<number[]> {
  const admin = await adminConnection();
  try {
    const [rows] = await admin.query('SELECT ID FROM information_schema.PROCESSLIST WHERE INFO LIKE ? AND ID <> CONNECTION_ID()', [`%${marker}%`]);
    return (rows as { ID: number }[]).map((r) => Number(r.ID));
  } finally {
    await admin.end();
  }
}

/** MySQL: stops the statements of these threads (a test's own, left running by a failure). */
async function stopThreads(ids: number[]): Promise<void> {
  for (const id of ids) {
    const admin = await adminConnection();
    await admin.query('KILL QUERY ?', [id]).finally(() => admin.end());
  }
}

for (const dialect of DIALECTS) describe(`orders-etl query on ${dialect.name}`, () => {
  let db: TestWarehouse;
  let big: TestWarehouse;
  const files = tempDir();

  before(async () => {
    db = await dialect.fresh();
    const odd = files.file('odd.json', JSON.stringify([
      { order_id: 'Z1', order_date: '2024-05-01', total_amount: 3, customer: { customer_id: 'E1', name: 'Zoë 😀 e\u0301', email: 'a,"b"\nc' }, products: [{ product_id: 'T1', name: 'Tea 🍵', price: 1.5, quantity: 2 }] },
      { order_id: 'Z2', order_date: '2024-05-02', total_amount: 0, customer: { customer_id: 'E2', name: '', email: null }, products: [{ product_id: 'T1', name: 'Tea 🍵', price: 1.5, quantity: 1 }] },
    ]));
    for (const f of [INITIAL, INCREMENTAL, odd]) assert.equal((await runCli(['load', f, '--db', db.url])).code, 0);
    big = await dialect.fresh();
    const gen = join(files.dir, 'gen.json');
    await generate(gen, { orders: 2000, customers: 300, products: 200, ids: 'string', style: 'compact', seed: 12 });
    assert.equal((await runCli(['load', gen, '--db', big.url])).code, 0);
  });
  after(async () => {
    await db.drop();
    await big.drop();
    files.cleanup();
  });

  it('prints a table padded by display width: CJK, emoji and combining accents stay aligned', async () => {
    const r = await runCli(['query', 'SELECT c.name, c.customer_id, c.email, COUNT(*) AS n FROM customers c JOIN orders o ON o.customer_sk = c.customer_sk GROUP BY c.name, c.customer_id, c.email ORDER BY c.customer_id', '--db', db.url]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    assert.ok(lines.some((l) => l.includes('山田 花子')) && lines.some((l) => l.includes('Zoë 😀')), r.stdout);
    const header = separators(lines[0]!);
    for (const line of lines.slice(2, -1)) assert.deepEqual(separators(line), header, `${line}\n${r.stdout}`);
    assert.match(lines.at(-1)!, /^\(7 rows\)$/);
    // NULL spelled out, an empty string empty, a newline escaped.
    assert.match(r.stdout, /\n {15}\| E2 {10}\| NULL +\| 1\n/);
    assert.match(r.stdout, /\| a,"b"\\nc +\|/);
  });

  it('keeps the header on one line when a column name holds a line break (MySQL names an expression by its text)', async () => {
    const r = await runCli(['query', 'SELECT customer_sk,\n  SUM(quantity *\n      2) FROM orders GROUP BY customer_sk ORDER BY customer_sk LIMIT 2', '--db', db.url]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    assert.equal(lines.length, 2 + 2 + 1, r.stdout);
    assert.match(lines[1]!, /^-+-\+-+$/);
    assert.deepEqual(separators(lines[2]!), separators(lines[0]!), r.stdout);
    if (dialect.name === 'mysql') assert.match(lines[0]!, /^customer_sk \| SUM\(quantity \*\\n {6}2\)$/);
  });

  it('shows a bounded preview of a long result and says how many rows it left out', async () => {
    const r = await runCli(['query', 'SELECT order_id, line_no FROM orders ORDER BY order_id, line_no', '--db', big.url]);
    assert.equal(r.code, 0, r.stderr);
    const total = Number((await big.query<{ n: unknown }>('SELECT COUNT(*) AS n FROM orders'))[0]!.n);
    assert.ok(total > 1000);
    assert.equal(r.stdout.trimEnd().split('\n').length, 2 + 1000 + 1);
    assert.match(r.stdout, new RegExp(`\\n… ${(total - 1000).toLocaleString('en-US')} more rows not shown \\(${total.toLocaleString('en-US')} in all\\); use --csv or --json for all\\n$`));
  });

  it('gives the same JSON lines on both warehouses: integers and exact decimals as numbers, dates as text', async () => {
    const r = await runCli(['query', `SELECT COUNT(*) AS n, SUM(quantity) AS items, MAX(total_amount) AS top, MIN(total_amount) AS low,
        MIN(order_date) AS first, MAX(product_sk) AS sk FROM orders`, '--db', db.url, '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '{"n":13,"items":22,"top":119.00,"low":0.00,"first":"2024-03-01","sk":6}\n');
    const rows = await runCli(['query', "SELECT customer_id, name, email FROM customers WHERE customer_id IN ('E1', 'E2') ORDER BY customer_id", '--db', db.url, '--json']);
    assert.deepEqual(rows.stdout.trimEnd().split('\n').map((l) => JSON.parse(l)), [
      { customer_id: 'E1', name: 'Zoë 😀 e\u0301', email: 'a,"b"\nc' },
      { customer_id: 'E2', name: '', email: null },
    ]);
  });

  it('writes a FLOAT (REAL) as the shortest decimal of its single-precision value, not of the double it widens to', async () => {
    const sql = 'SELECT CAST(0.1 AS FLOAT) AS a, CAST(123.456 AS FLOAT) AS b, CAST(0.5 AS FLOAT) AS c';
    const json = await runCli(['query', sql, '--db', db.url, '--json']);
    assert.equal(json.code, 0, json.stderr);
    assert.equal(json.stdout, '{"a":0.1,"b":123.456,"c":0.5}\n');
    assert.equal((await runCli(['query', sql, '--db', db.url, '--csv'])).stdout, 'a,b,c\n0.1,123.456,0.5\n');
    // One single-precision value in about 70 needs 9 digits (MariaDB writes a FLOAT with 6: DuckDB only).
    if (dialect.name === 'duckdb') {
      const nine = await runCli(['query', 'SELECT CAST(1.00234426e-23 AS FLOAT) AS a, CAST(0.000120696764 AS FLOAT) AS b', '--db', db.url, '--json']);
      assert.equal(nine.code, 0, nine.stderr);
      assert.equal(nine.stdout, '{"a":1.00234426e-23,"b":0.00012069677}\n');
    }
  });

  it('gives is_current as a boolean on both warehouses (MySQL keeps it as TINYINT(1), its BOOLEAN)', async () => {
    const h = await dialect.fresh();
    try {
      assert.equal((await runCli(['init', '--db', h.url, '--history', 'customers'])).code, 0);
      assert.equal((await runCli(['load', INITIAL, '--db', h.url])).code, 0);
      const sql = 'SELECT is_current, COUNT(*) AS n FROM customers GROUP BY is_current ORDER BY is_current';
      const json = await runCli(['query', sql, '--db', h.url, '--json']);
      assert.equal(json.code, 0, json.stderr);
      const rows = json.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as { is_current: unknown });
      assert.ok(rows.length > 0 && rows.every((r) => typeof r.is_current === 'boolean'), json.stdout);
      const csv = await runCli(['query', sql, '--db', h.url, '--csv']);
      assert.match(csv.stdout, /^is_current,n\n(false,\d+\n)?true,\d+\n$/);
      if (dialect.name !== 'mysql') return;
      // A TINYINT(1) holds other numbers too: those stay numbers; another integer column is no boolean.
      await h.query('CREATE TABLE flags (b TINYINT(1) NULL, n TINYINT NULL)');
      await h.query('INSERT INTO flags VALUES (0, 0), (1, 1), (2, 2), (NULL, NULL)');
      const flags = await runCli(['query', 'SELECT b, n FROM flags ORDER BY n IS NULL, n', '--db', h.url, '--json']);
      assert.equal(flags.stdout, '{"b":false,"n":0}\n{"b":true,"n":1}\n{"b":2,"n":2}\n{"b":null,"n":null}\n');
    } finally {
      await h.drop();
    }
  });

  it('writes CSV by RFC 4180: a header, quotes where needed, NULL empty and an empty string ""', async () => {
    const r = await runCli(['query', "SELECT customer_id, name, email, customer_sk FROM customers WHERE customer_id IN ('E1', 'E2') ORDER BY customer_id", '--db', db.url, '--csv']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'customer_id,name,email,customer_sk\nE1,Zoë 😀 e\u0301,"a,""b""\nc",6\nE2,"",,7\n');
    const both = await runCli(['query', 'SELECT 1', '--db', db.url, '--csv', '--json']);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /^orders-etl: --json and --csv: give one of them, not both\n/);
  });

  it('says "query failed" for SQL the warehouse refuses, and cannot change data', async () => {
    const bad = await runCli(['query', 'SELECT nope FROM nowhere', '--db', db.url]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^orders-etl: query failed \[E_DB\]: cannot run the query on /);
    const write = await runCli(['query', 'DELETE FROM orders', '--db', db.url]);
    assert.equal(write.code, 1);
    assert.match(write.stderr, /^orders-etl: query failed \[E_DB\]: .*(read.only|READ ONLY|read-only|one statement that reads)/i);
    assert.equal(Number((await db.query<{ n: unknown }>('SELECT COUNT(*) AS n FROM orders'))[0]!.n), 13);
    // One statement: DuckDB once ran them all and showed the last one's result; an empty text failed inside it.
    const two = await runCli(['query', 'SELECT 1; SELECT 2', '--db', db.url]);
    assert.equal(two.code, 1, two.stdout);
    assert.equal(two.stdout, '');
    assert.match(two.stderr, dialect.name === 'duckdb' ? /^orders-etl: query failed \[E_DB\]: query takes one SQL statement; this text has 2/ : /^orders-etl: query failed \[E_DB\]: /);
    const empty = await runCli(['query', '  ', '--db', db.url]);
    assert.equal(empty.code, 2);
    assert.match(empty.stderr, /^orders-etl: query: the SQL is empty/);
    if (dialect.name !== 'duckdb') {
      // A READ ONLY transaction refuses writes to tables, not statements that act elsewhere: once INTO OUTFILE
      // wrote a file on the server and SET GLOBAL changed it (exit 0). Only statements that read run.
      const refused = [
        ["SELECT customer_id INTO OUTFILE '/tmp/orders-etl-never.txt' FROM customers", /INTO \(a file, a variable\) is not taken/],
        ['SELECT 1--1 INTO @x', /INTO/], // `--` before a digit is arithmetic in MySQL, not a comment
        ['/* a note */ SET GLOBAL max_connections = 151', /this one starts with SET/],
        ['FLUSH PRIVILEGES', /this one starts with FLUSH/],
        ['SET SESSION TRANSACTION READ WRITE', /this one starts with SET/],
        ['SELECT 1 /*!50000 INTO @x */', /executable comment/],
        ['/* nothing */', /this text has none/],
      ] as const;
      for (const [sql, why] of refused) {
        const r = await runCli(['query', sql, '--db', db.url]);
        assert.equal(r.code, 1, `${sql}: ${r.stdout}`);
        assert.match(r.stderr, /^orders-etl: query failed \[E_DB\]: query runs one statement that reads \(SELECT, WITH, SHOW, DESCRIBE, EXPLAIN, TABLE, VALUES\); /, sql);
        assert.match(r.stderr, why, sql);
      }
      // What reads runs, INTO in a string, an identifier or a comment included.
      for (const sql of [
        "(SELECT 'INTO OUTFILE' AS `into`) UNION ALL (SELECT 'x') -- INTO",
        '# a note\nWITH n AS (SELECT COUNT(*) AS c FROM orders) SELECT c FROM n',
        'SHOW TABLES',
        'DESCRIBE customers',
        'EXPLAIN SELECT * FROM orders',
      ]) {
        const r = await runCli(['query', sql, '--db', db.url]);
        assert.equal(r.code, 0, `${sql}: ${r.stderr}`);
      }
      return;
    }
    // DuckDB's SQL reaches files beyond the warehouse: another warehouse by ATTACH, any file by COPY TO, EXPORT
    // DATABASE or read_csv. Once they all ran (the warehouse itself overwritten by a COPY TO its own path).
    const t = tempDir();
    try {
      const path = db.url.replace(/^duckdb:/, '');
      const other = t.file('other.csv', 'a\n1\n');
      const copy = t.file('copy.duckdb', readFileSync(path));
      for (const sql of [
        `ATTACH '${copy}' AS x (READ_WRITE)`,
        `COPY (SELECT 1) TO '${path}' (FORMAT csv)`,
        `COPY (SELECT 1) TO '${join(t.dir, 'out.csv')}' (FORMAT csv)`,
        `EXPORT DATABASE '${join(t.dir, 'export')}'`,
        `SELECT * FROM read_csv('${other}')`,
        'SET enable_external_access = true',
      ]) {
        const r = await runCli(['query', sql, '--db', db.url]);
        assert.equal(r.code, 1, `${sql}: ${r.stdout}`);
        assert.match(r.stderr, /^orders-etl: query failed \[E_DB\]: /, sql);
      }
      assert.ok(!existsSync(join(t.dir, 'out.csv')) && !existsSync(join(t.dir, 'export')));
      assert.equal(Number((await db.query<{ n: unknown }>('SELECT COUNT(*) AS n FROM orders'))[0]!.n), 13);
    } finally {
      t.cleanup();
    }
  });

  it('streams every format in bounded memory: 100,000 rows take no more than 2,000 (a real process)', async () => {
    // Rows made by a cross join of the fact table with part of itself, as wide as the fact table.
    const sql = (copies: number) => `SELECT o.*, c.order_id AS copy FROM orders o CROSS JOIN (SELECT order_id FROM orders ORDER BY order_id LIMIT ${copies}) c`;
    const factRows = Number((await big.query<{ n: unknown }>('SELECT COUNT(*) AS n FROM orders'))[0]!.n);
    const many = Math.ceil(100_000 / factRows);
    for (const format of ['--json', '--csv', null]) {
      const args = (copies: number) => ['query', sql(copies), '--db', big.url, ...(format ? [format] : [])];
      const env = { ORDERS_ETL_REPORT_RSS: '1' };
      const small = await runBin(args(1), { env });
      const large = await runBin(args(many), { env });
      assert.equal(small.code, 0, small.stderr);
      assert.equal(large.code, 0, large.stderr);
      if (format === '--json') assert.equal(large.stdout.split('\n').length - 1, factRows * many);
      if (format === '--csv') assert.equal(large.stdout.split('\n').length - 2, factRows * many);
      if (!format) assert.match(large.stdout, /more rows not shown/);
      const [a, b] = [peakRss(small.stderr), peakRss(large.stderr)];
      if (process.env.ORDERS_ETL_TEST_VERBOSE) console.log(`${dialect.name} ${format ?? 'table'}: peak RSS ${a} MB for ${factRows} rows, ${b} MB for ${factRows * many}`);
      assert.ok(b - a < 40, `${format ?? 'table'}: peak RSS ${a} MB for ${factRows} rows, ${b} MB for ${factRows * many}`);
    }
  });

  it('ends quietly with exit 0 when the reader goes away, as in orders-etl query ... | head -1', async () => {
    const sql = "SELECT o.*, c.order_id AS copy, REPEAT('x', 200) AS pad FROM orders o CROSS JOIN (SELECT order_id FROM orders ORDER BY order_id LIMIT 40) c";
    // The table writes once, at its end: the news that the reader went away may come after it has (that once
    // crashed the engine's worker with the EPIPE nobody listened for any more: exit 1 and a stack trace).
    for (const [format, start] of [['--json', /^\{"order_id":/], ['--csv', /^order_id,/], [null, /^order_id +\|/]] as const) {
      const child = spawn(process.execPath, [BIN, 'query', sql, '--db', big.url, ...(format ? [format] : [])], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      const [first] = (await once(child.stdout, 'data')) as [Buffer];
      assert.match(first.toString(), start);
      child.stdout.destroy();
      const [code] = (await once(child, 'exit')) as [number | null];
      assert.equal(code, 0, `${format ?? 'table'}: ${stderr}`);
      assert.equal(stderr, '', format ?? 'table');
    }
  });

  if (dialect.name === 'mysql') it('waits for a reader that pauses longer than the server\'s net_write_timeout (orders-etl query ... | less)', { skip: privateServerOnly('this test changes the global net_write_timeout') }, async () => {
    const sql = "SELECT o.*, REPEAT('x', 200) AS pad FROM orders o CROSS JOIN (SELECT order_id FROM orders ORDER BY order_id LIMIT 40) c";
    const rows = Number((await big.query<{ n: unknown }>('SELECT COUNT(*) * 40 AS n FROM orders'))[0]!.n);
    // The session takes the global value when it connects: 2 s, where a reader paging through less takes minutes.
    await withPrivateGlobal('net_write_timeout', 2, async () => {
      const child = spawn(process.execPath, [BIN, 'query', sql, '--db', big.url, '--csv'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      const exited = once(child, 'exit') as Promise<[number | null]>;
      let lines = 0;
      const count = (d: Buffer) => {
        for (let i = d.indexOf(10); i >= 0; i = d.indexOf(10, i + 1)) lines++;
      };
      count(((await once(child.stdout, 'data')) as [Buffer])[0]);
      child.stdout.pause();
      await new Promise((r) => setTimeout(r, 5000));
      child.stdout.on('data', count).resume();
      const [code] = await exited;
      assert.equal(code, 0, stderr);
      assert.equal(stderr, '');
      assert.equal(lines, rows + 1);
    });
  });

  it('takes SQL that starts with a comment or a minus sign, before or after its flags (no flag holds white space)', async () => {
    for (const args of [['-- the fact rows\nSELECT COUNT(*) AS n FROM orders', '--csv'], ['--csv', '/* n */ -- the fact rows\nSELECT COUNT(*) AS n FROM orders']]) {
      const r = await runCli(['query', ...args, '--db', big.url]);
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stdout, /^n\n[1-9][0-9]*\n$/);
    }
    // Not SQL: the database says so (exit 1), yargs does not refuse it as an unknown flag (exit 2).
    const minus = await runCli(['query', '-1 AS x', '--db', big.url, '--csv']);
    assert.equal(minus.code, 1, minus.stderr);
    assert.match(minus.stderr, /^orders-etl: query failed \[E_DB\]/);
  });

  it('fails with exit 1 and says why when standard output cannot be written (ENOSPC on /dev/full), never aborting', async () => {
    assert.ok(existsSync('/dev/full'), 'this test writes to /dev/full, which this system does not have');
    // Stopping the engine at once while DuckDB's native code ran aborted the process now and then (exit 134).
    for (let i = 0; i < 4; i++) {
      const out = openSync('/dev/full', 'w');
      try {
        const child = spawn(process.execPath, [BIN, 'query', 'SELECT * FROM orders', '--db', big.url, '--csv'], { cwd: ROOT, stdio: ['ignore', out, 'pipe'] });
        let stderr = '';
        child.stderr!.on('data', (d) => (stderr += d));
        const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
        assert.deepEqual([code, signal], [1, null], stderr);
        assert.equal(stderr, 'orders-etl: cannot write to standard output: ENOSPC: no space left on device, write\n');
      } finally {
        closeSync(out);
      }
    }
  });

  it('stops the query on the server on Ctrl-C, SIGTERM or SIGHUP, and ends by that signal without a word', async () => {
    // A server hears that a client went away only when it next writes to it: a query that works before its
    // first row ran on to its end after the process had died (here a minute; a runaway join, for hours).
    const sql = dialect.name === 'mysql' ? 'SELECT /* stop-me */ SLEEP(60) AS s' : 'SELECT COUNT(*) AS n FROM range(1000000000000) a(i)';
    const running = async (): Promise<number[]> => (dialect.name === 'mysql' ? serverThreads('stop-me') : []);
    // Ctrl-C pressed twice ended the process before the statement was stopped.
    for (const [signal, times] of [['SIGINT', 1], ['SIGTERM', 1], ['SIGHUP', 1], ['SIGINT', 2]] as const) {
      const { child, exited, stderr } = spawnQuery(sql, db.url);
      try {
        // Running: on the server, or (DuckDB) for a while.
        for (let i = 0; dialect.name === 'mysql' ? (await running()).length === 0 : i < 10; i++) await new Promise((r) => setTimeout(r, 100));
        const sent = Date.now();
        child.kill(signal);
        // Apart, or the system would deliver them as one.
        if (times === 2) setTimeout(() => child.kill(signal), 5);
        assert.deepEqual(await exited, [null, signal], stderr());
        assert.ok(Date.now() - sent < 2500, `${signal} x${times}: ended after ${Date.now() - sent} ms`);
        assert.equal(stderr(), '', signal);
        assert.deepEqual(await running(), [], `${signal} x${times}: the query still runs on the server`);
      } finally {
        child.kill('SIGKILL');
        await stopThreads(await running());
      }
    }
  });

  if (dialect.name === 'mysql') {
    it('stops on Ctrl-C a statement the server lists otherwise than it was typed: a trailing semicolon, white space around it, an emoji', async () => {
      // The server lists a statement trimmed of leading white space and trailing semicolons, and a character
      // outside the BMP as question marks (PROCESSLIST is utf8mb3): compared by its text, none was stopped.
      const running = () => serverThreads('stop-me-typed');
      for (const sql of ['SELECT /* stop-me-typed */ SLEEP(60) AS s;', '\n  SELECT /* stop-me-typed */ SLEEP(60) AS s \n', "SELECT /* stop-me-typed */ SLEEP(60) AS s, '\u{1F600}' AS e"]) {
        const { child, exited, stderr } = spawnQuery(sql, db.url);
        try {
          while ((await running()).length === 0) await new Promise((r) => setTimeout(r, 100));
          child.kill('SIGINT');
          assert.deepEqual(await exited, [null, 'SIGINT'], stderr());
          assert.deepEqual(await running(), [], `${JSON.stringify(sql)}: the query still runs on the server`);
        } finally {
          child.kill('SIGKILL');
          await stopThreads(await running());
        }
      }
    });

    it('stops on Ctrl-C only a thread that runs its statement: behind a proxy, the id it was given may be another session', async () => {
      // ProxySQL and MaxScale give a client an id of their own, which may be some other session's thread on the
      // server: KILL QUERY of that id would stop a stranger's statement.
      const victim = await adminConnection();
      const proxy = await startCountingProxy(db.url, { ownIds: victim.threadId! });
      const sql = 'SELECT /* stop-me-proxied */ SLEEP(60) AS s';
      const ours = () => serverThreads('stop-me-proxied');
      const { child, exited, stderr } = spawnQuery(sql, proxy.url);
      try {
        while ((await ours()).length === 0) await new Promise((r) => setTimeout(r, 100));
        // SLEEP answers 1 when it is stopped, 0 when it ran its time.
        const slept = victim.query('SELECT SLEEP(3) AS s');
        await new Promise((r) => setTimeout(r, 300));
        child.kill('SIGINT');
        assert.deepEqual(await exited, [null, 'SIGINT'], stderr());
        const [rows] = await slept;
        assert.deepEqual(rows, [{ s: 0 }], "another session's statement was stopped");
      } finally {
        child.kill('SIGKILL');
        await stopThreads(await ours());
        await victim.end();
        await proxy.close();
      }
    });
  }

  // mysql2 tells a streaming query nothing when its connection dies under it (only the connection hears of it):
  // the query once waited for rows that never came, until the engine's event loop ran dry and the bin said
  // "internal: the engine stopped before it finished".
  if (dialect.name === 'mysql') it('fails with "query failed [E_DB_CONNECTION]" when the connection dies mid-result: KILLed by the server, or cut', async () => {
    // About a million rows (orders x 200 copies of themselves), a few hundred MB of JSON: far more than is
    // read before the cut, and each way of cutting sees the query still running.
    const sql = "SELECT /* cut-me */ o.*, c.order_id AS copy, REPEAT('x', 200) AS pad FROM orders o CROSS JOIN (SELECT order_id FROM orders ORDER BY order_id LIMIT 200) c";
    const location = (url: string) => `mysql://${new URL(url).host}/${big.mysql!.name}`;
    const cuts: { name: string; url: () => Promise<{ url: string; close(): Promise<void> }>; cut(): Promise<void> }[] = [
      {
        // The server ends the connection (KILL from a second connection) while the client waits for its
        // output to drain: the query is running on the server, its connection paused.
        name: 'KILL',
        url: async () => ({ url: big.url, close: async () => {} }),
        async cut() {
          const admin = await adminConnection();
          try {
            const [rows] = await admin.query("SELECT ID FROM information_schema.PROCESSLIST WHERE INFO LIKE '%cut-me%' AND ID <> CONNECTION_ID()");
            assert.equal((rows as unknown[]).length, 1, 'the query runs on one connection');
            await admin.query(`KILL ${Number((rows as { ID: number }[])[0]!.ID)}`);
          } finally {
            await admin.end();
          }
        },
      },
      {
        // The network closes the connection after 4 MB of the answer (a TCP proxy): past the first rows written.
        name: 'proxy',
        url: () => startQueryCutProxy(big.url, /cut-me/, 1, 4_000_000),
        async cut() {},
      },
    ];
    for (const way of cuts) {
      const target = await way.url();
      try {
        const started = Date.now();
        const child = spawn(process.execPath, [BIN, 'query', sql, '--json', '--db', target.url], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
        let stderr = '';
        let out = 0;
        child.stderr.on('data', (d) => (stderr += d));
        const exited = once(child, 'exit') as Promise<[number | null]>;
        const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
        try {
          // Rows have been written: the query is past its columns (a retry now would write them twice).
          const first = await new Promise<Buffer>((resolve, reject) => {
            child.stdout.once('data', resolve);
            child.stdout.once('end', () => reject(new Error(`${way.name}: no output: ${stderr}`)));
          });
          out += first.length;
          child.stdout.pause();
          await way.cut();
          child.stdout.on('data', (d: Buffer) => (out += d.length)).resume();
          const [code] = await exited;
          assert.equal(code, 1, `${way.name}: ${stderr}`);
          assert.equal(stderr, `orders-etl: query failed [E_DB_CONNECTION]: lost ${location(target.url)} while the result was being written: the connection to ${location(target.url)} closed\n`, way.name);
          assert.ok(out > 0 && out < 100_000_000, `${way.name}: ${out} bytes written before the cut`);
          assert.ok(Date.now() - started < 20_000, `${way.name}: ended ${Date.now() - started} ms after it started`);
        } finally {
          clearTimeout(killer);
        }
      } finally {
        await target.close();
      }
    }
  });

  // TCP keepalive after 10 s of silence (mysql/connection.ts) finds a server whose machine no longer answers,
  // which this test cannot make; what it can show is that keepalive is on, and that silence alone, from a
  // server at work, ends nothing.
  if (dialect.name === 'mysql') it('keeps a connection silent for longer than the keepalive delay: the server at work on a statement', { skip: ssMissing() }, async () => {
    const sql = 'SELECT SLEEP(12) AS slept';
    const child = spawn(process.execPath, [BIN, 'query', sql, '--json', '--db', big.url], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const exited = once(child, 'exit') as Promise<[number | null]>;
    const admin = await adminConnection();
    try {
      // The engine's end of the connection, by the client address the server sees (host:port).
      let host: string | null = null;
      for (let i = 0; i < 100 && host === null; i++) {
        // The engine opens the statement with a comment of its own (MysqlWarehouse.streamRows).
        const [rows] = await admin.query('SELECT HOST FROM information_schema.PROCESSLIST WHERE INFO LIKE ?', [`/* orders-etl %*/ ${sql}`]);
        host = (rows as { HOST: string }[])[0]?.HOST ?? null;
        if (host === null) await new Promise((r) => setTimeout(r, 50));
      }
      assert.ok(host, 'the statement runs');
      const port = host.slice(host.lastIndexOf(':') + 1);
      // Until the server has acknowledged the statement (it may delay its ACK), the socket's timer is the one
      // for retransmission ("on"); then it is keepalive's.
      let socket = '';
      for (let i = 0; i < 50; i++) {
        socket = execFileSync('ss', ['-tnoH', 'state', 'established', `( sport = :${port} )`], { encoding: 'utf8' });
        if (!socket.includes('timer:(on,')) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      // ss shows the time left to the first probe: at most 10 s (as 9.870ms, ss's way of writing 9.87 s), not
      // the system's default of two hours (as 119min).
      const timer = /timer:\(keepalive,([^,]+),/.exec(socket);
      assert.ok(timer, `keepalive is on: ${socket}`);
      assert.match(timer[1]!, /^(\d{1,3}ms|\d\.\d{3}ms|\dsec|10sec)$/, `the first probe within 10 s: ${socket}`);
    } finally {
      await admin.end();
    }
    const [code] = await exited;
    assert.equal(code, 0, stderr);
    assert.equal(stdout, '{"slept":0}\n');
  });
});

/** Why the keepalive test cannot look at the engine's socket, or false: it asks ss (Linux's iproute2). */
function ssMissing(): string | false {
  try {
    execFileSync('ss', ['-V'], { stdio: 'ignore' });
    return false;
  } catch {
    return 'ss (iproute2) is not installed: it shows the keepalive timer of a socket';
  }
}

describe('orders-etl query creates nothing', () => {
  it('a missing DuckDB file is an error naming it, and stays missing', async () => {
    const t = tempDir();
    try {
      const r = await runBin(['query', 'SELECT * FROM orders'], { cwd: t.dir, env: { ORDERS_ETL_DB: undefined } });
      assert.equal(r.code, 1);
      assert.equal(r.stderr, `orders-etl: query failed [E_DB]: no warehouse at ${join(t.dir, 'warehouse.duckdb')} (load something into it first, or pass --db)\n`);
      assert.equal(existsSync(join(t.dir, 'warehouse.duckdb')), false);
      // A flag's value after = may hold white space: still the flag's (not a word, as SQL starting with -- is).
      const spaced = join(t.dir, 'my dir', 'w.duckdb');
      const eq = await runBin(['query', `--db=duckdb:${spaced}`, 'SELECT 1'], { cwd: t.dir, env: { ORDERS_ETL_DB: undefined } });
      assert.equal(eq.code, 1, eq.stderr);
      assert.equal(eq.stderr, `orders-etl: query failed [E_DB]: no warehouse at ${spaced} (load something into it first, or pass --db)\n`);
    } finally {
      t.cleanup();
    }
  });

  it('a missing MySQL database is an error naming it, and is not created', async () => {
    const db = await DIALECTS.find((d) => d.name === 'mysql')!.fresh();
    const admin = await adminConnection();
    try {
      const url = new URL(db.url);
      url.pathname = `/${db.mysql!.name}_typo`;
      const r = await runCli(['query', 'SELECT 1', '--db', url.toString()]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, new RegExp(`^orders-etl: query failed \\[E_DB\\]: database ${db.mysql!.name}_typo does not exist on `));
      const [rows] = await admin.query('SHOW DATABASES LIKE ?', [`${db.mysql!.name}_typo`]);
      assert.deepEqual(rows, []);
    } finally {
      await admin.end();
      await db.drop();
    }
  });
});
