/**
 * History dimensions (SCD Type 2, issue 13) end to end, on both warehouses: what the engine loads equals the
 * independent oracle (test/helpers/history-oracle.ts, itself checked in test/history-oracle.test.ts), and the
 * warehouse keeps the invariants of test/helpers/history-snapshot.ts (versions that tile the time, one current
 * version per key, facts pointing at versions that cover their date). Versions and facts are compared by
 * natural key and valid_from, since surrogate keys are numbered in arrival order; keys are compared where the
 * issue pins them: a late order that matches changes nothing, and a killed load re-run gives a clean run's.
 *
 * - The mode: `init --history ...` records it, `load` follows it, `load --history` on a new warehouse
 *   initialises it; asking for another mode than the warehouse's fails with E_HISTORY_MODE naming both;
 *   SCD1 stays the default, with the SCD1 tables.
 * - The acceptance's hand-made cases (test/helpers/history-inputs.ts), one `load` per file, at --batch-size 1
 *   and 1000, against the oracle after every load and with explicit checks of the rows that matter. Beside
 *   them, one batch that agrees with a stored version and then splits it earlier (the engine takes an
 *   agreeing line's version from its first look at the store, unless the batch changes that key's history).
 * - Randomized: observations with shuffled dates over 4 files, loaded in several file orders, as one load or
 *   one per file, at batch sizes 1, 7, 50 and 1000, each equal to the oracle for that load order; inputs with at
 *   most one observation per key and day give the same tables whatever the order, batches or files.
 * - One dimension in history, the other SCD1.
 * - SIGKILL mid-load (an S3 body stalled by the fault proxy, as in test/faults.test.ts) and re-run: whole
 *   batches after the kill, and a clean run's warehouse, surrogate keys included, after the re-run. A load
 *   that moves facts once at its end (on DuckDB every load, on MariaDB one that dropped the fact keys): killed
 *   after some batches, it leaves the versions it cut noted and their facts unmoved, and the next init moves
 *   them (whole batches again); one that fails on bad input moves them before it exits (and on MariaDB builds
 *   the fact keys again).
 * - MariaDB's two ways of moving facts (per batch while the fact keys stay, once at the end of a load that
 *   dropped them) in one randomized run (--keep-fact-keys for the loads after the first).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { applyOrders, emptyModel, modelSnapshot } from './helpers/model.ts';
import {
  CASES,
  EQUALITY,
  customer,
  line,
  order,
  GENERAL,
  MOVES,
  PRICE,
  QUIET,
  REDELIVERY,
  SAME_DAY,
  UNIQUE,
  A,
  B,
  C,
  W,
  X,
  perDayUniqueExports,
  randomHistoryExports,
  rng,
  shuffled,
  validRecords,
  type HistoryCase,
} from './helpers/history-inputs.ts';
import { BOTH, CUSTOMERS_ONLY, PRODUCTS_ONLY, historyFlag, historyOracle, type HistoryExpectation, type HistoryMode } from './helpers/history-oracle.ts';
import { HISTORY_COLUMNS, columnsOf, historySnapshot, keyedRows, type DimensionRow, type HistorySnapshot } from './helpers/history-snapshot.ts';
import { FACT_DDL, FACT_REWRITE, HISTORY_STORE_ROOM } from '../src/warehouse/mysql/dialect.ts';
import { HISTORY_STORE } from '../src/warehouse/sql-warehouse.ts';
import { openWarehouse } from '../src/warehouse/index.ts';
import { runLoad } from '../src/pipeline/load.ts';
import { resolveSources } from '../src/sources/resolve.ts';
import { DEFAULTS } from '../src/options.ts';
import { adminConnection, killConnections, privateServerOnly, withPrivateGlobal } from './helpers/mysql.ts';
import { startQueryCutProxy } from './helpers/mysql-proxy.ts';
import { runCli, tempDir, type RunResult } from './helpers/run.ts';
import { BUCKET, S3_ENV, startFaultProxy, startS3 } from './helpers/s3.ts';
import { killLoadMidRun } from './helpers/sigkill.ts';
import { DIALECTS, FACT_KEYS, factKeys, untilFactAlterWaits, withUser, type TestWarehouse } from './helpers/warehouses.ts';

// The S3 client of the SIGKILL test reads its credentials from the environment (s3rver's built-in account).
Object.assign(process.env, S3_ENV, { AWS_EC2_METADATA_DISABLED: 'true' });

const NONE: HistoryMode = { customers: false, products: false };
const files = tempDir();
after(() => files.cleanup());

async function withDb<T>(dialect: (typeof DIALECTS)[number], fn: (db: TestWarehouse) => Promise<T>): Promise<T> {
  const db = await dialect.fresh();
  try {
    return await fn(db);
  } finally {
    await db.drop();
  }
}

function ok(r: RunResult, what: string): RunResult {
  assert.equal(r.code, 0, `${what}: ${r.stderr}`);
  return r;
}

const init = async (db: TestWarehouse, mode: HistoryMode) => ok(await runCli(['init', '--history', historyFlag(mode), '--db', db.url]), `init --history ${historyFlag(mode)}`);

/** One `load` of these files, following the warehouse's mode unless `history` is given. */
async function load(db: TestWarehouse, paths: string[], opts: { batch?: number; history?: HistoryMode; keepFactKeys?: boolean } = {}): Promise<RunResult> {
  const args = ['load', ...paths, '--db', db.url, '--batch-size', String(opts.batch ?? 1000), '--json'];
  if (opts.keepFactKeys) args.push('--keep-fact-keys');
  if (opts.history) args.push('--history', historyFlag(opts.history));
  return ok(await runCli(args), `load ${paths.map((p) => p.split('/').pop()).join(' ')}`);
}

function assertEqualsOracle(got: HistorySnapshot, want: HistoryExpectation, what: string): void {
  assert.deepEqual(got.problems, [], `${what}: invariants`);
  assert.deepEqual([got.customers.length, got.products.length, got.facts.length], [want.customers.length, want.products.length, want.facts.length], `${what}: row counts (customers, products, facts)`);
  assert.deepEqual(got.customers, want.customers, `${what}: customers`);
  assert.deepEqual(got.products, want.products, `${what}: products`);
  assert.deepEqual(got.facts, want.facts, `${what}: facts`);
}

/** A mode as an error message may name it: the flag's words, or for none SCD1 / type 1. */
function namesMode(message: string, mode: HistoryMode): boolean {
  const both = /customers\s*(,|and|\+|&)\s*products|products\s*(,|and|\+|&)\s*customers/gi;
  if (mode.customers && mode.products) return both.test(message);
  const rest = message.replace(both, ' ');
  if (mode.customers) return /\bcustomers\b/i.test(rest);
  if (mode.products) return /\bproducts\b/i.test(rest);
  return /\bnone\b|scd ?1|type[ -]?1/i.test(message);
}

function assertModeError(r: RunResult, has: HistoryMode, asked: HistoryMode, what: string): void {
  assert.equal(r.code, 1, `${what}: exit 1, not ${r.code}: ${r.stderr}`);
  assert.match(r.stderr, /\[E_HISTORY_MODE\]/, what);
  for (const mode of [has, asked]) assert.ok(namesMode(r.stderr, mode), `${what}: the message names ${historyFlag(mode)}: ${r.stderr}`);
}

/** The columns of customers and products: history columns of the right types where the mode says, none elsewhere. */
async function assertTables(db: TestWarehouse, mode: HistoryMode): Promise<void> {
  const base = { customers: ['customer_sk', 'customer_id', 'name', 'email', 'address'], products: ['product_sk', 'product_id', 'name', 'category', 'price'] };
  for (const table of ['customers', 'products'] as const) {
    const columns = await columnsOf(db, table);
    const history = mode[table];
    assert.deepEqual([...columns.keys()].sort(), [...base[table], ...(history ? HISTORY_COLUMNS : [])].sort(), `${table}: columns`);
    if (!history) continue;
    assert.deepEqual(
      HISTORY_COLUMNS.map((c) => [c, columns.get(c)!.type, columns.get(c)!.nullable]),
      [
        ['valid_from', 'date', false],
        ['valid_to', 'date', true],
        ['is_current', db.dialect === 'mysql' ? 'tinyint(1)' : 'boolean', columns.get('is_current')!.nullable],
      ],
      `${table}: history column types`,
    );
  }
}

const write = (name: string, records: unknown[]) => files.file(name, JSON.stringify(records, null, 1));

/** DuckDB: a history dimension as an earlier version created it, its surrogate key the primary key; the rows kept. */
async function giveEarlierPrimaryKey(db: TestWarehouse, table: 'customers' | 'products'): Promise<void> {
  const columns =
    table === 'customers'
      ? 'customer_sk BIGINT PRIMARY KEY, customer_id VARCHAR NOT NULL, name VARCHAR, email VARCHAR, address VARCHAR'
      : 'product_sk BIGINT PRIMARY KEY, product_id VARCHAR NOT NULL, name VARCHAR, category VARCHAR, price DECIMAL(12,2)';
  await db.query(`CREATE TABLE ${table}_earlier (${columns}, valid_from DATE NOT NULL, valid_to DATE, is_current BOOLEAN NOT NULL)`);
  await db.query(`INSERT INTO ${table}_earlier SELECT * FROM ${table}`);
  await db.query(`DROP TABLE ${table}`);
  await db.query(`ALTER TABLE ${table}_earlier RENAME TO ${table}`);
}

/** DuckDB: what init or load says when it rebuilds `table` without the primary key an earlier version declared. */
const rebuiltNote = (table: 'customers' | 'products') => new RegExp(`rebuilding the history dimension ${table} of duckdb:.* without its primary key`);

/** DuckDB: the history dimensions that declare a primary key. */
const primaryKeys = async (db: TestWarehouse) =>
  (await db.query<{ t: string }>("SELECT table_name AS t FROM duckdb_constraints() WHERE constraint_type = 'PRIMARY KEY' AND table_name IN ('customers', 'products') ORDER BY 1")).map((r) => r.t);

/** A clean run of one file into a fresh history warehouse, checked against the oracle: what a fault's re-run must give. */
async function cleanRun(dialect: (typeof DIALECTS)[number], path: string, records: unknown[], batch: number): Promise<HistorySnapshot> {
  const clean = await withDb(dialect, async (db) => {
    await init(db, BOTH);
    await load(db, [path], { batch });
    return historySnapshot(db, BOTH);
  });
  assertEqualsOracle(clean, historyOracle([records], BOTH), 'the clean run');
  return clean;
}

/** The oracle's warehouse, and a clean run's to the surrogate key. */
function assertCleanRun(got: HistorySnapshot, clean: HistorySnapshot, records: unknown[], what: string): void {
  assertEqualsOracle(got, historyOracle([records], BOTH), what);
  const [a, b] = [keyedRows(got.tables), keyedRows(clean.tables)];
  assert.deepEqual(a.customers, b.customers, `${what}: customers, surrogate keys included`);
  assert.deepEqual(a.products, b.products, `${what}: products, surrogate keys included`);
  assert.deepEqual(a.facts, b.facts, `${what}: facts, surrogate keys included`);
}

/**
 * `work` loads `body` as an S3 object read through a proxy that stalls it at 60%: such a load cannot finish,
 * whenever it is killed, and has committed the whole batches before the stall by then.
 */
async function withStalledSource(name: string, body: Buffer, work: (source: string, s3Endpoint: string, proxyEndpoint: string) => Promise<void>): Promise<void> {
  const s3 = await startS3();
  const proxy = await startFaultProxy(s3.endpoint, [{ after: Math.floor(body.length * 0.6), kind: 'stall' }]);
  try {
    await s3.put(`sigkill/${name}.json`, body);
    await work(`s3://${BUCKET}/sigkill/${name}.json`, s3.endpoint, proxy.endpoint);
  } finally {
    await proxy.close();
    await s3.close();
  }
}

/** The killed load run again, straight from S3: it resumes after its last committed batch and ends as a clean run. */
async function assertRerunIsClean(db: TestWarehouse, source: string, s3Endpoint: string, batch: number, committed: number, clean: HistorySnapshot, records: unknown[], what: string): Promise<void> {
  const r = ok(await runCli(['load', source, '--db', db.url, '--batch-size', String(batch), '--s3-endpoint', s3Endpoint, '--json']), 're-run');
  assert.equal(JSON.parse(r.stdout).sources[0].resumedFrom, committed, 'resumed from the last committed batch, not restarted');
  assertCleanRun(await historySnapshot(db, BOTH), clean, records, what);
}

/** MariaDB: the tables of a rewrite of the fact table still there (etl_orders_rewrite, etl_orders_replaced). */
async function rewriteTables(db: TestWarehouse): Promise<string[]> {
  return (await db.query<any>('SHOW TABLES')).map((r) => String(Object.values(r)[0])).filter((t) => /^etl_orders_/.test(t));
}

/** `work` with FACT_REWRITE's settings changed (the rewrite of the fact table forced or kept off, a shorter wait), then back. */
async function withFactRewrite<T>(settings: Partial<typeof FACT_REWRITE>, work: () => Promise<T>): Promise<T> {
  const saved = { ...FACT_REWRITE };
  Object.assign(FACT_REWRITE, settings);
  try {
    return await work();
  } finally {
    Object.assign(FACT_REWRITE, saved);
  }
}

/** MariaDB: InnoDB's id of a table, new when the table is made anew (not by an ALTER in place). */
async function innodbTableId(db: TestWarehouse, table: string): Promise<number> {
  const [row] = await db.query<any>('SELECT TABLE_ID AS id FROM information_schema.INNODB_SYS_TABLES WHERE NAME = ?', [`${db.mysql!.name}/${table}`]);
  return Number(row.id);
}

/**
 * MariaDB: the tables that have their history key (a bulk load into a history warehouse drops them until its
 * end): the days tables' primary keys, the dimensions' version indexes.
 */
async function historyKeyed(db: TestWarehouse): Promise<string[]> {
  const rows = await db.query<any>(
    `SELECT DISTINCT TABLE_NAME AS t FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE()
       AND ((TABLE_NAME IN ('etl_customer_days', 'etl_product_days') AND INDEX_NAME = 'PRIMARY')
         OR (TABLE_NAME IN ('customers', 'products') AND INDEX_NAME = CONCAT('ix_', TABLE_NAME, '_version')))
     ORDER BY TABLE_NAME`,
  );
  return rows.map((r) => String(r.t));
}

/** MariaDB: the versions and observed days of the history dimension that has the most of them (what dropHistoryKeys counts). */
async function largestHistory(db: TestWarehouse): Promise<number> {
  const [row] = await db.query<any>(
    `SELECT GREATEST((SELECT COUNT(*) FROM customers) + (SELECT COUNT(*) FROM etl_customer_days),
                     (SELECT COUNT(*) FROM products) + (SELECT COUNT(*) FROM etl_product_days)) AS n`,
  );
  return Number(row.n);
}

/**
 * One load of `path` in this process, with a history store of `entries` (HISTORY_STORE.entries while the
 * warehouse opens), noting as each batch is applied which tables have their history key (MariaDB).
 */
async function loadWatchingHistoryKeys(
  db: TestWarehouse,
  path: string,
  batch: number,
  entries: number,
): Promise<{ timings: Record<string, number>; keyed: string[][]; notes: string[] }> {
  const saved = HISTORY_STORE.entries;
  HISTORY_STORE.entries = entries;
  const notes: string[] = [];
  const wh = await openWarehouse(db.url, { retries: 1, note: (m) => notes.push(m) }).finally(() => {
    HISTORY_STORE.entries = saved;
  });
  const keyed: string[][] = [];
  const apply = wh.applyBatch.bind(wh);
  wh.applyBatch = async (loadId, b) => {
    if (db.mysql) keyed.push(await historyKeyed(db));
    return apply(loadId, b);
  };
  try {
    const sources = await resolveSources([path], { format: undefined, s3: { stallTimeout: 5, retries: 0 }, note: () => {} });
    await runLoad(sources, wh, { ...DEFAULTS, batchSize: batch, parser: 'scanner', force: false, keepFactKeys: false });
  } finally {
    await wh.close();
  }
  return { timings: { ...wh.timings }, keyed, notes };
}

const DAYS_TABLES = ['etl_customer_days', 'etl_product_days'];
/** Every table with a history key (historyKeyed). */
const HISTORY_KEYED = ['customers', 'etl_customer_days', 'etl_product_days', 'products'];

/**
 * MariaDB: `work` while an open transaction that read `table` holds its metadata lock, with FACT_DDL's waits
 * set to `waits`; the transaction ends after `work`, and FACT_DDL is put back either way.
 */
async function whileHeld<T>(db: TestWarehouse, table: string, waits: Partial<typeof FACT_DDL>, work: () => Promise<T>): Promise<T> {
  const reader = await adminConnection();
  const saved = { ...FACT_DDL };
  Object.assign(FACT_DDL, waits);
  try {
    await reader.query(`USE \`${db.mysql!.name}\``);
    await reader.query('BEGIN');
    await reader.query(`SELECT COUNT(*) FROM ${table}`);
    const result = await work();
    await reader.query('COMMIT');
    return result;
  } finally {
    Object.assign(FACT_DDL, saved);
    await reader.end();
  }
}


/**
 * MariaDB, facts left to move: a history warehouse whose first load of 3,000 random orders (batches of 250,
 * file `sigkill-<name>.json`) was killed after four batches or more, its fact keys dropped and the versions it
 * cut noted; with FACT_REWRITE's `settings` for the whole of `work`, which gets the records and how many of
 * them the killed load committed.
 */
async function withKilledBulkLoad(
  dialect: (typeof DIALECTS)[number],
  name: string,
  seed: number,
  settings: Partial<typeof FACT_REWRITE>,
  work: (db: TestWarehouse, records: unknown[], committed: number) => Promise<void>,
): Promise<void> {
  const records = randomHistoryExports({ seed, orders: 3000, customers: 30, products: 20, days: 200, files: 1 })[0]!;
  const path = files.file(`sigkill-${name}.json`, JSON.stringify(records, null, 1));
  const batch = 250;
  await withFactRewrite(settings, () =>
    withStalledSource(name, readFileSync(path), (source, _s3Endpoint, proxyEndpoint) =>
      withDb(dialect, async (db) => {
        await init(db, BOTH);
        const committed = await killLoadMidRun(db, source, proxyEndpoint, batch, 4 * batch);
        assert.ok((await notedVersions(db)) > 0, 'the killed load noted the versions whose facts move');
        await work(db, records, committed);
      }),
    ),
  );
}

/**
 * MariaDB, after a command finished the moves a killed load left: the fact table written anew or not (by
 * InnoDB's table id against `tableId` before), no version noted, no table of a rewrite left, and the oracle's
 * warehouse for the records the killed load committed.
 */
async function assertMovesFinished(db: TestWarehouse, tableId: number, rewritten: boolean, records: unknown[], committed: number, what: string): Promise<void> {
  // Moves in place and the keys built after (ALTER in place) keep InnoDB's table; only a new one has a new id.
  if (rewritten) assert.notEqual(await innodbTableId(db, 'orders'), tableId, `${what}: the fact table was written anew`);
  else assert.equal(await innodbTableId(db, 'orders'), tableId, `${what}: the fact table is the one the facts moved in`);
  assert.equal(await notedVersions(db), 0, `${what}: the facts moved and the notes are gone`);
  assert.deepEqual(await rewriteTables(db), [], `${what}: no table of a rewrite is left`);
  assertEqualsOracle(await historySnapshot(db, BOTH), historyOracle([records.slice(0, committed)], BOTH), what);
}

/** Versions whose facts wait to move to the end of a load. */
async function notedVersions(db: TestWarehouse): Promise<number> {
  const [c] = await db.query<any>('SELECT COUNT(*) AS n FROM etl_customer_moved');
  const [p] = await db.query<any>('SELECT COUNT(*) AS n FROM etl_product_moved');
  return Number(c.n) + Number(p.n);
}

for (const dialect of DIALECTS) {
  describe(`history mode (${dialect.name})`, () => {
    it('init --history customers,products records the mode, load follows it, the same init again is fine, another mode fails naming both', async () => {
      const [first, second] = MOVES.files.map((f) => write(`mode-${f.name}`, f.records));
      await withDb(dialect, async (db) => {
        await init(db, BOTH);
        await assertTables(db, BOTH);
        await load(db, [first!]);
        const loaded = await historySnapshot(db, BOTH);
        assertEqualsOracle(loaded, historyOracle([MOVES.files[0]!.records], BOTH), 'after the first load');
        await init(db, BOTH);
        assertModeError(await runCli(['init', '--history', 'products', '--db', db.url]), BOTH, PRODUCTS_ONLY, 'init --history products');
        assertModeError(await runCli(['load', second!, '--history', 'none', '--db', db.url]), BOTH, NONE, 'load --history none');
        const unchanged = await historySnapshot(db, BOTH);
        assert.deepEqual(keyedRows(unchanged.tables), keyedRows(loaded.tables), 'the refused commands changed nothing');
        await assertTables(db, BOTH);
        await load(db, [second!], { history: BOTH });
        assertEqualsOracle(await historySnapshot(db, BOTH), historyOracle(MOVES.files.slice(0, 2).map(validRecords), BOTH), 'load --history with the same mode');
      });
    });

    it('load --history customers initialises a new warehouse; init with another mode then fails', async () => {
      const path = write('mode-customers.json', MOVES.files[0]!.records);
      await withDb(dialect, async (db) => {
        await load(db, [path], { history: CUSTOMERS_ONLY });
        await assertTables(db, CUSTOMERS_ONLY);
        assertEqualsOracle(await historySnapshot(db, CUSTOMERS_ONLY), historyOracle([MOVES.files[0]!.records], CUSTOMERS_ONLY), 'customers only');
        assertModeError(await runCli(['init', '--history', 'customers,products', '--db', db.url]), CUSTOMERS_ONLY, BOTH, 'init --history customers,products');
        assertModeError(await runCli(['load', path, '--history', 'products', '--db', db.url, '--force']), CUSTOMERS_ONLY, PRODUCTS_ONLY, 'load --history products');
      });
    });

    it('SCD1 stays the default: SCD1 tables, the SCD1 model; asking it for history fails', async () => {
      const path = write('mode-scd1.json', MOVES.files.flatMap((f) => f.records));
      await withDb(dialect, async (db) => {
        await load(db, [path]);
        await assertTables(db, NONE);
        const m = emptyModel();
        applyOrders(m, MOVES.files.flatMap((f) => f.records));
        const want = modelSnapshot(m);
        const got = await db.snapshot();
        assert.deepEqual([got.customers, got.products, got.facts, [...got.customerKeys], [...got.productKeys]], [want.customers, want.products, want.facts, [...want.customerKeys], [...want.productKeys]]);
        await init(db, NONE);
        assertModeError(await runCli(['load', path, '--history', 'customers', '--db', db.url, '--force']), NONE, CUSTOMERS_ONLY, 'load --history customers');
        assertModeError(await runCli(['init', '--history', 'customers,products', '--db', db.url]), NONE, BOTH, 'init --history customers,products');
        await assertTables(db, NONE);
      });
    });
  });

  describe(`history: the hand-made cases (${dialect.name})`, () => {
    /** Per order line, the versions its surrogate keys point at. */
    const pointers = (s: HistorySnapshot) => {
      const customers = new Map(s.tables.customers.map((r) => [r.sk, r]));
      const products = new Map(s.tables.products.map((r) => [r.sk, r]));
      return new Map(s.tables.facts.map((f) => [`${f.orderId}/${f.lineNo}`, { customer: customers.get(f.customerSk)!, product: products.get(f.productSk)!, fact: f }]));
    };
    const versions = (rows: DimensionRow[], key: string) => rows.filter((r) => r.key === key).sort((a, b) => (a.validFrom! < b.validFrom! ? -1 : 1));
    const spans = (rows: DimensionRow[], key: string) => versions(rows, key).map((v) => [v.validFrom, v.validTo, v.isCurrent]);

    /**
     * Loads the case's files one `load` each, compares with the oracle after each, and hands the snapshot
     * after each load (and the one before) to `check`. `keepFactKeys`: every load with --keep-fact-keys (on
     * MariaDB, facts then move per batch instead of at the end of the load).
     */
    async function runCase(c: HistoryCase, check: (step: number, s: HistorySnapshot, before: HistorySnapshot | null, db: TestWarehouse, r: RunResult) => Promise<void> | void, keepFactKeys = false) {
      const paths = c.files.map((f) => write(`${c.files[0]!.name.replace('.json', '')}-${f.name}`, f.records));
      for (const batch of [1, 1000]) {
        await withDb(dialect, async (db) => {
          await init(db, BOTH);
          let before: HistorySnapshot | null = null;
          for (let step = 1; step <= paths.length; step++) {
            const r = await load(db, [paths[step - 1]!], { batch, keepFactKeys });
            const s = await historySnapshot(db, BOTH);
            const what = `--batch-size ${batch}, after ${c.files[step - 1]!.name}`;
            assertEqualsOracle(s, historyOracle(c.files.slice(0, step).map(validRecords), BOTH), what);
            await check(step, s, before, db, r);
            before = s;
          }
        });
      }
    }

    it(MOVES.title, async () => {
      await runCase(MOVES, async (step, s, before, db) => {
        const at = pointers(s);
        const address = (o: string) => at.get(`${o}/1`)!.customer.attributes[2];
        if (step === 1) {
          assert.deepEqual(spans(s.tables.customers, 'C1'), [['2024-01-10', '2024-03-01', false], ['2024-03-01', '2024-06-01', false], ['2024-06-01', null, true]]);
          assert.deepEqual(['O1', 'O2', 'O3', 'O4', 'O5'].map(address), [A, A, B, B, C], 'each order sees the address of its date');
          assert.equal(at.get('O1/1')!.customer.sk, at.get('O2/1')!.customer.sk);
        }
        if (step === 2) {
          // The split: X from 02-01; the fact of 02-20, stored in the A version, moves to a new A version.
          assert.deepEqual(spans(s.tables.customers, 'C1').map(([from]) => from), ['2024-01-10', '2024-02-01', '2024-02-20', '2024-03-01', '2024-06-01']);
          assert.deepEqual(['O1', 'O6', 'O2', 'O3'].map(address), [A, X, A, B]);
          const o2 = at.get('O2/1')!.customer;
          assert.equal(o2.validFrom, '2024-02-20');
          assert.notEqual(o2.sk, pointers(before!).get('O2/1')!.customer.sk, 'the fact of 02-20 moved to the new version');
          assert.notEqual(o2.sk, at.get('O1/1')!.customer.sk);
        }
        if (step === 3) {
          // A late order that matches the version in effect: nothing changes, surrogate keys included.
          const [now, then] = [keyedRows(s.tables), keyedRows(before!.tables)];
          assert.deepEqual([now.customers, now.products], [then.customers, then.products], 'dimensions unchanged, keys included');
          assert.deepEqual(now.facts.filter((f) => !f.startsWith('["O7"')), then.facts, 'the facts already stored unchanged, keys included');
          assert.equal(at.get('O7/1')!.customer.sk, at.get('O3/1')!.customer.sk);
        }
        if (step === 4) {
          assert.equal(versions(s.tables.customers, 'C1')[0]!.validFrom, '2024-01-02', 'the first version extends back');
          assert.equal(at.get('O8/1')!.customer.sk, at.get('O1/1')!.customer.sk);
          assert.deepEqual(spans(s.tables.products, 'P1'), [['2024-01-02', null, true]]);
        }
        if (step === 5) {
          assert.deepEqual(spans(s.tables.customers, 'C1')[0], ['2023-12-01', '2024-01-02', false]);
          assert.equal(address('O9'), W);
          // What the issue is for: revenue by the address the customer lived at when ordering.
          const t = db.dialect === 'mysql' ? 'CHAR' : 'VARCHAR';
          const revenue = await db.query<any>(`SELECT c.address AS address, CAST(SUM(o.total_amount) AS ${t}) AS revenue FROM orders o JOIN customers c ON c.customer_sk = o.customer_sk GROUP BY c.address ORDER BY c.address`);
          assert.deepEqual(
            revenue.map((r) => [r.address, r.revenue]),
            [[A, '15.00'], [B, '15.00'], [C, '5.00'], [W, '5.00'], [X, '5.00']],
          );
        }
      });
    });

    it(PRICE.title, async () => {
      await runCase(PRICE, async (step, s, _before, db) => {
        if (step !== 2) return;
        assert.deepEqual(
          versions(s.tables.products, 'P7').map((v) => [v.validFrom, v.validTo, v.attributes[2], v.isCurrent]),
          [['2024-03-01', '2024-04-01', '10.00', false], ['2024-04-01', null, '12.50', true]],
        );
        const t = db.dialect === 'mysql' ? 'CHAR' : 'VARCHAR';
        const prices = await db.query<any>(`SELECT o.order_id AS id, CAST(p.price AS ${t}) AS price FROM orders o JOIN products p ON p.product_sk = o.product_sk WHERE p.product_id = 'P7' ORDER BY o.order_id`);
        assert.deepEqual(prices.map((r) => [r.id, r.price]), [['O21', '12.50'], ['O22', '12.50'], ['O23', '10.00'], ['O24', '10.00'], ['O25', '12.50']], 'each line at the price of its date');
      });
    });

    it(SAME_DAY.title, async () => {
      await runCase(SAME_DAY, (step, s) => {
        const at = pointers(s);
        if (step === 1) {
          assert.deepEqual(spans(s.tables.customers, 'C3'), [['2024-05-04', '2024-05-05', false], ['2024-05-05', null, true]]);
          assert.equal(at.get('O31/1')!.customer.attributes[2], B, 'the later observation of 05-05 wins for the whole day');
          assert.equal(at.get('O31/1')!.customer.sk, at.get('O32/1')!.customer.sk);
          assert.equal(at.get('O35/1')!.product.sk, at.get('O35/2')!.product.sk);
          assert.equal(at.get('O35/1')!.product.attributes[2], '2.00', 'the later line of one order wins');
        } else {
          assert.deepEqual(spans(s.tables.customers, 'C3'), [['2024-05-04', null, true]], 'the day became A again: one version');
          assert.equal(new Set(['O31', 'O32', 'O33', 'O34'].map((o) => at.get(`${o}/1`)!.customer.sk)).size, 1);
          assert.deepEqual(versions(s.tables.products, 'P30').map((v) => [v.validFrom, v.attributes[2]]), [['2024-06-06', '1.00']]);
        }
      });
    });

    it(EQUALITY.title, async () => {
      await runCase(EQUALITY, (_step, s) => {
        assert.deepEqual(
          versions(s.tables.customers, '17').map((v) => [v.validFrom, v.attributes[0], v.attributes[1]]),
          [['2024-07-01', 'Cafe\u0301', null], ['2024-07-02', 'Cafe\u0301', ''], ['2024-07-04', 'Caf\u00e9', '']],
        );
        assert.deepEqual(versions(s.tables.products, 'P40').map((v) => v.attributes[1]), ['tools', 'tools ']);
      });
    });

    it(REDELIVERY.title, async () => {
      await runCase(REDELIVERY, (step, s) => {
        if (step !== 2) return;
        const at = pointers(s);
        assert.deepEqual([...at.keys()].sort(), ['O51/1', 'O51/2', 'O52/1'], 'the re-delivered lines replace the first ones');
        assert.deepEqual([at.get('O51/1')!.fact.orderDate, at.get('O51/1')!.customer.attributes[2], at.get('O51/1')!.customer.validFrom], ['2024-09-01', B, '2024-09-01']);
        assert.deepEqual([at.get('O52/1')!.fact.orderDate, at.get('O52/1')!.product.attributes[2]], ['2024-08-15', '8.00']);
        assert.deepEqual(spans(s.tables.customers, 'C5'), [['2024-08-01', '2024-09-01', false], ['2024-09-01', '2024-10-10', false], ['2024-10-10', null, true]], 'the first deliveries stay observations');
        assert.equal(versions(s.tables.products, 'P50').length, 1);
      });
    });

    it(QUIET.title, async () => {
      await runCase(QUIET, (_step, s, _before, _db, r) => {
        assert.equal(JSON.parse(r.stdout).rejected, 1);
        assert.deepEqual(spans(s.tables.customers, 'C6'), [['2024-09-09', null, true]], 'the order without lines observed C6; the rejected one did not');
        assert.deepEqual(pointers(s).get('O63/1')!.fact.orderDate, '2024-09-11');
      });
    });

    it('one batch that first agrees with a stored version and then splits it earlier: the agreeing line moves to the new version too', async () => {
      // C7 is A from 03-01 (observed 03-01 and 03-20). The second file's first order agrees with that on 03-20;
      // its second one says X on 03-10: A [03-01, 03-10), X [03-10, 03-20), A again from 03-20. At --batch-size
      // 1000 both orders are one batch, so the line planned as agreeing must still end in the last version.
      const c: HistoryCase = {
        title: 'agree, then split earlier, in one batch',
        files: [
          { name: 'agree-base.json', records: [order('O71', '2024-03-01', customer('C7', A), [line('P70', 1)]), order('O72', '2024-03-20', customer('C7', A), [line('P70', 1)])] },
          { name: 'agree-then-split.json', records: [order('O73', '2024-03-20', customer('C7', A), [line('P70', 1)]), order('O74', '2024-03-10', customer('C7', X), [line('P70', 2)])] },
        ],
      };
      // Both ways of moving facts: at the end of the load (which would also repair a line left in the old
      // version), and per batch, before the batch's facts are written (MariaDB with --keep-fact-keys; DuckDB
      // always moves them at the end): the run that fails if the batch's changed keys are not marked.
      for (const keepFactKeys of dialect.name === 'mysql' ? [false, true] : [false]) {
        await runCase(
          c,
          (step, s) => {
            if (step !== 2) return;
            const at = pointers(s);
            assert.deepEqual(spans(s.tables.customers, 'C7'), [['2024-03-01', '2024-03-10', false], ['2024-03-10', '2024-03-20', false], ['2024-03-20', null, true]]);
            assert.deepEqual(['O71', 'O74', 'O72', 'O73'].map((o) => at.get(`${o}/1`)!.customer.validFrom), ['2024-03-01', '2024-03-10', '2024-03-20', '2024-03-20']);
            assert.deepEqual(versions(s.tables.products, 'P70').map((v) => [v.validFrom, v.attributes[2]]), [['2024-03-01', '1.00'], ['2024-03-10', '2.00'], ['2024-03-20', '1.00']]);
            assert.equal(at.get('O73/1')!.product.validFrom, '2024-03-20', 'the product line planned as agreeing moved too');
          },
          keepFactKeys,
        );
      }
    });

    it('every hand-made case is checked here', () => {
      assert.deepEqual(CASES.map((c) => c.title), [MOVES, PRICE, SAME_DAY, EQUALITY, REDELIVERY, QUIET].map((c) => c.title));
    });
  });

  describe(`history: randomized, against the oracle (${dialect.name})`, () => {
    const general = randomHistoryExports(GENERAL);
    // One file pretty-printed, one NDJSON: the format is not what is tested, but should not matter either.
    const generalPaths = general.map((records, i) =>
      i === 3 ? files.file(`general-${i}.ndjson`, records.map((r) => JSON.stringify(r)).join('\n')) : files.file(`general-${i}.json`, JSON.stringify(records, null, i === 1 ? 2 : undefined)),
    );
    const runs: { order: number[]; batch: number; how: 'init' | 'load --history' | 'one load per file' | 'one load per file, --keep-fact-keys' }[] = [
      { order: [0, 1, 2, 3], batch: 1000, how: 'init' },
      { order: [3, 2, 1, 0], batch: 7, how: 'load --history' },
      { order: [2, 0, 3, 1], batch: 7, how: 'one load per file' },
      // At --batch-size 1 each order is a transaction of its own: two files, to keep the suite's time sane.
      { order: [1, 3], batch: 1, how: 'init' },
      // MariaDB moves facts per batch while the fact keys stay (the loads after the first, into a filled table),
      // and once at the end of a load that dropped them (the first): both ways in one run.
      { order: [1, 0, 3, 2], batch: 50, how: 'one load per file, --keep-fact-keys' },
    ];
    for (const run of runs) {
      it(`files ${run.order.join(', ')} at --batch-size ${run.batch} (${run.how}) equal the oracle for that order`, async () => {
        const paths = run.order.map((i) => generalPaths[i]!);
        await withDb(dialect, async (db) => {
          if (run.how === 'init') await init(db, BOTH);
          if (run.how.startsWith('one load per file')) {
            await init(db, BOTH);
            for (const p of paths) await load(db, [p], { batch: run.batch, keepFactKeys: run.how.endsWith('--keep-fact-keys') });
          } else await load(db, paths, { batch: run.batch, history: run.how === 'load --history' ? BOTH : undefined });
          assertEqualsOracle(await historySnapshot(db, BOTH), historyOracle(run.order.map((i) => general[i]!), BOTH), `order ${run.order}, batch ${run.batch}`);
        });
      });
    }

    if (dialect.name === 'mysql') {
      it('MariaDB moves the facts at the end of a bulk load in place or by writing the fact table anew: both equal the oracle', async () => {
        const order = [2, 0, 3, 1];
        const steps: Record<string, string[]> = {};
        for (const [how, share] of [
          ['in place', Infinity],
          ['rewrite', 0],
        ] as const) {
          await withFactRewrite({ share }, () =>
            withDb(dialect, async (db) => {
              await init(db, BOTH);
              steps[how] = [];
              for (const i of order) {
                const summary = JSON.parse((await load(db, [generalPaths[i]!], { batch: 50 })).stdout);
                steps[how]!.push(...Object.keys(summary.stages.databaseSteps).filter((s) => s.startsWith('move deferred facts:')));
              }
              assertEqualsOracle(await historySnapshot(db, BOTH), historyOracle(order.map((i) => general[i]!), BOTH), `order ${order}, moves ${how}`);
              const [create] = await db.query<any>('SHOW CREATE TABLE orders');
              for (const k of ['ix_orders_product_sk', 'ix_orders_customer_sk', 'fk_orders_product', 'fk_orders_customer']) assert.ok(String(create['Create Table']).includes(k), `${how}: ${k} is back`);
              assert.deepEqual(await rewriteTables(db), [], `${how}: no table of the rewrite is left`);
            }),
          );
        }
        // The loads after the first cut versions that facts of earlier loads point at.
        assert.ok(steps['in place']!.some((s) => /: (customers|products)$/.test(s)), `in place: ${steps['in place']}`);
        assert.deepEqual(steps['in place']!.filter((s) => s.endsWith('rewrite orders')), []);
        assert.ok(steps.rewrite!.includes('move deferred facts: rewrite orders'), `rewrite: ${steps.rewrite}`);
        assert.deepEqual(steps.rewrite!.filter((s) => /: (customers|products)$/.test(s)), [], 'the rewrite moved every fact');
      });

      it('MariaDB: a user without DROP gets the facts moved in place, told so once per load', async () => {
        const order = [1, 3, 0];
        await withDb(dialect, async (db) => {
          await withUser(db, 'nodrop', 'SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, INDEX, REFERENCES, CREATE TEMPORARY TABLES', async (url) => {
            await init(db, BOTH);
            let told = 0;
            await withFactRewrite({ share: 0 }, async () => {
              for (const i of order) {
                const r = await runCli(['load', generalPaths[i]!, '--db', url, '--batch-size', '50', '--json']);
                assert.equal(r.code, 0, r.stderr);
                const notes = (r.stderr.match(/the facts of changed versions move in place: .*DROP command denied/g) ?? []).length;
                assert.ok(notes <= 1, r.stderr);
                told += notes;
              }
            });
            assert.ok(told >= 1, 'the loads that moved facts said why they moved them in place');
            assertEqualsOracle(await historySnapshot(db, BOTH), historyOracle(order.map((i) => general[i]!), BOTH), 'moves in place without DROP');
            assert.deepEqual(await rewriteTables(db), [], 'the privilege was asked before a table was made');
          });
        });
      });
    }

    it('per-day-unique observations: the same tables whatever the file order, the batch size and the split into files', async () => {
      const unique = perDayUniqueExports(UNIQUE);
      const paths = unique.map((records, i) => files.file(`unique-${i}.json`, JSON.stringify(records)));
      const oneFile = files.file('unique-all.json', JSON.stringify(shuffled(unique.flat(), rng(5))));
      const want = historyOracle(unique, BOTH);
      const variants: { what: string; paths: string[]; batch: number }[] = [
        { what: 'files 0-3, batch 1000', paths, batch: 1000 },
        { what: 'files 3-0, batch 7', paths: [...paths].reverse(), batch: 7 },
        { what: 'files 2, 0, 3, 1, batch 1', paths: [2, 0, 3, 1].map((i) => paths[i]!), batch: 1 },
        { what: 'one file, records shuffled again, batch 7', paths: [oneFile], batch: 7 },
      ];
      let first: HistorySnapshot | null = null;
      for (const v of variants) {
        await withDb(dialect, async (db) => {
          await init(db, BOTH);
          await load(db, v.paths, { batch: v.batch });
          const s = await historySnapshot(db, BOTH);
          assertEqualsOracle(s, want, v.what);
          first ??= s;
          assert.deepEqual([s.customers, s.products, s.facts], [first.customers, first.products, first.facts], `${v.what}: the same tables as the first`);
        });
      }
    });

    it('batches of thousands of orders: versions, days and fact rows made ready in parts (2,048 rows each) equal the oracle, and so do SCD1 dimensions', async () => {
      // 4,000 customers in batches of 5,000 orders: the customers' new versions, both dimensions' new days and
      // each batch's fact rows are more than one part (SqlWarehouse.prepareInParts; SCD1: the fact rows).
      const big = randomHistoryExports({ seed: 97, orders: 12000, customers: 4000, products: 300, days: 200, files: 2 });
      const paths = big.map((records, i) => files.file(`big-${i}.json`, JSON.stringify(records)));
      for (const mode of [BOTH, NONE]) {
        await withDb(dialect, async (db) => {
          await init(db, mode);
          await load(db, paths, { batch: 5000 });
          assertEqualsOracle(await historySnapshot(db, mode), historyOracle(big, mode), `--history ${historyFlag(mode)}, batches of 5,000 orders`);
        });
      }
    });

    for (const mode of [CUSTOMERS_ONLY, PRODUCTS_ONLY]) {
      it(`--history ${historyFlag(mode)}: the other dimension is SCD1, last in load order`, async () => {
        const order = [1, 0, 3, 2];
        await withDb(dialect, async (db) => {
          await init(db, mode);
          await load(db, order.map((i) => generalPaths[i]!), { batch: 7 });
          await assertTables(db, mode);
          assertEqualsOracle(await historySnapshot(db, mode), historyOracle(order.map((i) => general[i]!), mode), `--history ${historyFlag(mode)}`);
        });
      });
    }
  });

  describe(`history: surrogate keys across runs (${dialect.name})`, () => {
    it('a version that held the largest key goes: the next key is the same whether the loads run as one or one per file', async () => {
      // C on Jan 10 at A (key 1), then on Jan 5 at B (key 2, for Jan 5-9), then on Jan 5 at A again: the same
      // day, later in load order, wins, so C is at A from Jan 5 on, one version that keeps key 1; key 2 goes.
      // D comes next: key 3, never 2 again, also when the warehouse is learned anew between the files.
      const parts = [
        [order('k1', '2024-01-10', customer('C', A), [line('P', '5.00')])],
        [order('k2', '2024-01-05', customer('C', B), [line('P', '5.00')])],
        [order('k3', '2024-01-05', customer('C', A), [line('P', '5.00')])],
        [order('k4', '2024-01-20', customer('D', X), [line('P', '5.00')])],
      ].map((records, i) => write(`max-sk-${dialect.name}-${i}.json`, records));
      const keysOf = (db: TestWarehouse) => db.query<{ customer_id: string; customer_sk: unknown }>('SELECT customer_id, customer_sk FROM customers ORDER BY customer_sk');
      const together = await withDb(dialect, async (db) => {
        await init(db, BOTH);
        await load(db, parts, { batch: 1 });
        return (await keysOf(db)).map((r) => [r.customer_id, Number(r.customer_sk)]);
      });
      assert.deepEqual(together, [['C', 1], ['D', 3]], 'one load: key 2 went with its version, D is 3');
      await withDb(dialect, async (db) => {
        await init(db, BOTH);
        for (const part of parts) await load(db, [part], { batch: 1 });
        assert.deepEqual((await keysOf(db)).map((r) => [r.customer_id, Number(r.customer_sk)]), together, 'one load per file: the same keys');
      });
    });
  });

  if (dialect.name === 'duckdb') {
    describe('history: DuckDB dimensions that an earlier version created with a primary key', () => {
      it('are rebuilt without it by init or load, saying so, every version kept with its key; later loads equal the oracle and rebuild nothing', async () => {
        const paths = MOVES.files.map((f) => write(`pk-migration-${f.name}`, f.records));
        await withDb(dialect, async (db) => {
          await init(db, BOTH);
          await load(db, [paths[0]!, paths[1]!]);
          for (const table of ['customers', 'products'] as const) await giveEarlierPrimaryKey(db, table);
          assert.deepEqual(await primaryKeys(db), ['customers', 'products'], 'the earlier schema');
          const before = keyedRows((await historySnapshot(db, BOTH)).tables);
          const r = await init(db, BOTH);
          for (const table of ['customers', 'products'] as const) assert.match(r.stderr, rebuiltNote(table), table);
          assert.deepEqual(await primaryKeys(db), [], 'no primary key left');
          const rebuilt = await historySnapshot(db, BOTH);
          assertEqualsOracle(rebuilt, historyOracle(MOVES.files.slice(0, 2).map(validRecords), BOTH), 'after the rebuild');
          assert.deepEqual(keyedRows(rebuilt.tables), before, 'every row kept, surrogate keys included');
          // A load rebuilds too: products given their key back, the next load drops it again, and only it.
          await giveEarlierPrimaryKey(db, 'products');
          for (let step = 2; step < paths.length; step++) {
            const later = await load(db, [paths[step]!]);
            const what = MOVES.files[step]!.name;
            if (step === 2) {
              assert.match(later.stderr, rebuiltNote('products'), `${what}: products rebuilt by load`);
              assert.doesNotMatch(later.stderr, /rebuilding the history dimension customers/, `${what}: customers left as they are`);
              assert.deepEqual(await primaryKeys(db), [], `${what}: no primary key left`);
            } else {
              assert.doesNotMatch(later.stderr, /rebuilding/, `${what}: nothing left to rebuild`);
            }
            assertEqualsOracle(await historySnapshot(db, BOTH), historyOracle(MOVES.files.slice(0, step + 1).map(validRecords), BOTH), `after ${what}`);
          }
        });
      });
    });
  }

  if (dialect.name === 'mysql') {
    describe('history: the server kills the engine\'s connections mid-load (mysql)', () => {
      it('every batch is retried on a fresh connection, planned anew; the warehouse is a clean run\'s, surrogate keys included', async () => {
        // Late observations all through the file, small batches: plans are made ahead while the connection
        // dies, and what the engine knew is learned again after each reconnect (versions, days, largest keys).
        const records = randomHistoryExports({ seed: 79, orders: 20000, customers: 60, products: 40, days: 300, files: 1 })[0]!;
        const path = files.file('killed-connections.json', JSON.stringify(records, null, 1));
        const batch = 200;
        const clean = await cleanRun(dialect, path, records, batch);
        await withDb(dialect, async (db) => {
          await init(db, BOTH);
          let done = false;
          const run = runCli(['load', path, '--db', db.url, '--batch-size', String(batch), '--json', '--retries', '8']).finally(() => (done = true));
          const kills = await killConnections(db.mysql!, () => done);
          const r = ok(await run, 'the load whose connections were killed');
          assert.ok(kills >= 2, `killed ${kills} connections`);
          assert.ok(JSON.parse(r.stdout).retries >= kills, `a retry per kill: ${r.stdout}`);
          assertCleanRun(await historySnapshot(db, BOTH), clean, records, 'after killed connections');
        });
      });
    });
  }

  describe(`history: SIGKILL and re-run (${dialect.name})`, () => {
    it('a killed load leaves whole batches; re-run, the warehouse is a clean run\'s, surrogate keys included', async () => {
      // Late observations all through the file: dates over 200 days in random order, 6000 orders.
      const records = randomHistoryExports({ seed: 77, orders: 6000, customers: 40, products: 30, days: 200, files: 1 })[0]!;
      const path = files.file(`sigkill-${dialect.name}.json`, JSON.stringify(records, null, 1));
      const body = readFileSync(path);
      const batch = 250;
      const clean = await cleanRun(dialect, path, records, batch);

      await withStalledSource(dialect.name, body, (source, s3Endpoint, proxyEndpoint) =>
        withDb(dialect, async (db) => {
          await init(db, BOTH);
          const committed = await killLoadMidRun(db, source, proxyEndpoint, batch);
          assert.ok(committed > 0 && committed % batch === 0 && committed < records.length, `killed after ${committed} records`);
          if (dialect.name === 'mysql') assert.deepEqual(await historyKeyed(db), [], 'the killed first load wrote the history tables without their keys');
          // A load moves facts between versions once, at its end (on MariaDB when it is a bulk load; see the
          // tests below): the next command that takes the warehouse, here init, finishes what the killed load
          // left before anything else (and builds the keys it dropped).
          await init(db, BOTH);
          if (dialect.name === 'mysql') assert.deepEqual(await historyKeyed(db), HISTORY_KEYED, 'init built the history keys again');
          assertEqualsOracle(await historySnapshot(db, BOTH), historyOracle([records.slice(0, committed)], BOTH), 'whole batches only after SIGKILL');
          await assertRerunIsClean(db, source, s3Endpoint, batch, committed, clean, records, 'after SIGKILL and re-run');
        }),
      );
    });

    it('a killed increment into a warehouse that holds facts (DuckDB: checkpoints at 256 MB of WAL) leaves whole batches; re-run (after init, or alone, with or without --keep-fact-keys), the warehouse is a clean run\'s', async () => {
      // Two files of random orders over the same 200 days: the second arrives late into the first's history.
      const [base, increment] = randomHistoryExports({ seed: 78, orders: 4000, customers: 40, products: 30, days: 200, files: 2 }) as [unknown[], unknown[]];
      const basePath = files.file(`killed-increment-base-${dialect.name}.json`, JSON.stringify(base, null, 1));
      const incrementPath = files.file(`killed-increment-${dialect.name}.json`, JSON.stringify(increment, null, 1));
      const batch = 250;
      const clean = await withDb(dialect, async (db) => {
        await init(db, BOTH);
        await load(db, [basePath], { batch });
        await load(db, [incrementPath], { batch });
        return historySnapshot(db, BOTH);
      });
      assertEqualsOracle(clean, historyOracle([base, increment], BOTH), 'the clean run');

      // What comes after the kill: init, then the re-run; or the re-run alone, which finishes what the killed load
      // left (MariaDB: the facts to move and the keys missing) before it loads (a bulk load: builds the fact keys
      // at its end) or, with --keep-fact-keys, builds the keys first and moves facts in each batch.
      for (const next of ['init', 'load', 'load --keep-fact-keys'] as const) {
        await withStalledSource(`killed-increment-${dialect.name}-${next.replace(/\W+/g, '-')}`, readFileSync(incrementPath), (source, s3Endpoint, proxyEndpoint) =>
          withDb(dialect, async (db) => {
            const what = `killed, then ${next}`;
            await init(db, BOTH);
            await load(db, [basePath], { batch });
            const committed = await killLoadMidRun(db, source, proxyEndpoint, batch);
            assert.ok(committed > 0 && committed % batch === 0 && committed < increment.length, `killed after ${committed} records of the increment`);
            if (dialect.name === 'mysql') assert.deepEqual(await historyKeyed(db), [], 'the killed increment wrote the history tables without their keys');
            if (next === 'init') {
              // The next command replays what the killed load committed (DuckDB: its WAL) and finishes its moves.
              await init(db, BOTH);
              assertEqualsOracle(await historySnapshot(db, BOTH), historyOracle([base, increment.slice(0, committed)], BOTH), 'the base and whole batches of the increment after SIGKILL');
            }
            const args = ['load', source, '--db', db.url, '--batch-size', String(batch), '--s3-endpoint', s3Endpoint, '--json'];
            const r = ok(await runCli(next === 'load --keep-fact-keys' ? [...args, '--keep-fact-keys'] : args), `re-run (${what})`);
            assert.equal(JSON.parse(r.stdout).sources[0].resumedFrom, committed, 'resumed from the last committed batch, not restarted');
            const got = await historySnapshot(db, BOTH);
            assertEqualsOracle(got, historyOracle([base, increment], BOTH), `after SIGKILL and re-run (${what})`);
            const [a, b] = [keyedRows(got.tables), keyedRows(clean.tables)];
            assert.deepEqual(a, b, `after SIGKILL and re-run (${what}): a clean run's tables, surrogate keys included`);
            assert.equal(await notedVersions(db), 0, `no version left noted (${what})`);
            if (dialect.name === 'mysql') assert.deepEqual(await factKeys(db), FACT_KEYS, `the fact keys are built again (${what})`);
            if (dialect.name === 'mysql') assert.deepEqual(await historyKeyed(db), HISTORY_KEYED, `and the history keys (${what})`);
          }),
        );
      }
    });

    it('a load that moves facts at its end (DuckDB; MariaDB: a bulk load) and fails on bad input after some batches still moves them before it exits', async () => {
      const records = randomHistoryExports({ seed: 92, orders: 3000, customers: 30, products: 20, days: 200, files: 1 })[0]!;
      const text = JSON.stringify(records, null, 1);
      // Invalid JSON in record 2400: the batches before it commit, then the load fails.
      const cut = text.indexOf(`"order_id": ${JSON.stringify((records[2400] as { order_id: unknown }).order_id)}`);
      assert.ok(cut > 0, 'the cut point is in the file');
      const path = files.file(`fails-late-${dialect.name}.json`, `${text.slice(0, cut)}"order_id": ,, }`);
      await withDb(dialect, async (db) => {
        await init(db, BOTH);
        const r = await runCli(['load', path, '--db', db.url, '--batch-size', '250']);
        assert.equal(r.code, 1, `the load fails: ${r.stderr}`);
        assert.match(r.stderr, /invalid JSON/);
        const [ledger] = await db.query<any>('SELECT status, records_committed FROM etl_loads');
        const committed = Number(ledger.records_committed);
        assert.equal(ledger.status, 'failed');
        assert.ok(committed >= 1000 && committed % 250 === 0, `committed ${committed}`);
        assert.equal(await notedVersions(db), 0, 'no version left noted');
        assertEqualsOracle(await historySnapshot(db, BOTH), historyOracle([records.slice(0, committed)], BOTH), 'whole batches after the failure, facts moved');
        if (dialect.name !== 'mysql') return; // DuckDB's fact table declares no keys (duckdb/ddl.ts)
        assert.deepEqual(await factKeys(db), FACT_KEYS, 'the fact keys are built again');
        assert.deepEqual(await historyKeyed(db), HISTORY_KEYED, 'and so are the history keys');
      });
    });

    it('a store too small for every key\'s history looks histories up per batch: the warehouse is a clean run\'s, surrogate keys included (MariaDB: the history keys the first load dropped are built before the first lookup)', async () => {
      const records = randomHistoryExports({ seed: 93, orders: 3000, customers: 40, products: 30, days: 200, files: 1 })[0]!;
      const path = files.file(`small-store-${dialect.name}.json`, JSON.stringify(records, null, 1));
      const batch = 250;
      const clean = await cleanRun(dialect, path, records, batch);
      await withDb(dialect, async (db) => {
        await init(db, BOTH);
        // The first batch's days alone pass 300 entries: from the second batch on, histories are looked up.
        const { timings, keyed } = await loadWatchingHistoryKeys(db, path, batch, 300);
        assert.ok((timings['lookups'] ?? 0) > 0, 'histories were looked up');
        assertCleanRun(await historySnapshot(db, BOTH), clean, records, 'a store of 300 entries');
        if (dialect.name !== 'mysql') return;
        // The first batch is written without the keys; the first lookup (a later batch's) builds them.
        assert.deepEqual(keyed[0], [], 'the first load dropped the history keys');
        const built = keyed.findIndex((k) => k.length > 0);
        // Batch 1 is written without them and batch 2 looks histories up: with two batches in flight, batch 3 or 4
        // is the first to find them.
        assert.ok(built > 0 && built <= 3, `the keys were built by the first lookup (found from batch ${built + 1} on)`);
        for (const k of keyed.slice(built)) assert.deepEqual(k, HISTORY_KEYED, 'and stayed');
        assert.ok((timings['lookups: build history keys'] ?? 0) > 0, 'by the lookups, timed as their part');
        assert.deepEqual(await historyKeyed(db), HISTORY_KEYED);
      });
    });

    if (dialect.name === 'mysql') {
      it('MariaDB: a days table left without its key and holding days twice gets its key back from init, the copies dropped and said', async () => {
        const records = randomHistoryExports({ seed: 94, orders: 3000, customers: 20, products: 30, days: 200, files: 1 })[0]!;
        const path = write('days-twice.json', records);
        await withDb(dialect, async (db) => {
          await init(db, BOTH);
          await load(db, [path], { batch: 200 });
          const before = await historySnapshot(db, BOTH);
          const [{ n }] = await db.query<any>('SELECT COUNT(*) AS n FROM etl_product_days');
          await db.query('ALTER TABLE etl_product_days DROP PRIMARY KEY');
          // Every day twice: more than the 1,000 pairs mended by one statement.
          await db.query('INSERT INTO etl_product_days SELECT * FROM etl_product_days');
          assert.ok(Number(n) > 2000, `${n} product days`);
          const r = await init(db, BOTH);
          assert.match(r.stderr, new RegExp(`etl_product_days held ${n} day\\(s\\) of a key more than once; each is kept once`));
          assert.deepEqual(await historyKeyed(db), HISTORY_KEYED);
          const [after] = await db.query<any>('SELECT COUNT(*) AS n FROM etl_product_days');
          assert.equal(Number(after.n), Number(n), 'the copies are gone');
          assert.deepEqual(await historySnapshot(db, BOTH), before, 'nothing else changed');
          // A second init finds the keys there and says nothing about them.
          assert.doesNotMatch((await init(db, BOTH)).stderr, /more than once/);
        });
      });

      it('MariaDB: building a days table key that a query holds waits at most --lock-timeout, then fails naming it; the next init builds it', async () => {
        const path = write('days-key-held.json', randomHistoryExports({ seed: 96, orders: 1000, customers: 20, products: 20, days: 100, files: 1 })[0]!);
        await withDb(dialect, async (db) => {
          await init(db, BOTH);
          await load(db, [path], { batch: 250 });
          // What a bulk load killed before its end leaves: a days table without its key.
          await db.query('ALTER TABLE etl_product_days DROP PRIMARY KEY');
          await whileHeld(db, 'etl_product_days', { buildKeysNoteSeconds: 1, buildKeysMinWaitSeconds: 1 }, async () => {
            const t = Date.now();
            const held = await runCli(['init', '--history', historyFlag(BOTH), '--db', db.url, '--lock-timeout', '3']);
            assert.equal(held.code, 1, held.stderr);
            assert.ok(Date.now() - t < 30_000, `init gave up after ${Date.now() - t} ms`);
            assert.match(held.stderr, /building the primary key of etl_product_days waits for a query or open transaction that holds it; at most 3s \(--lock-timeout\)/);
            assert.match(held.stderr, /\[E_LOCK\].*the primary key of etl_product_days is not built: a query or open transaction held the table for more than 3s \(--lock-timeout\); no loaded data is lost, and the next load or init builds it/);
          });
          await init(db, BOTH); // once the query has ended
          assert.deepEqual(await historyKeyed(db), HISTORY_KEYED);
        });
      });

      it('MariaDB: a bulk load into a filled history warehouse writes the history tables (days tables, version indexes) without their keys while every history dimension fits in three quarters of the store (with them when it does not, or when a query holds one), and builds them at its end', async () => {
        const [base, increment] = randomHistoryExports({ seed: 95, orders: 2000, customers: 30, products: 20, days: 200, files: 2 }) as [unknown[], unknown[]];
        const basePath = write('filled-days-base.json', base);
        const incrementPath = write('filled-days-increment.json', increment);
        const batch = 250;
        // The store: the default (room for every key's history); the least whose three quarters
        // (HISTORY_STORE_ROOM) hold the base's versions and days of the larger dimension, and one entry less; and
        // 300 entries, less than the base's versions and days, so the increment looks histories up.
        for (const store of ['default', 'least', 'one less', 'small'] as const) {
          await withDb(dialect, async (db) => {
            await init(db, BOTH);
            await load(db, [basePath], { batch });
            assert.deepEqual(await historyKeyed(db), HISTORY_KEYED);
            const least = Math.ceil((await largestHistory(db)) / HISTORY_STORE_ROOM);
            const entries = { default: HISTORY_STORE.entries, least, 'one less': least - 1, small: 300 }[store];
            const { timings, keyed } = await loadWatchingHistoryKeys(db, incrementPath, batch, entries);
            assert.equal(keyed.length, Math.ceil(increment.length / batch));
            if (store === 'small') {
              assert.ok((timings['lookups'] ?? 0) > 0, 'histories were looked up');
              assert.equal(timings['drop history keys'], undefined, 'nothing dropped');
              for (const k of keyed) assert.deepEqual(k, HISTORY_KEYED, 'a store that cannot hold every key: the keys stay');
            } else if (store === 'one less') {
              // It holds every key's history when the load starts, without the room for what the load adds.
              assert.equal(timings['drop history keys'], undefined, `nothing dropped with ${entries} entries`);
              for (const k of keyed) assert.deepEqual(k, HISTORY_KEYED, 'a store without room for the load: the keys stay');
            } else {
              assert.ok((timings['drop history keys'] ?? 0) > 0, `dropped with ${entries} entries, timed as a step`);
              // Every key of the increment is in the base: new days fill the store without evicting a key, so
              // nothing is looked up and no key is built before the end.
              assert.equal(timings['lookups: build history keys'], undefined, 'no lookup built the keys');
              for (const k of keyed) assert.deepEqual(k, [], 'every batch is written without the keys');
            }
            assert.deepEqual(await historyKeyed(db), HISTORY_KEYED, 'built at the end');
            assertEqualsOracle(await historySnapshot(db, BOTH), historyOracle([base, increment], BOTH), `the base and the increment (store: ${store}, ${entries} entries)`);
          });
        }
        // A days table held past the wait (an open transaction that read it) keeps its key, and the load says so;
        // the other is written without its key.
        await withDb(dialect, async (db) => {
          await init(db, BOTH);
          await load(db, [basePath], { batch });
          await whileHeld(db, 'etl_customer_days', { dropKeysWaitSeconds: 1 }, async () => {
            const { keyed, notes } = await loadWatchingHistoryKeys(db, incrementPath, batch, HISTORY_STORE.entries);
            assert.ok(
              notes.some((n) => /a query or open transaction held etl_customer_days for more than 1s: this load writes it with its primary key \(slower\)/.test(n)),
              notes.join('\n'),
            );
            for (const k of keyed) assert.deepEqual(k, ['etl_customer_days'], 'the held table keeps its key, the other is written without');
          });
          assert.deepEqual(await historyKeyed(db), HISTORY_KEYED);
          assertEqualsOracle(await historySnapshot(db, BOTH), historyOracle([base, increment], BOTH), 'the base and the increment, etl_customer_days held');
        });
      });

      it(
        'MariaDB: on a server that requires primary keys, bulk loads write the days tables with their keys, say so, and load what the oracle says',
        { skip: privateServerOnly('this test changes the global that makes the server require primary keys') },
        async () => {
          const [base, increment] = randomHistoryExports({ seed: 97, orders: 1500, customers: 30, products: 20, days: 200, files: 2 }) as [unknown[], unknown[]];
          const paths = [write('keys-required-base.json', base), write('keys-required-increment.json', increment)];
          await withDb(dialect, async (db) => {
            // The private server may be mysqld (test/helpers/mariadb-server.ts takes either): MariaDB's
            // innodb_force_primary_key (ER_REQUIRES_PRIMARY_KEY), MySQL's sql_require_primary_key (ER_TABLE_WITHOUT_PK).
            const [{ v }] = await db.query<any>('SELECT VERSION() AS v');
            const required = /mariadb/i.test(String(v)) ? 'innodb_force_primary_key' : 'sql_require_primary_key';
            await withPrivateGlobal(required, 1, async () => {
              await init(db, BOTH);
              // Into empty days tables (a first load), then into filled ones: both drop the fact keys.
              for (const path of paths) {
                const { timings, keyed, notes } = await loadWatchingHistoryKeys(db, path, 250, HISTORY_STORE.entries);
                for (const table of DAYS_TABLES) {
                  const said = notes.some((n) => n.startsWith(`${table} keeps its primary key, which the server requires (`) && n.endsWith('): this load writes it with its key (slower)'));
                  assert.ok(said, `${required}: ${notes.join('\n')}`);
                }
                // The note itself shows the fact keys were dropped: the history keys are tried only by a load that
                // did. The version indexes are not primary keys: they go.
                for (const k of keyed) assert.deepEqual(k, DAYS_TABLES, 'every batch is written with the days tables keys');
                assert.ok((timings['drop history keys'] ?? 0) > 0, 'the version indexes dropped, timed as a step');
                assert.deepEqual(await factKeys(db), FACT_KEYS, 'the fact keys are built at the end');
              }
            });
            assertEqualsOracle(await historySnapshot(db, BOTH), historyOracle([base, increment], BOTH), `the base and the increment, ${required} on`);
          });
        },
      );
    }

    it('a load that moves facts once, at its end (DuckDB; MariaDB: a bulk load): killed before it, the versions cut are noted, the next init moves their facts (DuckDB: also after rebuilding dimensions an earlier version keyed)', async () => {
      const records = randomHistoryExports({ seed: 91, orders: 4000, customers: 30, products: 20, days: 200, files: 1 })[0]!;
      const path = files.file(`sigkill-deferred-${dialect.name}.json`, JSON.stringify(records, null, 1));
      const body = readFileSync(path);
      const batch = 250;
      const clean = await cleanRun(dialect, path, records, batch);
      await withStalledSource(`deferred-${dialect.name}`, body, (source, s3Endpoint, proxyEndpoint) =>
        withDb(dialect, async (db) => {
          await init(db, BOTH);
          // Four batches or more: later batches cut versions that facts of earlier ones point at.
          const committed = await killLoadMidRun(db, source, proxyEndpoint, batch, 4 * batch);
          assert.ok(committed >= 4 * batch && committed % batch === 0 && committed < records.length, `killed after ${committed} records`);
          assert.ok((await notedVersions(db)) > 0, 'the killed load noted the versions whose facts move');
          const before = await historySnapshot(db, BOTH);
          assert.ok(
            before.problems.some((p) => /does not cover its date|does not exist/.test(p)),
            `before init, facts of the versions cut still point at them: ${before.problems.slice(0, 3).join('; ') || 'no problem found'}`,
          );

          // DuckDB: the dimensions as an earlier version keyed them; init rebuilds them, then moves the facts.
          if (dialect.name === 'duckdb') for (const table of ['customers', 'products'] as const) await giveEarlierPrimaryKey(db, table);
          const r = await init(db, BOTH);
          if (dialect.name === 'duckdb') {
            for (const table of ['customers', 'products'] as const) assert.match(r.stderr, rebuiltNote(table), table);
            assert.deepEqual(await primaryKeys(db), [], 'no primary key left');
          }
          assert.equal(await notedVersions(db), 0, 'init moved the facts and forgot the notes');
          assertEqualsOracle(await historySnapshot(db, BOTH), historyOracle([records.slice(0, committed)], BOTH), 'whole batches after SIGKILL and init');
          await assertRerunIsClean(db, source, s3Endpoint, batch, committed, clean, records, 'after SIGKILL, init and re-run');
        }),
      );
    });

    if (dialect.name === 'mysql') {
      it('MariaDB: a rewrite of the fact table cut short (its new table half written, or the old one not yet dropped) is cleaned up and done again by the next init', async () => {
        await withKilledBulkLoad(dialect, 'rewrite', 92, { share: 0 }, async (db, records, committed) => {
          // What a kill during the rewrite leaves: the new table, partly written, and the old one of an
          // earlier rewrite that was swapped out but not yet dropped.
          await db.query('CREATE TABLE etl_orders_rewrite LIKE orders');
          await db.query("INSERT INTO etl_orders_rewrite SELECT * FROM orders LIMIT 10");
          await db.query('CREATE TABLE etl_orders_replaced LIKE orders');
          const before = await innodbTableId(db, 'orders');
          await init(db, BOTH);
          await assertMovesFinished(db, before, true, records, committed, 'whole batches after SIGKILL, a cut rewrite and init');
        });
      });

      it('MariaDB: facts left to move by a killed bulk load move after the version indexes it dropped are built (they look versions up along them), then the other keys are built', async () => {
        await withKilledBulkLoad(dialect, 'version-first', 94, { share: Infinity }, async (db, records, committed) => {
          assert.ok((await notedVersions(db)) > 0, 'the killed load left facts to move');
          assert.deepEqual(await historyKeyed(db), [], 'and its history keys dropped');
          const before = await innodbTableId(db, 'orders');
          // init, in this process, with the statements it runs noted in order.
          const wh = await openWarehouse(db.url, { retries: 1 });
          const statements: string[] = [];
          const target = wh as unknown as { exec(sql: string, params?: unknown[]): Promise<number> };
          const exec = target.exec.bind(wh);
          target.exec = (sql, params) => {
            statements.push(sql.replace(/\s+/g, ' ').trim());
            return exec(sql, params);
          };
          try {
            await wh.ensureSchema(BOTH);
          } finally {
            await wh.close();
          }
          const at = (re: RegExp) => statements.findIndex((sql) => re.test(sql));
          const firstMove = at(/^UPDATE (orders|etl_(customer|product)_moved) /);
          assert.ok(firstMove >= 0, `the facts moved in place:\n${statements.join('\n')}`);
          for (const table of ['customers', 'products']) {
            const built = at(new RegExp(`^ALTER TABLE ${table} ADD KEY ix_${table}_version \\(`));
            assert.ok(built >= 0 && built < firstMove, `${table}'s version index built before the first move:\n${statements.join('\n')}`);
          }
          const daysKey = at(/^ALTER TABLE etl_customer_days ADD PRIMARY KEY/);
          assert.ok(daysKey > firstMove, 'the days tables keys after the moves');
          assert.deepEqual(await historyKeyed(db), HISTORY_KEYED, 'every history key built');
          assert.deepEqual(await factKeys(db), FACT_KEYS, 'and the fact keys');
          await assertMovesFinished(db, before, false, records, committed, 'whole batches after SIGKILL and init, the facts moved in place');
        });
      });

      it('MariaDB: facts left to move, a dimension held past the wait: they move without its version index, built after them, and with the other one', async () => {
        await withKilledBulkLoad(dialect, 'version-held', 95, { share: Infinity }, async (db, records, committed) => {
          assert.deepEqual(await historyKeyed(db), [], 'the killed load dropped its history keys');
          const before = await innodbTableId(db, 'orders');
          // An open transaction that read customers holds its metadata lock until the first fact moves.
          const holder = await adminConnection();
          const saved = { ...FACT_DDL };
          Object.assign(FACT_DDL, { dropKeysWaitSeconds: 1 });
          const statements: string[] = [];
          const notes: string[] = [];
          let holding = true;
          let releasedByMove = false;
          const release = async () => {
            if (!holding) return;
            holding = false;
            await holder.query('COMMIT');
          };
          try {
            await holder.query(`USE \`${db.mysql!.name}\``);
            await holder.query('BEGIN');
            await holder.query('SELECT COUNT(*) FROM customers');
            // init, in this process, with the statements it runs noted in order.
            const wh = await openWarehouse(db.url, { retries: 1, note: (m) => notes.push(m) });
            const target = wh as unknown as { exec(sql: string, params?: unknown[]): Promise<number> };
            const exec = target.exec.bind(wh);
            target.exec = async (sql, params) => {
              const flat = sql.replace(/\s+/g, ' ').trim();
              statements.push(flat);
              if (/^UPDATE (orders|etl_(customer|product)_moved) /.test(flat) && holding) {
                releasedByMove = true;
                await release();
              }
              return exec(sql, params);
            };
            try {
              await wh.ensureSchema(BOTH);
            } finally {
              await wh.close();
            }
          } finally {
            Object.assign(FACT_DDL, saved);
            await release().catch(() => {});
            await holder.end();
          }
          assert.ok(releasedByMove, `the lock was held until the facts moved in place:\n${statements.join('\n')}`);
          assert.deepEqual(
            notes.filter((n) => /version index/.test(n)),
            ['a query or open transaction held customers for more than 1s: the facts waiting to move move without its version index (slower), which is built after them'],
          );
          const at = (re: RegExp) => statements.findIndex((sql) => re.test(sql));
          const built = (table: string) => statements.map((sql, i) => (new RegExp(`^ALTER TABLE ${table} ADD KEY ix_${table}_version \\(`).test(sql) ? i : -1)).filter((i) => i >= 0);
          const firstMove = at(/^UPDATE (orders|etl_(customer|product)_moved) /);
          const [triedFirst, builtAfter, ...more] = built('customers');
          assert.ok(triedFirst !== undefined && triedFirst < firstMove, `customers' version index tried before the first move:\n${statements.join('\n')}`);
          assert.ok(builtAfter !== undefined && builtAfter > firstMove && more.length === 0, `and built once after the moves:\n${statements.join('\n')}`);
          const products = built('products');
          assert.ok(products.length === 1 && products[0]! > triedFirst! && products[0]! < firstMove, `products' version index built before the first move all the same:\n${statements.join('\n')}`);
          assert.deepEqual(await historyKeyed(db), HISTORY_KEYED, 'every history key built');
          assert.deepEqual(await factKeys(db), FACT_KEYS, 'and the fact keys');
          await assertMovesFinished(db, before, false, records, committed, 'whole batches after SIGKILL and init, customers held at first');
        });
      });

      it('MariaDB: a rewrite killed after its swap, before its notes were deleted, is finished by the next init without moving a fact twice', async () => {
        await withKilledBulkLoad(dialect, 'swapped', 96, { share: 0 }, async (db, records, committed) => {
          // The state a kill right after the RENAME leaves: the facts written anew (in a table without the
          // keys the bulk load dropped), the notes and the orders delivered again that waited still there,
          // the old fact table not yet dropped. Made from a finished rewrite with the notes, the waiting
          // orders and the old table put back and the keys dropped again.
          const kept = ['etl_customer_moved', 'etl_product_moved', 'etl_redelivered_lines', 'etl_redelivered_sizes'];
          const saved = new Map<string, any[]>();
          for (const table of kept) saved.set(table, await db.query<any>(`SELECT * FROM ${table}`));
          assert.ok(saved.get('etl_redelivered_sizes')!.length > 0, 'the killed load left orders delivered again waiting');
          await init(db, BOTH);
          const moved = await historySnapshot(db, BOTH);
          for (const [table, rows] of saved) {
            for (const row of rows) {
              const cols = Object.keys(row);
              await db.query(`INSERT INTO ${table} (${cols.join(', ')}) VALUES (${cols.map(() => '?').join(', ')})`, cols.map((c) => row[c]));
            }
          }
          assert.ok((await notedVersions(db)) > 0, 'the notes are back');
          await db.query('CREATE TABLE etl_orders_replaced LIKE orders');
          await db.query('ALTER TABLE orders DROP FOREIGN KEY fk_orders_product, DROP FOREIGN KEY fk_orders_customer');
          await db.query('ALTER TABLE orders DROP KEY ix_orders_product_sk, DROP KEY ix_orders_customer_sk');
          const [sum] = await db.query<any>('CHECKSUM TABLE orders');
          const tableId = await innodbTableId(db, 'orders');
          await init(db, BOTH);
          await assertMovesFinished(db, tableId, true, records, committed, 'after a kill between the swap and the notes');
          const [again] = await db.query<any>('CHECKSUM TABLE orders');
          assert.equal(String(again.Checksum), String(sum.Checksum), 'the facts moved again are the facts as they were');
          assert.deepEqual(await historySnapshot(db, BOTH), moved);
        });
      });

      // A reader whose death goes unnoticed leaves the rewrite waiting for rows forever: fail instead of hanging.
      it('MariaDB: the rewrite\'s read connection cut mid-stream: the rewrite is retried on fresh connections, and the facts are moved once', { timeout: 180_000 }, async () => {
        await withKilledBulkLoad(dialect, 'reader', 95, { share: 0 }, async (db, records, committed) => {
          const tableId = await innodbTableId(db, 'orders');
          // The first read of every fact (the rewrite's, on its second connection) loses its connection after
          // 20,000 bytes of rows: the facts are about 60 bytes each, so after a few hundred of them.
          // (Left out of it, the orders delivered again that wait: MysqlWarehouse.writeMovedFacts.)
          const proxy = await startQueryCutProxy(db.url, /^SELECT o\.order_id, o\.line_no, .* FROM orders o .*ORDER BY o\.order_id, o\.line_no$/s, 1, 20_000);
          try {
            const r = await runCli(['init', '--db', proxy.url]);
            assert.equal(r.code, 0, r.stderr);
            assert.ok(proxy.matches() >= 2, `the rewrite read the facts again after the cut (reads: ${proxy.matches()})`);
          } finally {
            await proxy.close();
          }
          await assertMovesFinished(db, tableId, true, records, committed, 'after the cut read');
        });
      });

      it('MariaDB: a query that holds the fact table past the wait keeps its rewrite from being swapped in: the facts move in place', async () => {
        await withKilledBulkLoad(dialect, 'swap', 93, { share: 0, swapWaitSeconds: 1 }, async (db, records, committed) => {
          // An open transaction that has read the fact table holds its metadata lock until it ends: past the
          // swap's wait, and the keys that init builds after the moves wait for it too, so it ends after 5 s.
          const tableId = await innodbTableId(db, 'orders');
          const reader = await adminConnection();
          try {
            await reader.query(`USE \`${db.mysql!.name}\``);
            await reader.query('BEGIN');
            await reader.query('SELECT COUNT(*) FROM orders');
            const running = runCli(['init', '--db', db.url]);
            // The reader ends once init has given up the swap and moved the facts in place: when the keys it
            // builds after them wait for the reader's lock.
            await untilFactAlterWaits(db, 'init', 120);
            await reader.query('COMMIT');
            const r = await running;
            assert.equal(r.code, 0, r.stderr);
            assert.match(r.stderr, /the facts of changed versions move in place: a query held the fact table for more than 1s/);
          } finally {
            await reader.end();
          }
          await assertMovesFinished(db, tableId, false, records, committed, 'moved in place after a swap that waited too long');
        });
      });
    }
  });
}
