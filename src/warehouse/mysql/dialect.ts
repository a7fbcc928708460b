/**
 * MySQL/MariaDB behind the shared load logic (../sql-warehouse.ts): one mysql2 connection, multi-row INSERTs
 * sized from max_allowed_packet, and LOAD DATA LOCAL INFILE streamed from memory for fact rows where the
 * server allows it.
 */
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { getHeapStatistics } from 'node:v8';
import { cutText, EtlError } from '../../errors.ts';
import { bulkRows, CUSTOMERS, FACT_COLUMNS, PRODUCTS, type BulkRows, type BulkValue, type DimensionSpec } from '../dimensions.ts';
import { epochDay } from '../history.ts';
import { FactMoves } from '../moves.ts';
import type { DeadLoads } from '../ledger-views.ts';
import { copyVersionsSql, SqlWarehouse, type BulkKind, type DialectSql, type PreparedBulk, type ReplacedOrder, type WarehouseSettings } from '../sql-warehouse.ts';
import { LIMITS, type HistoryMode } from '../../model.ts';
import { BUILD_FACT_KEYS_STEP, BUILD_HISTORY_KEYS_STEP, DEFERRED_MOVES_STEP, DEFERRED_REPLACES_STEP, DROP_HISTORY_KEYS_STEP, type LoadIntent, type QuerySink } from '../types.ts';
import { connect, connectionClosed, errnoOf, isTransient, watchStreaming, type Connection } from './connection.ts';
import { daysPrimaryKey, FACT_SECONDARY_KEYS, LEDGER_URI_KEY, READ_WITH_COLUMN, schemaDdl, settingsDdl, stagingDdl, TABLES, versionKey, versionKeyName, type ByteCollation } from './ddl.ts';
import { streamMysqlRows } from './query.ts';
import { chunkedStatements, ident, loadLockName, num, str } from './sql.ts';
import { TsvWriter } from './tsv.ts';
import type { MysqlTarget } from './url.ts';

export const MYSQL_SQL: DialectSql = {
  now: 'NOW(3)',
  readWithColumn: READ_WITH_COLUMN,
  clear: (table) => `TRUNCATE TABLE ${table}`,
  updateBySk: ({ table, stage, surrogateKey: sk, attributes }: DimensionSpec<unknown>) =>
    `UPDATE ${table} d JOIN ${stage} s ON d.${sk} = s.${sk} SET ${attributes.map((a) => `d.${a} = s.${a}`).join(', ')}`,
  // mysql2 gives DECIMAL as its text (decimalNumbers: false), DATE as YYYY-MM-DD (dateStrings) and text as text.
  text: (column) => column,
  // TO_DAYS('1970-01-01'); like Date.UTC, TO_DAYS counts in the proleptic Gregorian calendar (year 1000 on).
  epochDays: (column) => `(TO_DAYS(${column}) - 719528)`,
  copyVersions: copyVersionsSql,
  updateVersions: ({ table, versionsStage: vs, surrogateKey: sk }) =>
    `UPDATE ${table} d JOIN ${vs} s ON d.${sk} = s.sk AND s.op = 'u' SET d.valid_from = s.valid_from, d.valid_to = s.valid_to, d.is_current = s.is_current`,
  deleteVersions: ({ table, versionsStage: vs, surrogateKey: sk }) => `DELETE d FROM ${table} d JOIN ${vs} s ON d.${sk} = s.sk AND s.op = 'd'`,
  // Each fact matches at most one row: a version's old days are cut into disjoint intervals.
  repointFacts: ({ repointStage: rs, surrogateKey: sk }) =>
    `UPDATE orders o JOIN ${rs} r ON o.${sk} = r.old_sk AND o.order_date >= r.valid_from AND (r.valid_to IS NULL OR o.order_date < r.valid_to) SET o.${sk} = r.new_sk`,
  noteMoved: ({ moved, movedStage: ms, naturalKey: nk, surrogateKey: sk }) =>
    `INSERT INTO ${moved} (${sk}, ${nk}) SELECT sk, id FROM ${ms} ON DUPLICATE KEY UPDATE ${nk} = VALUES(${nk})`,
  /**
   * Only a fact outside what its version covers now looks its version up: on the index of (natural key,
   * valid_from), the last one that starts on or before its date. Measured on the bench's increment (2.17 M
   * product facts move): 33 s for products, of which the UPDATE 29 s; the lookup is most of it (the same
   * subquery in a SELECT: 24 s, with or without MariaDB's subquery cache; the whole table copies in 6.7 s).
   * Rebuilding the fact table by INSERT ... SELECT with it took 33 s; a window function over facts and versions
   * finding each fact's valid_from, then a join, 64 s. Joining each fact of a version noted to all versions of
   * its key instead took 153 s (90 versions a product); a join to the versions that overlap the days where each
   * noted version was cut, through the repoint staging table, 36.5 s. (Those on a quiet server.) Within the
   * load, after its batches: the engine finding each fact's new key itself (the noted keys' versions read
   * once, a binary search per fact, the fact table read in pages of primary-key order) and updating each
   * page's moved facts by primary key took 29.1 s for products (22.5 s of it those updates), against 30.7 s for
   * this statement in the same sequence: within noise, not kept.
   */
  moveNotedFacts: ({ table, moved, naturalKey: nk, surrogateKey: sk }) => [
    `UPDATE ${moved} m LEFT JOIN ${table} d ON d.${sk} = m.${sk} SET m.keep_from = d.valid_from, m.keep_to = COALESCE(d.valid_to, '9999-12-31')`,
    `UPDATE orders o JOIN ${moved} m ON o.${sk} = m.${sk}
       SET o.${sk} = (SELECT v.${sk} FROM ${table} v WHERE v.${nk} = m.${nk} AND v.valid_from <= o.order_date ORDER BY v.valid_from DESC LIMIT 1)
       WHERE m.keep_from IS NULL OR o.order_date < m.keep_from OR o.order_date >= m.keep_to`,
  ],
  daysInKeyOrder: true,
  // Replacing an order costs an upsert by primary key and a trim: worth sparing the orders that cannot be there.
  orderFilterMaxLines: 50_000_000,
};

/**
 * An export takes at least this many bytes per fact line (the generator's pretty JSON: about 260; compact: about
 * 170): the number of lines a source will add is estimated from its size on the high side of bytes, so on the
 * low side of lines (gzip makes it lower still), and keys are dropped only for loads that are surely large.
 */
const BYTES_PER_LINE_AT_LEAST = 300;

/**
 * Deferred fact moves that touch much of the fact table write it anew (MysqlWarehouse.rewriteMovedFacts).
 * Measured by hand (2026-11-30, the bench's history increment of 200 k on 1 M, MariaDB, fact keys dropped):
 * updating 2.17 M of 2.75 M facts in place took 30.4 s (products) and 124 k facts 5.1 s (customers), about 14
 * and 40 microseconds a fact, where reading all 2.75 M facts, computing their keys in the engine and writing
 * them with LOAD DATA into a new table took 13.2 s, about 5 microseconds a fact of the whole table.
 */
export const FACT_REWRITE = {
  /**
   * Rewrite when the versions noted, as a share of their dimension's versions (summed over the dimensions),
   * reach this: an estimate of the share of facts that move. Tests set 0 (always) or Infinity (never).
   */
  share: 0.25,
  /** Fact rows per page read and written. */
  pageRows: 20_000,
  /** Seconds the swap waits for queries that read the fact table; longer: the facts move in place. */
  swapWaitSeconds: 30,
};

/**
 * The keys a bulk load drops and builds again (the fact table's, and the history keys: the days tables' primary
 * keys and the dimensions' version indexes) and queries
 * that read those tables. ALTER TABLE (dropping the keys before a bulk load, building them after it) and the
 * rewrite's RENAME wait for every query and open transaction that has read the table (a metadata lock), and
 * queries that come after them wait behind them: none of them waits the server's default (a day on MariaDB).
 */
export const FACT_DDL = {
  /** Seconds dropping the keys before a bulk load waits; longer: the load keeps them (maintained row by row). */
  dropKeysWaitSeconds: 10,
  /** Building the keys asks this often whether it waits, and says so once. */
  buildKeysNoteSeconds: 10,
  /** Building the keys waits up to --lock-timeout, and at least this long (--lock-timeout 0 is for other loads), then fails. */
  buildKeysMinWaitSeconds: 10,
};

/**
 * Heap the rewrite holds, at most: a note costs about 250 bytes (its entry, its natural key and the key's run
 * of versions), a version of a noted key 12 (FactMoves).
 */
const rewriteBytes = (notes: number, versions: number) => notes * 250 + versions * 12;

/** How long DDL waits for queries where no --lock-timeout was given (the CLI always gives one; its default). */
const DEFAULT_DDL_WAIT_SECONDS = 600;

/** The new fact table while it is written, and the old one after the swap, until it is dropped. */
const REWRITE_TABLE = 'etl_orders_rewrite';
const REPLACED_TABLE = 'etl_orders_replaced';
/** Orders delivered again during a bulk load, until its end: their lines, and how many each has now. */
const REDELIVERED_LINES = 'etl_redelivered_lines';
const REDELIVERED_SIZES = 'etl_redelivered_sizes';
/** Replacing the orders a bulk load delivered again, at its end (MysqlWarehouse.replaceRedelivered). */
export const REDELIVERED_REPLACE = {
  /**
   * Waiting orders replaced per transaction: a part along the key, so that no transaction grows with the load
   * (50,000 orders are about 125,000 lines in the bench's data). Tests set a few.
   */
  partOrders: 50_000,
};

/** Privilege refusals: ER_DBACCESS_DENIED_ERROR, ER_TABLEACCESS_DENIED_ERROR, ER_SPECIFIC_ACCESS_DENIED_ERROR. */
const DENIED = new Set([1044, 1142, 1227]);

/**
 * The server keeps every table with a primary key: MariaDB's innodb_force_primary_key (ER_REQUIRES_PRIMARY_KEY),
 * MySQL's sql_require_primary_key (ER_TABLE_WITHOUT_PK). A days table then keeps its key (dropHistoryKeys).
 */
const PRIMARY_KEY_REQUIRED = new Set([1173, 3750]);

/**
 * A bulk load drops the keys of filled days tables only when every history dimension's versions and days take at
 * most this share of the store's entries (HISTORY_STORE): the rest is room for what the load adds.
 */
export const HISTORY_STORE_ROOM = 0.75;

/** Lines upserted by primary key into a table of fact lines (`into`) from another (`from`, the rows `where` keeps). */
const factUpsert = (into: string, from: string, where = '') => `INSERT INTO ${into} (${FACT_COLUMNS.join(', ')}) SELECT ${FACT_COLUMNS.join(', ')} FROM ${from}${where}
  ON DUPLICATE KEY UPDATE ${FACT_COLUMNS.filter((c) => c !== 'order_id' && c !== 'line_no').map((c) => `${c} = VALUES(${c})`).join(', ')}`;
/** Lines of `lines` beyond their order's count in `sizes` deleted (of the orders `and` keeps). */
const factTrim = (lines: string, sizes: string, and = '') => `DELETE o FROM ${lines} o JOIN ${sizes} s ON o.order_id = s.order_id WHERE o.line_no > s.line_count${and}`;

export class MysqlWarehouse extends SqlWarehouse {
  readonly dialect = 'mysql';
  readonly location: string;
  protected readonly sql = MYSQL_SQL;
  /** The server's byte-exact collation, known once connected. */
  private collation: ByteCollation = 'utf8mb4_nopad_bin';
  private readonly target: MysqlTarget;
  private conn: Connection | null = null;
  /** The server takes LOAD DATA LOCAL INFILE (local_infile=ON): the fastest way in for fact rows. */
  private loadDataLocal = false;
  /**
   * A bulk load (prepareLoad) replaces the lines of orders delivered again once, at its end, instead of per
   * batch: each batch notes them in etl_redelivered_lines and etl_redelivered_sizes, in its transaction. Per
   * batch, a fact table larger than the buffer pool paid a random page read for most re-delivered orders, and
   * again for the next batch's (whose pages had been evicted meanwhile); at the end, an upsert and a trim in
   * primary key order (per part of REDELIVERED_REPLACE.partOrders orders) read each page once. Measured by
   * hand (2026-12-01, MariaDB, 128 MB buffer pool, the bench's 1 M warehouse without its secondary keys, 110 k
   * orders of 275 k lines re-delivered): 17.9 s in 20 batches against 5.5 s in one. Until then, queries see
   * the lines those orders had before the load. Not past the order filter's limit (see prepareLoad).
   */
  private deferReplaces = false;
  /** The rewrite of the fact table was refused for want of a privilege (said once). */
  private rewriteDenied = false;
  /**
   * This load dropped history keys (prepareLoad: the days tables' primary keys, the dimensions' version
   * indexes); they are built before any lookup by key.
   */
  private historyKeysDropped = false;
  /**
   * The comment that opens the statement streamRows runs (query, loads, rejects), for stopStatement to recognise
   * its thread by. Not the statement's text: the server lists it trimmed of leading white space and trailing
   * semicolons, and with a character outside the BMP as '?'s (PROCESSLIST is utf8mb3), so 'SELECT ...;' was
   * never found and never stopped; and another session may run the same text (two users' 'orders-etl loads').
   */
  private streaming: string | null = null;

  constructor(target: MysqlTarget, settings: WarehouseSettings) {
    super(settings);
    this.target = target;
    this.location = target.display;
  }

  protected async open(): Promise<void> {
    const { conn, collation } = await connect(this.target, this.access);
    this.collation = collation;
    try {
      const [rows] = await conn.query('SELECT @@max_allowed_packet AS p, @@local_infile AS li');
      const row = (rows as { p: number | string; li: number | string }[])[0]!;
      this.loadDataLocal = Number(row.li) === 1 && process.env.ORDERS_ETL_NO_LOAD_DATA !== '1';
      // Leave room for the protocol header and the statement text around the values.
      // Each statement of a batch waits for the one thread that also parses: fewer, larger batches keep the
      // server busy (bench/RESULTS.md: the sweep), up to what they hold in memory.
      this.caps = { maxStatementBytes: Math.max(1024, Number(row.p) - 1024), defaultBatchSize: 10_000, growHeap: true };
      this.conn = conn;
      if (this.lockTimeout !== null) await this.acquireLock(this.lockTimeout);
    } catch (err) {
      this.conn = null;
      conn.destroy();
      throw err;
    }
  }

  /**
   * A warehouse created by an earlier version compares text with utf8mb4_bin, which ignores trailing spaces.
   * Each table still on another collation is converted in place (one ALTER per table, atomic), before any
   * batch is written; a run interrupted in between converts the rest next time, and nothing loads into a
   * warehouse until every table is converted. The database default follows, so new tables are right too.
   */
  private async migrateCollation(): Promise<void> {
    const stale = await this.select(
      `SELECT DISTINCT TABLE_NAME AS t FROM information_schema.COLUMNS
        WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN (${TABLES.map(() => '?').join(', ')})
          AND COLLATION_NAME IS NOT NULL AND COLLATION_NAME <> ?
        ORDER BY TABLE_NAME`,
      [...TABLES, this.collation],
    );
    for (const { t } of stale) {
      const table = TABLES.find((name) => name === t)!;
      this.note(`converting table ${table} of ${this.location} to the byte-exact collation ${this.collation} (an earlier version used utf8mb4_bin, which ignores trailing spaces)`);
      // A rebuild of the table: it waits for the queries that hold it, as long as building keys does.
      const seconds = this.ddlWaitSeconds;
      if (!(await this.withLockWait(seconds, () => this.exec(`ALTER TABLE ${table} CONVERT TO CHARACTER SET utf8mb4 COLLATE ${this.collation}`)))) {
        throw new EtlError('E_LOCK', `table ${table} is not converted: a query or open transaction held it for more than ${seconds}s (--lock-timeout); the next load or init converts it`);
      }
    }
    const [db] = await this.select('SELECT DEFAULT_COLLATION_NAME AS c FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = DATABASE()');
    if (db && db.c !== this.collation) await this.exec(`ALTER DATABASE ${ident(this.target.database)} CHARACTER SET utf8mb4 COLLATE ${this.collation}`);
  }

  /** Secondary keys of the fact table that are missing (dropped by a bulk load that was interrupted). */
  private async missingFactKeys(): Promise<typeof FACT_SECONDARY_KEYS> {
    const present = new Set<string>();
    const rows = await this.select(
      `SELECT INDEX_NAME AS name FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'orders'
       UNION SELECT CONSTRAINT_NAME FROM information_schema.TABLE_CONSTRAINTS
        WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'orders' AND CONSTRAINT_TYPE = 'FOREIGN KEY'`,
    );
    for (const r of rows) present.add(String(r.name));
    return FACT_SECONDARY_KEYS.filter((k) => !present.has(k.name));
  }

  protected schemaDdl(mode: HistoryMode): readonly string[] {
    return schemaDdl(this.collation, mode);
  }

  protected get settingsDdl(): string {
    return settingsDdl(this.collation);
  }

  protected async columnsOf(table: string): Promise<string[] | null> {
    const rows = await this.select('SELECT COLUMN_NAME AS c FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?', [table]);
    return rows.length === 0 ? null : rows.map((r) => String(r.c));
  }

  protected get stagingDdl(): readonly string[] {
    return stagingDdl(this.collation);
  }

  protected override async createSchema(requested?: HistoryMode, forLoad = false): Promise<HistoryMode> {
    const mode = await super.createSchema(requested, forLoad);
    await this.withRetry('convert the warehouse to byte-exact text', () => this.migrateCollation());
    await this.withRetry('index the load ledger by name', async () => {
      const [has] = await this.select("SELECT 1 AS has FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'etl_loads' AND INDEX_NAME = 'ix_etl_loads_uri'");
      if (has) return;
      try {
        await this.exec(`ALTER TABLE etl_loads ADD ${LEDGER_URI_KEY}`);
      } catch (err) {
        // A user without ALTER loads all the same: the ledger is then scanned per source it holds.
        if (!DENIED.has(errnoOf(err) ?? 0)) throw err;
        this.note(`the load ledger is not indexed by source name (the next load or init by a user with ALTER on ${this.target.database} adds the index): ${(err as Error).message}`);
      }
    });
    // A bulk load killed before its end left facts to move and the keys missing: the facts move first (after the
    // version indexes they read are built: moveDeferredFacts), then the keys are built. The history keys first:
    // they do not wait for queries of the fact table, which the fact keys may. Before a load, the rest are left
    // to prepareLoad: a bulk load would drop them again at once (a first load resumed after a kill: building the
    // fact keys costs about 2 microseconds a line, for nothing).
    await this.moveDeferredFacts();
    if (!forLoad) {
      await this.withRetry('restore the history keys', () => this.restoreHistoryKeys(BUILD_HISTORY_KEYS_STEP));
      await this.withRetry('restore the fact table keys', () => this.restoreFactKeys());
    }
    return mode;
  }

  /**
   * The fact table's secondary indexes and foreign keys are dropped for the load and built once at the end
   * (endLoad), by sorting, when maintaining them row by row would cost more:
   * - into an empty fact table (a first load): always; no reader loses anything;
   * - into a filled one, when the sources still to load are large against it (about one line in ten or more),
   *   unless --keep-fact-keys. Each line written into an index larger than the buffer pool costs random reads
   *   (measured: 12,500 lines into 2.75 M: 1 s with the keys, 0.02 s without), while building both keys
   *   again costs about 2 microseconds per line of the whole table (5.4 s for 2.75 M). Queries during such a
   *   load run without those indexes.
   * History warehouses too. Without the index, finding the facts of the versions a batch cut takes a scan of
   * the fact table, which would cost one scan per batch and dimension (bench incremental: 163 s of 186 s; with
   * the index kept, each fact found costs a random read: 480 s). So such a load moves facts once, at its end
   * (deferFactMoves, moveDeferredFacts): each batch notes the versions it cut, and their facts point at them until
   * then.
   * The engine only writes surrogate keys it resolved from the dimensions. A history version that goes has its
   * facts moved in the same batch, or, in a load that defers its moves, before the keys come back (finishLoad
   * adds them only once no fact waits to move), so the foreign keys hold when added back. A crash in between
   * leaves the keys missing and facts to move; the next load or init moves the facts before it writes, and
   * builds the keys before it writes too (init; a load that keeps them: here) or at its end (a bulk load, which
   * would drop them again). Until then a query may find such a fact on a version that no longer covers its
   * date, or that is gone.
   */
  protected override async prepareLoad(intent: LoadIntent): Promise<void> {
    this.deferFactMoves = false;
    this.deferReplaces = false;
    this.historyKeysDropped = false;
    await this.withRetry('prepare the fact table for a bulk load', async () => {
      let keep = false;
      let lines = 0;
      if (await this.hasRows('orders')) {
        const [stats] = await this.select("SELECT TABLE_ROWS AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'orders'");
        lines = Number(stats?.n ?? 0);
        keep = intent.keepFactKeys || (await this.pendingBytes(intent)) / BYTES_PER_LINE_AT_LEAST < lines / 10;
      }
      if (!keep) {
        const missing = new Set((await this.missingFactKeys()).map((k) => k.name));
        const fks = FACT_SECONDARY_KEYS.filter((k) => k.kind === 'foreign key' && !missing.has(k.name));
        const indexes = FACT_SECONDARY_KEYS.filter((k) => k.kind === 'index' && !missing.has(k.name));
        // One statement, so that the keys go together or not at all. A query that holds the fact table past the
        // wait: the load keeps them, and says so.
        const drops = [...fks.map((k) => `DROP FOREIGN KEY ${k.name}`), ...indexes.map((k) => `DROP KEY ${k.name}`)];
        // A user without ALTER: the keys stay, as for a query that holds the table (the drop is only faster); a
        // first load failed on the refusal, the moves in place that README promises without ALTER never reached.
        const wait = FACT_DDL.dropKeysWaitSeconds;
        let denied: string | null = null;
        const drop = async () => {
          try {
            await this.exec(`ALTER TABLE orders ${drops.join(', ')}`);
          } catch (err) {
            if (!DENIED.has(errnoOf(err) ?? 0)) throw err;
            denied = (err as Error).message;
          }
        };
        keep = drops.length > 0 && (!(await this.withLockWait(wait, drop)) || denied !== null);
        if (denied !== null) this.note(`the fact table keeps its keys, maintained row by row (slower): ${denied} (dropping them for a bulk load takes ALTER on ${this.target.database})`);
        else if (keep) this.heldTooLong('the fact table', wait, 'keeps its keys and maintains them row by row');
        else {
          // Not past the order filter's limit (the server's estimate of the table's lines): without a filter every
          // order of the load would wait, new ones too, for one long end.
          this.deferReplaces = lines <= this.sql.orderFilterMaxLines;
          this.deferFactMoves = this.history.customers || this.history.products;
          await this.dropHistoryKeys();
        }
      }
      // A load that maintains the keys row by row builds first those a load killed before its end left missing
      // (createSchema leaves them to this; some only if left so by hand: a load drops them all or none).
      if (keep) {
        await this.restoreHistoryKeys(BUILD_HISTORY_KEYS_STEP);
        await this.timed(BUILD_FACT_KEYS_STEP, () => this.restoreFactKeys());
      }
    });
  }

  /**
   * A bulk load (one that drops the fact table's keys, above) writes the history tables without their history
   * keys and builds them at its end (finishLoad), as it does the fact table's keys:
   * - the days tables' primary keys: each batch observes keys from all over the key range, so with the key every
   *   new day is an insert at a random place in a clustered index that outgrows its share of the buffer pool,
   *   beside the fact table's pages. Measured by hand on the bench's history increment, whose days tables hold
   *   2 M rows: see bench/report.ts (the history increment's reason);
   * - the dimensions' version indexes (natural key, valid_from): every new version is an insert into it, and
   *   every version whose valid_from moves (a first load with dates out of order moves it earlier for most keys;
   *   an increment that cuts versions re-dates them) a delete and an insert. Measured by hand (2026-12-01, the
   *   bench's files, the system MariaDB, runs with the drop and without it taking turns): the history first
   *   load 25.5 and 26.6 s against 27.7 and 27.1 s, the history increment 38.3 s against 41.5 s, the tables equal
   *   (CHECKSUM TABLE); building the indexes again takes 0.2 s for 210 k versions.
   * Nothing in the load reads them by key while the engine holds every key's history (learnHistory reads them
   * whole, sorted by the server; facts move at the end of the load, after the version indexes are built:
   * moveDeferredFacts). Filled tables keep their keys unless every history dimension's versions and days fit
   * in HISTORY_STORE_ROOM of the store's entries (room for what the load adds): a store that cannot hold every
   * key looks histories up, and its first lookup would build the keys at once (beforeHistoryLookups). A table a
   * query holds past FACT_DDL.dropKeysWaitSeconds keeps its key (said), and so does a days table the server will
   * not leave without a primary key (MariaDB's innodb_force_primary_key, MySQL's sql_require_primary_key; said).
   * A load killed before its end leaves them missing: the next load builds them at its end, and init at once.
   * Queries during such a load run without them.
   */
  private async dropHistoryKeys(): Promise<void> {
    const keyed: DimensionSpec<unknown>[] = [];
    const indexed: DimensionSpec<unknown>[] = [];
    let fits = true;
    for (const spec of this.historySpecs) {
      // Already without them: dropped by this load's first try (retried), or by a killed one.
      if (!(await this.hasIndex(spec.days, 'PRIMARY'))) this.historyKeysDropped = true;
      else keyed.push(spec);
      if (!(await this.hasIndex(spec.table, versionKeyName(spec.table)))) this.historyKeysDropped = true;
      else indexed.push(spec);
      // Counted only while every dimension so far fits: one that does not settles it.
      if (fits && (await this.hasRows(spec.days))) {
        const [held] = await this.select(`SELECT (SELECT COUNT(*) FROM ${spec.table}) + (SELECT COUNT(*) FROM ${spec.days}) AS n`);
        fits &&= Number(held!.n) <= this.historyEntries * HISTORY_STORE_ROOM;
      }
    }
    if (!fits) return;
    const wait = FACT_DDL.dropKeysWaitSeconds;
    // Timed only if dropped: a step in the load's profile is something the load did.
    const drop = async (table: string, sql: string, instead: string) => {
      const started = performance.now();
      const dropped = await this.withLockWait(wait, () => this.exec(sql));
      if (dropped) {
        this.historyKeysDropped = true;
        this.timedSince(DROP_HISTORY_KEYS_STEP, started);
      } else {
        this.heldTooLong(table, wait, instead);
      }
    };
    for (const { days } of keyed) {
      try {
        await drop(days, `ALTER TABLE ${days} DROP PRIMARY KEY`, 'writes it with its primary key');
      } catch (err) {
        if (!PRIMARY_KEY_REQUIRED.has(errnoOf(err) ?? 0)) throw err;
        this.note(`${days} keeps its primary key, which the server requires (${(err as Error).message}): this load writes it with its key (slower)`);
      }
    }
    for (const { table } of indexed) await drop(table, `ALTER TABLE ${table} DROP KEY ${versionKeyName(table)}`, 'writes it with its version index');
  }

  /** Say that a query held `what` past the wait, so this load does `instead` (slower). */
  private heldTooLong(what: string, seconds: number, instead: string): void {
    this.note(`a query or open transaction held ${what} for more than ${seconds}s: this load ${instead} (slower)`);
  }

  /** Whether `table` has the index `index` ('PRIMARY': its primary key). */
  private async hasIndex(table: string, index: string): Promise<boolean> {
    const [row] = await this.select(
      'SELECT EXISTS (SELECT 1 FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND INDEX_NAME = ?) AS has_key',
      [table, index],
    );
    return Number(row!.has_key) !== 0;
  }

  /** Facts of noted versions wait to move (SqlWarehouse.moveDeferredFacts). */
  private async movesWait(): Promise<boolean> {
    for (const { moved } of this.historySpecs) if (await this.hasRows(moved)) return true;
    return false;
  }

  /**
   * The history keys (dropHistoryKeys), where a bulk load dropped them: the version indexes, then the days
   * tables' primary keys. Each one built is timed as `step` (nothing built: no step).
   */
  private async restoreHistoryKeys(step: string): Promise<void> {
    await this.restoreVersionKeys(step);
    await this.restoreDaysKeys(step);
    this.historyKeysDropped = false;
  }

  /**
   * The history dimensions' version indexes (natural key, valid_from), where a bulk load dropped them, each
   * waiting at most `wait` seconds for the queries that hold its table. With `held`, a table held that long is
   * handed to it and the next is built (else: E_LOCK).
   */
  private async restoreVersionKeys(step: string, wait = this.ddlWaitSeconds, held?: (table: string) => void): Promise<void> {
    for (const spec of this.historySpecs) {
      if (await this.hasIndex(spec.table, versionKeyName(spec.table))) continue;
      const { table, naturalKey: nk } = spec;
      const started = performance.now();
      try {
        await this.alterWaiting(`ALTER TABLE ${table} ADD ${versionKey(table, nk)}`, `building the version index of ${table}`, (seconds) => `the version index of ${table} is not built: a query or open transaction held the table for more than ${seconds}s (--lock-timeout); no loaded data is lost, and the next load or init builds it`, wait);
      } catch (err) {
        if (!held || !(err instanceof EtlError) || err.code !== 'E_LOCK') throw err;
        held(table);
        continue;
      }
      this.timedSince(step, started);
    }
  }

  /**
   * The days tables' primary keys, where a bulk load dropped them. A day recorded twice (which the engine does
   * not write: each batch records only the days its store does not hold) would stop the key from being built,
   * and every load after it: each such day is kept once, and that is said. (Not by ALTER IGNORE TABLE: MariaDB
   * 10.11 dropped every copy of a duplicated row with it, measured by hand.)
   */
  private async restoreDaysKeys(step: string): Promise<void> {
    for (const { days, naturalKey: nk } of this.historySpecs) {
      if (await this.hasIndex(days, 'PRIMARY')) continue;
      const started = performance.now();
      const addKey = () =>
        this.alterWaiting(`ALTER TABLE ${days} ADD ${daysPrimaryKey(nk)}`, `building the primary key of ${days}`, (seconds) => `the primary key of ${days} is not built: a query or open transaction held the table for more than ${seconds}s (--lock-timeout); no loaded data is lost, and the next load or init builds it`);
      try {
        await addKey();
      } catch (err) {
        if (errnoOf(err) !== 1062) throw err; // ER_DUP_ENTRY
        const twice = await this.select(`SELECT ${nk} AS id, day FROM ${days} GROUP BY ${nk}, day HAVING COUNT(*) > 1`);
        this.note(`${days} held ${twice.length} day(s) of a key more than once; each is kept once`);
        // Without an index each DELETE reads the whole table: many pairs in each.
        await this.inTransaction(async () => {
          for (let at = 0; at < twice.length; at += 1000) {
            const part = twice.slice(at, at + 1000);
            const pairs = part.flatMap((r) => [r.id, r.day]);
            await this.exec(`DELETE FROM ${days} WHERE (${nk}, day) IN (${part.map(() => '(?, ?)').join(', ')})`, pairs);
            await this.exec(`INSERT INTO ${days} (${nk}, day) VALUES ${part.map(() => '(?, ?)').join(', ')}`, pairs);
          }
        });
        await addKey();
      }
      this.timedSince(step, started);
    }
  }

  protected override async beforeHistoryLookups(): Promise<void> {
    if (!this.historyKeysDropped) return;
    await this.restoreHistoryKeys(`lookups: ${BUILD_HISTORY_KEYS_STEP}`);
  }

  /**
   * Deferred moves that are estimated to touch a large share of the fact table (FACT_REWRITE) are made by
   * writing the table anew, when its secondary keys are dropped (as a bulk load leaves them, or one killed)
   * and LOAD DATA LOCAL is on; the rest, or anything left, by updates in place (SqlWarehouse).
   */
  protected override async moveDeferredFacts(): Promise<void> {
    // Both ways of moving read versions by natural key and valid_from (the rewrite, those of the noted keys; in
    // place, each moved fact's): along the version index, built first where a bulk load dropped it
    // (dropHistoryKeys). A query that holds a dimension table past FACT_DDL.dropKeysWaitSeconds does not hold up
    // the moves: they run without that table's index (slower), said, and it is built after them; the other
    // dimension's is built before them all the same. Said once per table, also when a retry waits for it again.
    // Only a history warehouse has versions to index and facts to move to them (a failure would otherwise be
    // said to be building version indexes on any warehouse).
    if (this.historySpecs.length > 0) {
      const said = new Set<string>();
      await this.withRetry('build the version indexes', async () => {
        if (!(await this.movesWait())) return;
        await this.restoreVersionKeys(BUILD_HISTORY_KEYS_STEP, FACT_DDL.dropKeysWaitSeconds, (table) => {
          if (said.has(table)) return;
          said.add(table);
          this.note(
            `a query or open transaction held ${table} for more than ${FACT_DDL.dropKeysWaitSeconds}s: the facts waiting to move move without its version index (slower), which is built after them`,
          );
        });
      });
      await this.withRetry('move the facts of the changed versions by writing the fact table anew', () => this.rewriteMovedFacts());
    }
    // What the rewrite did not take: the orders delivered again first, then the facts of the noted versions
    // (theirs included) move in place.
    await this.replaceRedelivered();
    await super.moveDeferredFacts();
  }

  /**
   * Every fact is read in primary key order, its surrogate keys computed by FactMoves, and written with LOAD
   * DATA into a new table like the fact table (writeMovedFacts), the orders delivered again that wait
   * (deferReplaces) with their new lines instead of their old ones; then one RENAME swaps the two (atomic), the
   * notes and the waiting orders go, and the old table is dropped. Queries meanwhile read the old table; the
   * swap waits for them a while (swap). Killed before the swap, the new table is dropped by the next run (a
   * load or init) and the moves start again; after it, the facts already point where they should, and moving
   * them again changes nothing. Without the privileges to create, swap or drop tables, or the heap to hold the
   * versions of the noted keys, the facts move in place. The disk holds two copies of the fact table until the
   * swap.
   */
  private async rewriteMovedFacts(): Promise<void> {
    const leftover = await this.select(
      'SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN (?, ?)',
      [REWRITE_TABLE, REPLACED_TABLE],
    );
    if (leftover.length > 0 && !(await this.unlessDenied(`DROP TABLE IF EXISTS ${leftover.map((r) => ident(String(r.t))).join(', ')}`))) return;
    if (!this.loadDataLocal || this.rewriteDenied || (await this.missingFactKeys()).length < FACT_SECONDARY_KEYS.length) return;
    const noted: { spec: DimensionSpec<unknown>; notes: number; versions: number }[] = [];
    let share = 0;
    for (const spec of this.historySpecs) {
      const { table, moved, naturalKey: nk } = spec;
      const [row] = await this.select(
        `SELECT (SELECT COUNT(*) FROM ${moved}) AS notes, (SELECT COUNT(*) FROM ${table}) AS versions,
                (SELECT COUNT(*) FROM ${table} WHERE ${nk} IN (SELECT ${nk} FROM ${moved})) AS held`,
      );
      const notes = Number(row!.notes);
      if (notes === 0) continue;
      share += notes / Math.max(1, Number(row!.versions));
      noted.push({ spec, notes, versions: Number(row!.held) });
    }
    if (noted.length === 0 || share < FACT_REWRITE.share) return;
    // What the rewrite holds must fit in half the heap still free (the rest for the pages in flight); else in place.
    const heap = getHeapStatistics();
    const needs = rewriteBytes(noted.reduce((n, d) => n + d.notes, 0), noted.reduce((n, d) => n + d.versions, 0));
    if (needs > (heap.heap_size_limit - heap.used_heap_size) / 2) {
      this.movesInPlace(`writing the fact table anew would hold about ${Math.ceil(needs / 1048576)} MB, more than half the heap still free (--max-heap-mb)`);
      return;
    }
    await this.timed(DEFERRED_MOVES_STEP, () =>
      this.timed(`${DEFERRED_MOVES_STEP}: rewrite orders`, async () => {
        const moves = new Map<string, FactMoves>();
        for (const { spec, versions } of noted) {
          const { table, moved, naturalKey: nk, surrogateKey: sk } = spec;
          const m = new FactMoves(table, versions);
          await this.scan(`SELECT m.${sk}, m.${nk}, d.valid_from, d.valid_to FROM ${moved} m LEFT JOIN ${table} d ON d.${sk} = m.${sk}`, [], (r) =>
            m.note(Number(r[0]), String(r[1]), r[2] as string | null, r[3] as string | null),
          );
          await this.scan(`SELECT ${nk}, valid_from, ${sk} FROM ${table} WHERE ${nk} IN (SELECT ${nk} FROM ${moved}) ORDER BY ${nk}, valid_from`, [], (r) =>
            m.version(String(r[0]), String(r[1]), Number(r[2])),
          );
          moves.set(sk, m);
        }
        // The swap and the clean-up take DROP as well as CREATE: asked first, before there is a table to leave
        // behind (the server checks the privilege before whether the table exists).
        if (!(await this.unlessDenied(`DROP TABLE IF EXISTS ${REWRITE_TABLE}`)) || !(await this.unlessDenied(`CREATE TABLE ${REWRITE_TABLE} LIKE orders`))) return;
        await this.writeMovedFacts(moves);
        if (!(await this.swap())) {
          await this.exec(`DROP TABLE ${REWRITE_TABLE}`);
          return;
        }
        await this.inTransaction(async () => {
          for (const { spec } of noted) await this.exec(`DELETE FROM ${spec.moved}`);
          await this.exec(`DELETE FROM ${REDELIVERED_LINES}`);
          await this.exec(`DELETE FROM ${REDELIVERED_SIZES}`);
        });
        await this.unlessDenied(`DROP TABLE ${REPLACED_TABLE}`);
      }),
    );
  }

  /**
   * RENAME waits for the queries that read the fact table (a metadata lock), and queries that come after it wait
   * for it: it waits FACT_REWRITE.swapWaitSeconds at most. False if it did not happen (said), or was refused.
   */
  private async swap(): Promise<boolean> {
    let swapped = false;
    const renamed = await this.withLockWait(FACT_REWRITE.swapWaitSeconds, async () => {
      swapped = await this.unlessDenied(`RENAME TABLE orders TO ${REPLACED_TABLE}, ${REWRITE_TABLE} TO orders`);
    });
    if (!renamed) this.movesInPlace(`a query held the fact table for more than ${FACT_REWRITE.swapWaitSeconds}s, so it was not swapped for its rewrite`);
    return swapped;
  }

  /** How long a rebuild of a table or of its keys waits for the queries that hold it: --lock-timeout, at least FACT_DDL.buildKeysMinWaitSeconds. */
  private get ddlWaitSeconds(): number {
    return Math.max(FACT_DDL.buildKeysMinWaitSeconds, this.lockTimeout ?? DEFAULT_DDL_WAIT_SECONDS);
  }

  /**
   * `work` (DDL) with the session's lock_wait_timeout at `seconds`: how long it waits for the metadata locks of
   * queries and open transactions. False if it waited that long in vain (ER_LOCK_WAIT_TIMEOUT); the setting is
   * put back either way.
   */
  private async withLockWait(seconds: number, work: () => Promise<unknown>): Promise<boolean> {
    const [before] = await this.select('SELECT @@SESSION.lock_wait_timeout AS s');
    await this.exec(`SET SESSION lock_wait_timeout = ${Math.floor(seconds)}`);
    try {
      await work();
      return true;
    } catch (err) {
      if (errnoOf(err) !== 1205) throw err; // ER_LOCK_WAIT_TIMEOUT
      return false;
    } finally {
      // A connection that died took its setting with it: the error that killed it is the one to report.
      await this.exec(`SET SESSION lock_wait_timeout = ${Number(before!.s)}`).catch(() => {});
    }
  }

  /** Say why the deferred moves are made in place after all. */
  private movesInPlace(why: string): void {
    this.note(`the facts of changed versions move in place: ${why}`);
  }

  /** Run a statement of the fact table's rewrite; false if the server refuses it for want of a privilege (said once). */
  private async unlessDenied(sql: string): Promise<boolean> {
    try {
      await this.exec(sql);
      return true;
    } catch (err) {
      if (!DENIED.has(errnoOf(err) ?? 0)) throw err;
      if (!this.rewriteDenied) this.movesInPlace(`${(err as Error).message} (writing the fact table anew takes CREATE, ALTER and DROP on ${this.target.database})`);
      this.rewriteDenied = true;
      return false;
    }
  }

  /**
   * Every fact, in primary key order, into the new table with its keys moved: read on a connection of its own
   * while the pages read before it are written (two pages at most wait), so that reading, computing and
   * encoding overlap the server's LOAD DATA. The lines of the orders delivered again that wait replace theirs:
   * the old ones are left out of the scan, the new ones read after it, their keys moved alike (they were
   * resolved when their batch was planned). Killed after the swap and before the waiting orders are forgotten,
   * the next run writes the table again from the swapped one: the same rows.
   */
  private async writeMovedFacts(moves: Map<string, FactMoves>): Promise<void> {
    const at = (column: (typeof FACT_COLUMNS)[number]) => FACT_COLUMNS.indexOf(column);
    const [date, customer, product] = [at('order_date'), at('customer_sk'), at('product_sk')];
    const customers = moves.get(CUSTOMERS.surrogateKey) ?? null;
    const products = moves.get(PRODUCTS.surrogateKey) ?? null;
    const { conn: reader } = await connect(this.target, 'read');
    let writes = Promise.resolve();
    try {
      let rows: Readable | null = null;
      let page: BulkValue[][] = [];
      let read = 0;
      let written = 0;
      let waiting = 0;
      const flush = () => {
        const full = page;
        page = [];
        const bulk = this.prepareBulk(REWRITE_TABLE, FACT_COLUMNS, bulkRows(full), 'facts');
        waiting++;
        if (waiting > 1) rows?.pause();
        writes = writes.then(async () => {
          await this.writeBulk(bulk);
          written += full.length;
          waiting--;
          if (rows?.isPaused()) rows.resume();
        });
        writes.catch((err: Error) => rows?.destroy(err));
      };
      const onRow = (r: unknown[]) => {
        const row = r as BulkValue[];
        const day = epochDay(row[date] as string);
        if (customers) row[customer] = customers.target(Number(row[customer]), day);
        if (products) row[product] = products.target(Number(row[product]), day);
        read++;
        page.push(row);
        if (page.length === FACT_REWRITE.pageRows) flush();
      };
      const started = (stream: Readable) => (rows = stream);
      const scan = (from: string) => scanRows(reader, this.location, `SELECT ${FACT_COLUMNS.map((c) => `o.${c}`).join(', ')} FROM ${from} ORDER BY o.order_id, o.line_no`, [], onRow, started);
      const redelivered = await this.hasRows(REDELIVERED_SIZES);
      // Without the waiting orders: an anti-join along the fact table's primary key (eq_ref on their key, no sort).
      await scan(redelivered ? `orders o LEFT JOIN ${REDELIVERED_SIZES} r ON r.order_id = o.order_id WHERE r.order_id IS NULL` : 'orders o');
      if (redelivered) await scan(`${REDELIVERED_LINES} o`);
      if (page.length > 0) flush();
      await writes;
      if (written !== read) throw new EtlError('E_INTERNAL', `the rewrite of the fact table read ${read} rows and wrote ${written}`);
    } finally {
      // After a failure, a page still being written ends before anything else uses the connection.
      await writes.catch(() => {});
      reader.destroy();
    }
  }

  protected override async finishLoad(): Promise<void> {
    this.deferReplaces = false;
    // The keys come back only once no fact waits to move: with them back, every foreign key holds. A move that
    // fails leaves both to the next load or init.
    await super.finishLoad();
    // The history keys first: they do not wait for queries of the fact table, which the fact keys may.
    await this.withRetry('build the history keys', () => this.restoreHistoryKeys(BUILD_HISTORY_KEYS_STEP));
    await this.timed(BUILD_FACT_KEYS_STEP, () => this.withRetry('build the fact table keys', () => this.restoreFactKeys()));
  }

  /**
   * Builds the keys a bulk load dropped. A query or open transaction that holds the fact table makes it wait:
   * said after FACT_DDL.buildKeysNoteSeconds, and at most --lock-timeout (the wait for another load's lock),
   * then the command fails; what the load wrote stays committed, and the next load or init builds the keys.
   */
  private async restoreFactKeys(): Promise<void> {
    const missing = await this.missingFactKeys();
    if (missing.length === 0) return;
    // The session runs with foreign_key_checks = 0 (see connection.ts): the constraints are added in place,
    // without a scan that re-checks what the engine guarantees.
    await this.alterWaiting(
      `ALTER TABLE orders ${missing.map((k) => `ADD ${k.definition}`).join(', ')}`,
      "building the fact table's keys",
      (seconds) =>
        `the fact table's keys (${missing.map((k) => k.name).join(', ')}) are not built: a query or open transaction held the table (or a dimension table its foreign keys refer to) for more than ${seconds}s (--lock-timeout); no loaded data is lost, and the next load or init builds them`,
    );
  }

  /**
   * An ALTER that builds keys, waiting for the queries and open transactions that hold its table at most
   * ddlWaitSeconds (`what ... waits`, said once it does); past that, E_LOCK with `notBuilt`.
   */
  private async alterWaiting(sql: string, what: string, notBuilt: (seconds: number) => string, seconds = this.ddlWaitSeconds): Promise<void> {
    const watch = this.sayWhenWaiting(`${what} waits for a query or open transaction that holds it; at most ${seconds}s (--lock-timeout)`);
    let built: boolean;
    try {
      built = await this.withLockWait(seconds, () => this.exec(sql));
    } finally {
      watch.stop();
    }
    if (!built) throw new EtlError('E_LOCK', notBuilt(seconds));
  }

  /**
   * While the statement this connection runs next is in flight: every FACT_DDL.buildKeysNoteSeconds, asks on a
   * connection of its own whether it waits for a metadata lock (building keys on a large table takes a while
   * by itself), and says `message` once it does. A check that fails says nothing: it is only a note.
   */
  private sayWhenWaiting(message: string): { stop(): void } {
    const id = this.c().threadId;
    let stopped = false;
    let timer: NodeJS.Timeout;
    const check = async () => {
      let waiting = false;
      try {
        const { conn } = await connect(this.target, 'read');
        try {
          // Stopped while connecting: the statement has ended; ask nothing.
          if (stopped) return;
          const [rows] = await conn.query("SELECT 1 FROM information_schema.PROCESSLIST WHERE ID = ? AND STATE = 'Waiting for table metadata lock'", [id]);
          waiting = (rows as unknown[]).length > 0;
        } finally {
          conn.destroy();
        }
      } catch {
        // no note
      }
      if (stopped) return;
      if (waiting) this.note(message);
      else timer = setTimeout(check, FACT_DDL.buildKeysNoteSeconds * 1000).unref();
    };
    timer = setTimeout(check, FACT_DDL.buildKeysNoteSeconds * 1000).unref();
    return {
      stop() {
        stopped = true;
        clearTimeout(timer);
      },
    };
  }

  /**
   * Stops the statement streamRows runs (Ctrl-C during query, loads or rejects). Behind ProxySQL or MaxScale the
   * connection id a client is given is the proxy's, which may be another session's thread on the server: only a
   * thread that runs this very statement is stopped.
   */
  override async stopStatement(): Promise<void> {
    const id = this.conn?.threadId;
    const tag = this.streaming;
    if (id === undefined || id === null || tag === null) return;
    const { conn } = await connect(this.target, 'read');
    try {
      const [rows] = await conn.query('SELECT 1 FROM information_schema.PROCESSLIST WHERE ID = ? AND LEFT(INFO, ?) = ?', [id, tag.length, tag]);
      if ((rows as unknown[]).length > 0) await conn.query('KILL QUERY ?', [id]);
    } finally {
      conn.destroy();
    }
  }

  protected discard(): void {
    const c = this.conn;
    this.conn = null;
    c?.destroy();
  }

  protected async shut(): Promise<void> {
    const c = this.conn;
    this.conn = null;
    if (c) await c.end().catch(() => c.destroy());
  }

  protected isTransient(err: unknown): boolean {
    return isTransient(err);
  }

  private c(): Connection {
    if (!this.conn) throw new EtlError('E_DB_CONNECTION', `not connected to ${this.location}`, {}, { transient: true });
    return this.conn;
  }

  /**
   * A load holds the warehouse's named lock from before it writes or resumes its ledger row to its end
   * (acquireLock), so the rows read before the lock is seen free, and not updated since, belong to loads that
   * have ended: any still `running` was killed. The lock is the connection's: a load that is reconnecting
   * (withRetry) holds none for that moment, and one whose machine was lost holds it until the server notices.
   */
  protected override async deadLoads(): Promise<DeadLoads | null> {
    const through = await this.lastLoadId();
    // NOW(3) is the statement's start: no later than the lock's check in the same statement.
    const [row] = await this.select("SELECT DATE_FORMAT(NOW(3), '%Y-%m-%d %H:%i:%s.%f') AS at, IS_FREE_LOCK(?) AS free", [await this.lockName()]);
    return Number(row!.free) === 1 ? { through, notUpdatedSince: String(row!.at) } : null;
  }

  /** The load lock's name on this server (loadLockName). */
  private async lockName(): Promise<string> {
    const [row] = await this.select('SELECT @@lower_case_table_names AS lower');
    return loadLockName(this.target.database, Number(row?.lower ?? 0) !== 0);
  }

  protected async acquireLock(timeoutSeconds: number): Promise<void> {
    // A named lock per database: a second load waits for the first instead of interleaving its batches.
    // It lives as long as the connection, so a killed process releases it by itself.
    const [rows] = await this.c().query('SELECT GET_LOCK(?, ?) AS got', [await this.lockName(), timeoutSeconds]);
    if (Number((rows as { got: number | null }[])[0]!.got) !== 1) {
      throw new EtlError('E_LOCK', `another load holds ${this.location}; waited ${timeoutSeconds}s (--lock-timeout)`);
    }
  }

  protected async exec(sql: string, params?: unknown[]): Promise<number> {
    const [res] = await this.c().query(sql, params);
    // mysql2 connects with CLIENT_FOUND_ROWS: an UPDATE's affectedRows counts matched rows, changedRows what
    // changed (the SCD1 UPDATE's WHERE clause makes them equal anyway).
    const h = res as { affectedRows?: number; changedRows?: number };
    return Number(/^\s*UPDATE/i.test(sql) ? (h.changedRows ?? h.affectedRows ?? 0) : (h.affectedRows ?? 0));
  }

  protected async select(sql: string, params?: unknown[]): Promise<Record<string, unknown>[]> {
    const [rows] = await this.c().query(sql, params);
    return rows as Record<string, unknown>[];
  }

  protected async table(sql: string): Promise<{ columns: string[]; rows: unknown[][] }> {
    const [rows, fields] = await this.c().query({ sql, rowsAsArray: true });
    if (!Array.isArray(rows)) return { columns: ['affected_rows'], rows: [[(rows as { affectedRows: number }).affectedRows]] };
    return { columns: (fields ?? []).map((f) => f.name), rows: rows as unknown[][] };
  }

  protected async streamRows(sql: string, sink: QuerySink): Promise<void> {
    const tag = `/* orders-etl ${randomUUID()} */`;
    this.streaming = tag;
    try {
      await streamMysqlRows(this.c(), this.location, `${tag} ${sql}`, sink);
    } finally {
      this.streaming = null;
    }
  }

  protected scan(sql: string, params: unknown[], onRow: (row: unknown[]) => void): Promise<void> {
    return scanRows(this.c(), this.location, sql, params, onRow);
  }

  /**
   * Orders delivered again: their lines are upserted by primary key, then lines beyond each order's new count
   * are deleted. A line that exists is updated in place (its secondary index entries move only if its keys
   * changed), a line that did not change is not written at all, and only surplus lines are deleted: less work
   * for the fact table's indexes than deleting every line and inserting it again.
   */
  protected prepareReplace(lines: BulkRows, orders: ReplacedOrder[]): PreparedBulk[] {
    const sizes: BulkRows = {
      count: orders.length,
      each(visit) {
        const row: BulkValue[] = ['', 0];
        for (const o of orders) {
          row[0] = o.orderId;
          row[1] = o.lines;
          visit(row);
        }
      },
    };
    return [this.prepareBulk('stage_order_sizes', ['order_id', 'line_count'], sizes, 'stage'), this.prepareBulk('stage_lines', FACT_COLUMNS, lines, 'stage')];
  }

  protected async writeReplace([sizes, lines]: PreparedBulk[]): Promise<void> {
    await this.timed('replace: stage', async () => {
      this.useStaging('stage_order_sizes');
      await this.writeBulk(sizes!);
      if (lines!.count > 0) {
        this.useStaging('stage_lines');
        await this.writeBulk(lines!);
      }
    });
    if (this.deferReplaces) {
      // Into the tables of orders waiting to be replaced (an order delivered again later in the load replaces
      // its own entry there): the fact table gets them all at the end, in key order (replaceRedelivered).
      await this.timed('replace: note', async () => {
        if (lines!.count > 0) await this.exec(factUpsert(REDELIVERED_LINES, 'stage_lines'));
        await this.exec(`INSERT INTO ${REDELIVERED_SIZES} (order_id, line_count) SELECT order_id, line_count FROM stage_order_sizes ON DUPLICATE KEY UPDATE line_count = VALUES(line_count)`);
        await this.exec(factTrim(REDELIVERED_LINES, 'stage_order_sizes'));
      });
      return;
    }
    if (lines!.count > 0) await this.timed('replace: upsert', () => this.exec(factUpsert('orders', 'stage_lines')));
    await this.timed('replace: trim', () => this.exec(factTrim('orders', 'stage_order_sizes')));
  }

  /**
   * The orders a bulk load delivered again (deferReplaces), waiting in etl_redelivered_lines and
   * etl_redelivered_sizes, replace their lines in the fact table: upserted by primary key, lines beyond each
   * order's new count deleted, the waiting rows forgotten, REDELIVERED_REPLACE.partOrders orders at a time in key
   * order, each part in its own transaction. Run at the end of the load (finishLoad, also after a load
   * that failed) and before anything else when a command takes the warehouse (createSchema, after a kill),
   * before facts move (their keys may have moved since). Idempotent: a part replaced again changes nothing,
   * and one cut short is rolled back whole.
   */
  private async replaceRedelivered(): Promise<void> {
    await this.withRetry('replace the lines of the orders delivered again', async () => {
      if (!(await this.hasRows(REDELIVERED_SIZES))) return;
      await this.timed(DEFERRED_REPLACES_STEP, async () => {
        for (let more = true; more; ) {
          // The part: the waiting orders up to the partOrders-th (those before it went with earlier parts); past
          // the last one, the rest.
          const offset = Math.max(1, Math.floor(REDELIVERED_REPLACE.partOrders)) - 1;
          const [end] = await this.select(`SELECT order_id AS id FROM ${REDELIVERED_SIZES} ORDER BY order_id LIMIT 1 OFFSET ${offset}`);
          more = end !== undefined;
          const [upTo, params] = end ? ['<= ?', [String(end.id)]] : ['IS NOT NULL', []];
          await this.inTransaction(async () => {
            await this.exec(factUpsert('orders', REDELIVERED_LINES, ` WHERE order_id ${upTo}`), params);
            await this.exec(factTrim('orders', REDELIVERED_SIZES, ` AND s.order_id ${upTo}`), params);
            await this.exec(`DELETE FROM ${REDELIVERED_LINES} WHERE order_id ${upTo}`, params);
            await this.exec(`DELETE FROM ${REDELIVERED_SIZES} WHERE order_id ${upTo}`, params);
          });
        }
      });
    });
  }

  /**
   * Orders waiting in etl_redelivered_sizes may not be in the fact table at all (the order filter sent a new
   * order there by mistake): a filter read again after a reconnect holds them too, so that a later delivery of
   * one in the same load waits behind it instead of being written first and then overwritten by it.
   */
  protected override async learnWaitingOrders(add: (orderId: string) => void): Promise<void> {
    await this.scan(`SELECT order_id FROM ${REDELIVERED_SIZES}`, [], (row) => add(String(row[0])));
  }

  protected joinBulks(parts: PreparedBulk[]): MysqlBulk {
    const bulks = parts as MysqlBulk[];
    // writeBulk sends statements if there are any: a join of both kinds would lose the LOAD DATA rows.
    if (bulks.some((b) => b.pieces !== null) && bulks.some((b) => b.statements !== null)) throw new EtlError('E_INTERNAL', `${bulks[0]!.table}: parts made ready as LOAD DATA and as INSERT statements`);
    const joined = <T>(of: (b: MysqlBulk) => T[] | null): T[] | null => (bulks.some((b) => of(b) !== null) ? bulks.flatMap((b) => of(b) ?? []) : null);
    return { table: bulks[0]!.table, count: bulks.reduce((n, b) => n + b.count, 0), columns: bulks[0]!.columns, pieces: joined((b) => b.pieces), statements: joined((b) => b.statements) };
  }

  /**
   * Rows encoded for the wire: LOAD DATA LOCAL INFILE's text (tab-separated, backslash escapes, \N for NULL)
   * in pieces under max_allowed_packet, or, without local_infile, multi-row INSERT statements that each fit
   * the packet limit. LOAD DATA takes a row of any size in pieces: a rejected record (up to
   * --max-record-bytes, its escapes doubling that) is stored whole; in an INSERT it is cut to fit (fitRejects).
   */
  protected prepareBulk(table: string, columns: readonly string[], rows: BulkRows, kind: BulkKind): MysqlBulk {
    const bulk: MysqlBulk = { table, count: rows.count, columns, pieces: null, statements: null };
    if (rows.count === 0) return bulk;
    if (this.loadDataLocal) {
      const writer = new TsvWriter(rows.count * 16 * columns.length);
      rows.each((r) => writer.row(r));
      const data = writer.bytes();
      // mysql2 sends each chunk of the stream as one packet: keep them under max_allowed_packet.
      const piece = Math.min(1024 * 1024, this.caps.maxStatementBytes);
      bulk.pieces = [];
      for (let i = 0; i < data.length; i += piece) bulk.pieces.push(data.subarray(i, i + piece));
      return bulk;
    }
    const tuples: string[] = [];
    const fit = kind === 'rejects' ? fitRejects(columns, this.caps.maxStatementBytes) : (r: readonly BulkValue[]) => r;
    rows.each((row) => {
      const r = fit(row);
      let t = '(';
      for (let i = 0; i < r.length; i++) t += (i ? ',' : '') + (typeof r[i] === 'string' ? str(r[i] as string) : num(r[i] as number | null));
      tuples.push(`${t})`);
    });
    bulk.statements = chunkedStatements(`INSERT INTO ${table} (${columns.join(', ')}) VALUES `, tuples, '', this.caps.maxStatementBytes);
    return bulk;
  }

  /**
   * LOAD DATA LOCAL INFILE streams the pieces from memory (the file name is a dummy; the bytes come from
   * infileStreamFactory). LOCAL turns data errors into warnings, so any warning fails the batch: the rows are
   * exactly what the transform validated, and a warning means something is wrong.
   */
  protected async writeBulk(prepared: PreparedBulk): Promise<void> {
    const bulk = prepared as MysqlBulk;
    if (bulk.count === 0) return; // an empty LOAD DATA stream confuses mysql2's packet sequence
    if (bulk.statements) {
      for (const sql of bulk.statements) await this.c().query(sql);
      return;
    }
    const pieces = bulk.pieces!;
    const [res] = await this.c().query({
      sql: `LOAD DATA LOCAL INFILE 'rows.tsv' INTO TABLE ${bulk.table} CHARACTER SET utf8mb4 (${bulk.columns.join(', ')})`,
      infileStreamFactory: () => Readable.from(pieces),
    });
    const header = res as { affectedRows: number; warningStatus?: number };
    if (header.warningStatus || header.affectedRows !== bulk.count) {
      const [warnings] = await this.c().query('SHOW WARNINGS LIMIT 3');
      throw new EtlError('E_DB', `LOAD DATA of ${bulk.count} rows into ${bulk.table} stored ${header.affectedRows}: ${JSON.stringify(warnings)}`);
    }
  }
}

/**
 * A streaming query on `conn` (mysql2's callback API: rows arrive as they are read, and the socket pauses while
 * the stream is paused), each row handed to `onRow` as an event (not `for await`: a promise per row cost about
 * 2 microseconds in read keys). `started` gets the stream, to pause and resume it.
 */
async function scanRows(conn: Connection, location: string, sql: string, params: unknown[], onRow: (row: unknown[]) => void, started?: (rows: Readable) => void): Promise<void> {
  // A connection that dies under the query ends the stream with it (watchStreaming says why it must be watched).
  // Watched from before the query is sent: mysql2 may tell the connection at once, before the stream exists.
  let rows: Readable | null = null;
  let early: Error | null = null;
  const unwatch = watchStreaming(conn, location, (err) => (rows ? rows.destroy(err) : (early = err)));
  try {
    const raw = (conn as unknown as { connection: RawConnection }).connection;
    const stream = raw.query({ sql, rowsAsArray: true }, params).stream();
    rows = stream;
    if (early) stream.destroy(early);
    started?.(stream);
    await new Promise<void>((resolve, reject) => {
      stream.on('data', (row: unknown[]) => {
        try {
          onRow(row);
        } catch (err) {
          stream.destroy(err as Error);
        }
      });
      stream.once('end', resolve);
      stream.once('error', reject);
      // Destroyed without an error (nothing here does that), the stream would otherwise leave this waiting.
      stream.once('close', () => reject(connectionClosed(location)));
    });
  } finally {
    unwatch();
  }
}

/** What scanRows uses of mysql2's callback connection (its promise wrapper's `.connection`). */
interface RawConnection {
  query(options: object, values: unknown[]): { stream(): Readable };
}

interface MysqlBulk extends PreparedBulk {
  columns: readonly string[];
  /** LOAD DATA's text, in packets. */
  pieces: Buffer[] | null;
  /** Or INSERT statements. */
  statements: string[] | null;
}

/**
 * Rejects for INSERT statements (no LOAD DATA): a raw record whose escaped text cannot fit one statement under
 * max_allowed_packet is cut to its first characters that do, and its reason says so, so that one huge invalid
 * record is quarantined like any other instead of failing its batch (and every re-run of it) with the packet
 * limit. `budget`: the statement's bytes; a character is at most 3 bytes, and escaping at most doubles it.
 */
function fitRejects(columns: readonly string[], budget: number): (row: readonly BulkValue[]) => readonly BulkValue[] {
  const rawAt = columns.indexOf('raw');
  const reasonAt = columns.indexOf('reason');
  if (rawAt < 0 || reasonAt < 0) throw new EtlError('E_INTERNAL', `rejects written without raw or reason: ${columns.join(', ')}`);
  // Room for the statement's other text (column names, the reason of at most 1,024 characters, the source's
  // name of at most 2,048), escaped.
  const maxRaw = Math.floor((budget - 24 * 1024) / 6);
  return (row) => {
    const raw = row[rawAt];
    if (typeof raw !== 'string' || raw.length <= maxRaw) return row;
    const cut = cutText(raw, Math.max(0, maxRaw));
    const out = [...row];
    out[rawAt] = cut;
    const note = ` (raw record cut to its first ${cut.length} of ${raw.length} characters: the server's max_allowed_packet is too small for it without LOAD DATA LOCAL)`;
    out[reasonAt] = cutText(String(row[reasonAt]), LIMITS.rejectReasonChars - note.length) + note;
    return out;
  };
}

