/**
 * Peak memory of `orders-etl query` over a large result, issue 12's acceptance: a generated export of
 * --orders orders (800,000 give about 2,000,000 fact rows) is loaded into a DuckDB file and a MySQL
 * database, then `orders-etl query "SELECT * FROM orders"` runs in each output format through the bin, as a
 * real process whose output is read through a pipe, and the process's peak RSS is reported (the bin prints
 * it with ORDERS_ETL_REPORT_RSS=1: its whole process, the engine's worker and DuckDB included).
 *
 *   node --import tsx bench/query-memory.ts [--orders 800000] [--limit-mb 200]
 *     [--duckdb FILE] [--mysql URL]     warehouses already loaded: measure them as they are
 *
 * MYSQL_URL names a server to create (and drop) a database of its own on; without it, a private MariaDB is
 * started as the tests start theirs (test/helpers/mariadb-server.ts) and removed at the end. Never the
 * system's server. Exit code 1 when a run reaches the limit.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import mysql from 'mysql2/promise';
import { spawnKeeper, type KeptServer } from '../test/helpers/mariadb-server.ts';
import { generate } from './generate.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(ROOT, 'bin', 'orders-etl.js');

const args = process.argv.slice(2);
const get = (name: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const ORDERS = Number(get('orders') ?? 800_000);
const LIMIT_MB = Number(get('limit-mb') ?? 200);
const SQL = 'SELECT * FROM orders';

interface Run {
  code: number | null;
  seconds: number;
  lines: number;
  bytes: number;
  peakRssMb: number | null;
  stderr: string;
  /** The end of the output (the table's footer). */
  tail: string;
}

/** The bin as a user runs it; its standard output is read (and counted) through a pipe. */
function runBin(argv: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const t = performance.now();
    const child = spawn(process.execPath, [BIN, ...argv], { cwd: ROOT, env: { ...process.env, ORDERS_ETL_REPORT_RSS: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let lines = 0;
    let bytes = 0;
    let stderr = '';
    let tail = '';
    child.stdout.on('data', (d: Buffer) => {
      bytes += d.length;
      tail = (tail + d.subarray(Math.max(0, d.length - 512)).toString('utf8')).slice(-512);
      for (let i = d.indexOf(10); i >= 0; i = d.indexOf(10, i + 1)) lines++;
    });
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const m = /orders-etl: peak RSS (\d+) MB/.exec(stderr);
      resolve({ code, seconds: (performance.now() - t) / 1000, lines, bytes, peakRssMb: m ? Number(m[1]) : null, stderr, tail });
    });
  });
}

async function main(): Promise<number> {
  const cpus = os.cpus();
  process.stdout.write(
    `machine: ${cpus[0]?.model ?? 'unknown CPU'} x ${cpus.length}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}; node ${process.version}\n`,
  );
  // As users run it: the esbuild bundle, rebuilt from the sources measured (bin/ would fall back to tsx).
  const build = spawnSync(process.execPath, ['scripts/build.mjs'], { cwd: ROOT, stdio: 'inherit' });
  if (build.status !== 0) throw new Error('the build failed');

  const tmp = mkdtempSync(join(os.tmpdir(), 'orders-etl-query-memory-'));
  let keeper: KeptServer | null = null;
  let dropDatabase: (() => Promise<void>) | null = null;
  try {
    let duckdb = get('duckdb');
    let mysqlUrl = get('mysql');
    if (!duckdb || !mysqlUrl) {
      const file = join(tmp, 'orders.json');
      process.stdout.write(`generating ${ORDERS.toLocaleString('en-US')} orders...\n`);
      await generate(file, { orders: ORDERS, style: 'compact' });
      if (!duckdb) {
        duckdb = join(tmp, 'warehouse.duckdb');
        const r = await runBin(['load', file, '--db', `duckdb:${duckdb}`, '--no-progress']);
        if (r.code !== 0) throw new Error(`loading DuckDB failed: ${r.stderr}`);
        process.stdout.write(`loaded DuckDB in ${r.seconds.toFixed(0)} s\n`);
      }
      if (!mysqlUrl) {
        let server = process.env.MYSQL_URL;
        if (!server) {
          keeper = await spawnKeeper();
          server = keeper.server.url;
        }
        const u = new URL(server);
        const name = `oe_query_memory_${process.pid}`;
        const admin = await mysql.createConnection({ host: u.hostname, port: Number(u.port || 3306), user: decodeURIComponent(u.username) || 'root', password: decodeURIComponent(u.password) });
        dropDatabase = async () => {
          await admin.query(`DROP DATABASE IF EXISTS \`${name}\``);
          await admin.end();
        };
        u.pathname = `/${name}`;
        mysqlUrl = u.toString();
        const r = await runBin(['load', file, '--db', mysqlUrl, '--no-progress']);
        if (r.code !== 0) throw new Error(`loading MySQL failed: ${r.stderr}`);
        process.stdout.write(`loaded MySQL in ${r.seconds.toFixed(0)} s\n`);
      }
    }

    let failed = false;
    process.stdout.write(`\n${SQL}, through the bin, output read through a pipe; limit ${LIMIT_MB} MB of peak RSS\n\n`);
    process.stdout.write('| warehouse | format | rows | output | seconds | peak RSS |\n| --- | --- | ---: | ---: | ---: | ---: |\n');
    for (const [warehouse, url] of [['DuckDB', `duckdb:${duckdb}`], ['MySQL', mysqlUrl]] as const) {
      for (const format of ['table', 'json', 'csv']) {
        const r = await runBin(['query', SQL, '--db', url, ...(format === 'table' ? [] : [`--${format}`])]);
        if (r.code !== 0 || r.peakRssMb === null) throw new Error(`${warehouse} ${format}: exit ${r.code}: ${r.stderr}`);
        const rows = format === 'json' ? r.lines : format === 'csv' ? r.lines - 1 : Number((/\((\d[\d,]*) in all\)/.exec(r.tail)?.[1] ?? 'NaN').replace(/,/g, ''));
        const over = r.peakRssMb >= LIMIT_MB;
        failed ||= over;
        process.stdout.write(
          `| ${warehouse} | ${format} | ${Number.isNaN(rows) ? '(preview)' : rows.toLocaleString('en-US')} | ${(r.bytes / 2 ** 20).toFixed(1)} MiB | ${r.seconds.toFixed(1)} | ${r.peakRssMb} MB${over ? ' (over the limit)' : ''} |\n`,
        );
      }
    }
    return failed ? 1 : 0;
  } finally {
    await dropDatabase?.().catch(() => {});
    await keeper?.close();
    rmSync(tmp, { recursive: true, force: true });
  }
}

process.exitCode = await main();
