/**
 * DuckDB, the embedded default warehouse (`./warehouse.duckdb`), behind the same load logic as MySQL
 * (../sql-warehouse.ts). Bulk rows (staging, facts) go through DuckDB's appender, inside the batch's
 * transaction. DuckDB types stay in this folder.
 *
 * Locking: DuckDB itself refuses a second process on the same file ("Could not set lock on file"); opening
 * is retried until --lock-timeout. Inside one process, loads of the same file queue on a promise chain.
 */
import { closeSync, existsSync, openSync, readSync } from 'node:fs';
import { resolve } from 'node:path';
import type { DuckDBConnection, DuckDBType, DuckDBVector } from '@duckdb/node-api';
import { EtlError } from '../../errors.ts';
import type { HistoryMode } from '../../model.ts';
import type { BulkRows, BulkValue, DimensionSpec } from '../dimensions.ts';
import { buildChunks, columnTypes } from './chunks.ts';
import { hashOf3 } from '../keys.ts';
import type { DeadLoads } from '../ledger-views.ts';
import { copyVersionsSql, SqlWarehouse, type BulkKind, type DialectSql, type KeyRowSink, type KeyScan, type PreparedBulk, type ReplacedOrder, type WarehouseSettings } from '../sql-warehouse.ts';
import { MIGRATE_FACT_TABLE, migrateHistoryDimension, READ_WITH_COLUMN, schemaDdl, SETTINGS_DDL, STAGING_DDL } from './ddl.ts';
import { DuckDBInstance, type DuckDBDataChunk } from './library.ts';
import './text.ts';
import type { LoadIntent, QuerySink } from '../types.ts';
import { streamDuckdbRows } from './query.ts';

const DUCKDB_SQL: DialectSql = {
  // UTC, as MySQL's NOW(3) in the engine's +00:00 session: a TIMESTAMPTZ stored in a TIMESTAMP column is cast
  // to the wall time of the loading process's time zone, so a load run with TZ=Pacific/Honolulu wrote its
  // ledger 10 hours behind one run in UTC.
  now: "(current_timestamp AT TIME ZONE 'UTC')",
  readWithColumn: READ_WITH_COLUMN,
  clear: (table) => `DELETE FROM ${table}`,
  updateBySk: ({ table, stage, surrogateKey: sk, attributes }: DimensionSpec<unknown>) =>
    `UPDATE ${table} SET ${attributes.map((a) => `${a} = s.${a}`).join(', ')} FROM ${stage} s WHERE ${table}.${sk} = s.${sk}`,
  text: (column) => `CAST(${column} AS VARCHAR)`,
  epochDays: (column) => `CAST(${column} - DATE '1970-01-01' AS INTEGER)`,
  copyVersions: copyVersionsSql,
  updateVersions: ({ table, versionsStage: vs, surrogateKey: sk }) =>
    `UPDATE ${table} SET valid_from = s.valid_from, valid_to = s.valid_to, is_current = s.is_current FROM ${vs} s WHERE ${table}.${sk} = s.sk AND s.op = 'u'`,
  deleteVersions: ({ table, versionsStage: vs, surrogateKey: sk }) => `DELETE FROM ${table} WHERE ${sk} IN (SELECT sk FROM ${vs} WHERE op = 'd')`,
  // None: every load moves facts at its end (SqlWarehouse.deferFactMoves). A move per batch scanned the fact
  // table and made every commit carry those updates (bench, 1 M history warehouse, +200 k: 13 s of 35 s).
  repointFacts: null,
  noteMoved: ({ moved, movedStage: ms, naturalKey: nk, surrogateKey: sk }) =>
    `INSERT INTO ${moved} (${sk}, ${nk}) SELECT s.sk, s.id FROM ${ms} s WHERE NOT EXISTS (SELECT 1 FROM ${moved} m WHERE m.${sk} = s.sk)`,
  // Each fact of a version noted, with the version of its natural key in effect on its order date (an ASOF
  // join: the last that starts on or before it), where that is another; then the facts updated in the order
  // of their row ids. Measured on the bench's increment: 2.17 M product facts in 2.3 s. Updated straight from
  // the join instead, the rows came in the join's order and DuckDB took 207 s for the same update.
  moveNotedFacts: ({ table, moved, naturalKey: nk, surrogateKey: sk }) => [
    `CREATE OR REPLACE TEMP TABLE stage_fact_moves AS
       SELECT o.rowid AS rid, v.${sk} AS new_sk
         FROM orders o JOIN ${moved} m ON o.${sk} = m.${sk}
         ASOF JOIN ${table} v ON v.${nk} = m.${nk} AND o.order_date >= v.valid_from
        WHERE v.${sk} <> o.${sk}
        ORDER BY rid`,
    `UPDATE orders SET ${sk} = t.new_sk FROM stage_fact_moves t WHERE orders.rowid = t.rid`,
    'DROP TABLE stage_fact_moves',
  ],
  daysInKeyOrder: false,
  // Only an empty fact table: replacing orders that are not there costs DuckDB about what reading the table's
  // order ids into the filter costs. Measured (1 M warehouse, alternating builds): the bench's increment of
  // 200 k took 5.8/6.5/5.5 s without the filter against 6.2/7.6/6.2 s with it (read keys about 0.5 s less,
  // replace orders the same though it now takes every order, clearing the staging tables 0.7 s more: the rest
  // is within the runs' spread); a second 1 M of new orders (100 batches, each a delete by join against the
  // whole fact table) 16.6/16.7 s against 17.1/16.9 s. A much larger fact table makes each batch's delete scan
  // more, as it does for a table over MySQL's limit; it also spares the filter's memory.
  orderFilterMaxLines: 0,
};

/** Default batch sizes (orders): see prepareLoad. */
const FIRST_LOAD_BATCH = 10_000;
const INCREMENT_BATCH = 20_000;

/**
 * An export takes at least about this many bytes per fact line (the generator's compact JSON: about 170; pretty:
 * about 260): the lines a load can add are estimated from its sources' sizes on the high side.
 */
const BYTES_PER_LINE_AT_FEWEST = 150;

/** In-process queue per database file: the tail of each file's chain of loads. */
const fileQueues = new Map<string, Promise<void>>();
/** In-process loads per database file that hold it (acquireLock to shut). */
const holders = new Map<string, number>();

export class DuckdbWarehouse extends SqlWarehouse {
  readonly dialect = 'duckdb';
  readonly location: string;
  protected readonly sql = DUCKDB_SQL;
  protected readonly settingsDdl = SETTINGS_DDL;
  protected readonly stagingDdl = STAGING_DDL;
  private readonly path: string;
  private instance: DuckDBInstance | null = null;
  private conn: DuckDBConnection | null = null;
  private releaseQueue: (() => void) | null = null;

  constructor(path: string, settings: WarehouseSettings) {
    super(settings);
    this.path = resolve(path);
    this.location = `duckdb:${this.path}`;
    // Fact and staging rows are small; DuckDB's default (80% of RAM) would let its buffers grow far past
    // what the engine needs. Spilling goes to a temp folder beside the file.
    // Each commit costs a WAL write and the merge of the transaction's rows; each batch's writes wait on the
    // one thread that also parses. Larger batches pay off, up to what they hold in memory (bench/RESULTS.md:
    // the sweep).
    this.caps = { maxStatementBytes: 64 * 1024 * 1024, defaultBatchSize: FIRST_LOAD_BATCH, growHeap: false };
  }

  /**
   * The default batch for this load. Into an SCD1 warehouse whose fact table holds at least as many lines as
   * the load can add (estimated from the sources' sizes, on the high side), each batch also pays for
   * statements that read the tables it merges into (the delete by join reads the fact table, the dimension
   * updates their tables), so fewer, larger batches pay off there. A first load, or one resumed after a kill,
   * keeps the smaller batch. Measured by hand (2026-11-30, the bench's increment of 200 k into a warehouse
   * of 1 M, runs taking turns): 6.6 to 8.3 s (median 7.3) at 20,000 against 8.4 to 9.1 s (median 8.9) at
   * 10,000, peak RSS 390 to 403 MB against 373 to 386 MB; at 40,000 6.7 s and 435 MB. Not for a first load
   * (22.5 s against 25.3 s, but 341 MB peak RSS, over its budget of 320) nor into a history warehouse (its
   * increment the same within the runs' spread, 30.9 and 37.0 s against 29.5 and 34.6 s, with more heap for
   * the versions each batch cuts).
   */
  protected override async prepareLoad(intent: LoadIntent): Promise<void> {
    await super.prepareLoad(intent);
    let filled = false;
    if (!this.history.customers && !this.history.products) {
      const [row] = await this.select('SELECT COUNT(*) AS n FROM orders');
      filled = Number(row!.n) > 0 && Number(row!.n) >= (await this.pendingBytes(intent)) / BYTES_PER_LINE_AT_FEWEST;
    }
    this.caps = { ...this.caps, defaultBatchSize: filled ? INCREMENT_BATCH : FIRST_LOAD_BATCH };
  }

  protected async open(): Promise<void> {
    const deadline = Date.now() + (this.lockTimeout ?? 0) * 1000;
    for (;;) {
      try {
        if (this.access === 'read' && !existsSync(this.path)) {
          throw new EtlError('E_DB', `no warehouse at ${this.path} (load something into it first, or pass --db)`);
        }
        // DuckDB opens a CSV, JSON or Parquet file given as the database as a database in memory that shows the
        // file: a load into it would succeed and keep nothing.
        if (!isDuckdbFileOrNone(this.path)) {
          throw new EtlError('E_DB', `cannot open ${this.location}: the file exists and is not a DuckDB database (a data file? --db takes the warehouse, the exports are the sources)`);
        }
        this.instance = await DuckDBInstance.create(this.path, {
          memory_limit: '128MB',
          threads: '2',
          // query: the file read-only, and nothing outside it (no ATTACH of another file, no COPY TO or EXPORT, no
          // read_csv of a local file, no extension), locked so that the SQL cannot SET it back.
          ...(this.access === 'read' ? { access_mode: 'READ_ONLY', enable_external_access: 'false', lock_configuration: 'true' } : {}),
        });
        break;
      } catch (err) {
        if (err instanceof EtlError) throw err;
        // DuckDB's words for another process's lock on the file; its other messages name the path, which may
        // hold "lock" itself (/srv/blocks/w.duckdb in a missing folder waited out --lock-timeout as if held).
        const locked = /Could not set lock on file/i.test((err as Error).message);
        if (!locked) throw new EtlError('E_DB', `cannot open ${this.location}: ${(err as Error).message}`, {}, { cause: err });
        const holder = lockHolder((err as Error).message);
        if (this.access === 'read') {
          // query, loads, rejects: they take no lock and have no --lock-timeout; DuckDB lets no other process read a file one writes.
          throw new EtlError('E_LOCK', `another process${holder} holds ${this.location} (a load?); DuckDB lets no other process read it meanwhile: try again when it ends`, {}, { cause: err });
        }
        if (Date.now() >= deadline) {
          throw new EtlError('E_LOCK', `another process${holder} holds ${this.location}; waited ${this.lockTimeout ?? 0}s (--lock-timeout)`, {}, { cause: err });
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    this.conn = await this.instance.connect();
  }

  protected discard(): void {
    this.conn?.closeSync();
    this.instance?.closeSync();
    this.conn = null;
    this.instance = null;
  }

  protected async shut(): Promise<void> {
    this.discard();
    if (this.releaseQueue) holders.set(this.path, holders.get(this.path)! - 1);
    this.releaseQueue?.();
    this.releaseQueue = null;
  }

  /**
   * Read-only (`loads`), this process holds the file with DuckDB's shared lock, which no writing process can hold
   * beside it: every load of another process has ended. A load of this process (tests run several in one) holds
   * it from before it writes its ledger row to its end, so the rows read before none is seen holding it belong to
   * loads that have ended too. (Only such a load of this process could resume an older row meanwhile.)
   */
  protected override async deadLoads(): Promise<DeadLoads | null> {
    if (this.access !== 'read') return null;
    const through = await this.lastLoadId();
    return (holders.get(this.path) ?? 0) === 0 ? { through, notUpdatedSince: null } : null;
  }

  protected isTransient(): boolean {
    // Embedded, one connection, no network: nothing to retry.
    return false;
  }

  protected async acquireLock(timeoutSeconds: number): Promise<void> {
    // Cross-process exclusion is DuckDB's file lock (see open). In-process: wait for earlier loads of this file.
    const previous = fileQueues.get(this.path) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    fileQueues.set(this.path, previous.then(() => mine));
    const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), timeoutSeconds * 1000).unref());
    if ((await Promise.race([previous.then(() => 'ok' as const), timeout])) === 'timeout') {
      release();
      throw new EtlError('E_LOCK', `another load holds ${this.location}; waited ${timeoutSeconds}s (--lock-timeout)`);
    }
    this.releaseQueue = release;
    holders.set(this.path, (holders.get(this.path) ?? 0) + 1);
  }

  protected override async takeLock(timeoutSeconds: number): Promise<void> {
    // Queue first, then open the file: the in-process queue must not hold a DuckDB instance while waiting.
    await this.acquireLock(timeoutSeconds);
    this.lockTimeout = timeoutSeconds;
    await this.ensureConnected();
  }

  private c(): DuckDBConnection {
    if (!this.conn) throw new EtlError('E_INTERNAL', `not connected to ${this.location}`);
    return this.conn;
  }

  protected async exec(sql: string, params?: unknown[]): Promise<number> {
    const res = await this.c().run(sql, params as never);
    return Number(res.rowsChanged);
  }

  protected async select(sql: string, params?: unknown[]): Promise<Record<string, unknown>[]> {
    const reader = await this.c().runAndReadAll(sql, params as never);
    return reader.getRowObjectsJS() as Record<string, unknown>[];
  }

  protected async table(sql: string): Promise<{ columns: string[]; rows: unknown[][] }> {
    const reader = await this.c().runAndReadAll(sql);
    return { columns: reader.columnNames(), rows: reader.getRowsJS() as unknown[][] };
  }

  protected streamRows(sql: string, sink: QuerySink): Promise<void> {
    return streamDuckdbRows(this.c(), sql, sink);
  }

  protected async scan(sql: string, params: unknown[], onRow: (row: unknown[]) => void): Promise<void> {
    // Cell by cell from the chunk's vectors into one row array: no array per row (chunk.getRows builds them,
    // through a visitor per cell), for the millions of rows learnHistory reads.
    const row: unknown[] = [];
    await this.eachRow(sql, params, (vectors, r) => {
      row.length = vectors.length;
      for (let c = 0; c < vectors.length; c++) row[c] = vectors[c]!.getItem(r);
      onRow(row);
    });
  }

  /** A result streamed a chunk at a time, each row handed over as its chunk's vectors and its index there. */
  private async eachRow(sql: string, params: readonly unknown[], onRow: (vectors: readonly DuckDBVector[], r: number) => void): Promise<void> {
    const result = await this.c().stream(sql, params.length ? (params as never) : undefined);
    for (;;) {
      const chunk = await result.fetchChunk();
      // rowCount read once per chunk: it is a call into DuckDB each time (0.5 s of a history load's read keys).
      const rows = chunk ? chunk.rowCount : 0;
      if (!chunk || rows === 0) break;
      const vectors = Array.from({ length: chunk.columnCount }, (_, c) => chunk.getColumnVector(c));
      for (let r = 0; r < rows; r++) onRow(vectors, r);
    }
  }

  /**
   * scanKeys with less for the Node thread to decode, which is where reading a history warehouse's keys went
   * (some million rows of versions and days): each text value handed over costs a call into DuckDB and a
   * TextDecoder call, and a vector with NULLs a BigInt test per value (DuckDBValidity). So the natural key and
   * the attributes come as one string per row, with the length of each value in code points (DuckDB's length;
   * -1: NULL), after a '.': a decoder that drops a byte order mark that starts a string (node-api's did, until
   * ./text.ts) would shift every value after it; the keys read do not depend on that swap. In an ordered scan a
   * value equal to the row before's is left out (-2): a key's days and versions repeat the key, and its versions
   * most attributes; the rows come in the order of the window that compares them (row_number over it), ties or
   * not. Numbers come as DOUBLE, NULL as NaN: no NULLs in the vector. Measured by hand (2026-11-30) on the
   * bench's history warehouse after its increment (0.7 M versions, 2 M days): the scans alone 2.6 s against 3.8
   * to 4.7 s by scan; the next period's increment, runs taking turns, 19.2, 19.0 and 17.1 s against 19.8, 21.4
   * and 19.4 s (read keys 4.1 to 4.8 s against 6.3 to 6.9 s, the parser running beside it). An SCD1 warehouse
   * reads one row per key: its increment within the runs' spread.
   */
  protected override async scanKeys(q: KeyScan, onRow: KeyRowSink): Promise<void> {
    const texts = [q.naturalKey, ...q.attributes.map(this.sql.text)];
    const ordered = q.orderBy !== undefined;
    const same = (t: string) => (ordered ? `${t} IS NOT DISTINCT FROM lag(${t}) OVER w` : 'false');
    const joined = ["'.'", ...texts.map((t) => `CASE WHEN ${same(t)} THEN '' ELSE COALESCE(${t}, '') END`)].join(' || ');
    const lengths = texts.map((t) => `CAST(CASE WHEN ${same(t)} THEN -2 ELSE COALESCE(length(${t}), -1) END AS INTEGER)`);
    const numbers = q.numbers.map((n) => `COALESCE(CAST(${n} AS DOUBLE), 'NaN'::DOUBLE)`);
    const columns = [joined, ...lengths, ...numbers];
    const select = `SELECT ${columns.join(', ')}${ordered ? ', row_number() OVER w AS rn' : ''} FROM ${q.table}${q.where ?? ''}`;
    const sql = ordered ? `SELECT * EXCLUDE (rn) FROM (${select} WINDOW w AS (ORDER BY ${q.orderBy!.join(', ')})) ORDER BY rn` : select;
    const k = texts.length;
    const n = numbers.length;
    // The values of the row before, kept for those left out.
    const values: (string | null)[] = new Array(k).fill(null);
    const nums: (number | null)[] = new Array(n);
    await this.eachRow(sql, q.params ?? [], (vectors, r) => {
      splitJoined(vectors[0]!.getItem(r) as string, vectors, r, values);
      for (let i = 0; i < n; i++) {
        const v = vectors[1 + k + i]!.getItem(r) as number;
        nums[i] = Number.isNaN(v) ? null : v;
      }
      // attributeHash(values.slice(1)), without the array.
      onRow(values[0]!, nums, k === 1 ? 0 : hashOf3(values[1] ?? null, values[2] ?? null, values[3] ?? null, k - 1));
    });
  }

  /** Column types of the tables written in bulk, read once per connection (for building chunks ahead). */
  private readonly types = new Map<string, DuckDBType[]>();

  protected schemaDdl(mode: HistoryMode): readonly string[] {
    return schemaDdl(mode);
  }

  protected async columnsOf(table: string): Promise<string[] | null> {
    const rows = await this.select("SELECT column_name AS c FROM duckdb_columns() WHERE table_name = ? AND schema_name = 'main'", [table]);
    return rows.length === 0 ? null : rows.map((r) => String(r.c));
  }

  protected override async createSchema(requested?: HistoryMode, forLoad = false): Promise<HistoryMode> {
    const mode = await super.createSchema(requested, forLoad);
    await this.migrateFactTable();
    await this.migrateHistoryDimensions();
    // A load killed before its end left facts to move: they move before anything else.
    await this.moveDeferredFacts();
    return mode;
  }

  private async migrateFactTable(): Promise<void> {
    await this.rebuildWithoutKeys('orders', ['PRIMARY KEY', 'FOREIGN KEY'], MIGRATE_FACT_TABLE, `rebuilding the fact table of ${this.location} without its primary and foreign keys (an earlier version declared them; in DuckDB they cost more than the rest of a load)`);
  }

  /** History dimensions created with a primary key by an earlier version (see dimensionDdl in ddl.ts) lose it. */
  private async migrateHistoryDimensions(): Promise<void> {
    for (const spec of this.historySpecs) {
      const table = spec.table as 'customers' | 'products';
      await this.rebuildWithoutKeys(table, ['PRIMARY KEY'], migrateHistoryDimension(table), `rebuilding the history dimension ${table} of ${this.location} without its primary key (an earlier version declared it; in DuckDB it slows every batch that cuts versions)`);
    }
  }

  /** If `table` declares a constraint of these kinds (an earlier version's schema): `note`, then `statements` in one transaction. */
  private async rebuildWithoutKeys(table: string, kinds: readonly string[], statements: readonly string[], note: string): Promise<void> {
    const [keys] = await this.select(`SELECT COUNT(*) AS n FROM duckdb_constraints() WHERE schema_name = 'main' AND table_name = ? AND constraint_type IN (${kinds.map(() => '?').join(', ')})`, [table, ...kinds]);
    if (Number(keys!.n) === 0) return;
    this.note(note);
    await this.inTransaction(async () => {
      for (const ddl of statements) await this.exec(ddl);
    });
  }

  protected override async learnWriters(): Promise<void> {
    // A load into a history warehouse that holds facts re-dates, splits and copies versions in every batch:
    // DuckDB's automatic checkpoint (at 16 MB of WAL, by the commit that passes it) then writes the dimension
    // tables again and again. Measured by hand (2026-11-30, the bench's increment of 200 k on a history
    // warehouse of 1 M, runs taking turns): commit 7.4 to 8.5 s against 3.2 to 4.1 s with checkpoints at
    // 1 GB, the load 36.7 and 31.5 s against 32.7 and 30.0 s, peak RSS alike (556/616 against 561/538 MB).
    // That increment's WAL stays under 70 MB, so 256 MB is the same for it; and it bounds what a load killed
    // meanwhile leaves to replay at the next open (a WAL of 257 MB, from a killed increment of 1 M orders:
    // 13.6 s and 280 MB peak RSS for a read-only `query`) and the temp files DuckDB spills the unwritten rows
    // to (500 MB beside that WAL). Not when the fact table is empty (a first load: measured no faster, its peak
    // RSS 5 to 15 MB higher) nor for SCD1 warehouses (an SCD1 increment was no faster; a first load 2 s faster
    // but 50 MB over its budget): the default stays there. The setting is this process's instance's only; the
    // checkpoint left over runs at close.
    if ((this.history.customers || this.history.products) && (await this.hasRows('orders'))) await this.exec("SET wal_autocheckpoint = '256MB'");
    this.types.clear();
    const tables = ['customers', 'products', 'orders', 'stage_customers', 'stage_products', 'stage_order_ids'];
    for (const d of ['customer', 'product']) tables.push(`stage_${d}_versions`, `stage_${d}_moved`);
    if (this.history.customers) tables.push('etl_customer_days');
    if (this.history.products) tables.push('etl_product_days');
    for (const table of tables) {
      const appender = await this.c().createAppender(table);
      try {
        this.types.set(table, columnTypes(appender));
      } finally {
        appender.closeSync();
      }
    }
  }

  /** Orders delivered again: their lines go, by a join with their ids, and their new lines are appended. */
  protected prepareReplace(lines: BulkRows, orders: ReplacedOrder[]): PreparedBulk[] {
    const ids: BulkRows = {
      count: orders.length,
      each(visit) {
        const row: BulkValue[] = [''];
        for (const o of orders) {
          row[0] = o.orderId;
          visit(row);
        }
      },
    };
    return [this.prepareBulk('stage_order_ids', ['order_id'], ids, 'stage'), this.prepareBulk('orders', [], lines, 'facts')];
  }

  protected async writeReplace([ids, lines]: PreparedBulk[]): Promise<void> {
    this.useStaging('stage_order_ids');
    await this.writeBulk(ids!);
    await this.exec('DELETE FROM orders WHERE order_id IN (SELECT order_id FROM stage_order_ids)');
    await this.writeBulk(lines!);
  }

  protected joinBulks(parts: PreparedBulk[]): DuckdbBulk {
    const bulks = parts as DuckdbBulk[];
    if (bulks.some((b) => b.chunks === null)) throw new EtlError('E_INTERNAL', `${bulks[0]!.table}: only data chunks are made ready in parts`);
    return { table: bulks[0]!.table, count: bulks.reduce((n, b) => n + b.count, 0), chunks: bulks.flatMap((b) => b.chunks!), inserts: null };
  }

  /** Rows as filled data chunks in the table's column order (staging, dimension and fact tables are declared so). */
  protected prepareBulk(table: string, columns: readonly string[], rows: BulkRows, kind: BulkKind): DuckdbBulk {
    if (kind === 'rejects') {
      // Not every column: plain INSERTs, a rare path. rejected_at is written as the ledger's times are (its
      // default, current_timestamp, is the local time).
      const copies: BulkValue[][] = [];
      rows.each((r) => copies.push([...r]));
      return { table, count: rows.count, chunks: null, inserts: { columns: [...columns, 'rejected_at'], values: [...columns.map(() => '?'), DUCKDB_SQL.now], rows: copies } };
    }
    const types = this.types.get(table);
    if (!types) throw new EtlError('E_INTERNAL', `${table}: no column types read for it`);
    return { table, count: rows.count, chunks: rows.count === 0 ? [] : buildChunks(types, table, rows), inserts: null };
  }

  protected async writeBulk(prepared: PreparedBulk): Promise<void> {
    const bulk = prepared as DuckdbBulk;
    if (bulk.count === 0) return;
    if (bulk.inserts) {
      const { columns, values, rows } = bulk.inserts;
      for (const r of rows) await this.exec(`INSERT INTO ${bulk.table} (${columns.join(', ')}) VALUES (${values.join(', ')})`, r);
      return;
    }
    const appender = await this.c().createAppender(bulk.table);
    try {
      for (const chunk of bulk.chunks!) appender.appendDataChunk(chunk);
      appender.flushSync();
    } finally {
      appender.closeSync();
    }
  }
}

interface DuckdbBulk extends PreparedBulk {
  chunks: DuckDBDataChunk[] | null;
  /** `values`: a placeholder per value of a row, or SQL. */
  inserts: { columns: readonly string[]; values: readonly string[]; rows: BulkValue[][] } | null;
}

/**
 * Whether `path` may be handed to DuckDB: missing (it creates it), empty or unreadable (its own error says
 * what is wrong), or a file that starts like a DuckDB database (its magic "DUCK" at byte 8).
 */
function isDuckdbFileOrNone(path: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return true;
  }
  try {
    const head = Buffer.alloc(12);
    const n = readSync(fd, head, 0, 12, 0);
    return n === 0 || (n === 12 && head.toString('latin1', 8, 12) === 'DUCK');
  } catch {
    return true; // a folder, say
  } finally {
    closeSync(fd);
  }
}

/**
 * The values of one row of DuckdbWarehouse.scanKeys into `values`: `joined` holds a '.' and then those handed
 * over, one after another, and the vectors after it their lengths in code points (-1: NULL; -2: the row
 * before's, left as it is). DuckDB's text is valid UTF-8, so a code point is one UTF-16 code unit or a
 * surrogate pair.
 */
function splitJoined(joined: string, vectors: readonly DuckDBVector[], r: number, values: (string | null)[]): void {
  let at = 1; // after the '.'
  for (let i = 0; i < values.length; i++) {
    const length = vectors[1 + i]!.getItem(r) as number;
    if (length === -2) continue;
    if (length === -1) {
      values[i] = null;
      continue;
    }
    let end = at;
    for (let c = 0; c < length; c++) {
      const unit = joined.charCodeAt(end);
      end += unit >= 0xd800 && unit <= 0xdbff ? 2 : 1;
    }
    values[i] = joined.slice(at, end);
    at = end;
  }
}

/**
 * The process DuckDB names as the holder of a file's lock ("Conflicting lock is held in /usr/bin/node (PID 12621)"),
 * as " (PID 12621, /usr/bin/node)": what the user looks for to find it. Empty where the message does not say.
 */
function lockHolder(message: string): string {
  const m = /held in (.*?) \(PID (\d+)\)/.exec(message);
  return m ? ` (PID ${m[2]}, ${m[1]})` : '';
}
