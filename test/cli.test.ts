/** The command line: help, exit codes (0 ok, 1 load failed, 2 bad usage), the bin entry, stdin and gzip. */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { ROOT, runBin, runCli, tempDir } from './helpers/run.ts';
import { DIALECTS, type TestWarehouse } from './helpers/warehouses.ts';

const freshDatabase = DIALECTS.find((d) => d.name === 'mysql')!.fresh;

const INITIAL = join(ROOT, 'fixtures', 'orders_initial.json');

describe('orders-etl CLI', () => {
  let db: TestWarehouse;
  beforeEach(async () => {
    db = await freshDatabase();
  });
  afterEach(async () => {
    await db.drop();
  });

  it('documents every command and option in --help', async () => {
    const top = await runCli(['--help']);
    assert.equal(top.code, 0);
    assert.match(top.stdout + top.stderr, /load <sources\.\.>/);
    for (const command of ['init', 'query <sql>', 'loads', 'rejects', '--version']) assert.ok(top.stdout.includes(command), command);
    const load = await runCli(['load', '--help']);
    assert.equal(load.code, 0);
    for (const flag of ['--db', '--batch-size', '--json', '--no-progress', '--progress', '--force', '--max-rejects', '--format', '--records-path', '--parser', '--s3-endpoint', '--s3-region']) {
      assert.ok((load.stdout + load.stderr).includes(flag), `load --help mentions ${flag}`);
    }
    for (const [command, flags] of [['query', ['--json', '--csv']], ['loads', ['--json', '--csv']], ['rejects', ['--load', '--json', '--csv']]] as const) {
      const help = await runCli([command, '--help']);
      assert.equal(help.code, 0);
      for (const flag of flags) assert.ok(help.stdout.includes(flag), `${command} --help mentions ${flag}`);
    }
  });

  it('exits 2 on bad usage, naming the flag', async () => {
    const unknown = await runCli(['load', INITIAL, '--db', db.url, '--bogus-flag']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /bogus-flag/);
    for (const bad of ['0', 'abc', '-5', '1.5']) {
      const r = await runCli(['load', INITIAL, '--db', db.url, '--batch-size', bad]);
      assert.equal(r.code, 2, `--batch-size ${bad}`);
      assert.match(r.stderr, /--batch-size/);
    }
    const noSource = await runCli(['load', '--db', db.url]);
    assert.equal(noSource.code, 2);
    const badDb = await runCli(['load', INITIAL, '--db', 'mysql://root@127.0.0.1/bad-name;drop']);
    assert.equal(badDb.code, 2);
    assert.match(badDb.stderr, /--db: database name/);
    const noCommand = await runCli([]);
    assert.equal(noCommand.code, 2);
  });

  it('exits 1 when the load fails: a missing file, malformed JSON', async () => {
    const missing = await runCli(['load', '/nonexistent/orders.json', '--db', db.url]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /\/nonexistent\/orders\.json/);
    const t = tempDir();
    try {
      const bad = t.file('bad.json', '[{"order_id": 1, "order_date": "2024-01-01", "customer": {"customer_id": 1}, "products": []},\n {"order_id": 2,, }]');
      const r = await runCli(['load', bad, '--db', db.url]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /bad\.json: record 1, byte \d+, line 2: invalid JSON/);
    } finally {
      t.cleanup();
    }
  });

  it('never prints a password, even when the server refuses it', async () => {
    const secret = 'S3cr3t-Pa55word-do-not-print';
    const url = new URL(db.url);
    url.username = 'nobody_here';
    url.password = secret;
    const r = await runCli(['load', INITIAL, '--db', url.toString()]);
    assert.equal(r.code, 1);
    assert.ok(!(r.stdout + r.stderr).includes(secret), r.stderr);
    const env = await runCli(['load', INITIAL], { ORDERS_ETL_DB: url.toString() });
    assert.equal(env.code, 1);
    assert.ok(!(env.stdout + env.stderr).includes(secret), env.stderr);
    // Mistyped URLs: without the //, the credentials would parse as a path (once shown as a database name);
    // a bad %-escape in the password once failed as an internal error.
    for (const typo of [`mysql:/nobody:${secret}@127.0.0.1:1/db`, `mysql:nobody:${secret}@127.0.0.1:1/db`, `mysql:///nobody:${secret}@127.0.0.1:1/db`, `mysql://nobody:${secret}%zz@127.0.0.1:1/db`]) {
      const r2 = await runCli(['query', 'SELECT 1', '--db', typo]);
      assert.equal(r2.code, 2, `${typo}: ${r2.stderr}`);
      assert.match(r2.stderr, /--db: /);
      assert.ok(!(r2.stdout + r2.stderr).includes(secret), r2.stderr);
    }
  });

  it('loads into ./warehouse.duckdb when no database is given, and shows it with orders-etl query', async () => {
    const t = tempDir();
    try {
      const r = await runBin(['load', INITIAL, join(ROOT, 'fixtures', 'orders_incremental.json')], { cwd: t.dir, env: { ORDERS_ETL_DB: undefined } });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, new RegExp(`into duckdb:${join(t.dir, 'warehouse.duckdb').replace(/[.]/g, '\\.')}`));
      // An empty ORDERS_ETL_DB is an unset one, as in a shell (it was refused as a bad --db).
      const q = await runBin(['query', 'SELECT customer_id, email FROM customers ORDER BY customer_id'], { cwd: t.dir, env: { ORDERS_ETL_DB: '' } });
      assert.equal(q.code, 0, q.stderr);
      assert.match(q.stdout, /customer_id \| email/);
      assert.match(q.stdout, /501 {9}\| alice\.j@newmail\.example/);
      assert.match(q.stdout, /\(5 rows\)/);
      const json = await runCli(['query', 'SELECT COUNT(*) AS n FROM orders', '--db', `duckdb:${join(t.dir, 'warehouse.duckdb')}`, '--json']);
      assert.equal(json.stdout.trim(), '{"n":11}');
      const bad = await runCli(['query', 'SELECT nope FROM nothing', '--db', `duckdb:${join(t.dir, 'warehouse.duckdb')}`]);
      assert.equal(bad.code, 1);
    } finally {
      t.cleanup();
    }
  });

  it('runs as a real process through the bin entry: init, load from a file and from gzipped stdin, --json on stdout', async () => {
    const init = await runBin(['init', '--db', db.url]);
    assert.equal(init.code, 0, init.stderr);
    const tables = await db.query<any>('SHOW TABLES');
    assert.deepEqual(tables.map((t) => Object.values(t)[0]).sort(), ['customers', 'etl_loads', 'etl_redelivered_lines', 'etl_redelivered_sizes', 'etl_rejects', 'etl_settings', 'orders', 'products']);

    const r = await runBin(['load', '-', '--db', db.url, '--json', '--no-progress'], { stdin: gzipSync(readFileSync(INITIAL)) });
    assert.equal(r.code, 0, r.stderr);
    const summary = JSON.parse(r.stdout);
    for (const key of ['files', 'orders', 'factRows', 'customers', 'products', 'rejected', 'elapsedMs']) assert.ok(key in summary, key);
    assert.equal(summary.factRows, 7);
    assert.match(r.stderr, /orders 5, fact rows 7/);

    const viaFile = await freshDatabase();
    try {
      const f = await runBin(['load', INITIAL, '--db', viaFile.url]);
      assert.equal(f.code, 0, f.stderr);
      const a = await db.snapshot();
      const b = await viaFile.snapshot();
      assert.deepEqual([a.customers, a.products, a.facts], [b.customers, b.products, b.facts]);
    } finally {
      await viaFile.drop();
    }

    const usage = await runBin(['load', INITIAL, '--db', db.url, '--batch-size', 'zero']);
    assert.equal(usage.code, 2);
    // package.json read as NDJSON is one record, and not an order: every record rejected is a failed load.
    const failed = await runBin(['load', join(ROOT, 'package.json'), '--db', db.url, '--format', 'ndjson']);
    assert.equal(failed.code, 1, failed.stderr);
    assert.match(failed.stderr, /E_ALL_REJECTED/);
    const rejects = await db.query<any>('SELECT reason FROM etl_rejects');
    assert.equal(rejects.length, 1);
  });
});

describe('--db duckdb: a file that is not a DuckDB database', () => {
  it('is refused, for load and query, and left as it was: DuckDB would open a data file as a database in memory', async () => {
    const t = tempDir();
    try {
      const data = readFileSync(INITIAL);
      for (const name of ['export.json', 'export.csv']) {
        const path = t.file(name, data);
        for (const args of [['load', INITIAL], ['query', 'SELECT COUNT(*) FROM orders']]) {
          const r = await runCli([...args, '--db', `duckdb:${path}`]);
          assert.equal(r.code, 1, `${name} ${args[0]}: ${r.stderr}`);
          assert.match(r.stderr, /the file exists and is not a DuckDB database/);
        }
        assert.deepEqual(readFileSync(path), data);
      }
    } finally {
      t.cleanup();
    }
  });
});

describe('--db duckdb: in a folder that does not exist', () => {
  it('fails at once with the cause, even when the path holds the word "lock": that is not another process holding the file', async () => {
    const t = tempDir();
    try {
      const path = join(t.dir, 'blocks', 'w.duckdb');
      const r = await runCli(['load', INITIAL, '--db', `duckdb:${path}`, '--lock-timeout', '2']);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /load failed \[E_DB\]: cannot open duckdb:.*blocks.*No such file or directory/);
      assert.doesNotMatch(r.stderr, /E_LOCK|another process/);
    } finally {
      t.cleanup();
    }
  });
});

describe('standard input the load stops reading', () => {
  it('ends the process at once, with the parse error: the unread input does not hold the engine', async () => {
    const t = tempDir();
    try {
      // An invalid second record, then megabytes the load never reads (more than any pipe holds).
      const order = readFileSync(INITIAL, 'utf8').trim().replace(/^\[/, '').replace(/\]$/, '');
      const input = `[${order},\n{"order_id": 2,, },\n${Array.from({ length: 2000 }, () => order).join(',\n')}]`;
      assert.ok(input.length > 4 * 1024 * 1024, `${input.length} bytes`);
      const r = await runBin(['load', '-', '--db', `duckdb:${join(t.dir, 'w.duckdb')}`, '--no-progress'], { stdin: input });
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /-: record \d+, byte \d+, line \d+: invalid JSON/);
      // Once it waited 2 s for the engine and said so (Node's port for the worker's standard input stayed open).
      assert.doesNotMatch(r.stderr, /did not stop by itself/);
    } finally {
      t.cleanup();
    }
  });
});

describe('standard input that is a terminal', () => {
  it('says how to end it, instead of waiting without a word (run in a pseudo-terminal by script(1))', async () => {
    const script = spawnSync('script', ['--version']);
    assert.ok(!script.error, 'this test needs script(1) to give the engine a terminal: install util-linux (Debian: bsdutils)');
    const t = tempDir();
    try {
      const command = `${JSON.stringify(process.execPath)} ${JSON.stringify(join(ROOT, 'bin', 'orders-etl.js'))} load - --no-progress --db ${JSON.stringify(`duckdb:${join(t.dir, 'w.duckdb')}`)}`;
      const child = spawn('script', ['-qec', command, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (out += d));
      const code = await new Promise<number | null>((resolve) => {
        const end = () => child.stdin.write('\x04'); // Ctrl-D at the terminal: the end of the input
        const wait = setInterval(() => /end it with Ctrl-D/.test(out) && (clearInterval(wait), end()), 50);
        const stop = setTimeout(() => (clearInterval(wait), child.kill('SIGKILL')), 30_000);
        child.on('close', (c) => (clearTimeout(stop), resolve(c)));
      });
      assert.match(out, /^orders-etl: reading orders from standard input \(a terminal\): end it with Ctrl-D\r?\n/, out);
      // Nothing typed: an empty input, said as such.
      assert.match(out, /load failed \[E_PARSE\]: -: byte 0, line 1: invalid JSON: expected a JSON value \(the input is empty\)/, out);
      assert.equal(code, 1, out);
      // A `-` that is not a source (a flag's value) reads nothing from the terminal and says nothing of it.
      const other = spawnSync('script', ['-qec', command.replace('load - ', `load ${JSON.stringify(INITIAL)} --records-path - `), '/dev/null'], { encoding: 'utf8', timeout: 30_000 });
      assert.match(other.stdout, /--records-path -: the top level is an array, not an object/, other.stdout);
      assert.doesNotMatch(other.stdout, /standard input/);
    } finally {
      t.cleanup();
    }
  });
});

describe('a named pipe, a device and a folder as sources', () => {
  it('loads a named pipe as it comes (gzip too), every time: no fingerprint, as standard input', async () => {
    const t = tempDir();
    const writers: ReturnType<typeof spawn>[] = [];
    try {
      const fifo = join(t.dir, 'export.pipe');
      const made = spawnSync('mkfifo', [fifo], { encoding: 'utf8' });
      assert.equal(made.status, 0, `mkfifo (coreutils) is needed for this test: ${made.stderr ?? made.error}`);
      const gz = t.file('export.json.gz', gzipSync(readFileSync(INITIAL)));
      const db = `duckdb:${join(t.dir, 'w.duckdb')}`;
      for (let i = 0; i < 2; i++) {
        // The writer blocks until the load opens the pipe, as a shell's `<(gunzip -c ...)` does.
        writers.push(spawn('sh', ['-c', 'exec cat "$0" > "$1"', gz, fifo], { stdio: 'ignore' }));
        const r = await runBin(['load', fifo, '--db', db, '--json', '--no-progress']);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(JSON.parse(r.stdout).orders, 5);
      }
      const loads = await runBin(['loads', '--db', db, '--json']);
      const rows = loads.stdout.trim().split('\n').map((l) => JSON.parse(l) as { status: string; source_uri: string });
      assert.deepEqual(rows.map((l) => [l.status, l.source_uri]), [['completed', fifo], ['completed', fifo]]);
      // Two pipes in one command, as `load <(...) <(...)`: the second one's descriptor may get the first one's
      // number, which Node's record of the worker's descriptors once warned about.
      const second = join(t.dir, 'second.pipe');
      assert.equal(spawnSync('mkfifo', [second]).status, 0);
      for (const pipe of [fifo, second]) writers.push(spawn('sh', ['-c', 'exec cat "$0" > "$1"', gz, pipe], { stdio: 'ignore' }));
      const both = await runBin(['load', fifo, second, '--db', db, '--json', '--no-progress']);
      assert.equal(both.code, 0, both.stderr);
      assert.equal(JSON.parse(both.stdout).files, 2, both.stdout);
      assert.doesNotMatch(both.stderr, /Warning|unmanaged/, both.stderr);
    } finally {
      for (const w of writers) w.kill();
      t.cleanup();
    }
  });

  it('ends a load that fails at once, while the writer of its pipe is alive and idle (a stalled download)', async () => {
    const t = tempDir();
    let writer: ReturnType<typeof spawn> | null = null;
    try {
      const fifo = join(t.dir, 'stalled.pipe');
      const made = spawnSync('mkfifo', [fifo], { encoding: 'utf8' });
      assert.equal(made.status, 0, `mkfifo (coreutils) is needed for this test: ${made.stderr ?? made.error}`);
      // An invalid first record, then the pipe held open without a byte more for a minute.
      writer = spawn('sh', ['-c', 'exec 3>"$1"; printf "%s" "$0" >&3; exec sleep 60', '[{"order_id": 1,, }', fifo], { stdio: 'ignore' });
      const started = Date.now();
      const r = await runBin(['load', fifo, '--db', `duckdb:${join(t.dir, 'w.duckdb')}`, '--no-progress']);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /stalled\.pipe: record 0, byte \d+, line 1: invalid JSON/);
      assert.doesNotMatch(r.stderr, /did not stop by itself/);
      assert.ok(Date.now() - started < 30_000, `ended after ${Date.now() - started} ms, not when the writer did`);
    } finally {
      writer?.kill();
      t.cleanup();
    }
  });

  it('ends a load whose input stalls part way through a record that is already broken, with either parser', async () => {
    const t = tempDir();
    const writers: ReturnType<typeof spawn>[] = [];
    try {
      // The fixture's valid orders, then one broken before it ends ("order_id": 2,,), and the pipe held open for
      // a minute: that record never closes, so only a check of its bytes so far can find the error.
      const orders = readFileSync(INITIAL, 'utf8').trim().replace(/^\[/, '').replace(/\]$/, '').trim();
      const broken = (JSON.parse(readFileSync(INITIAL, 'utf8')) as unknown[]).length;
      const input = `[${orders},\n{"order_id": 2,, "customer": {"customer_id": 7, "name": "Ann`;
      for (const parser of ['scanner', 'stream-json']) {
        const fifo = join(t.dir, `stalled-${parser}.pipe`);
        const made = spawnSync('mkfifo', [fifo], { encoding: 'utf8' });
        assert.equal(made.status, 0, `mkfifo (coreutils) is needed for this test: ${made.stderr ?? made.error}`);
        writers.push(spawn('sh', ['-c', 'exec 3>"$1"; printf "%s" "$0" >&3; exec sleep 60', input, fifo], { stdio: 'ignore' }));
        const db = `duckdb:${join(t.dir, `${parser}.duckdb`)}`;
        const started = Date.now();
        const r = await runBin(['load', fifo, '--db', db, '--parser', parser, '--no-progress']);
        assert.equal(r.code, 1, `${parser}: ${r.stderr}`);
        const at = Buffer.byteLength(input.slice(0, input.indexOf(',, ') + 1));
        // stream-json's tokenizer gives no offsets: its errors name the bytes it was reading (here all of them).
        const where = parser === 'scanner' ? `record ${broken}, byte ${at}, line \\d+: invalid JSON: ` : `invalid JSON \\(stream-json\\) found while reading bytes 0 to ${Buffer.byteLength(input)}: `;
        assert.match(r.stderr, new RegExp(`stalled-${parser}\\.pipe: ${where}.*expected an object key`), parser);
        assert.ok(Date.now() - started < 30_000, `${parser}: ended after ${Date.now() - started} ms, not when the writer did`);
        // The valid orders were in the failed batch: nothing is loaded, and the ledger says why.
        const loads = await runBin(['loads', '--db', db, '--json']);
        assert.match(loads.stdout, /"status":"failed"/, parser);
      }
    } finally {
      for (const w of writers) w.kill();
      t.cleanup();
    }
  });

  it('does not skip another file behind /dev/stdin, and says what to do with a folder', async () => {
    const t = tempDir();
    try {
      const db = `duckdb:${join(t.dir, 'w.duckdb')}`;
      for (let i = 0; i < 2; i++) {
        // Standard input a regular file: /dev/stdin names whatever is open there, so it has no fingerprint.
        const fd = openSync(INITIAL, 'r');
        const r = await runBin(['load', '/dev/stdin', '--db', db, '--json', '--no-progress'], { stdin: { fd } }).finally(() => closeSync(fd));
        assert.equal(r.code, 0, r.stderr);
        assert.equal(JSON.parse(r.stdout).skipped, 0, 'loaded again, not skipped');
      }
      mkdirSync(join(t.dir, 'exports'));
      const folder = await runBin(['load', join(t.dir, 'exports'), '--db', db, '--no-progress']);
      assert.equal(folder.code, 1);
      assert.match(folder.stderr, /\[E_SOURCE\]: .*exports: a folder, not a file: give the files in it, as in .*exports\/\*\.json/);
    } finally {
      t.cleanup();
    }
  });
});
