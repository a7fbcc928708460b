/**
 * The bench: generates exports into a temp folder, loads them with the engine as users run it (the bin, in a
 * process of its own), and measures the references in the same run on the same machine:
 *
 * - MariaDB first load (every size): LOAD DATA of exactly the engine's final rows (keys maintained; fact keys
 *   built after) and the seed's pandas pipeline (bench/seed/), up to --reference-max;
 * - DuckDB first load: DuckDB's own read_json plus set-based SQL building the same star schema
 *   (bench/duckdb-reference.ts), checked equal to the engine's file row by row, keys included;
 * - incremental loads on both warehouses: an increment of N/5 orders (bench/incremental.ts) loaded by the engine
 *   into its warehouse, and by a hand-written set-based reference into a copy of it, checked equal;
 * - history (SCD2) warehouses on both (`orders-etl init --history customers,products`): the same first load and
 *   the same increment, against the SCD1 runs of the same files; then, on the SCD1 and the history warehouses
 *   alike, an extra increment of the next period (the same kind of increment, dated the year after);
 * - at 1,000,000 orders, --repeat rounds (default 3) of the first loads and of LOAD DATA with the fact keys built
 *   after, whose ratios this machine's run-to-run variance decided either way: the targets take the medians;
 * - a profile (CPU of the engine's process and of the MariaDB server, GC, the named database steps), the targets
 *   of issue 10 with what was measured, the parse stage alone, and a --batch-size sweep on both warehouses.
 *
 * Prints as it goes and writes bench/RESULTS.md.
 *
 *   npm run bench [-- --sizes 100000,1000000,3000000] [--reference-max 1000000] [--sweep-size 200000]
 *                 [--batch-sizes 500,1000,2000,5000,10000] [--no-seed] [--no-duckdb] [--no-incremental] [--no-history]
 *                 [--repeat 3] [--out bench/RESULTS.md]
 *
 * MYSQL_URL (default mysql://root@127.0.0.1:3306/test) names the server; the bench creates its own databases
 * there (oe_bench_*), drops every one of them before it exits, and changes no global variable.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { BATCH_SIZE_HELP } from '../src/options.ts';
import { compareDuckdb, type ReferenceRun } from './duckdb-reference.ts';
import { generate } from './generate.ts';
import { cloneStar, compareMysql, incrementOptions, mysqlIncrementalReference, writeStagingFiles, type StagingFiles } from './incremental.ts';
import { parseThroughput, wholeFileJsonParse } from './parse.ts';
import { childCpuFromTimes, serverCpu, type ServerCpu } from './profile.ts';
import { loadDataReference } from './reference.ts';
import { renderResults, startResults, TARGET_SIZE, type DuckdbFirstReference, type EngineRun, type EngineSummary, type HistoryRow, type IncrementalRow, type NextPeriodRow, type RepeatRound, type Warehouse } from './report.ts';
import { runSeed, seedUnavailable, type SeedResult } from './seed.ts';
import { describeComparison } from './star.ts';

/** The year of the next period's increment: the generator dates the first load and the increment in 2024. */
const NEXT_PERIOD_YEAR = 2025;
const ROOT = join(import.meta.dirname, '..');
const USAGE = `usage: npm run bench -- [--sizes N,N,...] [--reference-max N] [--sweep-size N] [--batch-sizes N,N,...]
                      [--no-seed] [--no-duckdb] [--no-incremental] [--no-history] [--repeat N] [--out FILE]
  --sizes           first loads of these many orders (default 100000,1000000,3000000)
  --reference-max   references, DuckDB, incremental and history rows for sizes up to this (default 1000000)
  --sweep-size      orders for the --batch-size sweep on both warehouses; 0 skips it (default 200000)
  --batch-sizes     the sweep's batch sizes (default 500,1000,2000,5000,10000)
  --no-seed         skip the seed's pandas pipeline
  --no-duckdb       skip the DuckDB rows (engine, reference, sweep)
  --no-incremental  skip the incremental rows
  --no-history      skip the history (SCD2) warehouses' rows
  --repeat          rounds of the first loads at 1,000,000 orders whose ratios the targets take the median of:
                    SCD1 and history on both warehouses, and LOAD DATA with the fact keys built after (default 3)
  --out             where to write the results (default bench/RESULTS.md)
MYSQL_URL names the MariaDB server (default mysql://root@127.0.0.1:3306/test).
`;

/** The command line, validated once: a bad flag is named with its value and what is allowed. */
function parseArgs(argv: string[]) {
  const fail = (msg: string): never => {
    process.stderr.write(`bench: ${msg}\n${USAGE}`);
    process.exit(2);
  };
  const flags = new Set(['--no-seed', '--no-duckdb', '--no-incremental', '--no-history', '--help']);
  const valued = new Set(['--sizes', '--reference-max', '--sweep-size', '--batch-sizes', '--repeat', '--out']);
  const values = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (flags.has(a)) values.set(a, '');
    else if (valued.has(a)) {
      if (argv[i + 1] === undefined) fail(`${a} needs a value`);
      values.set(a, argv[++i]!);
    } else fail(`unknown option ${a}`);
  }
  if (values.has('--help')) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const whole = (name: string, def: string, min: number): number => {
    const v = values.get(name) ?? def;
    const n = Number(v);
    return Number.isInteger(n) && n >= min ? n : fail(`${name} ${v}: expected a whole number >= ${min}`);
  };
  const list = (name: string, def: string): number[] => {
    const v = values.get(name) ?? def;
    const ns = v.split(',').map(Number);
    return ns.every((n) => Number.isInteger(n) && n > 0) ? ns : fail(`${name} ${v}: expected whole numbers > 0, separated by commas`);
  };
  return {
    sizes: list('--sizes', '100000,1000000,3000000'),
    referenceMax: whole('--reference-max', '1000000', 0),
    sweepSize: whole('--sweep-size', '200000', 0),
    batchSizes: list('--batch-sizes', '500,1000,2000,5000,10000'),
    withSeed: !values.has('--no-seed'),
    withDuckdb: !values.has('--no-duckdb'),
    withIncremental: !values.has('--no-incremental'),
    withHistory: !values.has('--no-history'),
    repeat: whole('--repeat', '3', 1),
    out: values.get('--out') ?? join(ROOT, 'bench', 'RESULTS.md'),
  };
}

const opts = parseArgs(process.argv.slice(2));
const MYSQL_URL = new URL(process.env.MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test');
const MYSQL_OPTIONS: mysql.ConnectionOptions = {
  host: MYSQL_URL.hostname,
  port: Number(MYSQL_URL.port || 3306),
  user: decodeURIComponent(MYSQL_URL.username) || 'root',
  password: decodeURIComponent(MYSQL_URL.password),
  charset: 'UTF8MB4_BIN',
  dateStrings: true,
  supportBigNumbers: true,
  bigNumberStrings: true,
};
/** Child processes running now: on a signal they are stopped before the databases they write to are dropped. */
const children = new Set<ChildProcess>();
/** Set when a signal stops the bench: failures of the children it stopped are then expected, not reported. */
let stopping: NodeJS.Signals | null = null;

/** Spawn a child, collect its output, and resolve with its exit code. */
async function runChild(command: string, args: string[], cwd?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  // Its own process group (detached), so that a signal can stop the shell wrapper and the engine under it alike.
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd, detached: true });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const code = await new Promise<number>((r) => child.on('close', (c) => r(c ?? -1)));
  children.delete(child);
  return { code, stdout, stderr };
}

/** Stop every running child (the shell wrapper forwards nothing: signal its whole process group). */
async function stopChildren(): Promise<void> {
  await Promise.all(
    [...children].map(
      (c) =>
        new Promise<void>((r) => {
          if (c.exitCode !== null || c.signalCode !== null) return r();
          c.once('close', () => r());
          try {
            process.kill(-c.pid!, 'SIGTERM');
          } catch {
            c.kill('SIGTERM');
          }
        }),
    ),
  );
}

function dbUrl(name: string): string {
  const u = new URL(MYSQL_URL.toString());
  u.pathname = `/${name}`;
  return u.toString();
}

function log(msg: string): void {
  process.stdout.write(`${msg}\n`);
}

/** Run `work`, with the MariaDB server's CPU over it (null when it cannot be read). */
async function withServerCpu<T>(server: ServerCpu | null, work: () => Promise<T>): Promise<[T, number | null]> {
  const before = server?.read() ?? null;
  const result = await work();
  const after = server?.read() ?? null;
  return [result, before !== null && after !== null ? after - before : null];
}

/**
 * The engine as users run it: the bin, in its own process. A shell around it reports the process's CPU
 * (`times`) without relying on the engine's summary.
 */
/** `batchSize` null: the warehouse's default (no --batch-size). */
async function engine(file: string, db: string, batchSize: number | null, server: ServerCpu | null = null): Promise<EngineRun> {
  const run = async () => {
    const t = performance.now();
    const args = [join(ROOT, 'bin', 'orders-etl.js'), 'load', file, '--db', db, '--json', '--no-progress', ...(batchSize === null ? [] : ['--batch-size', String(batchSize)])];
    const { code, stdout, stderr } = await runChild('/bin/sh', ['-c', '"$@"; rc=$?; times >&2; exit $rc', 'sh', process.execPath, ...args]);
    const seconds = (performance.now() - t) / 1000;
    if (code !== 0) throw new Error(`engine failed (exit ${code}): ${stderr.slice(-2000)}`);
    return { seconds, summary: JSON.parse(stdout) as EngineSummary, processCpu: childCpuFromTimes(stderr) };
  };
  const [r, serverCpuMs] = await withServerCpu(server, run);
  return { ...r, serverCpuMs };
}

/** `orders-etl init --history customers,products`: a history (SCD2) warehouse, as users create one. */
async function initHistory(db: string): Promise<void> {
  const { code, stderr } = await runChild(process.execPath, [join(ROOT, 'bin', 'orders-etl.js'), 'init', '--history', 'customers,products', '--db', db]);
  if (code !== 0) throw new Error(`orders-etl init --history failed (exit ${code}): ${stderr.slice(-2000)}`);
}

/** Rows of the two dimensions (in a history warehouse: versions), read through the bin as users would. */
async function dimensionRows(db: string): Promise<{ customers: number; products: number }> {
  const sql = 'SELECT (SELECT COUNT(*) FROM customers) AS customers, (SELECT COUNT(*) FROM products) AS products';
  const { code, stdout, stderr } = await runChild(process.execPath, [join(ROOT, 'bin', 'orders-etl.js'), 'query', sql, '--db', db, '--json']);
  if (code !== 0) throw new Error(`orders-etl query failed (exit ${code}): ${stderr.slice(-2000)}`);
  const row = JSON.parse(stdout.trim().split('\n')[0]!) as { customers: number | string; products: number | string };
  return { customers: Number(row.customers), products: Number(row.products) };
}

/** The DuckDB reference in a process of its own, so that its memory and CPU are its own. */
async function duckdbReference(dbFile: string, jsonFile: string): Promise<ReferenceRun> {
  const { code, stdout, stderr } = await runChild(process.execPath, ['--import', 'tsx', join(ROOT, 'bench', 'duckdb-reference.ts'), 'load', dbFile, jsonFile], ROOT);
  if (code !== 0) throw new Error(`the DuckDB reference failed (exit ${code}): ${stderr.slice(-2000)}`);
  return JSON.parse(stdout) as ReferenceRun;
}

function removeDuckdb(file: string): void {
  rmSync(file, { force: true });
  rmSync(`${file}.wal`, { force: true });
}

/**
 * Let the server settle before a timed run: a previous load (or DROP) leaves dirty pages that InnoDB flushes
 * in the background, which would slow whichever run comes next. Waits (at most 60 s) until the count of dirty
 * pages is small or has stopped falling for 3 s (MariaDB then leaves the rest alone until it needs room).
 */
async function quiesce(admin: mysql.Connection): Promise<void> {
  let last = Infinity;
  let still = 0;
  for (let i = 0; i < 60 && still < 3; i++) {
    const [rows] = await admin.query("SHOW GLOBAL STATUS LIKE 'Innodb_buffer_pool_pages_dirty'");
    const dirty = Number((rows as { Value: string }[])[0]?.Value ?? 0);
    if (dirty < 500) return;
    still = dirty >= last ? still + 1 : 0;
    last = dirty;
    await new Promise((r) => setTimeout(r, 1000));
  }
}

function machine(server: { version: string; settings: Record<string, string> }): string[] {
  const cpus = os.cpus();
  const duck = JSON.parse(readFileSync(join(ROOT, 'node_modules', '@duckdb', 'node-api', 'package.json'), 'utf8')).version;
  const disk = spawnSync('df', ['-h', os.tmpdir()], { encoding: 'utf8' }).stdout.split('\n')[1] ?? '';
  // Which engine was measured: the commit, and whether its sources differed from it.
  const git = (...a: string[]) => spawnSync('git', ['-C', ROOT, ...a], { encoding: 'utf8' });
  const head = git('rev-parse', '--short', 'HEAD').stdout?.trim();
  const dirty = git('status', '--porcelain', '--', 'src', 'bin').stdout?.trim();
  return [
    `- Command: \`npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}\``,
    `- Engine: ${head ? `commit ${head}${dirty ? ' with uncommitted changes in src/ or bin/' : ''}` : 'not a git checkout'}`,
    `- Date: ${new Date().toISOString()}`,
    `- CPU: ${cpus.length} x ${cpus[0]?.model ?? 'unknown'}; load average at the start ${os.loadavg().map((l) => l.toFixed(2)).join(', ')} (other work on the machine shows here)`,
    `- Memory: ${(os.totalmem() / 1024 ** 3).toFixed(1)} GiB; OS ${os.type()} ${os.release()}`,
    `- Node ${process.version}; MariaDB ${server.version} (${Object.entries(server.settings).map(([k, v]) => `${k}=${v}`).join(', ')}); DuckDB ${duck}`,
    `- Temp folder: ${os.tmpdir()} (${disk.replace(/\s+/g, ' ').trim()})`,
  ];
}

const f1 = (n: number) => n.toFixed(1);
const int = (n: number) => Math.round(n).toLocaleString('en-US');

async function main(): Promise<void> {
  const { sizes, referenceMax, sweepSize, batchSizes, withSeed, withDuckdb, withIncremental, withHistory, repeat, out } = opts;
  const tmp = mkdtempSync(join(os.tmpdir(), 'orders-etl-bench-'));
  const admin = await mysql.createConnection(MYSQL_OPTIONS);
  const databases = new Set<string>();
  const dropDb = async (name: string) => {
    await admin.query(`DROP DATABASE IF EXISTS \`${name}\``);
    databases.delete(name);
  };
  /** Every database the bench creates is named here first, so that `finally` (or a signal) can drop what is left. */
  const freshDb = async (name: string) => {
    databases.add(name);
    await admin.query(`DROP DATABASE IF EXISTS \`${name}\``);
    return name;
  };
  const [[v]] = (await admin.query(
    'SELECT VERSION() AS version, @@innodb_buffer_pool_size AS pool, @@innodb_flush_log_at_trx_commit AS flush, @@innodb_log_file_size AS log, @@max_allowed_packet AS packet, @@pid_file AS pid_file',
  )) as unknown as [Record<string, string>[]];
  const server = {
    version: v!.version!,
    settings: {
      innodb_buffer_pool_size: `${Number(v!.pool) / 1024 ** 2} MB`,
      innodb_flush_log_at_trx_commit: v!.flush!,
      innodb_log_file_size: `${Number(v!.log) / 1024 ** 2} MB`,
      max_allowed_packet: `${Number(v!.packet) / 1024 ** 2} MB`,
    },
  };
  const cpuOfServer = serverCpu(MYSQL_URL.hostname, v!.pid_file ?? null);
  if (cpuOfServer.unavailable) log(`database CPU: n/a (${cpuOfServer.unavailable})`);
  const mariadbServer = cpuOfServer.unavailable ? null : cpuOfServer;
  const results = startResults({ machine: machine(server), defaultBatchSize: BATCH_SIZE_HELP, referenceMax, sweepSize, serverCpuUnavailable: cpuOfServer.unavailable });

  const seedProblem = withSeed ? seedUnavailable() : 'skipped (--no-seed)';
  const profileEngine = (warehouse: Warehouse, run: string, e: EngineRun) =>
    results.profiles.push({
      warehouse,
      run,
      seconds: e.seconds,
      summary: e.summary,
      processCpu: e.processCpu,
      serverCpuMs: e.serverCpuMs,
      steps: e.summary.stages.databaseSteps,
      databaseMs: e.summary.stages.databaseMs,
    });
  const profileReference = (warehouse: Warehouse, run: string, r: { seconds: number; steps: Record<string, number>; cpu?: { userMs: number; systemMs: number } }, serverCpuMs: number | null) =>
    results.profiles.push({ warehouse, run, seconds: r.seconds, summary: null, processCpu: r.cpu ?? null, serverCpuMs, steps: r.steps, databaseMs: r.seconds * 1000 });

  // Interrupted (Ctrl-C, kill): `finally` does not run on a signal, so stop the children, drop what the bench
  // created on a connection of its own (the admin connection may be busy), remove the temp folder, and exit.
  const onSignal = (signal: NodeJS.Signals) => {
    stopping = signal;
    log(`\n${signal}: dropping the bench's databases (${[...databases].join(', ') || 'none'}) and ${tmp}`);
    void (async () => {
      try {
        await stopChildren();
        const c = await mysql.createConnection(MYSQL_OPTIONS);
        for (const name of databases) await c.query(`DROP DATABASE IF EXISTS \`${name}\``);
        await c.end();
      } finally {
        rmSync(tmp, { recursive: true, force: true });
        process.exit(signal === 'SIGINT' ? 130 : 143);
      }
    })();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    for (const size of sizes) {
      const file = join(tmp, `orders-${size}.json`);
      log(`\n== ${int(size)} orders: generating ${file}`);
      await generate(file, { orders: size });
      const mb = statSync(file).size / 1e6;
      log(`   ${f1(mb)} MB of pretty JSON`);
      if (size === sizes[0] || size === TARGET_SIZE) {
        for (const p of ['scanner', 'stream-json'] as const) {
          const r = await parseThroughput(file, p);
          log(`   parse only, ${p}: ${f1(r.mbPerSecond)} MB/s`);
          results.parse.push({ ...r, parser: `${r.parser} (${int(size)} orders)` });
        }
        const whole = wholeFileJsonParse(file);
        if (whole) results.parse.push({ ...whole, parser: `${whole.parser} (${int(size)} orders)` });
      }
      const withReferences = size <= referenceMax;
      // The increment and its final rows serve both warehouses.
      let increment: { file: string; orders: number; redelivered: number; staging: StagingFiles | null } | null = null;
      let nextPeriodFile: string | null = null;
      if (withIncremental && withReferences) {
        const o = incrementOptions(size);
        const incFile = join(tmp, `increment-${size}.json`);
        log(`   generating the increment: ${int(o.orders)} orders, half re-deliveries`);
        await generate(incFile, o);
        increment = { file: incFile, orders: o.orders, redelivered: Math.round(o.orders * (o.redeliver ?? 0)), staging: null };
        if (withHistory) {
          // The same kind of increment dated in the year after the first load's: what a history warehouse sees
          // from period to period. An extra row beside the required one, on SCD1 and history warehouses alike.
          // Attribute version 2 (other customers changed, every product re-priced again, another random
          // stream); new orders take the ids after the increment's, re-deliveries come from all ids before.
          nextPeriodFile = join(tmp, `next-period-${size}.json`);
          log(`   generating the next period's increment: ${int(o.orders)} orders dated ${NEXT_PERIOD_YEAR}`);
          const newInIncrement = o.orders - increment.redelivered;
          await generate(nextPeriodFile, { ...o, version: 2, firstOrderId: size + newInIncrement + 1, year: NEXT_PERIOD_YEAR });
        }
      }
      /** After the increment, the next period's on the same warehouse (the extra history row and its SCD1 pair). */
      const loadNextPeriod = async (warehouse: Warehouse, dimensions: 'SCD1' | 'history', url: string) => {
        if (!nextPeriodFile || !increment) return;
        const row: NextPeriodRow = { warehouse, dimensions, base: size, orders: increment.orders, engine: null, error: null };
        results.nextPeriod.push(row);
        try {
          await quiesce(admin);
          log(`   next period (${dimensions}): engine -> ${warehouse}`);
          row.engine = await engine(nextPeriodFile, url, null, warehouse === 'MariaDB' ? mariadbServer : null);
          log(`   ${f1(row.engine.seconds)} s, peak RSS ${row.engine.summary.peakRssMb} MB`);
        } catch (err) {
          row.error = (err as Error).message.slice(0, 500);
          log(`   next period failed: ${row.error}`);
        }
      };

      // --- MariaDB ---------------------------------------------------------------------------------------
      const db = await freshDb(`oe_bench_${size}`);
      await quiesce(admin);
      log('   engine -> MariaDB');
      const e = await engine(file, dbUrl(db), null, mariadbServer);
      log(`   ${f1(e.seconds)} s, ${int(e.summary.orders / e.seconds)} orders/s, peak RSS ${e.summary.peakRssMb} MB`);
      results.firstLoads.push({ warehouse: 'MariaDB', dimensions: 'SCD1', size, mb, engine: e });
      profileEngine('MariaDB', `first load, ${int(size)}`, e);

      if (withReferences) {
        await quiesce(admin);
        log('   reference: LOAD DATA of the same rows, keys maintained');
        const keysMaintained = await loadDataReference(admin, db, await freshDb(`${db}_ref`), tmp, false);
        databases.delete(`${db}_ref`);
        log(`   ${f1(keysMaintained.seconds)} s`);
        await quiesce(admin);
        log('   reference: LOAD DATA of the same rows, fact keys built after');
        const keysAfter = await loadDataReference(admin, db, await freshDb(`${db}_ref`), tmp, true);
        databases.delete(`${db}_ref`);
        log(`   ${f1(keysAfter.seconds)} s`);
        let seed: SeedResult | null = null;
        let seedNote = seedProblem ?? '';
        if (!seedProblem) {
          await quiesce(admin);
          log('   reference: the seed pipeline (pandas)');
          try {
            seed = await runSeed(admin, file, await freshDb(`${db}_seed`), MYSQL_URL);
            databases.delete(`${db}_seed`);
            log(`   ${f1(seed.seconds)} s, peak ${seed.peakRssMb} MB`);
          } catch (err) {
            seedNote = (err as Error).message.slice(0, 300);
            log(`   seed failed: ${seedNote}`);
          }
        }
        results.mariadbReferences.push({ size, engine: e, keysMaintained, keysAfter, seed, seedNote });
      }

      if (increment) {
        const row: IncrementalRow = { warehouse: 'MariaDB', dimensions: 'SCD1', base: size, orders: increment.orders, redelivered: increment.redelivered, engine: null, reference: null, comparison: null, error: null };
        results.incrementals.push(row);
        try {
          log("   incremental: the increment's final rows for LOAD DATA (untimed)");
          increment.staging = await writeStagingFiles(increment.file, tmp);
          const refDb = await freshDb(`${db}_incref`);
          log(`   incremental: copying the warehouse to ${refDb} (untimed)`);
          await cloneStar(admin, db, refDb);
          await quiesce(admin);
          log('   incremental: engine -> MariaDB');
          row.engine = await engine(increment.file, dbUrl(db), null, mariadbServer);
          log(`   ${f1(row.engine.seconds)} s, peak RSS ${row.engine.summary.peakRssMb} MB`);
          profileEngine('MariaDB', `increment ${int(increment.orders)} on ${int(size)}`, row.engine);
          await quiesce(admin);
          log('   incremental reference: LOAD DATA into staging + set-based SQL, one transaction');
          const staging = increment.staging;
          const [r, cpu] = await withServerCpu(mariadbServer, () => mysqlIncrementalReference(MYSQL_OPTIONS, refDb, staging));
          row.reference = r;
          log(`   ${f1(r.seconds)} s`);
          profileReference('MariaDB', `increment reference on ${int(size)}`, r, cpu);
          row.comparison = await compareMysql(admin, db, refDb);
          log(`   ${describeComparison(row.comparison)}`);
          await dropDb(refDb);
          await loadNextPeriod('MariaDB', 'SCD1', dbUrl(db));
        } catch (err) {
          row.error = (err as Error).message.slice(0, 500);
          log(`   incremental failed: ${row.error}`);
        }
      }
      await dropDb(db);

      // --- DuckDB ----------------------------------------------------------------------------------------
      if (withDuckdb && withReferences) {
        const duckFile = join(tmp, `bench-${size}.duckdb`);
        await quiesce(admin);
        log('   engine -> DuckDB');
        const d = await engine(file, `duckdb:${duckFile}`, null);
        log(`   ${f1(d.seconds)} s, peak RSS ${d.summary.peakRssMb} MB`);
        results.firstLoads.push({ warehouse: 'DuckDB', dimensions: 'SCD1', size, mb, engine: d });
        profileEngine('DuckDB', `first load, ${int(size)}`, d);
        const first: DuckdbFirstReference = { size, engine: d, reference: null, comparison: null, error: null };
        results.duckdbReferences.push(first);
        const refFile = join(tmp, `reference-${size}.duckdb`);
        try {
          log('   reference: DuckDB read_json + set-based SQL');
          const r = await duckdbReference(refFile, file);
          first.reference = r;
          results.duckdbSettings = Object.entries(r.settings).map(([k, val]) => `${k}=${val}`).join(', ');
          log(`   ${f1(r.seconds)} s, peak RSS ${r.peakRssMb} MB`);
          profileReference('DuckDB', `first-load reference, ${int(size)}`, r, null);
          first.comparison = await compareDuckdb(duckFile, refFile);
          log(`   ${describeComparison(first.comparison)}`);
        } catch (err) {
          first.error = (err as Error).message.slice(0, 500);
          log(`   DuckDB reference failed: ${first.error}`);
        }
        removeDuckdb(refFile);

        if (increment) {
          const row: IncrementalRow = { warehouse: 'DuckDB', dimensions: 'SCD1', base: size, orders: increment.orders, redelivered: increment.redelivered, engine: null, reference: null, comparison: null, error: null };
          results.incrementals.push(row);
          const incRefFile = join(tmp, `reference-increment-${size}.duckdb`);
          try {
            // The engine's process has closed the file (and checkpointed it): a file copy is an exact copy.
            copyFileSync(duckFile, incRefFile);
            if (existsSync(`${duckFile}.wal`)) copyFileSync(`${duckFile}.wal`, `${incRefFile}.wal`);
            await quiesce(admin);
            log('   incremental: engine -> DuckDB');
            row.engine = await engine(increment.file, `duckdb:${duckFile}`, null);
            log(`   ${f1(row.engine.seconds)} s, peak RSS ${row.engine.summary.peakRssMb} MB`);
            profileEngine('DuckDB', `increment ${int(increment.orders)} on ${int(size)}`, row.engine);
            log('   incremental reference: DuckDB read_json + set-based SQL');
            const r = await duckdbReference(incRefFile, increment.file);
            row.reference = r;
            log(`   ${f1(r.seconds)} s`);
            profileReference('DuckDB', `increment reference on ${int(size)}`, r, null);
            row.comparison = await compareDuckdb(duckFile, incRefFile);
            log(`   ${describeComparison(row.comparison)}`);
            await loadNextPeriod('DuckDB', 'SCD1', `duckdb:${duckFile}`);
          } catch (err) {
            row.error = (err as Error).message.slice(0, 500);
            log(`   incremental failed: ${row.error}`);
          }
          removeDuckdb(incRefFile);
        }
        removeDuckdb(duckFile);
      }
      // --- History (SCD2) warehouses: the same file and the same increment, beside the SCD1 runs above -------
      if (withHistory && withReferences) {
        for (const warehouse of ['MariaDB', ...(withDuckdb ? ['DuckDB' as const] : [])] as const) {
          const duckFile = join(tmp, `history-${size}.duckdb`);
          const url = warehouse === 'MariaDB' ? dbUrl(await freshDb(`oe_bench_${size}_history`)) : `duckdb:${duckFile}`;
          const scd1First = results.firstLoads.find((x) => x.warehouse === warehouse && x.dimensions === 'SCD1' && x.size === size);
          const scd1Increment = results.incrementals.find((x) => x.warehouse === warehouse && x.dimensions === 'SCD1' && x.base === size);
          const first: HistoryRow = { warehouse, run: 'first load', size, orders: size, engine: null, scd1: scd1First?.engine ?? null, versions: null, error: null };
          results.history.push(first);
          try {
            await initHistory(url);
            await quiesce(admin);
            log(`   history (SCD2): engine -> ${warehouse}`);
            first.engine = await engine(file, url, null, warehouse === 'MariaDB' ? mariadbServer : null);
            first.versions = await dimensionRows(url);
            log(`   ${f1(first.engine.seconds)} s, peak RSS ${first.engine.summary.peakRssMb} MB; ${int(first.versions.customers)} customer and ${int(first.versions.products)} product versions`);
            results.firstLoads.push({ warehouse, dimensions: 'history', size, mb, engine: first.engine });
            profileEngine(warehouse, `history first load, ${int(size)}`, first.engine);
          } catch (err) {
            first.error = (err as Error).message.slice(0, 500);
            log(`   history first load failed: ${first.error}`);
          }
          if (increment && first.engine) {
            const row: HistoryRow = { warehouse, run: 'increment', size, orders: increment.orders, engine: null, scd1: scd1Increment?.engine ?? null, versions: null, error: null };
            results.history.push(row);
            try {
              await quiesce(admin);
              log(`   history (SCD2) incremental: engine -> ${warehouse}`);
              row.engine = await engine(increment.file, url, null, warehouse === 'MariaDB' ? mariadbServer : null);
              row.versions = await dimensionRows(url);
              log(`   ${f1(row.engine.seconds)} s, peak RSS ${row.engine.summary.peakRssMb} MB; ${int(row.versions.customers)} customer and ${int(row.versions.products)} product versions`);
              profileEngine(warehouse, `history increment ${int(increment.orders)} on ${int(size)}`, row.engine);
              await loadNextPeriod(warehouse, 'history', url);
            } catch (err) {
              row.error = (err as Error).message.slice(0, 500);
              log(`   history incremental failed: ${row.error}`);
            }
          }
          if (warehouse === 'MariaDB') await dropDb(new URL(url).pathname.slice(1));
          else removeDuckdb(duckFile);
        }
      }
      // --- More rounds of the first loads at the target size (--repeat): the targets take their medians -------
      if (size === TARGET_SIZE && withReferences) {
        for (let round = 2; round <= repeat; round++) {
          log(`\n   round ${round} of ${repeat}: the first loads and LOAD DATA, fact keys built after, again`);
          const rr: RepeatRound = { mariadb: null, keysAfter: null, duckdb: null, mariadbHistory: null, duckdbHistory: null, error: null };
          results.repeats.push(rr);
          const duckFile = join(tmp, `repeat-${size}.duckdb`);
          try {
            const rdb = await freshDb(`oe_bench_${size}_repeat`);
            await quiesce(admin);
            rr.mariadb = (await engine(file, dbUrl(rdb), null)).seconds;
            log(`   engine -> MariaDB: ${f1(rr.mariadb)} s`);
            await quiesce(admin);
            rr.keysAfter = (await loadDataReference(admin, rdb, await freshDb(`${rdb}_ref`), tmp, true)).seconds;
            databases.delete(`${rdb}_ref`);
            log(`   LOAD DATA, fact keys built after: ${f1(rr.keysAfter)} s`);
            await dropDb(rdb);
            if (withHistory) {
              const hdb = await freshDb(`oe_bench_${size}_repeat_history`);
              await initHistory(dbUrl(hdb));
              await quiesce(admin);
              rr.mariadbHistory = (await engine(file, dbUrl(hdb), null)).seconds;
              log(`   history (SCD2): engine -> MariaDB: ${f1(rr.mariadbHistory)} s`);
              await dropDb(hdb);
            }
            if (withDuckdb) {
              await quiesce(admin);
              rr.duckdb = (await engine(file, `duckdb:${duckFile}`, null)).seconds;
              log(`   engine -> DuckDB: ${f1(rr.duckdb)} s`);
              removeDuckdb(duckFile);
              if (withHistory) {
                await initHistory(`duckdb:${duckFile}`);
                await quiesce(admin);
                rr.duckdbHistory = (await engine(file, `duckdb:${duckFile}`, null)).seconds;
                log(`   history (SCD2): engine -> DuckDB: ${f1(rr.duckdbHistory)} s`);
              }
            }
          } catch (err) {
            rr.error = (err as Error).message.slice(0, 500);
            log(`   round ${round} failed: ${rr.error}`);
          }
          removeDuckdb(duckFile);
        }
      }
      if (nextPeriodFile) rmSync(nextPeriodFile, { force: true });
      if (increment) {
        rmSync(increment.file, { force: true });
        for (const f of Object.values(increment.staging ?? {})) rmSync(f.path, { force: true });
      }
      if (size !== sweepSize) rmSync(file, { force: true });
    }

    if (batchSizes.length > 0 && sweepSize > 0) {
      const file = join(tmp, `orders-${sweepSize}.json`);
      log(`\n== --batch-size sweep on ${int(sweepSize)} orders`);
      if (!existsSync(file)) await generate(file, { orders: sweepSize });
      for (const b of batchSizes) {
        const db = await freshDb(`oe_bench_sweep_${b}`);
        await quiesce(admin);
        const m = await engine(file, dbUrl(db), b);
        await dropDb(db);
        log(`   MariaDB --batch-size ${b}: ${f1(m.seconds)} s, peak RSS ${m.summary.peakRssMb} MB`);
        let d: EngineRun | null = null;
        if (withDuckdb) {
          const duckFile = join(tmp, `sweep-${b}.duckdb`);
          await quiesce(admin);
          d = await engine(file, `duckdb:${duckFile}`, b);
          removeDuckdb(duckFile);
          log(`   DuckDB  --batch-size ${b}: ${f1(d.seconds)} s, peak RSS ${d.summary.peakRssMb} MB`);
        }
        results.sweep.push({ batchSize: b, mariadb: m, duckdb: d });
      }
      rmSync(file, { force: true });
    }

    writeFileSync(out, renderResults(results));
    log(`\nwrote ${out}`);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    // Best effort on the way out: a failure to drop one database must not hide the error that brought us here.
    for (const name of [...databases]) await admin.query(`DROP DATABASE IF EXISTS \`${name}\``).catch((err: Error) => log(`could not drop ${name}: ${err.message}`));
    await admin.end();
    rmSync(tmp, { recursive: true, force: true });
  }
}

await main().catch((err: unknown) => {
  // Stopped by a signal: the handler drops the databases and exits; the runs it cut short are not errors.
  if (stopping) return;
  throw err;
});
