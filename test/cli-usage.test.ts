/**
 * Usage as a new user meets it (issue 12), without a database: --version, values quoted as given, a flag
 * without its value, "did you mean" for a mistyped command or flag, the --db examples shown as written while
 * what the user typed stays redacted. Exit code 2 for all of them. Also what the environment may hold that a
 * load has no use for (an AWS_ENDPOINT_URL empty or not a URL, loading local files into a DuckDB file of a
 * temp folder).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { closest } from '../src/cli/suggest.ts';
import { normalizeLoadOptions } from '../src/options.ts';
import { BIN, ROOT, runBin, runCli, tempDir } from './helpers/run.ts';

const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const HINT = 'Run orders-etl --help for usage.\n';

describe('orders-etl usage', () => {
  it('prints the version of package.json with --version, also through the bin', async () => {
    const r = await runCli(['--version']);
    assert.deepEqual([r.code, r.stdout], [0, `${VERSION}\n`]);
    const bin = await runBin(['--version']);
    assert.deepEqual([bin.code, bin.stdout], [0, `${VERSION}\n`]);
  });

  it('quotes a value it refuses, whatever the flag, instead of saying null', async () => {
    const cases: [string[], string][] = [
      [['load', 'x.json', '--batch-size', 'abc'], '--batch-size: "abc" is not allowed; expected an integer from 1 to 1000000'],
      [['load', 'x.json', '--batch-size', '-5'], '--batch-size: "-5" is not allowed; expected an integer from 1 to 1000000'],
      [['load', 'x.json', '--batch-size', '1.5'], '--batch-size: "1.5" is not allowed; expected an integer from 1 to 1000000'],
      [['load', 'x.json', '--max-rejects', 'many'], '--max-rejects: "many" is not allowed; expected an integer from 0 to 9007199254740991'],
      [['load', 'x.json', '--max-inflate-ratio', 'x2'], '--max-inflate-ratio: "x2" is not allowed; expected a number above 0 and at most 1000000'],
      [['load', 'x.json', '--records-path', 'a..b'], '--records-path: "a..b" is not allowed; expected a dotted path of non-empty keys to the array of orders, as in orders or data.orders (a dot inside a key: \\.)'],
      [['query', 'SELECT 1', '--max-heap-mb', 'lots'], '--max-heap-mb: "lots" is not allowed; expected an integer from 64 to 1048576'],
    ];
    for (const [args, message] of cases) {
      const r = await runCli(args);
      assert.equal(r.code, 2, args.join(' '));
      assert.equal(r.stderr, `orders-etl: ${message}\n`);
    }
    // yargs' choices, in the same words, every refused one on a line of its own.
    const choices = await runCli(['load', 'x.json', '--parser', 'foo', '--format', 'xml']);
    assert.equal(choices.code, 2);
    assert.equal(
      choices.stderr,
      'orders-etl: --parser: "foo" is not allowed; expected one of scanner, stream-json\norders-etl: --format: "xml" is not allowed; expected one of auto, json, ndjson\nRun orders-etl --help for usage.\n',
    );
    const bin = await runBin(['load', 'x.json', '--batch-size', 'abc']);
    assert.deepEqual([bin.code, bin.stderr], [2, 'orders-etl: --batch-size: "abc" is not allowed; expected an integer from 1 to 1000000\n']);
  });

  it('refuses a valued flag given twice, for every command, without showing either value', async () => {
    const cases: [string[], string][] = [
      [['init', '--db', 'mysql://u:secret1@h/a', '--db', 'mysql://u:secret2@h/b'], 'db'],
      [['query', 'SELECT 1', '--db', 'duckdb:a.duckdb', '--db', 'duckdb:b.duckdb'], 'db'],
      [['loads', '--db', 'duckdb:a.duckdb', '--db', 'duckdb:b.duckdb'], 'db'],
      [['load', 'x.json', '--batch-size', '5', '--batch-size', '6'], 'batch-size'],
      [['load', 'x.json', '--format', 'json', '--format', 'ndjson'], 'format'],
      [['rejects', '--load', '1', '--load', '2'], 'load'],
      [['query', 'SELECT 1', '--max-heap-mb', '100', '--max-heap-mb', '200'], 'max-heap-mb'],
    ];
    for (const [args, name] of cases) {
      const r = await runCli(args);
      assert.equal(r.code, 2, args.join(' '));
      assert.equal(r.stderr, `orders-etl: --${name}: given 2 times; give it once\n`, args.join(' '));
    }
  });

  it('refuses a flag that needs a value and has none, at the end or before another flag', async () => {
    for (const args of [['load', 'x.json', '--batch-size'], ['load', 'x.json', '--batch-size', '--json'], ['query', 'SELECT 1', '--db'], ['rejects', '--load']]) {
      const r = await runCli(args);
      assert.equal(r.code, 2, args.join(' '));
      assert.equal(r.stderr, `orders-etl: --${args.at(-1) === '--json' ? 'batch-size' : args.at(-1)!.slice(2)}: needs a value\n${HINT}`);
    }
  });

  it('suggests the command or flag a typo most likely meant', async () => {
    const cases: [string[], string][] = [
      [['lod', 'x.json'], 'unknown command "lod"; did you mean load?'],
      [['querry', 'SELECT 1'], 'unknown command "querry"; did you mean query?'],
      [['reject'], 'unknown command "reject"; did you mean rejects?'],
      [['frobnicate'], 'unknown command "frobnicate"; the commands are load, init, query, loads, rejects'],
      [['load', 'x.json', '--bach-size', '5'], 'unknown flag --bach-size for load; did you mean --batch-size?'],
      [['load', 'x.json', '--batch', '5'], 'unknown flag --batch for load; did you mean --batch-size?'],
      [['load', 'x.json', '--recordspath', 'orders'], 'unknown flag --recordspath for load; did you mean --records-path?'],
      [['query', 'SELECT 1', '--jsno'], 'unknown flag --jsno for query; did you mean --json?'],
      [['query', 'SELECT 1', '--batch-size', '5'], 'unknown flag --batch-size for query'],
      [['load', 'x.json', '--no-progres'], 'unknown flag --no-progres for load; did you mean --no-progress?'],
    ];
    for (const [args, message] of cases) {
      const r = await runCli(args);
      assert.equal(r.code, 2, args.join(' '));
      assert.equal(r.stderr, `orders-etl: ${message}\n${HINT}`);
    }
    assert.equal(closest('bogus-flag', ['batch-size', 'db', 'json']), null);
  });

  it('reads AWS_ENDPOINT_URL(_S3) only for an s3:// source: empty is unset, a bad one refused by its own name', async () => {
    const t = tempDir();
    try {
      const fixture = join(ROOT, 'fixtures', 'orders_initial.json');
      // Set for the whole environment, for other tools too: a load of local files goes on whatever they hold.
      const envs: NodeJS.ProcessEnv[] = [{ AWS_ENDPOINT_URL: '' }, { AWS_ENDPOINT_URL_S3: '' }, { AWS_ENDPOINT_URL: 'minio:9000' }, { AWS_ENDPOINT_URL_S3: 'not a url' }];
      for (const [i, env] of envs.entries()) {
        const r = await runCli(['load', fixture, '--db', `duckdb:${join(t.dir, `w${i}.duckdb`)}`, '--json'], env);
        assert.equal(r.code, 0, `${JSON.stringify(env)}: ${r.stderr}`);
        assert.ok(JSON.parse(r.stdout).orders > 0);
      }
    } finally {
      t.cleanup();
    }
    // With an s3:// source the variable is the endpoint, and a bad one is refused naming it, not --s3-endpoint.
    const url = 'expected an http:// or https:// URL\n';
    const bad = await runCli(['load', 's3://exports/x.json'], { AWS_ENDPOINT_URL: 'minio:9000' });
    assert.deepEqual([bad.code, bad.stderr], [2, `orders-etl: AWS_ENDPOINT_URL: "minio:9000" is not allowed; ${url}`]);
    const specific = await runCli(['load', 'S3://exports/x.json'], { AWS_ENDPOINT_URL_S3: 'minio:9000', AWS_ENDPOINT_URL: 'http://minio:9000' });
    assert.deepEqual([specific.code, specific.stderr], [2, `orders-etl: AWS_ENDPOINT_URL_S3: "minio:9000" is not allowed; ${url}`]);
    // A flag given is checked whatever the sources, and named.
    const flag = await runCli(['load', 'x.json', '--s3-endpoint', '']);
    assert.deepEqual([flag.code, flag.stderr], [2, `orders-etl: --s3-endpoint: "" is not allowed; ${url}`]);
    // Which endpoint: the flag, else AWS_ENDPOINT_URL_S3, else AWS_ENDPOINT_URL, an empty one skipped as unset.
    const endpoint = (raw: Record<string, unknown>, env: NodeJS.ProcessEnv) => normalizeLoadOptions({ sources: ['s3://exports/x.json'], ...raw }, env).s3Endpoint;
    assert.equal(endpoint({}, { AWS_ENDPOINT_URL: '', AWS_ENDPOINT_URL_S3: '' }), undefined);
    assert.equal(endpoint({}, { AWS_ENDPOINT_URL_S3: '', AWS_ENDPOINT_URL: 'http://minio:9000' }), 'http://minio:9000');
    assert.equal(endpoint({}, { AWS_ENDPOINT_URL_S3: 'http://s3.local:9000', AWS_ENDPOINT_URL: 'http://minio:9000' }), 'http://s3.local:9000');
    assert.equal(endpoint({ s3Endpoint: 'https://r2.example' }, { AWS_ENDPOINT_URL_S3: 'not a url' }), 'https://r2.example');
  });

  it('shows the --db examples as written, and nothing of what the user typed but its scheme', async () => {
    const r = await runCli(['load', 'x.json', '--db', 'postgres://admin:S3cret@db.example/warehouse']);
    assert.equal(r.code, 2);
    assert.equal(r.stderr, 'orders-etl: --db: the scheme "postgres:" is not supported; expected mysql://user:password@host:3306/database or duckdb:<path>\n');
    const noSlashes = await runCli(['query', 'SELECT 1', '--db', 'admin:S3cret@db.example']);
    assert.equal(noSlashes.code, 2);
    assert.ok(!noSlashes.stderr.includes('S3cret'), noSlashes.stderr);
    assert.match(noSlashes.stderr, /expected mysql:\/\/user:password@host:3306\/database or duckdb:<path>/);
  });

  it('never shows the password of a --db URL typed where a command or a source belongs (exit 2)', async () => {
    const url = 'mysql://u:TOPSECRET@127.0.0.1/db';
    const cases: [string[], RegExp][] = [
      [['loads', url], /^orders-etl: Unknown argument: mysql:\/\/\*\*\*:\*\*\*@127\.0\.0\.1\/db\n/],
      [[url], /^orders-etl: unknown command "mysql:\/\/\*\*\*:\*\*\*@127\.0\.0\.1\/db"/],
      [['load', 'x.json', url], /^orders-etl: <source>: mysql:… is a warehouse, not an export: give it with --db \(a file whose name starts so: \.\/mysql:…\)\n$/],
      [['load', 'duckdb:./w.duckdb'], /^orders-etl: <source>: duckdb:… is a warehouse, not an export: give it with --db/],
    ];
    for (const [args, want] of cases) {
      const r = await runCli(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, want);
      assert.ok(!r.stderr.includes('TOPSECRET'), r.stderr);
    }
  });

  it('takes every argument after -- as a source: a file named -orders.json loads, none is dropped', async () => {
    const t = tempDir();
    try {
      const order = (id: string) => JSON.stringify([{ order_id: id, order_date: '2024-05-01', customer: { customer_id: 'c' }, products: [{ product_id: 'p', quantity: 1 }] }]);
      const a = t.file('a.json', order('A'));
      t.file('-b.json', order('B'));
      const db = `duckdb:${join(t.dir, 'w.duckdb')}`;
      // Before: yargs put `-b.json` aside, unchecked; the load took a.json alone and exited 0.
      const r = await runCli(['load', a, '--db', db, '--json', '--', join(t.dir, '-b.json')]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal((JSON.parse(r.stdout) as { files: number; orders: number }).files, 2);
      const q = await runCli(['query', '--db', db, '--csv', '--', 'SELECT order_id FROM orders ORDER BY 1']);
      assert.deepEqual([q.code, q.stdout], [0, 'order_id\nA\nB\n']);
      // A word after -- is no flag, and no other command takes one: refused, named as given.
      const extra = await runCli(['loads', '--db', db, '--', '-x']);
      assert.deepEqual([extra.code, extra.stderr], [2, `orders-etl: Unknown argument: -x\n${HINT}`]);
    } finally {
      t.cleanup();
    }
  });

  it('says that the current folder is gone, instead of an internal error with a stack trace (exit 1)', () => {
    const t = tempDir();
    try {
      const gone = join(t.dir, 'gone');
      mkdirSync(gone);
      // The shell enters the folder, which is then deleted under it: the command inherits a current folder that no longer exists.
      const r = spawnSync('/bin/sh', ['-c', 'cd "$1" && rmdir "$1" && exec "$2" "$3" loads --db "$4"', 'sh', gone, process.execPath, BIN, `duckdb:${join(t.dir, 'w.duckdb')}`], { encoding: 'utf8' });
      assert.equal(r.status, 1, r.stderr);
      assert.equal(r.stderr, 'orders-etl: failed: the current folder no longer exists (ENOENT: deleted since the shell entered it); cd into a folder that exists and run the command again\n');
    } finally {
      t.cleanup();
    }
  });
});
