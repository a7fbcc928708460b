/**
 * A copy of the package whose install lacks what only some commands need: DuckDB's native binary for this
 * platform (what `npm ci --omit=optional`, or an install copied from another platform, leaves out), the AWS
 * SDK, and at the end mysql2. Commands that need neither work; those that do fail with exit 1 and an E_INSTALL error that names the
 * argument that needed the package and says how to repair the install, not Node's bare "Cannot find module".
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { EtlError, importFor } from '../src/errors.ts';
import { ROOT, runBin, tempDir } from './helpers/run.ts';

/**
 * The package (bin/, scripts/, package.json; src/ until it is bundled, as `npm ci` does, then removed: the CLI
 * runs dist/, as a user's does) with node_modules linked to this install's, but for the AWS SDK and DuckDB's
 * platform binary.
 */
function partialInstall(dir: string): void {
  for (const f of ['bin', 'src', 'scripts']) cpSync(join(ROOT, f), join(dir, f), { recursive: true });
  for (const f of ['package.json', 'tsconfig.json']) cpSync(join(ROOT, f), join(dir, f));
  const modules = join(dir, 'node_modules');
  mkdirSync(join(modules, '@duckdb'), { recursive: true });
  for (const entry of readdirSync(join(ROOT, 'node_modules'))) {
    if (entry === '@aws-sdk' || entry === '@duckdb' || entry === '.bin') continue;
    symlinkSync(join(ROOT, 'node_modules', entry), join(modules, entry));
  }
  // Copied, not linked: Node resolves a linked package's own imports from where it really lies, where the
  // platform binary is installed.
  for (const pkg of ['node-api', 'node-bindings']) cpSync(join(ROOT, 'node_modules', '@duckdb', pkg), join(modules, '@duckdb', pkg), { recursive: true });
  const build = spawnSync(process.execPath, [join(dir, 'scripts', 'build.mjs')], { encoding: 'utf8' });
  assert.equal(build.status, 0, build.stderr);
  assert.ok(existsSync(join(dir, 'dist', 'cli.mjs')), 'the bundle is built');
  // Without the sources, the bin can only run the bundle (bin/worker.js), as an installed copy does.
  rmSync(join(dir, 'src'), { recursive: true });
  // The copy must not find what it lacks anywhere else (a node_modules above the temp folder, NODE_PATH).
  const lookup = createRequire(join(dir, 'bin', 'worker.js'));
  const binary = `@duckdb/node-bindings-${process.platform}-${process.arch}`;
  for (const pkg of ['@aws-sdk/client-s3', `${binary}/duckdb.node`, `${binary}-musl/duckdb.node`]) {
    assert.throws(() => lookup.resolve(pkg), /Cannot find module/, `${pkg} is found from ${dir}: the test cannot run here (TMPDIR inside a folder with node_modules?)`);
  }
}

/** The copy's bin, without what could let it find the real install or change its output. */
const run = (bin: string, args: string[], cwd: string) => runBin(args, { bin, cwd, env: { NODE_PATH: undefined, ORDERS_ETL_REPORT_RSS: undefined, ORDERS_ETL_DB: undefined } });

describe('an install without DuckDB\'s native binary and without the AWS SDK (at the end, without mysql2 too)', () => {
  const temp = tempDir();
  const dir = temp.dir;
  const bin = join(dir, 'pkg', 'bin', 'orders-etl.js');
  before(() => partialInstall(join(dir, 'pkg')));
  after(() => temp.cleanup());

  it('fails a DuckDB command with E_INSTALL naming the warehouse, and the repair', async () => {
    const fixture = join(ROOT, 'fixtures', 'orders_initial.json');
    for (const args of [['load', fixture, '--db', 'duckdb:./w.duckdb'], ['query', 'SELECT 1'], ['init', '--db', 'duckdb:./w.duckdb']]) {
      const r = await run(bin, args, dir);
      assert.equal(r.code, 1, `${args[0]}: ${r.stderr}`);
      const needer = args[0] === 'query' ? /the default warehouse duckdb:\.\/warehouse\.duckdb \(neither --db nor ORDERS_ETL_DB given\)/ : /the warehouse duckdb:\.\/w\.duckdb \(--db or ORDERS_ETL_DB\)/;
      assert.match(r.stderr, new RegExp(`failed \\[E_INSTALL\\]: ${needer.source}: DuckDB's library`), args[0]);
      assert.match(r.stderr, /@duckdb\/node-bindings-[a-z0-9-]+\/duckdb\.node/, `${args[0]}: names the missing binary`);
      assert.match(r.stderr, /npm ci .*not --omit=optional.*use a mysql:\/\/ warehouse/, args[0]);
      assert.doesNotMatch(r.stderr, /\n\s+at |internal error/, `${args[0]}: no stack trace, no second report`);
    }
  });

  it('fails an s3:// source with E_INSTALL naming the URI, before any warehouse is opened: the SDK missing, or broken', async () => {
    const args = ['load', 's3://bucket/orders.json', '--db', 'duckdb:./w.duckdb'];
    const missing = await run(bin, args, dir);
    assert.equal(missing.code, 1, missing.stderr);
    assert.match(missing.stderr, /failed \[E_INSTALL\]: s3:\/\/bucket\/orders\.json: the AWS SDK \(@aws-sdk\/client-s3\) did not load \(Cannot find module '@aws-sdk\/client-s3'/);
    // The client without the rest of the SDK: CommonJS that throws while it loads (see importFor).
    cpSync(join(ROOT, 'node_modules', '@aws-sdk', 'client-s3'), join(dir, 'pkg', 'node_modules', '@aws-sdk', 'client-s3'), { recursive: true });
    const broken = await run(bin, args, dir);
    assert.equal(broken.code, 1, broken.stderr);
    assert.match(broken.stderr, /failed \[E_INSTALL\]: s3:\/\/bucket\/orders\.json: the AWS SDK \(@aws-sdk\/client-s3\) did not load \(Cannot find module '@(aws-sdk|smithy|aws-crypto)\//);
    for (const r of [missing, broken]) {
      assert.match(r.stderr, /\); install the dependencies again with npm ci in the orders-etl folder\n$/, 'the repair, without the optional dependencies (the SDK is not one)');
      assert.doesNotMatch(r.stderr, /DuckDB/);
      assert.doesNotMatch(r.stderr, /\n\s+at |internal error/, 'no stack trace, no second report');
    }
  });

  it('still loads files into MySQL/MariaDB: the missing packages are needed only on demand', async () => {
    // Refused at once (port 1): the load got as far as connecting, past both imports it does not need.
    const r = await run(bin, ['load', join(ROOT, 'fixtures', 'orders_initial.json'), '--db', 'mysql://root@127.0.0.1:1/nothing', '--retries', '0'], dir);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /\[E_DB_CONNECTION\]/);
    assert.doesNotMatch(r.stderr, /E_INSTALL|Cannot find/);
  });

  it('fails a MySQL command with E_INSTALL naming the warehouse without its password once mysql2 is gone too', async () => {
    rmSync(join(dir, 'pkg', 'node_modules', 'mysql2'));
    const r = await run(bin, ['load', join(ROOT, 'fixtures', 'orders_initial.json'), '--db', 'mysql://root:s3cret@127.0.0.1:1/nothing', '--retries', '0'], dir);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /failed \[E_INSTALL\]: the warehouse mysql:\/\/127\.0\.0\.1:1\/nothing \(--db or ORDERS_ETL_DB\): the MySQL client library \(mysql2\) did not load \(Cannot find module 'mysql2'/);
    assert.match(r.stderr, /\); install the dependencies again with npm ci in the orders-etl folder\n$/);
    assert.doesNotMatch(r.stderr, /s3cret|\n\s+at |internal error/);
    // A bad URL is still a usage error, said before the library is needed.
    const usage = await run(bin, ['query', 'SELECT 1', '--db', 'mysql://root@127.0.0.1/not-an-identifier'], dir);
    assert.equal(usage.code, 2, usage.stderr);
    assert.match(usage.stderr, /--db: database name "not-an-identifier" is not a plain identifier/);
  });
});

describe('importFor', () => {
  const missingFile = './no-such-file.ts';
  const need = { needer: 'the test', packages: ['node:fs'], what: 'a module', repair: 'repair it' };
  const install = (err: unknown) => err instanceof EtlError && err.code === 'E_INSTALL' && /^the test: a module did not load \(.+\); repair it$/.test(err.message);

  it('blames the install for a missing package, not for a missing file of the project (a bug)', async () => {
    await assert.rejects(importFor({ ...need, packages: ['orders-etl-no-such-package'] }, async () => ({})), (err: unknown) => install(err) && /\(Cannot find module 'orders-etl-no-such-package'\)/.test((err as Error).message));
    await assert.rejects(
      // A specifier in a variable: TypeScript does not look for the file.
      importFor(need, () => import(missingFile)),
      (err: unknown) => !(err instanceof EtlError) && (err as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND',
    );
  });

  it('blames the install for a package cut short (a file of it missing, by import or require) and a native library that does not load', async () => {
    const temp = tempDir();
    try {
      const pkg = join(temp.dir, 'node_modules', 'cut-short');
      mkdirSync(pkg, { recursive: true });
      temp.file('node_modules/cut-short/package.json', '{"name": "cut-short", "main": "index.js"}');
      temp.file('node_modules/cut-short/index.js', "module.exports = require('./lib/gone');\n");
      temp.file('node_modules/cut-short/index.mjs', "export * from './gone.mjs';\n");
      temp.file('node_modules/cut-short/native.node', 'not a shared library');
      const require = createRequire(join(temp.dir, 'main.js'));
      await assert.rejects(importFor(need, async () => require('cut-short')), (err: unknown) => install(err) && /Cannot find module '\.\/lib\/gone'/.test((err as Error).message));
      await assert.rejects(importFor(need, () => import(pathToFileURL(join(pkg, 'index.mjs')).href)), (err: unknown) => install(err) && /node_modules\/cut-short\/gone\.mjs/.test((err as Error).message));
      await assert.rejects(importFor(need, async () => require('cut-short/native.node')), (err: unknown) => install(err) && ((err as Error).cause as NodeJS.ErrnoException).code === 'ERR_DLOPEN_FAILED');
    } finally {
      temp.cleanup();
    }
  });
});
