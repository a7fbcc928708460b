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
 * - a profile (CPU of the engine's process and of the MariaDB server, GC, the named database steps), the targets
 *   of issue 10 with what was measured, the parse stage alone, and a --batch-size sweep on both warehouses.
 *
 * Prints as it goes and writes bench/RESULTS.md.
 *
 *   npm run bench [-- --sizes 100000,1000000,3000000] [--reference-max 1000000] [--sweep-size 200000]
 *                 [--batch-sizes 500,1000,2000,5000,10000] [--no-seed] [--no-duckdb] [--no-incremental]
 *                 [--out bench/RESULTS.md]
 *
 * MYSQL_URL (default mysql://root@127.0.0.1:3306/test) names the server; the bench creates its own databases
 * there (oe_bench_*), drops every one of them before it exits, and changes no global variable.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { DEFAULT_BATCH_SIZE } from '../src/options.ts';
import { compareDuckdb, type ReferenceRun } from './duckdb-reference.ts';
import { generate } from './generate.ts';
import { cloneStar, compareMysql, incrementOptions, mysqlIncrementalReference, writeStagingFiles, type StagingFiles } from './incremental.ts';
import { parseThroughput, wholeFileJsonParse, type ParseResult } from './parse.ts';
import { childCpuFromTimes, serverCpu, stepCoverage, type ServerCpu } from './profile.ts';
import { loadDataReference, type ReferenceResult } from './reference.ts';
import { runSeed, seedUnavailable, type SeedResult } from './seed.ts';
import { allEqual, describeComparison, type TableComparison } from './star.ts';

const ROOT = join(import.meta.dirname, '..');
const USAGE = `usage: npm run bench -- [--sizes N,N,...] [--reference-max N] [--sweep-size N] [--batch-sizes N,N,...]
                      [--no-seed] [--no-duckdb] [--no-incremental] [--out FILE]
  --sizes           first loads of these many orders (default 100000,1000000,3000000)
  --reference-max   references, DuckDB and incremental rows for sizes up to this (default 1000000)
  --sweep-size      orders for the --batch-size sweep on both warehouses; 0 skips it (default 200000)
  --batch-sizes     the sweep's batch sizes (default 500,1000,2000,5000,10000)
  --no-seed         skip the seed's pandas pipeline
  --no-duckdb       skip the DuckDB rows (engine, reference, sweep)
  --no-incremental  skip the incremental rows
  --out             where to write the results (default bench/RESULTS.md)
MYSQL_URL names the MariaDB server (default mysql://root@127.0.0.1:3306/test).
`;

/** The command line, validated once: a bad flag is named with its value and what is allowed. */
function parseArgs(argv: string[]) {
  const fail = (msg: string): never => {
    process.stderr.write(`bench: ${msg}\n${USAGE}`);
    process.exit(2);
  };
  const flags = new Set(['--no-seed', '--no-duckdb', '--no-incremental', '--help']);
  const valued = new Set(['--sizes', '--reference-max', '--sweep-size', '--batch-sizes', '--out']);
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
/** The size issue 10's targets are set for. */
const TARGET_SIZE = 1_000_000;

/** The engine's `--json` summary: the fields the bench reads. `cpu` and `gcMs` are newer; absent means n/a. */
interface EngineSummary {
  orders: number;
  factRows: number;
  bytes: number;
  elapsedMs: number;
  peakRssMb: number;
  customers: { inserted: number; updated: number };
  products: { inserted: number; updated: number };
  stages: { parseMs: number; transformMs: number; databaseMs: number; databaseSteps: Record<string, number> };
  cpu?: { userMs: number; systemMs: number };
  gcMs?: number;
}

interface EngineRun {
  seconds: number;
  summary: EngineSummary;
  /** CPU of the engine's process, measured from outside (the shell's `times`). */
  processCpu: { userMs: number; systemMs: number } | null;
  /** CPU ms of the MariaDB server during the run (null: not measurable, or DuckDB). */
  serverCpuMs: number | null;
}

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
async function engine(file: string, db: string, batchSize: number, server: ServerCpu | null = null): Promise<EngineRun> {
  const run = async () => {
    const t = performance.now();
    const args = [join(ROOT, 'bin', 'orders-etl.js'), 'load', file, '--db', db, '--json', '--no-progress', '--batch-size', String(batchSize)];
    const { code, stdout, stderr } = await runChild('/bin/sh', ['-c', '"$@"; rc=$?; times >&2; exit $rc', 'sh', process.execPath, ...args]);
    const seconds = (performance.now() - t) / 1000;
    if (code !== 0) throw new Error(`engine failed (exit ${code}): ${stderr.slice(-2000)}`);
    return { seconds, summary: JSON.parse(stdout) as EngineSummary, processCpu: childCpuFromTimes(stderr) };
  };
  const [r, serverCpuMs] = await withServerCpu(server, run);
  return { ...r, serverCpuMs };
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
const s1 = (ms: number | null | undefined) => (ms === null || ms === undefined ? 'n/a' : (ms / 1000).toFixed(1));
const int = (n: number) => Math.round(n).toLocaleString('en-US');
const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}x`;

interface Target {
  what: string;
  target: string;
  measured: string;
  /** null: not measured in this run. */
  met: boolean | null;
}

interface ProfileRow {
  warehouse: string;
  run: string;
  seconds: number;
  summary: EngineSummary | null;
  processCpu: { userMs: number; systemMs: number } | null;
  serverCpuMs: number | null;
  /** Why database CPU is not a number. */
  serverNote: string;
  steps: Record<string, number> | null;
  databaseMs: number | null;
}

interface IncrementalRow {
  warehouse: 'MariaDB' | 'DuckDB';
  base: number;
  orders: number;
  redelivered: number;
  engine: EngineRun | null;
  reference: { seconds: number; steps: Record<string, number>; changed: Record<string, number>; peakRssMb?: number } | null;
  comparison: TableComparison[] | null;
  error: string | null;
}

async function main(): Promise<void> {
  const { sizes, referenceMax, sweepSize, batchSizes, withSeed, withDuckdb, withIncremental, out } = opts;
  const tmp = mkdtempSync(join(os.tmpdir(), 'orders-etl-bench-'));
  const admin = await mysql.createConnection(MYSQL_OPTIONS);
  const databases = new Set<string>();
  const dropDb = async (name: string) => {
    await admin.query(`DROP DATABASE IF EXISTS \`${name}\``);
    databases.delete(name);
  };
  /** Every database the bench creates goes through here, so that `finally` can drop whatever is left. */
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
  const lines: string[] = ['# Bench results', '', 'Written by `npm run bench` (bench/run.ts). All figures come from one run on this machine:', '', ...machine(server), ''];
  const seedProblem = withSeed ? seedUnavailable() : 'skipped (--no-seed)';
  const firstLoads: string[] = [];
  const references: string[] = [];
  const duckReferences: string[] = [];
  const profiles: ProfileRow[] = [];
  const incrementals: IncrementalRow[] = [];
  const parseRows: ParseResult[] = [];
  const mariadbWall = new Map<number, number>();
  const mariadbRss: [string, number][] = [];
  const duckFirst = new Map<number, { engine: EngineRun; reference: ReferenceRun | null; comparison: TableComparison[] | null; error: string | null }>();
  const mariadbFirst = new Map<number, { engine: EngineRun; keysMaintained: ReferenceResult; keysAfter: ReferenceResult; seed: SeedResult | null }>();
  let duckSettings = '';
  const profile = (warehouse: string, run: string, e: EngineRun) =>
    profiles.push({
      warehouse,
      run,
      seconds: e.seconds,
      summary: e.summary,
      processCpu: e.processCpu,
      serverCpuMs: e.serverCpuMs,
      serverNote: warehouse === 'DuckDB' ? 'in-process' : 'n/a',
      steps: e.summary.stages.databaseSteps,
      databaseMs: e.summary.stages.databaseMs,
    });
  const mariadbServer = cpuOfServer.unavailable ? null : cpuOfServer;
  // Interrupted (Ctrl-C, kill): `finally` does not run on a signal, so drop what the bench created on a
  // connection of its own (the admin connection may be busy with a query), remove the temp folder, and exit.
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
          parseRows.push({ ...r, parser: `${r.parser} (${int(size)} orders)` });
        }
        const whole = wholeFileJsonParse(file);
        if (whole) parseRows.push({ ...whole, parser: `${whole.parser} (${int(size)} orders)` });
      }
      const withReferences = size <= referenceMax;
      // The increment and its final rows serve both warehouses.
      let increment: { file: string; orders: number; redelivered: number; staging: StagingFiles | null } | null = null;
      if (withIncremental && withReferences) {
        const o = incrementOptions(size);
        const incFile = join(tmp, `increment-${size}.json`);
        log(`   generating the increment: ${int(o.orders)} orders, half re-deliveries`);
        await generate(incFile, o);
        increment = { file: incFile, orders: o.orders, redelivered: Math.round(o.orders * o.redeliver!), staging: null };
      }

      // --- MariaDB ---------------------------------------------------------------------------------------
      const db = await freshDb(`oe_bench_${size}`);
      await quiesce(admin);
      log('   engine -> MariaDB');
      const e = await engine(file, dbUrl(db), DEFAULT_BATCH_SIZE, mariadbServer);
      const s = e.summary;
      log(`   ${f1(e.seconds)} s, ${int(s.orders / e.seconds)} orders/s, peak RSS ${s.peakRssMb} MB`);
      firstLoads.push(`| MariaDB | SCD1 | ${int(size)} | ${f1(mb)} | ${f1(e.seconds)} | ${int(s.orders / e.seconds)} | ${f1(mb / e.seconds)} | ${int(s.factRows / e.seconds)} | ${s.peakRssMb} |`);
      profile('MariaDB', `first load, ${int(size)}`, e);
      mariadbWall.set(size, e.seconds);
      mariadbRss.push([`first load, ${int(size)} orders`, s.peakRssMb]);

      if (withReferences) {
        await quiesce(admin);
        log('   reference: LOAD DATA of the same rows, keys maintained');
        const ref = await loadDataReference(admin, db, await freshDb(`${db}_ref`), tmp, false);
        databases.delete(`${db}_ref`);
        log(`   ${f1(ref.seconds)} s`);
        await quiesce(admin);
        log('   reference: LOAD DATA of the same rows, fact keys built after');
        const refDeferred = await loadDataReference(admin, db, await freshDb(`${db}_ref`), tmp, true);
        databases.delete(`${db}_ref`);
        log(`   ${f1(refDeferred.seconds)} s`);
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
        references.push(
          `| ${int(size)} | ${f1(e.seconds)} | ${f1(ref.seconds)} (${ratio(e.seconds, ref.seconds)}) | ${f1(refDeferred.seconds)} (${ratio(e.seconds, refDeferred.seconds)}) | ${seed ? `${f1(seed.seconds)} s, ${seed.peakRssMb} MB (${ratio(e.seconds, seed.seconds)})` : `not run: ${seedNote}`} |`,
        );
        mariadbFirst.set(size, { engine: e, keysMaintained: ref, keysAfter: refDeferred, seed });
      }

      if (increment) {
        const row: IncrementalRow = { warehouse: 'MariaDB', base: size, orders: increment.orders, redelivered: increment.redelivered, engine: null, reference: null, comparison: null, error: null };
        incrementals.push(row);
        try {
          log("   incremental: the increment's final rows for LOAD DATA (untimed)");
          increment.staging = await writeStagingFiles(increment.file, tmp);
          const refDb = await freshDb(`${db}_incref`);
          log(`   incremental: copying the warehouse to ${refDb} (untimed)`);
          await cloneStar(admin, db, refDb);
          await quiesce(admin);
          log('   incremental: engine -> MariaDB');
          row.engine = await engine(increment.file, dbUrl(db), DEFAULT_BATCH_SIZE, mariadbServer);
          log(`   ${f1(row.engine.seconds)} s, peak RSS ${row.engine.summary.peakRssMb} MB`);
          profile('MariaDB', `increment ${int(increment.orders)} on ${int(size)}`, row.engine);
          mariadbRss.push([`increment on ${int(size)} orders`, row.engine.summary.peakRssMb]);
          await quiesce(admin);
          log('   incremental reference: LOAD DATA into staging + set-based SQL, one transaction');
          const [r, cpu] = await withServerCpu(mariadbServer, () => mysqlIncrementalReference(MYSQL_OPTIONS, refDb, increment!.staging!));
          row.reference = r;
          log(`   ${f1(r.seconds)} s`);
          profiles.push({ warehouse: 'MariaDB', run: `increment reference on ${int(size)}`, seconds: r.seconds, summary: null, processCpu: null, serverCpuMs: cpu, serverNote: 'n/a', steps: r.steps, databaseMs: r.seconds * 1000 });
          row.comparison = await compareMysql(admin, db, refDb);
          log(`   ${describeComparison(row.comparison)}`);
          await dropDb(refDb);
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
        const d = await engine(file, `duckdb:${duckFile}`, DEFAULT_BATCH_SIZE);
        const ds = d.summary;
        log(`   ${f1(d.seconds)} s, peak RSS ${ds.peakRssMb} MB`);
        firstLoads.push(`| DuckDB | SCD1 | ${int(size)} | ${f1(mb)} | ${f1(d.seconds)} | ${int(ds.orders / d.seconds)} | ${f1(mb / d.seconds)} | ${int(ds.factRows / d.seconds)} | ${ds.peakRssMb} |`);
        profile('DuckDB', `first load, ${int(size)}`, d);
        const first: { engine: EngineRun; reference: ReferenceRun | null; comparison: TableComparison[] | null; error: string | null } = { engine: d, reference: null, comparison: null, error: null };
        duckFirst.set(size, first);
        const refFile = join(tmp, `reference-${size}.duckdb`);
        try {
          log('   reference: DuckDB read_json + set-based SQL');
          const r = await duckdbReference(refFile, file);
          first.reference = r;
          duckSettings = Object.entries(r.settings).map(([k, val]) => `${k}=${val}`).join(', ');
          log(`   ${f1(r.seconds)} s, peak RSS ${r.peakRssMb} MB`);
          profiles.push({ warehouse: 'DuckDB', run: `first-load reference, ${int(size)}`, seconds: r.seconds, summary: null, processCpu: r.cpu, serverCpuMs: null, serverNote: 'in-process', steps: r.steps, databaseMs: r.seconds * 1000 });
          first.comparison = await compareDuckdb(duckFile, refFile);
          log(`   ${describeComparison(first.comparison)}`);
        } catch (err) {
          first.error = (err as Error).message.slice(0, 500);
          log(`   DuckDB reference failed: ${first.error}`);
        }
        removeDuckdb(refFile);
        duckReferences.push(
          `| ${int(size)} | ${f1(d.seconds)} | ${first.reference ? `${f1(first.reference.seconds)} (${ratio(d.seconds, first.reference.seconds)})` : 'failed'} | ${first.reference?.peakRssMb ?? '—'} | ${first.comparison ? describeComparison(first.comparison) : first.error} |`,
        );

        if (increment) {
          const row: IncrementalRow = { warehouse: 'DuckDB', base: size, orders: increment.orders, redelivered: increment.redelivered, engine: null, reference: null, comparison: null, error: null };
          incrementals.push(row);
          const incRefFile = join(tmp, `reference-increment-${size}.duckdb`);
          try {
            // The engine's process has closed the file (and checkpointed it): a file copy is an exact copy.
            copyFileSync(duckFile, incRefFile);
            if (existsSync(`${duckFile}.wal`)) copyFileSync(`${duckFile}.wal`, `${incRefFile}.wal`);
            await quiesce(admin);
            log('   incremental: engine -> DuckDB');
            row.engine = await engine(increment.file, `duckdb:${duckFile}`, DEFAULT_BATCH_SIZE);
            log(`   ${f1(row.engine.seconds)} s, peak RSS ${row.engine.summary.peakRssMb} MB`);
            profile('DuckDB', `increment ${int(increment.orders)} on ${int(size)}`, row.engine);
            log('   incremental reference: DuckDB read_json + set-based SQL');
            const r = await duckdbReference(incRefFile, increment.file);
            row.reference = r;
            log(`   ${f1(r.seconds)} s`);
            profiles.push({ warehouse: 'DuckDB', run: `increment reference on ${int(size)}`, seconds: r.seconds, summary: null, processCpu: r.cpu, serverCpuMs: null, serverNote: 'in-process', steps: r.steps, databaseMs: r.seconds * 1000 });
            row.comparison = await compareDuckdb(duckFile, incRefFile);
            log(`   ${describeComparison(row.comparison)}`);
          } catch (err) {
            row.error = (err as Error).message.slice(0, 500);
            log(`   incremental failed: ${row.error}`);
          }
          removeDuckdb(incRefFile);
        }
        removeDuckdb(duckFile);
      }
      // Issue 13 goes here: a history (SCD2) warehouse (`orders-etl init --history customers,products`
      // before loading), its first load of this file and the same increment, as rows with dimensions = history.
      if (increment) {
        rmSync(increment.file, { force: true });
        for (const f of Object.values(increment.staging ?? {})) rmSync(f.path, { force: true });
      }
      if (size !== sweepSize) rmSync(file, { force: true });
    }

    const sweep: string[] = [];
    if (batchSizes.length > 0 && sweepSize > 0) {
      const file = join(tmp, `orders-${sweepSize}.json`);
      log(`\n== --batch-size sweep on ${int(sweepSize)} orders`);
      if (!existsSync(file)) await generate(file, { orders: sweepSize });
      for (const b of batchSizes) {
        const db = await freshDb(`oe_bench_sweep_${b}`);
        await quiesce(admin);
        const e = await engine(file, dbUrl(db), b);
        await dropDb(db);
        log(`   MariaDB --batch-size ${b}: ${f1(e.seconds)} s, peak RSS ${e.summary.peakRssMb} MB`);
        let duck = '| — | — | — ';
        if (withDuckdb) {
          const duckFile = join(tmp, `sweep-${b}.duckdb`);
          await quiesce(admin);
          const d = await engine(file, `duckdb:${duckFile}`, b);
          removeDuckdb(duckFile);
          log(`   DuckDB  --batch-size ${b}: ${f1(d.seconds)} s, peak RSS ${d.summary.peakRssMb} MB`);
          duck = `| ${f1(d.seconds)} | ${int(d.summary.orders / d.seconds)} | ${d.summary.peakRssMb} `;
        }
        sweep.push(`| ${b}${b === DEFAULT_BATCH_SIZE ? ' (default)' : ''} | ${f1(e.seconds)} | ${int(e.summary.orders / e.seconds)} | ${e.summary.peakRssMb} ${duck}|`);
      }
      rmSync(file, { force: true });
    }

    const targets = collectTargets({ mariadbFirst, mariadbWall, mariadbRss, duckFirst, incrementals, profiles, parseRows, sizes, referenceMax });
    lines.push(
      '## Targets (issue 10)',
      '',
      `Set for ${int(TARGET_SIZE)} orders; where this run did not load that size, the figure is for the size named.`,
      'A target not met is reported as measured; the reason is for the engineer to fill in.',
      '',
      '| what | target | measured | met | reason |',
      '| --- | --- | --- | --- | --- |',
      ...targets.map((t) => `| ${t.what} | ${t.target} | ${t.measured} | ${t.met === null ? 'not measured' : t.met ? 'yes' : '**no**'} | — |`),
      '',
      `## Engine, first load (pretty JSON, \`--batch-size ${DEFAULT_BATCH_SIZE}\`)`,
      '',
      '| warehouse | dimensions | orders | MB | wall s | orders/s | MB/s | fact rows/s | peak RSS MB |',
      '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
      ...firstLoads,
      '',
      '## Incremental load',
      '',
      'The warehouse of the first load above, then an increment made by the generator (bench/incremental.ts):',
      'N/5 orders, half of them re-deliveries of existing orders with other lines, half new; changed attributes for',
      'about 4% of N customers and for every product. The engine: a second `load`, into its own warehouse. The',
      'reference, on an exact copy of that warehouse taken before: on MariaDB the increment\'s final rows',
      'LOAD DATA\'d into staging tables plus hand-written set-based SQL (UPDATE … JOIN, INSERT of new keys with',
      'MAX + ROW_NUMBER in first-appearance order, DELETE … JOIN, INSERT … SELECT), one transaction, timed from',
      'the LOAD DATA to COMMIT; on DuckDB `read_json` of the increment plus the same SQL, timed to the end of',
      'CHECKPOINT. "Changed" counts are the reference\'s UPDATEs (rows whose attributes changed).',
      '',
      '| warehouse | dimensions | base orders | increment orders | re-delivered | changed customers | changed products | engine s | reference s | engine/reference | engine peak RSS MB | result |',
      '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
      ...incrementals.map((r) => {
        const ch = (k: string) => (r.reference?.changed[k] === undefined ? '—' : int(r.reference.changed[k]!));
        return `| ${r.warehouse} | SCD1 | ${int(r.base)} | ${int(r.orders)} | ${int(r.redelivered)} | ${ch('customers update')} | ${ch('products update')} | ${r.engine ? f1(r.engine.seconds) : '—'} | ${r.reference ? f1(r.reference.seconds) : '—'} | ${r.engine && r.reference ? ratio(r.engine.seconds, r.reference.seconds) : '—'} | ${r.engine?.summary.peakRssMb ?? '—'} | ${r.error ? `failed: ${r.error}` : r.comparison ? describeComparison(r.comparison) : '—'} |`;
      }),
      '',
      'Reference steps (ms):',
      '',
      ...incrementals.filter((r) => r.reference).map((r) => `- ${r.warehouse}, increment on ${int(r.base)}: ${Object.entries(r.reference!.steps).filter(([, ms]) => ms > 0).map(([k, ms]) => `${k} ${int(ms)}`).join(', ')}`),
      '',
      '## History (SCD2) warehouses',
      '',
      'Not measured yet. Issue 13 adds them beside the SCD1 rows above: a warehouse created with',
      '`orders-etl init --history customers,products`, its first load of the same files and the same increment.',
      '',
      '## Profile',
      '',
      'Node CPU and GC come from the engine\'s `--json` summary (`cpu`, `gcMs`; "n/a" while it does not report them);',
      '"process CPU" is the engine\'s whole process measured from outside (the shell\'s `times`: user + system).',
      `Database CPU is the MariaDB server process's CPU over the same interval (/proc/<pid>/stat, pid from @@pid_file${cpuOfServer.unavailable ? `; n/a here: ${cpuOfServer.unavailable}` : ''}:`,
      'the whole server, so anything else it serves meanwhile counts too);',
      'DuckDB runs inside the engine\'s process, so its CPU is in the process CPU. Database time is `stages.databaseMs`',
      '(wall time inside batch transactions) plus the steps timed outside batches (`build fact keys`); the steps listed',
      'are the largest named ones, as many as reach 90% of it, with the share they cover (and, in brackets, the share',
      'of all named steps). Reference rows: their own steps, over their wall time.',
      '',
      '| warehouse | run | wall s | Node user s | Node system s | process CPU s | GC share | database CPU s | parse s | transform s | database s | steps covering ≥ 90% of database time (s) |',
      '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
      ...profiles.map((p) => {
        const sum = p.summary;
        const cov = p.steps && p.databaseMs !== null ? stepCoverage(p.databaseMs, p.steps) : null;
        const covText = cov ? `${cov.listed.map(([k, ms]) => `${k} ${s1(ms)}`).join(', ')} — ${Math.round(cov.coveredPct)}% (${Math.round(cov.namedPct)}%)` : '—';
        const gc = sum ? (sum.gcMs === undefined ? 'n/a' : `${((100 * sum.gcMs) / (p.seconds * 1000)).toFixed(1)}%`) : '—';
        const proc = p.processCpu ? s1(p.processCpu.userMs + p.processCpu.systemMs) : sum ? 'n/a' : '—';
        return `| ${p.warehouse} | ${p.run} | ${f1(p.seconds)} | ${sum ? s1(sum.cpu?.userMs) : '—'} | ${sum ? s1(sum.cpu?.systemMs) : '—'} | ${proc} | ${gc} | ${p.serverCpuMs !== null ? s1(p.serverCpuMs) : p.serverNote} | ${sum ? s1(sum.stages.parseMs) : '—'} | ${sum ? s1(sum.stages.transformMs) : '—'} | ${cov ? s1(cov.totalMs) : '—'} | ${covText} |`;
      }),
      '',
      '## References, same run, same MariaDB',
      '',
      'LOAD DATA: `LOAD DATA LOCAL INFILE` of exactly the final rows the engine produced, into a fresh database with',
      'the same DDL, dimensions first, then facts. "Keys maintained": the fact table\'s secondary indexes and',
      'foreign keys exist during the load. "Keys built after": the fact table is loaded with its primary key only',
      'and its secondary keys are added afterwards, which is what the engine does on a first load. The seed',
      '(bench/seed/): its initial load (pandas `to_sql`, which replaces the fact table with one that has no keys at all).',
      '',
      '| orders | engine s | LOAD DATA, keys maintained s (engine/ref) | LOAD DATA, keys built after s (engine/ref) | seed pipeline (engine/seed) |',
      '| --- | --- | --- | --- | --- |',
      ...references,
      '',
      '## DuckDB reference, first load',
      '',
      'DuckDB on its own (bench/duckdb-reference.ts, in a process of its own): `read_json` of the same file plus',
      'set-based SQL building the same star schema, keys included (MAX + ROW_NUMBER in first-appearance order),',
      `in one transaction, timed to the end of CHECKPOINT; DuckDB's defaults${duckSettings ? ` (${duckSettings})` : ''}. Its tables are compared with`,
      "the engine's row by row (EXCEPT ALL both ways, every column).",
      '',
      '| orders | engine s | reference s (engine/ref) | reference peak RSS MB | result |',
      '| --- | --- | --- | --- | --- |',
      ...duckReferences,
      '',
      '## Parse stage alone',
      '',
      '| parser | MB/s | seconds | records |',
      '| --- | --- | --- | --- |',
      ...parseRows.map((p) => `| ${p.parser} | ${f1(p.mbPerSecond)} | ${f1(p.seconds)} | ${int(p.records)} |`),
      '',
      `## --batch-size sweep (first load of ${int(sweepSize)} orders)`,
      '',
      '| batch size | MariaDB wall s | MariaDB orders/s | MariaDB peak RSS MB | DuckDB wall s | DuckDB orders/s | DuckDB peak RSS MB |',
      '| --- | --- | --- | --- | --- | --- | --- |',
      ...sweep,
      '',
    );
    writeFileSync(out, lines.join('\n'));
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

/** Issue 10's targets (items 1-5), each with what this run measured, at 1M orders or the size named. */
function collectTargets(m: {
  mariadbFirst: Map<number, { engine: EngineRun; keysMaintained: ReferenceResult; keysAfter: ReferenceResult; seed: SeedResult | null }>;
  mariadbWall: Map<number, number>;
  mariadbRss: [string, number][];
  duckFirst: Map<number, { engine: EngineRun; reference: ReferenceRun | null; comparison: TableComparison[] | null; error: string | null }>;
  incrementals: IncrementalRow[];
  profiles: ProfileRow[];
  parseRows: ParseResult[];
  sizes: number[];
  referenceMax: number;
}): Target[] {
  const t: Target[] = [];
  const notMeasured = (what: string, target: string, why: string) => t.push({ what, target, measured: `not measured: ${why}`, met: null });
  /** The size a target is read at: 1M when it ran, else the largest that did. */
  const at = <V>(runs: Map<number, V>): [number, V] | null => {
    if (runs.has(TARGET_SIZE)) return [TARGET_SIZE, runs.get(TARGET_SIZE)!];
    const sizes = [...runs.keys()].sort((a, b) => b - a);
    return sizes.length ? [sizes[0]!, runs.get(sizes[0]!)!] : null;
  };
  const label = (size: number) => `${int(size)} orders`;

  // 1. MariaDB first load against LOAD DATA and the seed.
  const mf = at(m.mariadbFirst);
  if (mf) {
    const [size, r] = mf;
    const e = r.engine.seconds;
    t.push({ what: `MariaDB first load vs LOAD DATA, keys maintained (${label(size)})`, target: '≤ 1.3x', measured: `${f1(e)} s / ${f1(r.keysMaintained.seconds)} s = ${ratio(e, r.keysMaintained.seconds)}`, met: e <= 1.3 * r.keysMaintained.seconds });
    t.push({ what: `MariaDB first load vs LOAD DATA, fact keys built after (${label(size)})`, target: '≤ 1.3x', measured: `${f1(e)} s / ${f1(r.keysAfter.seconds)} s = ${ratio(e, r.keysAfter.seconds)}`, met: e <= 1.3 * r.keysAfter.seconds });
    if (r.seed) t.push({ what: `MariaDB first load vs the seed pipeline (${label(size)})`, target: '≤ 0.33x', measured: `${f1(e)} s / ${f1(r.seed.seconds)} s = ${ratio(e, r.seed.seconds)}`, met: e <= r.seed.seconds / 3 });
    else notMeasured('MariaDB first load vs the seed pipeline', '≤ 0.33x', 'the seed did not run');
  } else notMeasured('MariaDB first load vs LOAD DATA and the seed', '≤ 1.3x, ≤ 0.33x', `no size ≤ --reference-max ${int(m.referenceMax)}`);

  // 2. DuckDB first load against its read_json reference.
  const df = at(m.duckFirst);
  if (df) {
    const [size, r] = df;
    const e = r.engine.seconds;
    if (r.reference) t.push({ what: `DuckDB first load vs read_json + SQL (${label(size)})`, target: '≤ 3x', measured: `${f1(e)} s / ${f1(r.reference.seconds)} s = ${ratio(e, r.reference.seconds)}`, met: e <= 3 * r.reference.seconds });
    else notMeasured('DuckDB first load vs read_json + SQL', '≤ 3x', r.error ?? 'the reference failed');
    t.push({ what: `DuckDB first load, peak RSS (${label(size)})`, target: '≤ 320 MB', measured: `${r.engine.summary.peakRssMb} MB`, met: r.engine.summary.peakRssMb <= 320 });
    t.push({
      what: `DuckDB first load equals read_json + SQL, keys included (${label(size)})`,
      target: 'equal',
      measured: r.comparison ? describeComparison(r.comparison) : `not compared: ${r.error}`,
      met: r.comparison ? allEqual(r.comparison) : null,
    });
  } else notMeasured('DuckDB first load vs read_json + SQL', '≤ 3x, ≤ 320 MB, equal', 'no DuckDB run (--no-duckdb, or no size ≤ --reference-max)');

  // 3. MariaDB scaling and memory.
  const pairs = [...m.mariadbWall.keys()].filter((s) => m.mariadbWall.has(3 * s)).sort((a, b) => (a === TARGET_SIZE ? -1 : b === TARGET_SIZE ? 1 : b - a));
  if (pairs.length) {
    const s = pairs[0]!;
    const [w1, w3] = [m.mariadbWall.get(s)!, m.mariadbWall.get(3 * s)!];
    t.push({ what: `MariaDB wall, ${label(3 * s)} vs ${label(s)}`, target: '≤ 3.3x', measured: `${f1(w3)} s / ${f1(w1)} s = ${ratio(w3, w1)}`, met: w3 <= 3.3 * w1 });
  } else notMeasured('MariaDB wall, 3M vs 1M orders', '≤ 3.3x', 'needs two sizes N and 3N in --sizes');
  for (const [what, rss] of m.mariadbRss) t.push({ what: `MariaDB peak RSS, ${what}`, target: '≤ 256 MB', measured: `${rss} MB`, met: rss <= 256 });

  // 4. Incremental loads against their references.
  for (const warehouse of ['MariaDB', 'DuckDB'] as const) {
    const rows = new Map(m.incrementals.filter((r) => r.warehouse === warehouse).map((r) => [r.base, r]));
    const pick = at(rows);
    if (!pick) {
      notMeasured(`${warehouse} increment vs set-based reference`, '≤ 1.0x', '--no-incremental, or no size ≤ --reference-max');
      continue;
    }
    const [size, r] = pick;
    const what = `${warehouse} increment of ${int(r.orders)} on ${label(size)}`;
    if (r.engine && r.reference) t.push({ what: `${what} vs set-based reference`, target: '≤ 1.0x', measured: `${f1(r.engine.seconds)} s / ${f1(r.reference.seconds)} s = ${ratio(r.engine.seconds, r.reference.seconds)}`, met: r.engine.seconds <= r.reference.seconds });
    else notMeasured(`${what} vs set-based reference`, '≤ 1.0x', r.error ?? 'failed');
    t.push({ what: `${what} equals the reference, keys included`, target: 'equal', measured: r.comparison ? describeComparison(r.comparison) : `not compared: ${r.error}`, met: r.comparison ? allEqual(r.comparison) : null });
  }

  // 5. Named database steps account for at least 90% of database time (engine runs).
  for (const p of m.profiles.filter((x) => x.summary)) {
    const cov = stepCoverage(p.databaseMs!, p.steps!);
    t.push({ what: `named database steps, ${p.warehouse} ${p.run}`, target: '≥ 90% of database time', measured: `${Math.round(cov.namedPct)}% of ${s1(cov.totalMs)} s`, met: cov.namedPct >= 90 });
  }

  for (const p of m.parseRows.filter((x) => x.parser.startsWith('scanner'))) {
    t.push({ what: `parse stage alone, ${p.parser}`, target: '≥ 60 MB/s', measured: `${f1(p.mbPerSecond)} MB/s`, met: p.mbPerSecond >= 60 });
  }
  return t;
}

await main().catch((err: unknown) => {
  // Stopped by a signal: the handler drops the databases and exits; the runs it cut short are not errors.
  if (stopping) return;
  throw err;
});
