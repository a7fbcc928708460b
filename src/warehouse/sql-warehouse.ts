/**
 * The load semantics, written once for every SQL dialect: ledger, SCD1 merge, surrogate keys, order
 * replacement, rejects, retries. A dialect (mysql/, duckdb/) supplies the connection, a few SQL spellings and
 * its fastest bulk paths; it does not re-implement any rule.
 *
 * One connection, one writer: batches commit strictly in source order, which is what makes "last occurrence
 * wins" hold across batches. While it holds the warehouse, the engine keeps what it needs to know of it in
 * memory (keys.ts): every natural key with its surrogate key and a hash of its attributes, and (where the
 * dialect reads one: DialectSql.orderFilterMaxLines) a filter of the order ids the fact table may hold. So a
 * batch is planned without reading the warehouse, and written without waiting for anything but the writes:
 *   1. dimensions: a new natural key gets the next surrogate key (in order of first appearance) and its row is
 *      appended; a known key with other attributes is updated by surrogate key through a staging table; a
 *      known, unchanged key costs nothing
 *   2. facts: the lines of orders the fact table cannot hold yet are appended; orders it may hold (delivered
 *      before) have their lines replaced (the dialect's writeReplace)
 *   3. rejects and the ledger's progress, then COMMIT; only then does the in-memory picture take the batch in.
 * Surrogate keys are the next numbers after the largest one, not AUTO_INCREMENT's counter: a rolled-back
 * batch (a retry, a crash) leaves no gap, so the same input in the same order gives the same keys after any
 * fault and re-run, on every dialect.
 */
import { createHash } from 'node:crypto';
import { getHeapStatistics } from 'node:v8';
import { resourceLimits } from 'node:worker_threads';
import { cutText, EtlError } from '../errors.ts';
import { historyFromName, historyName, LIMITS, NO_HISTORY, sameHistory, type Batch, type HistoryMode, type OrderRows, type Rejection } from '../model.ts';
import { LEDGER_TIMESTAMPS, loadsSql, rejectsSql, timestampsToSeconds, type DeadLoads } from './ledger-views.ts';
import { bulkRows, CUSTOMERS, FACT_COLUMNS, HISTORY_COLUMNS, partsOf, PRODUCTS, REJECT_COLUMNS, type BulkRows, type BulkValue, type DimensionSpec } from './dimensions.ts';
import { dateOf, epochDay, HistoryStore, placeObservations, versionAt, type Days, type HistoryVersion, type InsertedVersion, type KeyHistory, type Observation, type Repoint } from './history.ts';
import { attributeHash, DimensionKeys, OrderFilter, STRING_HEADER_BYTES } from './keys.ts';
import { BatchRows, prepareBatch, type DedupedRows, type PreparedBatch, type PreparedOrder } from './prepare.ts';
import { addCounts, DEFERRED_MOVES_STEP, PLAN_AHEAD_STEP, zeroCounts, type LoadCounts, type LoadIntent, type QuerySink, type SourceIdentity, type SourcePlan, type Warehouse, type WarehouseAccess, type WarehouseCapabilities } from './types.ts';

export interface WarehouseSettings {
  retry: RetryPolicy;
  access: WarehouseAccess;
  /** What the warehouse did on its own that a user should hear about (a schema migration). */
  note: (message: string) => void;
}

export interface RetryPolicy {
  /** Attempts per operation after the first. */
  retries: number;
  /** First backoff in ms; doubles each attempt, capped at 5 s. */
  backoffMs: number;
}

/** How a dialect spells what differs. */
export interface DialectSql {
  /** Current timestamp with milliseconds. */
  now: string;
  /** The definition of etl_loads.read_with, for a ledger made before it. */
  readWithColumn: string;
  /** Empty a staging table (outside the batch transaction). */
  clear(table: string): string;
  /** Overwrite a dimension's attributes from its staging table (surrogate key, attributes), by surrogate key. */
  updateBySk(spec: DimensionSpec<unknown>): string;
  /** A column as the exact text the transform produces (decimals with their scale), for hashing read rows. */
  text(column: string): string;
  /** A DATE column as an integer: its days since 1970-01-01 (history.ts epochDay), NULL as NULL. */
  epochDays(column: string): string;
  /** History: new versions copied from the versions named in the staging table (op 'c'). */
  copyVersions(spec: DimensionSpec<unknown>): string;
  /** History: kept versions' new intervals (op 'u'). */
  updateVersions(spec: DimensionSpec<unknown>): string;
  /** History: versions gone (op 'd'). */
  deleteVersions(spec: DimensionSpec<unknown>): string;
  /**
   * History: facts of a version on some days move to another (the repoint staging table), per batch; null
   * where every load moves facts at its end (DuckDB).
   */
  repointFacts: ((spec: DimensionSpec<unknown>) => string) | null;
  /** History, facts moved at the end of a load: the batch's versions cut (their staging table), noted once. */
  noteMoved(spec: DimensionSpec<unknown>): string;
  /**
   * History: the facts of the versions noted point at the version of their natural key in effect on their order
   * date (run in one transaction, which then forgets the notes).
   */
  moveNotedFacts(spec: DimensionSpec<unknown>): string[];
  /**
   * History: the days tables are clustered by (natural key, day) (MySQL's primary key): new days are written in
   * that order, so that their pages fill in turn. Without such a key (DuckDB) the order does not matter.
   */
  daysInKeyOrder: boolean;
  /**
   * The order ids of a fact table of at most this many lines are read into the order filter when a load starts,
   * so that orders that cannot be there yet are appended instead of replaced. Over it (reading would take long
   * and the filter would be large; 0: any table with lines), every order is treated as possibly delivered
   * before. An empty fact table always gets the (empty) filter.
   */
  orderFilterMaxLines: number;
}

/** History: new versions copied from kept ones (the same SQL on every dialect). */
export function copyVersionsSql({ table, versionsStage: vs, naturalKey: nk, surrogateKey: sk, attributes }: DimensionSpec<unknown>): string {
  return `INSERT INTO ${table} (${sk}, ${nk}, ${attributes.join(', ')}, ${HISTORY_COLUMNS.join(', ')})
    SELECT s.sk, d.${nk}, ${attributes.map((a) => `d.${a}`).join(', ')}, s.valid_from, s.valid_to, s.is_current
      FROM ${vs} s JOIN ${table} d ON d.${sk} = s.src WHERE s.op = 'c'`;
}

/** An order whose lines may already be in the fact table, and how many lines its delivery has now. */
export interface ReplacedOrder {
  orderId: string;
  lines: number;
}

/** What SqlWarehouse.scanKeys reads. */
export interface KeyScan {
  table: string;
  naturalKey: string;
  /** SQL expressions of integers (or NULL), such as the surrogate key and epochDays of a date. */
  numbers: readonly string[];
  /** Text columns, hashed together (attributeHash); none for a days table. */
  attributes: readonly string[];
  /** A WHERE clause with its leading space, and its parameters. */
  where?: string;
  params?: unknown[];
  /** Columns that order the rows. */
  orderBy?: readonly string[];
}

export type KeyRowSink = (id: string, numbers: readonly (number | null)[], hash: number) => void;

/** What a bulk write is: rows for a staging table, new dimension rows, fact lines, or rejected records. */
export type BulkKind = 'stage' | 'dimension' | 'facts' | 'rejects';

const LEDGER_COUNTS: [keyof LoadCounts, string][] = [
  ['orders', 'orders'],
  ['factRows', 'fact_rows'],
  ['customersInserted', 'customers_inserted'],
  ['customersUpdated', 'customers_updated'],
  ['productsInserted', 'products_inserted'],
  ['productsUpdated', 'products_updated'],
  ['rejected', 'rejected'],
];
const LEDGER_COLUMNS = LEDGER_COUNTS.map(([, c]) => c).join(', ');

/**
 * Natural keys remembered per dimension (keys.ts). About 80 bytes each: 600,000 customers (3 M orders of the
 * bench) take some 50 MB. A larger dimension works too: keys the map has forgotten are looked up per batch.
 * Read when a warehouse is opened; tests make it small to take that path.
 */
export const DIMENSION_KEYS: { entries: number; bytes: number | null } = { entries: 1_000_000, bytes: null };

/**
 * The heap the natural keys' strings of one dimension (or one history store) may take (KeyIndex.keyBytes):
 * DIMENSION_KEYS.bytes, or by default a third of what the engine's heap (--max-heap-mb, the worker's old
 * generation) leaves above 48 MB for the batches in flight and the rest: about 37 MB at the default 160, a
 * million ids of up to 16 characters or about 270,000 of 128 (none for ids kept as numbers). Counting keys alone,
 * 440,000 ids of 128 characters in each dimension filled the default heap when a load read them, and every later
 * load ran out of memory at its start. Not V8's heap_size_limit: that adds the young generation (218 MB at 160),
 * and a fifth of it let two dimensions of long ids fill a heap of 64 MB.
 */
export function dimensionKeyBytes(): number {
  if (DIMENSION_KEYS.bytes !== null) return DIMENSION_KEYS.bytes;
  const heap = resourceLimits.maxOldGenerationSizeMb ? resourceLimits.maxOldGenerationSizeMb * 2 ** 20 : getHeapStatistics().heap_size_limit;
  return Math.floor(Math.max(0, heap - 48 * 2 ** 20) / 3);
}

/**
 * SQL for the least heap the ids of a table's rows (those where `only` holds) take as KeyIndex's strings: a
 * header and a byte a character each (keyHeapBytes; two-byte text and V8's rounding take more). What a load
 * checks against dimensionKeyBytes before it reads a dimension's keys or a history store.
 */
function idBytesSql(naturalKey: string, only: string | null): string {
  const bytes = `${STRING_HEADER_BYTES} + CHAR_LENGTH(${naturalKey})`;
  return `COALESCE(SUM(${only === null ? bytes : `CASE WHEN ${only} THEN ${bytes} END`}), 0)`;
}

/**
 * Versions and observed days remembered per history dimension (history.ts). About 40 bytes each beyond the
 * keys: the 1.8 M days and 210,000 versions of the bench's 1 M orders take some 50 MB. Past that, histories
 * are looked up per batch. Read when a warehouse is opened; tests make it small to take that path.
 */
export const HISTORY_STORE = { entries: 4_000_000 };

export abstract class SqlWarehouse implements Warehouse {
  abstract readonly dialect: string;
  abstract readonly location: string;
  protected abstract readonly sql: DialectSql;
  /** The tables of a warehouse with this history mode (created if missing). */
  protected abstract schemaDdl(mode: HistoryMode): readonly string[];
  protected abstract readonly settingsDdl: string;
  protected abstract readonly stagingDdl: readonly string[];
  /** The columns of a table, or null when there is no such table. */
  protected abstract columnsOf(table: string): Promise<string[] | null>;
  protected caps: WarehouseCapabilities = { maxStatementBytes: 4 * 1024 * 1024, defaultBatchSize: 2000, growHeap: false };
  private readonly retry: RetryPolicy;
  protected readonly access: WarehouseAccess;
  /** DIMENSION_KEYS.entries when the warehouse was opened. */
  private readonly dimensionKeyEntries = DIMENSION_KEYS.entries;
  private readonly dimensionKeyBytes = dimensionKeyBytes();
  private readonly customerKeys = new DimensionKeys(this.dimensionKeyEntries, this.dimensionKeyBytes);
  private readonly productKeys = new DimensionKeys(this.dimensionKeyEntries, this.dimensionKeyBytes);
  /** HISTORY_STORE.entries when the warehouse was opened. */
  protected readonly historyEntries = HISTORY_STORE.entries;
  private readonly customerHistory = new HistoryStore(this.historyEntries, this.dimensionKeyBytes);
  private readonly productHistory = new HistoryStore(this.historyEntries, this.dimensionKeyBytes);
  /** Which dimensions keep history: the warehouse's mode, known once ensureSchema has run. */
  protected history: HistoryMode = NO_HISTORY;

  /** The specs of the dimensions that keep history, customers first. */
  protected get historySpecs(): DimensionSpec<unknown>[] {
    const specs: DimensionSpec<unknown>[] = [];
    if (this.history.customers) specs.push(CUSTOMERS);
    if (this.history.products) specs.push(PRODUCTS);
    return specs;
  }
  /**
   * History: facts move to other versions once, at the end of the load (moveDeferredFacts), not per batch, which
   * would scan the whole fact table once per batch and dimension: on MySQL during a bulk load whose fact table
   * has no index on the surrogate keys (MysqlWarehouse.prepareLoad; set for one load, before its first plan),
   * and always on a dialect that has no per-batch move (DuckDB: DialectSql.repointFacts is null). Each batch
   * notes the versions it cut in etl_<dimension>_moved, in its transaction (noteMoved).
   */
  protected deferFactMoves = false;
  /** Order ids the fact table may hold; null: not read (DialectSql.orderFilterMaxLines), any order may be there. */
  private orderFilter: OrderFilter | null = null;
  /** The key maps and the order filter describe the warehouse (read after connecting, kept by commits). */
  private knowsWarehouse = false;
  /** Resolves once the last batch handed in is planned (ahead, or when it was written). */
  private lastPlanned: Promise<void> = Promise.resolve();
  /**
   * Batches by hand-in order: the last handed in, the last whose plan what the engine knows has taken in, and
   * the last committed. A batch plans ahead only on top of the plan of the batch just before it: after a
   * reconnect the engine knows the committed batches only, and the batches after them are planned again, in
   * order, by the writer (a batch handed in meanwhile must not plan ahead of one that is yet to be re-planned).
   */
  private handedIn = 0;
  private plannedThrough = 0;
  private committedThrough = 0;
  /** Staging tables written by the last batch: emptied before the next one. */
  private readonly staged = new Set<string>();
  /** Counts what the engine has learned of the warehouse: a plan made before the last learning is stale. */
  private epoch = 0;
  /** A batch failed for good: no later batch may commit (the ledger's progress must stay a prefix). */
  private batchFailed = false;
  /** What the ledger holds for each load this process writes (to settle a commit of unknown outcome). */
  private readonly loads = new Map<number, { uri: string; counts: LoadCounts }>();
  private connected = false;
  /** Set by close(): nothing runs and nothing reconnects after it. */
  private closed = false;
  /** The tail of the chain of operations: one at a time on the one connection (see serial). */
  private queue: Promise<unknown> = Promise.resolve();
  protected lockTimeout: number | null = null;
  /** Milliseconds spent per step of applyBatch, summed over the run (for the bench's breakdown). */
  readonly timings: Record<string, number> = {};
  /** The writer's own wall time applying batches (see Warehouse.writerMs). */
  writerMs = 0;
  retries = 0;

  protected readonly note: (message: string) => void;

  constructor(settings: WarehouseSettings) {
    this.retry = settings.retry;
    this.access = settings.access;
    this.note = settings.note;
  }

  get capabilities(): WarehouseCapabilities {
    return this.caps;
  }

  // --- what a dialect provides -------------------------------------------------------------------------

  /** Open the connection (and take the lock again if `lockTimeout` is set). */
  protected abstract open(): Promise<void>;
  /** Drop the connection after a failure, without waiting. */
  protected abstract discard(): void;
  protected abstract shut(): Promise<void>;
  protected abstract isTransient(err: unknown): boolean;
  protected abstract acquireLock(timeoutSeconds: number): Promise<void>;
  /** Run a statement; the number of rows it changed. */
  protected abstract exec(sql: string, params?: unknown[]): Promise<number>;
  protected abstract select(sql: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
  /** A bulk write made ready in advance (the CPU part: encoding the rows), to be written in a transaction later. */
  protected abstract prepareBulk(table: string, columns: readonly string[], rows: BulkRows, kind: BulkKind): PreparedBulk;
  protected abstract writeBulk(bulk: PreparedBulk): Promise<void>;
  /** Bulks of one table made ready in parts, as one bulk of all their rows in that order. */
  protected abstract joinBulks(parts: PreparedBulk[]): PreparedBulk;
  /**
   * The lines of orders the fact table may already hold, made ready; writeReplace then leaves each such order
   * with exactly these lines (none, for an order delivered without products), inside the batch's transaction.
   */
  protected abstract prepareReplace(lines: BulkRows, orders: ReplacedOrder[]): PreparedBulk[];
  protected abstract writeReplace(prepared: PreparedBulk[]): Promise<void>;
  /**
   * Read a result row by row without holding it whole (each row's values as the driver gives them). The row
   * array may be reused for the next row: copy what outlives the call.
   */
  protected abstract scan(sql: string, params: unknown[], onRow: (row: unknown[]) => void): Promise<void>;
  /**
   * Rows of a dimension table or its days, each as its natural key, its `numbers` (null for NULL) and the
   * attributeHash of its `attributes` (0 without any): what the engine keeps of a key, not the attributes' text.
   * `numbers` and the row handed over are reused for the next row. Here by scan; a dialect may send the same
   * in a cheaper form (DuckDB: DuckdbWarehouse.scanKeys).
   */
  protected async scanKeys(q: KeyScan, onRow: KeyRowSink): Promise<void> {
    const { table, naturalKey, numbers, attributes, where, params, orderBy } = q;
    const columns = [naturalKey, ...numbers, ...attributes.map(this.sql.text)];
    const sql = `SELECT ${columns.join(', ')} FROM ${table}${where ?? ''}${orderBy ? ` ORDER BY ${orderBy.join(', ')}` : ''}`;
    const n = numbers.length;
    const values: (number | null)[] = new Array(n);
    await this.scan(sql, params ?? [], (row) => {
      for (let i = 0; i < n; i++) {
        const v = row[1 + i];
        values[i] = v === null || v === undefined ? null : Number(v);
      }
      onRow(String(row[0]), values, attributes.length === 0 ? 0 : attributeHash(row.slice(1 + n).map(textOrNull)));
    });
  }
  /** Any query's result as column names and rows, whole. */
  protected abstract table(sql: string): Promise<{ columns: string[]; rows: unknown[][] }>;
  /** Any query's result, streamed to `sink` with backpressure (each dialect's query.ts). */
  protected abstract streamRows(sql: string, sink: QuerySink): Promise<void>;

  // --- the Warehouse interface ---------------------------------------------------------------------------

  ensureSchema(history?: HistoryMode, forLoad = false): Promise<HistoryMode> {
    return this.serial(() => this.createSchema(history, forLoad));
  }

  lock(timeoutSeconds: number): Promise<void> {
    return this.serial(() => this.takeLock(timeoutSeconds));
  }

  beginLoad(intent: LoadIntent): Promise<void> {
    return this.serial(() => this.prepareLoad(intent));
  }

  endLoad(): Promise<void> {
    return this.serial(() => this.finishLoad());
  }

  query(sql: string): Promise<{ columns: string[]; rows: unknown[][] }> {
    return this.serial(() => this.withRetry('run the query', () => this.table(sql)));
  }

  streamQuery(sql: string, sink: QuerySink): Promise<void> {
    // A retry after rows went out would write them twice: once the sink has been called, a lost connection
    // is the end of the query, not a reason to run it again.
    let started = false;
    const tracked: QuerySink = {
      columns: (columns) => {
        started = true;
        return sink.columns(columns);
      },
      rows: (rows) => sink.rows(rows),
    };
    return this.serial(() =>
      this.withRetry('run the query', async () => {
        try {
          await this.streamRows(sql, tracked);
        } catch (err) {
          if (started && this.retriable(err)) {
            throw new EtlError('E_DB_CONNECTION', `lost ${this.location} while the result was being written: ${(err as Error).message}`, {}, { cause: err });
          }
          throw err;
        }
      }),
    );
  }

  async streamLoads(sink: QuerySink): Promise<void> {
    const dead = await this.serial(() => this.withRetry('read the load ledger', () => this.deadLoads()));
    // A ledger made before read_with (by an earlier version, not loaded into since) shows the rest.
    const columns = await this.serial(() => this.withRetry('read the load ledger', () => this.columnsOf('etl_loads')));
    return this.streamQuery(loadsSql(dead, columns?.includes('read_with') ?? false), timestampsToSeconds(sink, LEDGER_TIMESTAMPS));
  }

  streamRejects(loadId: number | null, sink: QuerySink): Promise<void> {
    return this.streamQuery(rejectsSql(loadId), sink);
  }

  planSource(source: SourceIdentity, force: boolean): Promise<SourcePlan> {
    return this.serial(() => this.plan(source, force));
  }

  /**
   * Plans the batch at once (CPU only, while earlier batches may still be in the database's hands), then
   * queues its writes behind theirs. The caller may hand in the next batch before this one has committed:
   * that is how the preparation of batch N+1 overlaps the database's work on batch N.
   */
  applyBatch(loadId: number, batch: Batch): Promise<LoadCounts> {
    const prepared = prepareBatch(batch, this.history);
    // Plans are made strictly in batch order, each on top of the one before: a batch plans ahead only once the
    // batch before it is planned, and only if the engine has learned nothing anew since the batch was handed
    // in (else it plans when it is written, in order). A plan yields now and then, so that the answers to the
    // statements of the batch being written are taken up at once instead of after it.
    const epoch = this.epoch;
    const seq = ++this.handedIn;
    const previous = this.lastPlanned;
    let planned!: () => void;
    this.lastPlanned = new Promise<void>((resolve) => (planned = resolve));
    const ahead = previous.then(() =>
      this.canPlanAhead() && this.epoch === epoch && this.plannedThrough === seq - 1 ? this.timed(PLAN_AHEAD_STEP, () => this.planBatch(prepared, batch, seq)) : null,
    );
    ahead.then(
      (p) => {
        if (p !== null && p.epoch === epoch) planned();
      },
      () => {
        // A plan that failed may have changed what the engine knows halfway (apply learns the warehouse anew):
        // forgotten at once, so that the next batch does not plan ahead on it (canPlanAhead). The epoch moves
        // when the writer learns the warehouse, in its turn: moved here, it could make stale a plan the writer
        // is making meanwhile, and fail that batch.
        this.knowsWarehouse = false;
        planned();
      },
    );
    return this.serial(() => this.apply(loadId, batch, seq, prepared, ahead, planned));
  }

  finishSource(loadId: number, status: 'completed' | 'failed', error?: string): Promise<void> {
    return this.serial(() =>
      this.withRetry('update the load ledger', async () => {
        await this.exec(`UPDATE etl_loads SET status = ?, error = ?, finished_at = ${this.sql.now}, updated_at = ${this.sql.now} WHERE load_id = ?`, [
          status,
          // MySQL's TEXT holds 65,535 bytes: at most 3 of them per UTF-16 unit.
          error === undefined ? null : cutText(error, 21_000),
          loadId,
        ]);
      }),
    );
  }

  async stopStatement(): Promise<void> {}

  /** Waits for the operation in progress, then closes; nothing runs or reconnects afterwards. */
  async close(): Promise<void> {
    const pending = this.queue;
    this.closed = true;
    await pending;
    this.connected = false;
    await this.shut();
  }

  /**
   * One operation at a time, in call order: a statement of one operation can never land inside another's
   * transaction, whatever the caller does (issue: a failed pipeline recorded its failure in the middle of the
   * batch in flight). Operations asked for after close() are refused.
   */
  private serial<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(() => {
      if (this.closed) throw new EtlError('E_INTERNAL', `${this.location} is already closed`);
      return work();
    });
    this.queue = run.catch(() => {});
    return run;
  }

  // --- what a dialect may extend ---------------------------------------------------------------------

  protected async takeLock(timeoutSeconds: number): Promise<void> {
    // open() takes the lock on every new connection once lockTimeout is set; a connection opened before (the
    // same epoch) takes it here. A connection lost meanwhile, even while waiting for the lock, is retried.
    // The epoch also moves when the warehouse is learned, which serial() keeps from running meanwhile.
    this.lockTimeout = timeoutSeconds;
    const epoch = this.epoch;
    await this.withRetry('take the load lock', async () => {
      if (this.epoch === epoch) await this.acquireLock(timeoutSeconds);
    });
  }

  protected async createSchema(requested?: HistoryMode, _forLoad = false): Promise<HistoryMode> {
    return this.withRetry('create the schema', async () => {
      await this.createMissing(this.settingsDdl);
      const mode = await this.decideHistory(requested);
      for (const ddl of this.schemaDdl(mode)) await this.createMissing(ddl);
      // A ledger made before etl_loads.read_with (load and init hold the warehouse's lock here).
      if (!(await this.columnsOf('etl_loads'))!.includes('read_with')) await this.exec(`ALTER TABLE etl_loads ADD COLUMN ${this.sql.readWithColumn}`);
      this.history = mode;
      return mode;
    });
  }

  /**
   * A CREATE TABLE IF NOT EXISTS run only for a table that is missing: MySQL checks the CREATE privilege before
   * whether the table exists, so a user with the privileges to load into tables made by another (init as an
   * administrator) was refused its every load ('CREATE command denied ... etl_settings').
   */
  private async createMissing(ddl: string): Promise<void> {
    const table = /^\s*CREATE TABLE IF NOT EXISTS (\w+)/i.exec(ddl)?.[1];
    if (table === undefined || (await this.columnsOf(table)) === null) await this.exec(ddl);
  }

  /**
   * The warehouse's history mode: as recorded in etl_settings; for a warehouse without the record, as its
   * dimension tables have it (one created before history existed: SCD1), else as asked (SCD1 by default), and
   * recorded. A mode asked for that is not the warehouse's is an error: there is no silent migration.
   */
  private async decideHistory(requested: HistoryMode | undefined): Promise<HistoryMode> {
    const [row] = await this.select("SELECT value FROM etl_settings WHERE name = 'history'");
    let mode: HistoryMode;
    if (row) {
      mode = historyFromName(String(row.value));
    } else {
      const found: Partial<Record<'customers' | 'products', boolean>> = {};
      for (const table of ['customers', 'products'] as const) {
        const columns = await this.columnsOf(table);
        if (columns) found[table] = columns.includes('valid_from');
      }
      const existing = found.customers === undefined && found.products === undefined ? null : { customers: found.customers ?? false, products: found.products ?? false };
      mode = existing ?? requested ?? NO_HISTORY;
      if (!requested || sameHistory(mode, requested)) await this.exec("INSERT INTO etl_settings (name, value) VALUES ('history', ?)", [historyName(mode)]);
    }
    if (requested && !sameHistory(mode, requested)) {
      throw new EtlError(
        'E_HISTORY_MODE',
        `${this.location} keeps history for ${historyName(mode)} (SCD1 elsewhere), and this command asks for ${historyName(requested)} (--history): a warehouse's history mode is fixed when it is created; load into a new warehouse to change it`,
      );
    }
    return mode;
  }

  /** Read what preparing bulk writes ahead needs (once per connection, before the first batch is planned). */
  protected async learnWriters(): Promise<void> {}

  /** Before the first batch of a run (after lock and schema). */
  protected async prepareLoad(_intent: LoadIntent): Promise<void> {}

  /** Bytes of the sources the ledger does not hold as loaded (all of them when forced); unknown sizes count 0. */
  protected async pendingBytes(intent: LoadIntent): Promise<number> {
    let pending = 0;
    for (const { source, bytes } of intent.sources) {
      if (bytes === null) continue;
      if (!intent.force && source.fingerprint !== null) {
        const [last] = await this.select('SELECT status FROM etl_loads WHERE source_key = ? ORDER BY load_id DESC LIMIT 1', [sourceKey(source)]);
        if (last?.status === 'completed') continue;
      }
      pending += bytes;
    }
    return pending;
  }

  /** Whether `table` holds a row (EXISTS: MySQL answers 0 or 1, DuckDB a boolean). */
  protected async hasRows(table: string): Promise<boolean> {
    const [row] = await this.select(`SELECT EXISTS (SELECT 1 FROM ${table}) AS held`);
    return Number(row!.held) !== 0;
  }

  /** For `orders-etl loads`: the `running` rows no process can still be running (DeadLoads); null where the dialect cannot tell. */
  protected async deadLoads(): Promise<DeadLoads | null> {
    return null;
  }

  /** The largest load id in the ledger (0 when it is empty). */
  protected async lastLoadId(): Promise<number> {
    const [row] = await this.select('SELECT COALESCE(MAX(load_id), 0) AS id FROM etl_loads');
    return Number(row!.id);
  }

  /** Before history is read by natural key (a store that no longer holds every key): the dialect's indexes for it. */
  protected async beforeHistoryLookups(): Promise<void> {}

  /** Order ids the dialect keeps outside the fact table during a load, for the order filter (MySQL: replaceRedelivered). */
  protected async learnWaitingOrders(_add: (orderId: string) => void): Promise<void> {}

  /** After the last batch of a run, successful or not: undo what prepareLoad did, move the facts that wait. */
  protected async finishLoad(): Promise<void> {
    this.deferFactMoves = false;
    await this.moveDeferredFacts();
  }

  /** `work` in one transaction: committed if it succeeds, rolled back if it fails (the failure is thrown on). */
  protected async inTransaction(work: () => Promise<void>): Promise<void> {
    await this.exec('BEGIN');
    try {
      await work();
      await this.exec('COMMIT');
    } catch (err) {
      await this.exec('ROLLBACK').catch(() => {});
      throw err;
    }
  }

  /**
   * The facts of the versions noted in etl_<dimension>_moved (by a load that deferred its fact moves: this one,
   * or one killed before its end) point at the version of their natural key in effect on their order date
   * afterwards; one transaction per dimension moves them and forgets the notes. A note names the natural key
   * because the version it names may be gone. Runs at the end of every load (finishLoad, also after a load
   * that failed) and before anything else when a command takes the warehouse (createSchema).
   */
  protected async moveDeferredFacts(): Promise<void> {
    for (const spec of this.historySpecs) {
      await this.withRetry(`move the facts of the changed versions of ${spec.table}`, async () => {
        if (!(await this.hasRows(spec.moved))) return;
        await this.timed(DEFERRED_MOVES_STEP, () =>
          this.timed(`${DEFERRED_MOVES_STEP}: ${spec.table}`, () =>
            this.inTransaction(async () => {
              for (const statement of this.sql.moveNotedFacts(spec)) await this.exec(statement);
              await this.exec(`DELETE FROM ${spec.moved}`);
            }),
          ),
        );
      });
    }
  }

  // --- ledger and batches ----------------------------------------------------------------------------------

  /**
   * Whether a load of the same name with other content (another fingerprint, or none) came after the ledger's
   * load `loadId` of `source`: the warehouse then holds that other content, and `source` loads again from its
   * start instead of being skipped or resumed. An S3 object overwritten with B and then put back as A (the same
   * bytes: the same ETag) was skipped as loaded, and B's orders and attributes stayed. (pendingBytes, which
   * sizes the load for MySQL's choice to drop the fact table's keys, does not ask: such a source is rare, and
   * counting it as skipped there costs only speed.)
   */
  private async overwrittenSince(source: SourceIdentity, loadId: number): Promise<boolean> {
    const [newer] = await this.select('SELECT 1 AS newer FROM etl_loads WHERE source_uri = ? AND load_id > ? AND (fingerprint IS NULL OR fingerprint <> ?) LIMIT 1', [
      source.uri,
      loadId,
      source.fingerprint,
    ]);
    return newer !== undefined;
  }

  private async plan(source: SourceIdentity, force: boolean): Promise<SourcePlan> {
    const key = sourceKey(source);
    return this.withRetry('read the load ledger', async () => {
      if (source.fingerprint !== null && !force) {
        const [last] = await this.select(
          `SELECT load_id, status, records_committed, ${LEDGER_COLUMNS} FROM etl_loads WHERE source_key = ? ORDER BY load_id DESC LIMIT 1`,
          [key],
        );
        if (last && !(await this.overwrittenSince(source, Number(last.load_id)))) {
          const loadId = Number(last.load_id);
          const counts = ledgerCounts(last);
          if (last.status === 'completed') return { action: 'skip', loadId, counts };
          const resumeFrom = Number(last.records_committed);
          // read_with is NULL where an older version started the load: the source is read the same way now.
          await this.exec(`UPDATE etl_loads SET status = 'running', error = NULL, read_with = COALESCE(read_with, ?), updated_at = ${this.sql.now} WHERE load_id = ?`, [source.readWith, loadId]);
          this.loads.set(loadId, { uri: source.uri, counts });
          return { action: 'load', loadId, resumeFrom, counts };
        }
      }
      const loadId = (await this.lastLoadId()) + 1;
      await this.exec(
        `INSERT INTO etl_loads (load_id, source_uri, source_key, fingerprint, read_with, status, started_at, updated_at) VALUES (?, ?, ?, ?, ?, 'running', ${this.sql.now}, ${this.sql.now})`,
        [loadId, source.uri, key, source.fingerprint, source.readWith],
      );
      this.loads.set(loadId, { uri: source.uri, counts: zeroCounts() });
      return { action: 'load', loadId, resumeFrom: 0, counts: zeroCounts() };
    });
  }

  private async apply(loadId: number, batch: Batch, seq: number, prepared: PreparedBatch, ahead: Promise<PlannedBatch | null>, donePlanning: () => void): Promise<LoadCounts> {
    const started = performance.now();
    try {
      // The plan made ahead is usually ready; when it is not, the writer waits for it, and says so. A plan
      // that failed may have changed what the engine knows halfway (days recorded in a history store): it
      // learns the warehouse anew before this batch is planned again.
      let planned = await this.timed('wait for plan', () =>
        ahead.catch(() => {
          this.knowsWarehouse = false;
          return null;
        }),
      );
      const load = this.loads.get(loadId);
      if (!load) throw new EtlError('E_INTERNAL', `load ${loadId} was not planned`);
      // A batch never commits after one before it failed: the ledger's records_committed must stay a prefix.
      if (this.batchFailed) throw new EtlError('E_INTERNAL', `records ${batch.firstIndex}.. not applied: an earlier batch failed`);
      return await this.withRetry(
        `commit records ${batch.firstIndex}..${batch.nextIndex - 1}`,
        async () => {
          await this.learnWarehouse();
          // Planned against what the engine knew then; after a reconnect it knows the warehouse anew.
          if (!planned || planned.epoch !== this.epoch) planned = await this.planWithLookups(prepared, batch, seq);
          // Planned in the writer's turn, nothing can learn the warehouse anew meanwhile: a stale plan here
          // would commit nothing, or rows the engine's maps never took in, and move the ledger past them.
          if (planned.epoch !== this.epoch) throw new EtlError('E_INTERNAL', `records ${batch.firstIndex}.. were planned on a warehouse learned anew meanwhile`);
          donePlanning();
          const counts = await this.writeBatch(loadId, load.uri, planned, batch);
          this.committedThrough = seq;
          const total = { ...load.counts };
          addCounts(total, counts);
          load.counts = total;
          return counts;
        },
        // A commit whose outcome is unknown: the ledger row moves in the same transaction, so it says.
        async () => {
          const [row] = await this.select(`SELECT records_committed, ${LEDGER_COLUMNS} FROM etl_loads WHERE load_id = ?`, [loadId]);
          if (!row || Number(row.records_committed) < batch.nextIndex) return null;
          const ledger = ledgerCounts(row);
          const counts = zeroCounts();
          for (const k of Object.keys(counts) as (keyof LoadCounts)[]) counts[k] = ledger[k] - load.counts[k];
          load.counts = ledger;
          this.committedThrough = seq;
          return counts;
        },
      );
    } catch (err) {
      this.batchFailed = true;
      throw err;
    } finally {
      this.writerMs += performance.now() - started;
      // However this batch ended, the next one may go on (to plan, or to fail as this one did).
      donePlanning();
    }
  }

  // --- one batch -----------------------------------------------------------------------------------------

  protected timedSync<T>(step: string, work: () => T): T {
    const t = performance.now();
    try {
      return work();
    } finally {
      this.timedSince(step, t);
    }
  }

  protected async timed<T>(step: string, work: () => Promise<T>): Promise<T> {
    const t = performance.now();
    try {
      return await work();
    } finally {
      this.timedSince(step, t);
    }
  }

  /** Count the time since `start` (performance.now()) to `step`: for a step counted only if it happened. */
  protected timedSince(step: string, start: number): void {
    this.timings[step] = (this.timings[step] ?? 0) + performance.now() - start;
  }

  /**
   * A bulk made ready a part at a time, letting the writer's answers in after each: encoding a batch's fact
   * rows at once held the thread for some 80 ms (bench machine), and every statement of the batch being
   * written that ended meanwhile waited for it.
   */
  private async prepareInParts(table: string, columns: readonly string[], rows: BulkRows, kind: BulkKind, current: () => boolean): Promise<PreparedBulk> {
    const parts = rows.count > BULK_PART_ROWS && rows.parts ? rows.parts(BULK_PART_ROWS) : [rows];
    const prepared: PreparedBulk[] = [];
    for (const part of parts) {
      await breatherWhileCurrent(current);
      prepared.push(this.prepareBulk(table, columns, part, kind));
    }
    return prepared.length === 1 ? prepared[0]! : this.joinBulks(prepared);
  }

  /** Planning needs no read while the engine knows every key; otherwise it waits for its turn (lookups). */
  private canPlanAhead(): boolean {
    const complete = (history: boolean, keys: { complete: boolean }, versions: { complete: boolean }) => (history ? versions.complete : keys.complete);
    return (
      this.knowsWarehouse &&
      !this.batchFailed &&
      complete(this.history.customers, this.customerKeys, this.customerHistory) &&
      complete(this.history.products, this.productKeys, this.productHistory)
    );
  }

  /** Plan with the keys the maps have forgotten looked up first (on the connection, in the batch's turn). */
  private async planWithLookups(p: PreparedBatch, batch: Batch, seq: number): Promise<PlannedBatch> {
    await this.timed('lookups', async () => {
      if (this.history.customers) await this.lookupHistory(CUSTOMERS, batch.orders.map((o) => o.customer.customerId), this.customerHistory);
      else await this.lookupUnknown(CUSTOMERS, p.customers, this.customerKeys);
      if (this.history.products) await this.lookupHistory(PRODUCTS, batch.orders.flatMap((o) => o.lines.map((l) => l.productId)), this.productHistory);
      else await this.lookupUnknown(PRODUCTS, p.products, this.productKeys);
    });
    return this.timed('plan', () => this.planBatch(p, batch, seq));
  }

  /**
   * Everything about a batch that needs no database: which dimension rows are new (with their surrogate
   * keys), changed or unchanged, which orders are fresh or delivered before, and the bulk payloads, ready to
   * send. What the engine knows of the warehouse takes the batch in at once, as if it had committed: the next
   * batch is planned on top of it. If this batch fails, the load fails; if it is retried on the same
   * connection, the same plan is written again; after a reconnect, everything is learned again and every batch
   * not yet committed is planned again (epoch).
   */
  private async planBatch(p: PreparedBatch, batch: Batch, seq: number): Promise<PlannedBatch> {
    try {
      return await this.planBatchAt(this.epoch, p, batch, seq);
    } catch (err) {
      if (err === STALE) return STALE_PLAN;
      throw err;
    }
  }

  private async planBatchAt(epoch: number, p: PreparedBatch, batch: Batch, seq: number): Promise<PlannedBatch> {
    const customers = this.history.customers
      ? await this.planHistory(CUSTOMERS, batch, this.customerHistory, epoch)
      : this.planScd1(CUSTOMERS, p.customers, scd1Rows(CUSTOMERS, p.customerRows), this.customerKeys);
    await breather();
    const products = this.history.products
      ? await this.planHistory(PRODUCTS, batch, this.productHistory, epoch)
      : this.planScd1(PRODUCTS, p.products, scd1Rows(PRODUCTS, p.productRows), this.productKeys);
    await breather();
    const fresh: PreparedOrder[] = [];
    const replaced: PreparedOrder[] = [];
    for (const o of p.orders) (this.orderFilter === null || this.orderFilter.mightHold(o.orderId) ? replaced : fresh).push(o);
    const facts = fresh.length > 0 ? await this.prepareInParts('orders', FACT_COLUMNS, factRows(fresh, customers.sk, products.sk), 'facts', () => this.epoch === epoch) : null;
    const planned: PlannedBatch = {
      epoch,
      customers: customers.planned,
      products: products.planned,
      facts,
      replace: replaced.length > 0 ? this.prepareReplace(factRows(replaced, customers.sk, products.sk), replaced.map((o) => ({ orderId: o.orderId, lines: o.lines.length }))) : null,
      rejects: p.rejects,
      counts: {
        ...zeroCounts(),
        customersInserted: customers.inserted,
        customersUpdated: customers.updated,
        productsInserted: products.inserted,
        productsUpdated: products.updated,
        orders: p.orders.length,
        factRows: p.factRows,
        rejected: p.rejects.length,
      },
    };
    // Learned anew while this plan yielded (a reconnect): the plan is stale and is made again when its batch
    // is written; it must not touch what was just learned.
    if (this.epoch !== epoch) return { ...planned, epoch: -1 };
    customers.commit();
    products.commit();
    if (this.orderFilter) for (const o of p.orders) this.orderFilter.add(o.orderId);
    this.plannedThrough = seq;
    return planned;
  }

  /** SCD1: one row per natural key; the batch's keys resolve to one surrogate key each. */
  private planScd1<R>(spec: DimensionSpec<R>, rows: R[], positions: DedupedRows, keys: DimensionKeys): DimensionOutcome {
    const plan = planDimension(spec, rows, keys);
    const { table, stage, naturalKey, surrogateKey, attributes } = spec;
    const inserts = plan.inserts.length === 0 ? null : this.prepareBulk(table, [surrogateKey, naturalKey, ...attributes], rowsOf(plan.inserts, (r, out) => {
      out[0] = r.sk;
      out[1] = r.id;
      for (let i = 0; i < r.values.length; i++) out[2 + i] = r.values[i]!;
    }, 2 + attributes.length), 'dimension');
    const updates = plan.updates.length === 0 ? null : this.prepareBulk(stage, [surrogateKey, ...attributes], rowsOf(plan.updates, (r, out) => {
      out[0] = r.sk;
      for (let i = 0; i < r.values.length; i++) out[1 + i] = r.values[i]!;
    }, 1 + attributes.length), 'stage');
    return {
      planned: { kind: 'scd1', spec: spec as DimensionSpec<unknown>, inserts, updates },
      sk: (o, i) => plan.sks[positions.of(o, i)]!,
      inserted: plan.inserts.length,
      updated: plan.updates.length,
      commit: () => commitDimension(plan, keys),
    };
  }

  /**
   * History: the batch's observations of each key placed in its history (history.ts), in order of first
   * appearance of the keys (new surrogate keys are handed out in that order); the batch's facts resolve to the
   * version in effect on their date.
   */
  private async planHistory<R>(spec: DimensionSpec<R>, batch: Batch, store: HistoryStore, epoch: number): Promise<DimensionOutcome> {
    // observations() below records days in the store at once: never in a store learned anew meanwhile.
    if (this.epoch !== epoch) throw STALE;
    let next = store.maxSk;
    const nextSk = () => ++next;
    const versionRows: BulkValue[][] = [];
    const inserts: { id: string; v: InsertedVersion<R> }[] = [];
    const repoints: Repoint[] = [];
    // Or, when facts move at the end of the load: the versions whose facts move, with their natural keys.
    const moved = new Map<number, string>();
    const days = new NewDays();
    const current = () => this.epoch === epoch;
    const found = new FoundVersions(batch, spec, store);
    const seen = await observations(spec, batch.orders, store, days, found, current);
    let updated = 0;
    let copies = 0;
    // Which kinds of version change the batch has: the writer runs the statements of these only.
    const ops = { copy: false, update: false, delete: false };
    let placed = 0;
    for (const [id, { slot, list }] of seen) {
      if (++placed % 500 === 0) await breatherWhileCurrent(current);
      const old = slot >= 0 ? store.history(slot) : undefined;
      if (old === undefined && !store.isNew(id)) throw new EtlError('E_INTERNAL', `${spec.table}: ${JSON.stringify(id)} was planned without being looked up`);
      const change = placeObservations(old, list, nextSk);
      found.placed(slot, id, list, change.history);
      for (const v of change.inserts) inserts.push({ id, v });
      for (const c of change.copies) versionRows.push(['c', c.sk, c.src, dateOf(c.from), c.to === null ? null : dateOf(c.to), c.to === null ? 1 : 0]);
      for (const u of change.updates) versionRows.push(['u', u.sk, null, dateOf(u.from), u.to === null ? null : dateOf(u.to), u.to === null ? 1 : 0]);
      for (const d of change.deletes) versionRows.push(['d', d, null, null, null, null]);
      for (const r of change.repoints) {
        if (this.deferFactMoves || this.sql.repointFacts === null) moved.set(r.oldSk, id);
        else repoints.push(r);
      }
      for (const day of change.newDays) days.add(id, day);
      updated += change.updates.length + change.deletes.length;
      copies += change.copies.length;
      ops.copy ||= change.copies.length > 0;
      ops.update ||= change.updates.length > 0;
      ops.delete ||= change.deletes.length > 0;
    }
    const { table, versionsStage, repointStage, movedStage, days: daysTable, naturalKey, surrogateKey, attributes } = spec;
    const inserted = inserts.length + copies;
    // Made ready a part at a time, each bulk after the other: the writer's answers are taken up in between.
    const ready = (to: string, columns: readonly string[], rows: BulkRows, kind: BulkKind) => (rows.count === 0 ? null : this.prepareInParts(to, columns, rows, kind, current));
    const planned: PlannedDimension = {
      kind: 'history',
      spec: spec as DimensionSpec<unknown>,
      versions: await ready(versionsStage, ['op', 'sk', 'src', 'valid_from', 'valid_to', 'is_current'], bulkRows(versionRows), 'stage'),
      ops,
      inserts: await ready(
        table,
        [surrogateKey, naturalKey, ...attributes, ...HISTORY_COLUMNS],
        rowsOf(inserts, ({ id, v }, out) => {
          out[0] = v.sk;
          out[1] = id;
          const values = spec.values(v.row);
          for (let i = 0; i < values.length; i++) out[2 + i] = values[i]!;
          out[2 + attributes.length] = dateOf(v.from);
          out[3 + attributes.length] = v.to === null ? null : dateOf(v.to);
          out[4 + attributes.length] = v.to === null ? 1 : 0;
        }, 5 + attributes.length),
        'dimension',
      ),
      repoints: await ready(repointStage, ['old_sk', 'valid_from', 'valid_to', 'new_sk'], rowsOf(repoints, (r, out) => {
        out[0] = r.oldSk;
        out[1] = dateOf(r.from);
        out[2] = r.to === null ? null : dateOf(r.to);
        out[3] = r.newSk;
      }, 4), 'stage'),
      moved: await ready(movedStage, ['sk', 'id'], bulkRows([...moved]), 'stage'),
      days: await ready(daysTable, [naturalKey, 'day'], days.rows(this.sql.daysInKeyOrder), 'dimension'),
      // Only a batch that deletes versions may delete the one that holds the largest key handed out; any other
      // key handed out stays in the table, where learnHistory finds it.
      maxSk: ops.delete ? next : null,
    };
    return {
      planned,
      // Reads only this plan's own findings (of its histories, the versions), never the store, which commit() changes.
      sk: (o, i) => found.sk(o, i),
      inserted,
      updated,
      commit: () => {
        found.commit(store);
        if (next > store.maxSk) store.maxSk = next;
      },
    };
  }

  /** The batch's writes, in one transaction with the ledger's progress. */
  private async writeBatch(loadId: number, uri: string, planned: PlannedBatch, batch: Batch): Promise<LoadCounts> {
    const counts = planned.counts;
    // Staging is emptied outside the transaction: on MySQL a DELETE inside it leaves delete-marked rows that
    // temporary tables never purge, and every later join scans them (measured: key lookups 8x slower by batch 200).
    await this.timed('clear staging', async () => {
      for (const table of this.staged) await this.exec(this.sql.clear(table));
      this.staged.clear();
    });
    await this.timed('begin', () => this.exec('BEGIN'));
    try {
      for (const [step, d] of [['customers', planned.customers], ['products', planned.products]] as const) {
        await this.timed(step, () => this.writeDimension(d));
      }
      if (planned.facts) await this.timed('facts', () => this.writeBulk(planned.facts!));
      if (planned.replace) await this.timed('replace orders', () => this.writeReplace(planned.replace!));
      if (planned.rejects.length > 0) {
        await this.timed('rejects', async () => {
          // Idempotent by (load, record): a retried or resumed batch replaces its own rejects.
          await this.exec('DELETE FROM etl_rejects WHERE load_id = ? AND record_index >= ? AND record_index < ?', [loadId, batch.firstIndex, batch.nextIndex]);
          const rows = planned.rejects.map((r): BulkValue[] => [loadId, r.index, uri, r.offset, cutText(r.reason, LIMITS.rejectReasonChars), r.raw]);
          await this.writeBulk(this.prepareBulk('etl_rejects', REJECT_COLUMNS, bulkRows(rows), 'rejects'));
        });
      }
      await this.timed('ledger', () =>
        this.exec(
          `UPDATE etl_loads SET records_committed = ?, batches_committed = batches_committed + 1, updated_at = ${this.sql.now},
             ${LEDGER_COUNTS.map(([k, c]) => `${c} = ${c} + ${counts[k]}`).join(', ')}
           WHERE load_id = ?`,
          [batch.nextIndex, loadId],
        ),
      );
      await this.timed('commit', () => this.exec('COMMIT'));
    } catch (err) {
      await this.exec('ROLLBACK').catch(() => {});
      throw err;
    }
    return { ...counts };
  }

  private async writeDimension(d: PlannedDimension): Promise<void> {
    if (d.kind === 'scd1') {
      if (d.inserts) await this.writeBulk(d.inserts);
      if (d.updates) {
        this.staged.add(d.spec.stage);
        await this.writeBulk(d.updates);
        await this.exec(this.sql.updateBySk(d.spec));
      }
      return;
    }
    // History. Copies read the versions they copy before anything moves; a version gone goes before new ones
    // come (they may start on its day); facts move once the versions they move to exist.
    const step = (what: string) => `${d.spec.table}: ${what}`;
    if (d.versions) {
      this.staged.add(d.spec.versionsStage);
      await this.timed(step('stage versions'), () => this.writeBulk(d.versions!));
      // Each statement scans the staging table for its kind of change: only those the batch has run.
      if (d.ops.copy) await this.timed(step('copy versions'), () => this.exec(this.sql.copyVersions(d.spec)));
      if (d.ops.update) await this.timed(step('update versions'), () => this.exec(this.sql.updateVersions(d.spec)));
      if (d.ops.delete) await this.timed(step('delete versions'), () => this.exec(this.sql.deleteVersions(d.spec)));
    }
    if (d.inserts) await this.timed(step('new versions'), () => this.writeBulk(d.inserts!));
    if (d.repoints) {
      const repointFacts = this.sql.repointFacts;
      if (!repointFacts) throw new EtlError('E_INTERNAL', `${this.location} moves the facts of the versions of ${d.spec.table} at the end of a load, not per batch`);
      this.staged.add(d.spec.repointStage);
      await this.timed(step('stage repoints'), () => this.writeBulk(d.repoints!));
      await this.timed(step('move facts'), () => this.exec(repointFacts(d.spec)));
    }
    if (d.moved) {
      this.staged.add(d.spec.movedStage);
      await this.timed(step('stage moved versions'), () => this.writeBulk(d.moved!));
      await this.timed(step('note moved versions'), () => this.exec(this.sql.noteMoved(d.spec)));
    }
    if (d.days) await this.timed(step('days'), () => this.writeBulk(d.days!));
    if (d.maxSk !== null) {
      // Keys are never handed out twice: a version that goes may have held the largest key (see learnHistory).
      const name = maxSkSetting(d.spec);
      await this.exec('DELETE FROM etl_settings WHERE name = ?', [name]);
      await this.exec('INSERT INTO etl_settings (name, value) VALUES (?, ?)', [name, String(d.maxSk)]);
    }
  }

  /**
   * What the engine must know of the warehouse before it plans a batch: every dimension key (if it fits),
   * the largest surrogate keys, and the order ids the fact table holds (where they are read into the order
   * filter: DialectSql.orderFilterMaxLines). Read once after connecting (again after a reconnect), then kept
   * up to date by the commits of this process, the one writer.
   */
  private async learnWarehouse(): Promise<void> {
    if (this.knowsWarehouse) return;
    await this.timed('read keys', async () => {
      await this.learnWriters();
      for (const [spec, keys, store, history] of [
        [CUSTOMERS, this.customerKeys, this.customerHistory, this.history.customers],
        [PRODUCTS, this.productKeys, this.productHistory, this.history.products],
      ] as const) {
        keys.clear();
        store.clear();
        if (history) {
          await this.learnHistory(spec as DimensionSpec<unknown>, store);
          continue;
        }
        const { table, naturalKey: nk, surrogateKey: sk, attributes } = spec;
        const [stats] = await this.select(`SELECT COUNT(*) AS n, COALESCE(MAX(${sk}), 0) AS top, ${idBytesSql(nk, null)} AS bytes FROM ${table}`);
        keys.maxSk = Number(stats!.top);
        // Too many to hold, or too long: looked up as needed.
        if (Number(stats!.n) > this.dimensionKeyEntries || Number(stats!.bytes) > this.dimensionKeyBytes) continue;
        await this.scanKeys({ table, naturalKey: nk, numbers: [sk], attributes }, (id, [s], hash) => keys.set(id, s!, hash));
        // Every row of the table, and it cannot change while this process holds the lock; unless the keys'
        // strings were too large to keep them all (then forgotten ones are looked up as needed).
        keys.complete = !keys.evicted;
      }
      const [facts] = await this.select('SELECT COUNT(*) AS n FROM orders');
      const lines = Number(facts!.n);
      this.orderFilter = null;
      if (lines <= this.sql.orderFilterMaxLines) {
        const filter = new OrderFilter(Math.max(4_000_000, 2 * lines));
        if (lines > 0) await this.scan('SELECT DISTINCT order_id FROM orders', [], (row) => filter.add(String(row[0])));
        await this.learnWaitingOrders((id) => filter.add(id));
        this.orderFilter = filter;
      }
    });
    this.knowsWarehouse = true;
    this.epoch++;
    // What was just read holds the committed batches and nothing after them.
    this.plannedThrough = this.committedThrough;
  }

  /** Every key's versions and observed days, if they fit; else the largest surrogate key only. */
  private async learnHistory<R>(spec: DimensionSpec<R>, store: HistoryStore): Promise<void> {
    const { table, surrogateKey: sk } = spec;
    // One current version per key: their ids are the store's strings.
    const [versions] = await this.select(`SELECT COUNT(*) AS n, COALESCE(MAX(${sk}), 0) AS top, ${idBytesSql(spec.naturalKey, 'is_current')} AS bytes FROM ${table}`);
    const [days] = await this.select(`SELECT COUNT(*) AS n FROM ${spec.days}`);
    // The largest key handed out, which a version gone since may have held: new keys go on after it, as they
    // do in a run that was never interrupted (which remembers it in memory).
    const [handedOut] = await this.select('SELECT value FROM etl_settings WHERE name = ?', [maxSkSetting(spec)]);
    store.maxSk = Math.max(Number(versions!.top), handedOut ? Number(handedOut.value) : 0);
    // Too many versions and days to hold, or keys too long: looked up as needed.
    if (Number(versions!.n) + Number(days!.n) > this.historyEntries || Number(versions!.bytes) > this.dimensionKeyBytes) return;
    // Straight into the store, in key order (each key's segment then grows at the end of its pool). The check
    // above counts a byte a character and no rounding: ids of two-byte characters take up to twice that, and V8
    // rounds each string up to 8 bytes. Past the budget the store is given up as it fills (and emptied), as if
    // the check had said so.
    const { naturalKey: nk } = spec;
    let over = false;
    await this.scanKeys({ ...this.versionsScan(spec), orderBy: [nk, 'valid_from'] }, (id, numbers, hash) => {
      if (!over && !(over = store.overBytes)) store.learnVersion(id, versionOf(numbers, hash));
    });
    if (over) {
      const top = store.maxSk;
      store.clear();
      store.maxSk = top;
      return;
    }
    // In key order along the primary key; on MariaDB, in a bulk load that dropped that key
    // (MysqlWarehouse.dropHistoryKeys), by a sort of the table (0.4 s for 1.16 M days, by hand; the versions
    // above likewise without their version index). Days come as
    // numbers (epochDays): some million rows, each parsed from text before.
    await this.scanKeys({ ...this.daysScan(spec), orderBy: [nk, 'day'] }, (id, [day]) => store.learnDay(id, day!));
    store.learned();
    store.complete = true;
  }

  /** Histories of the history dimension's keys the store does not hold, read from the warehouse. */
  private async lookupHistory<R>(spec: DimensionSpec<R>, batchIds: string[], store: HistoryStore): Promise<void> {
    if (store.complete) return;
    await this.beforeHistoryLookups();
    const ids = [...new Set(batchIds)].filter((id) => !store.has(id));
    for (const chunk of idChunks(ids, this.caps.maxStatementBytes / 2 - 1024)) {
      const where = ` WHERE ${spec.naturalKey} IN (${chunk.map(() => '?').join(',')})`;
      for (const [id, h] of await this.readHistories(spec, where, chunk)) store.set(id, h, false);
    }
    store.lookedUp(ids);
  }

  /** Versions and days of the keys `where` selects, as histories (versions by valid_from, days ascending). */
  private async readHistories<R>(spec: DimensionSpec<R>, where: string, params: string[]): Promise<Map<string, KeyHistory>> {
    const out = new Map<string, KeyHistory>();
    const of = (id: string) => {
      let h = out.get(id);
      if (!h) out.set(id, (h = { versions: [], days: [] }));
      return h;
    };
    await this.scanKeys({ ...this.versionsScan(spec), where, params }, (id, numbers, hash) => of(id).versions.push(versionOf(numbers, hash)));
    await this.scanKeys({ ...this.daysScan(spec), where, params }, (id, [day]) => of(id).days.push(day!));
    for (const h of out.values()) {
      h.versions.sort((a, b) => a.from - b.from);
      h.days.sort((a, b) => a - b);
    }
    return out;
  }

  /** A history dimension's versions as scanKeys reads them: their numbers are what versionOf takes. */
  private versionsScan(spec: DimensionSpec<unknown>): KeyScan {
    const { table, naturalKey, surrogateKey: sk, attributes } = spec;
    const { epochDays } = this.sql;
    return { table, naturalKey, numbers: [sk, epochDays('valid_from'), epochDays('valid_to')], attributes };
  }

  /** A history dimension's observed days as scanKeys reads them: one number, the day. */
  private daysScan(spec: DimensionSpec<unknown>): KeyScan {
    return { table: spec.days, naturalKey: spec.naturalKey, numbers: [this.sql.epochDays('day')], attributes: [] };
  }

  /** Keys the map has forgotten, read from the dimension table (and remembered again: they are committed rows). */
  private async lookupUnknown<R>(spec: DimensionSpec<R>, rows: R[], keys: DimensionKeys): Promise<void> {
    if (keys.complete) return;
    const ids = rows.map((r) => spec.id(r)).filter((id) => keys.slotOf(id) < 0);
    const { table, naturalKey: nk, surrogateKey: sk, attributes } = spec;
    // The ids chunked to fit what the server takes, beside the rest of the statement (a dialect's scanKeys
    // may write more around the columns than the plain select: 4 KB of room for it).
    const select = `SELECT ${nk}, ${sk}, ${attributes.map(this.sql.text).join(', ')} FROM ${table} WHERE ${nk} IN `;
    const found: [string, number, number][] = [];
    for (const chunk of idChunks(ids, this.caps.maxStatementBytes - select.length * 3 - 4096)) {
      const where = ` WHERE ${nk} IN (${chunk.map(() => '?').join(',')})`;
      await this.scanKeys({ table, naturalKey: nk, numbers: [sk], attributes, where, params: chunk }, (id, [s], hash) => found.push([id, s!, hash]));
    }
    // A key the lookup did not find is new: planning gives it the next surrogate key. The lookup must not make
    // the map forget the batch's other keys, so it may hold more than its capacity until the batch is planned.
    for (const [id, s, hash] of found) keys.set(id, s, hash, false);
    keys.lookedUp(ids);
  }

  /** Staging tables written inside the transaction, emptied before the next batch. */
  protected useStaging(table: string): void {
    this.staged.add(table);
  }

  // --- connection and retries ----------------------------------------------------------------------------

  protected async ensureConnected(): Promise<void> {
    if (this.connected) return;
    if (this.closed) throw new EtlError('E_INTERNAL', `${this.location} is closed; not reconnecting`);
    // A new connection is a new session: the named lock of the old one died with it, and another load may
    // have changed the warehouse in between; and a commit settled from the ledger never reached the key maps.
    // What the engine knows of the warehouse is read again before the next batch. Staging tables are
    // temporary: they died with the old session too.
    this.knowsWarehouse = false;
    // Plans in progress were made on what is about to be forgotten: they become stale now, not once the
    // warehouse has been learned again (they would otherwise commit into the maps while they are refilled).
    this.epoch++;
    this.staged.clear();
    await this.open();
    // Staging tables are temporary: they belong to the connection, so each new one creates them once.
    // Named here: a refusal came out as the step that connected ('cannot take the load lock ...: Access denied
    // ... to database'), which sent a user without MySQL's CREATE TEMPORARY TABLES looking at the wrong grant.
    try {
      if (this.access === 'write') for (const ddl of this.stagingDdl) await this.exec(ddl);
    } catch (err) {
      if (this.retriable(err)) throw err;
      throw this.asEtlError(err, 'create the staging tables (temporary tables of the session)');
    }
    this.connected = true;
  }

  /**
   * Run `work` on a fresh connection after a transient failure, with bounded exponential backoff. `settle`
   * decides, before a retry, whether the failed attempt committed after all.
   */
  protected async withRetry<T>(what: string, work: () => Promise<T>, settle?: () => Promise<T | null>): Promise<T> {
    let attempt = 0;
    let uncertain = false;
    for (;;) {
      try {
        await this.ensureConnected();
        if (uncertain && settle) {
          const settled = await settle();
          if (settled !== null) return settled;
        }
        return await work();
      } catch (err) {
        // Only what retriable() names is retried; never after close().
        if (this.closed || !this.retriable(err)) {
          throw this.asEtlError(err, what);
        }
        this.connected = false;
        this.discard();
        uncertain = true;
        if (attempt++ >= this.retry.retries) {
          throw new EtlError('E_DB_CONNECTION', `gave up after ${attempt} attempt${attempt === 1 ? '' : 's'} to ${what} on ${this.location}: ${(err as Error).message}`, {}, { cause: err, transient: true });
        }
        this.retries++;
        await new Promise((r) => setTimeout(r, Math.min(5000, this.retry.backoffMs * 2 ** (attempt - 1))));
      }
    }
  }

  /**
   * What withRetry runs again: the database's own transient failures, and the engine's own transient
   * E_DB_CONNECTION (not connected; a connection that died under a streaming query).
   */
  private retriable(err: unknown): boolean {
    return this.isTransient(err) || (err instanceof EtlError && err.code === 'E_DB_CONNECTION' && err.transient);
  }

  private asEtlError(err: unknown, what: string): EtlError {
    if (err instanceof EtlError) return err;
    return new EtlError('E_DB', `cannot ${what} on ${this.location}: ${(err as Error)?.message ?? String(err)}`, {}, { cause: err });
  }
}

function ledgerCounts(row: Record<string, unknown>): LoadCounts {
  const counts = zeroCounts();
  for (const [k, c] of LEDGER_COUNTS) counts[k] = Number(row[c]);
  return counts;
}

interface PlannedRow {
  id: string;
  sk: number;
  values: (string | null)[];
  hash: number;
}

/**
 * SCD1 for one dimension's rows of a batch (deduplicated, in order of first appearance): a known key with the
 * same attributes is unchanged; with others, updated; a new key gets the next surrogate key.
 */
function planDimension<R>(spec: DimensionSpec<R>, rows: R[], keys: DimensionKeys): DimensionPlan {
  const plan: DimensionPlan = { sks: new Float64Array(rows.length), inserts: [], updates: [] };
  let next = keys.maxSk;
  for (let n = 0; n < rows.length; n++) {
    const r = rows[n]!;
    const id = spec.id(r);
    // The attributes' values (and a PlannedRow) are taken only for a row that is written: an unchanged row
    // allocates nothing.
    const hash = spec.hash(r);
    const slot = keys.slotOf(id);
    let sk: number;
    if (slot >= 0) {
      sk = keys.skAt(slot);
      if (keys.hashAt(slot) !== hash) plan.updates.push({ id, sk, values: spec.values(r), hash });
    } else if (keys.isNew(id)) {
      sk = ++next;
      plan.inserts.push({ id, sk, values: spec.values(r), hash });
    } else {
      throw new EtlError('E_INTERNAL', `${spec.table}: ${JSON.stringify(id)} was planned without being looked up`);
    }
    plan.sks[n] = sk;
  }
  return plan;
}

/** A batch prepared for an SCD1 dimension has its rows' positions (prepareBatch and planning share the mode). */
function scd1Rows(spec: DimensionSpec<unknown>, rows: DedupedRows | null): DedupedRows {
  if (rows === null) throw new EtlError('E_INTERNAL', `${spec.table}: the batch was prepared for history, and is planned as SCD1`);
  return rows;
}

/** A bulk write encoded by a dialect, ready to send. */
export interface PreparedBulk {
  readonly table: string;
  readonly count: number;
}

type PlannedDimension =
  | {
      kind: 'scd1';
      spec: DimensionSpec<unknown>;
      /** New rows, straight into the dimension table. */
      inserts: PreparedBulk | null;
      /** Changed rows, into the staging table, then UPDATE by surrogate key. */
      updates: PreparedBulk | null;
    }
  | {
      kind: 'history';
      spec: DimensionSpec<unknown>;
      /** Version changes (copy, new interval, gone), into the versions staging table. */
      versions: PreparedBulk | null;
      /** Which kinds of change `versions` holds: the statements of the others are not run. */
      ops: { copy: boolean; update: boolean; delete: boolean };
      /** New versions with their attributes, straight into the dimension table. */
      inserts: PreparedBulk | null;
      /** Facts to point at another version, into the repoint staging table. */
      repoints: PreparedBulk | null;
      /** Or, when facts move at the end of the load (deferFactMoves): the versions whose facts move. */
      moved: PreparedBulk | null;
      /** Days observed for the first time. */
      days: PreparedBulk | null;
      /** The largest surrogate key handed out so far, when this batch deletes versions (kept in etl_settings). */
      maxSk: number | null;
    };

/** A dimension's part of a batch: what to write, how facts find their surrogate key, counts, and the commit. */
interface DimensionOutcome {
  planned: PlannedDimension;
  /** The surrogate key for the fact of the order's i-th row of this dimension (its version on the order date). */
  sk(order: PreparedOrder, i: number): number;
  inserted: number;
  updated: number;
  /** What the engine knows of the dimension takes the batch in. */
  commit(): void;
}

/** An observation of a batch's row (at: its position, as BatchRows numbers them). */
interface RowObservation<R> extends Observation<R> {
  at: number;
}

/** A key's observations in a batch that may change its history, and its slot in the store (-1: a new key). */
interface KeyObservations<R> {
  slot: number;
  list: RowObservation<R>[];
}

/**
 * The batch's observations of a history dimension that may change a version, per natural key in order of
 * first appearance. Most do not: an observation that agrees with the version in effect on its day (before any
 * other of its key in the batch) only adds its day, if new; that is done here, in place, without more ado.
 * One lookup of the key per row: a key the store knows finds its batch's list by its slot.
 */
async function observations<R>(
  spec: DimensionSpec<R>,
  orders: OrderRows[],
  store: HistoryStore,
  newDays: NewDays,
  found: FoundVersions,
  current: () => boolean,
): Promise<Map<string, KeyObservations<R>>> {
  const out = new Map<string, KeyObservations<R>>();
  // The lists of keys the store knows, by slot (an index into `known`, or -1).
  const bySlot = new Int32Array(store.slotLimit).fill(-1);
  const known: KeyObservations<R>[] = [];
  for (let n = 0; n < orders.length; n++) {
    if ((n & 511) === 511) await breatherWhileCurrent(current);
    const o = orders[n]!;
    const day = epochDay(o.orderDate);
    const count = spec.rowCount(o);
    let at = found.first(o);
    for (let i = 0; i < count; i++, at++) {
      const r = spec.rowAt(o, i);
      const id = spec.id(r);
      const hash = spec.hash(r);
      const slot = store.slotOf(id);
      let keyed = slot < 0 ? out.get(id) : slot < bySlot.length && bySlot[slot]! >= 0 ? known[bySlot[slot]!] : undefined;
      if (keyed === undefined) {
        if (slot >= 0) {
          const v = store.versionAt(slot, day);
          if (v >= 0 && store.hashAt(v) === hash) {
            found.agreed(at, slot, store.skAt(v));
            if (store.addDay(slot, day)) newDays.add(id, day);
            continue;
          }
          // Its earlier rows in the batch agreed with the store; their versions may change now.
          found.changes(slot);
          bySlot[slot] = known.length;
          known.push((keyed = { slot, list: [] }));
        } else {
          keyed = { slot, list: [] };
        }
        out.set(id, keyed);
      }
      keyed.list.push({ day, row: r, hash, at });
    }
  }
  return out;
}

/**
 * The surrogate key of the version in effect for each row of a batch of a history dimension: as observations()
 * found it in the store, or, for the rows of keys whose history the batch changes, from their new history.
 * Facts take it from here by position instead of looking their natural key up again in a map of every key
 * (with the other changes of its commit, the history first load of 1 M orders on DuckDB took 53 s instead of
 * 66 s, by hand on a slow day of this machine). Rows are numbered by their order's record index in the batch,
 * then their position in the order.
 */
class FoundVersions {
  private readonly sks: Float64Array;
  /** The store's slot of each row found agreeing, and the slots whose history the batch changes. */
  private readonly slots: Int32Array;
  private readonly changed: Uint8Array;
  /**
   * The new history of each changed slot (for its rows that agreed before the change), and of new keys. A known
   * key's days may be a view of the store's pool (HistoryStore.history): it holds until commit() sets them,
   * because observations() adds every day of the batch before the first history is taken, plans run one at a
   * time, and a plan made stale by learning the warehouse anew never commits.
   */
  private readonly known = new Map<number, KeyHistory<Days>>();
  private readonly fresh: [string, KeyHistory<Days>][] = [];
  private readonly rows: BatchRows;

  private readonly table: string;

  constructor(batch: Batch, spec: DimensionSpec<unknown>, store: HistoryStore) {
    this.table = spec.table;
    this.rows = new BatchRows(batch, spec.rowCount);
    this.sks = new Float64Array(this.rows.count).fill(NaN);
    this.slots = new Int32Array(this.rows.count).fill(-1);
    this.changed = new Uint8Array(store.slotLimit);
  }

  /** Where the order's first row is. */
  first(order: OrderRows): number {
    return this.rows.at(order, 0);
  }

  /**
   * The row at `at` agrees with its key's version `sk` (in the store, at `slot`). Slots are neither made nor
   * freed while a batch is planned (only commit() does), so every slot fits `changed`; the check says so.
   */
  agreed(at: number, slot: number, sk: number): void {
    this.check(slot);
    this.sks[at] = sk;
    this.slots[at] = slot;
  }

  /** The history of the key at `slot` changes in this batch. */
  changes(slot: number): void {
    this.check(slot);
    this.changed[slot] = 1;
  }

  /** The key's observations were placed: `history` is its new one; each observed row takes its version. */
  placed(slot: number, id: string, list: readonly RowObservation<unknown>[], history: KeyHistory<Days>): void {
    if (slot >= 0) this.known.set(slot, history);
    else this.fresh.push([id, history]);
    for (const o of list) {
      this.sks[o.at] = versionAt(history, o.day)!.sk;
      this.slots[o.at] = -1;
    }
  }

  private check(slot: number): void {
    if (slot >= this.changed.length) throw new EtlError('E_INTERNAL', `${this.table}: history slot ${slot} is newer than the batch's plan`);
  }

  /** The row's surrogate key: the version in effect on its order's date. */
  sk(order: OrderRows, i: number): number {
    const at = this.rows.at(order, i);
    const slot = this.slots[at]!;
    if (slot < 0 || this.changed[slot] === 0) {
      const sk = this.sks[at]!;
      if (Number.isNaN(sk)) throw new EtlError('E_INTERNAL', `${this.table}: record ${order.index} has no version for its row ${i}`);
      return sk;
    }
    // Agreed with the store before a later row of the batch changed its key's history.
    const history = this.known.get(slot);
    if (history === undefined) throw new EtlError('E_INTERNAL', `${this.table}: record ${order.index}: history slot ${slot} changed without being placed`);
    return versionAt(history, epochDay(order.orderDate))!.sk;
  }

  /**
   * The store takes the batch's histories in: the keys it knows by slot first (no slot is freed meanwhile),
   * then the new keys, which may evict the oldest. (Before, in order of first appearance: a new key's eviction
   * could have freed the slot of a known key set after it. Now a known key this batch changed may be among the
   * oldest evicted for a new one; what the store holds only decides what is looked up, never a result.)
   */
  commit(store: HistoryStore): void {
    for (const [slot, history] of this.known) store.setAt(slot, history);
    for (const [id, history] of this.fresh) store.set(id, history);
  }
}

/**
 * Let the writer's answers in (a plan made ahead shares the thread with the batch being written); if the
 * engine learned the warehouse anew meanwhile (a reconnect), stop: the batch is planned again when it is written.
 */
async function breatherWhileCurrent(current: () => boolean): Promise<void> {
  await breather();
  if (!current()) throw STALE;
}

/**
 * Rows per part of a bulk made ready in parts: a few ms of work. DuckDB's vector size, so that a part of
 * dimension rows fills one data chunk (fact parts are whole orders: a chunk of about that many lines). On MySQL
 * without LOAD DATA, each part is at least one INSERT statement of its own.
 */
const BULK_PART_ROWS = 2048;

/** Thrown out of a plan made ahead when the engine learned the warehouse anew meanwhile. */
const STALE = new Error('stale plan');

/** A plan that no epoch matches: its batch is planned again when it is written. */
const STALE_PLAN: PlannedBatch = {
  epoch: -1,
  customers: { kind: 'scd1', spec: CUSTOMERS as DimensionSpec<unknown>, inserts: null, updates: null },
  products: { kind: 'scd1', spec: PRODUCTS as DimensionSpec<unknown>, inserts: null, updates: null },
  facts: null,
  replace: null,
  rejects: [],
  counts: zeroCounts(),
};

interface PlannedBatch {
  epoch: number;
  customers: PlannedDimension;
  products: PlannedDimension;
  /** Lines of orders the fact table cannot hold yet: appended. */
  facts: PreparedBulk | null;
  /** Orders the fact table may hold: their lines replaced. */
  replace: PreparedBulk[] | null;
  rejects: Rejection[];
  counts: LoadCounts;
}

/** One SCD1 dimension's part of a batch: the surrogate key of each deduplicated row, rows to insert and to update. */
interface DimensionPlan {
  /** The surrogate key of each row, by its index in the rows planned. */
  sks: Float64Array;
  /** New natural keys, in order of first appearance, with their new surrogate keys. */
  inserts: PlannedRow[];
  /** Known keys whose attributes changed. */
  updates: PlannedRow[];
}

/** History: the days a batch observes keys on for the first time, as rows of the days table. */
class NewDays {
  private readonly ids: string[] = [];
  private readonly days: number[] = [];

  get count(): number {
    return this.ids.length;
  }

  add(id: string, day: number): void {
    this.ids.push(id);
    this.days.push(day);
  }

  /** The rows, in (natural key, day) order if `inKeyOrder`, else as added. */
  rows(inKeyOrder: boolean): BulkRows {
    const { ids, days } = this;
    const order = new Uint32Array(ids.length);
    for (let i = 0; i < order.length; i++) order[i] = i;
    if (inKeyOrder) order.sort((a, b) => (ids[a]! < ids[b]! ? -1 : ids[a]! > ids[b]! ? 1 : days[a]! - days[b]!));
    const rowsIn = (indexes: Uint32Array): BulkRows => {
      const row: BulkValue[] = new Array(2);
      return {
        count: indexes.length,
        each(visit) {
          for (const i of indexes) {
            row[0] = ids[i]!;
            row[1] = dateOf(days[i]!);
            visit(row);
          }
        },
        parts: (n) => partsOf(indexes, n, rowsIn),
      };
    };
    return rowsIn(order);
  }
}

/** Let pending I/O callbacks run (the statements of the batch being written) before going on. */
function breather(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function commitDimension(plan: DimensionPlan, keys: DimensionKeys): void {
  for (const r of plan.inserts) keys.set(r.id, r.sk, r.hash);
  for (const r of plan.updates) keys.set(r.id, r.sk, r.hash);
}

/** Rows visited one at a time through one reused array (see BulkRows). */
function rowsOf<T>(items: T[], fill: (item: T, out: BulkValue[]) => void, width: number): BulkRows {
  const out: BulkValue[] = new Array(width);
  return {
    count: items.length,
    each(visit) {
      for (const item of items) {
        fill(item, out);
        visit(out);
      }
    },
    parts: (n) => partsOf(items, n, (part) => rowsOf(part, fill, width)),
  };
}

/** The etl_settings row that keeps a history dimension's largest surrogate key handed out. */
function maxSkSetting(spec: DimensionSpec<unknown>): string {
  return `${spec.table}.max_sk`;
}

/** A version read by scanKeys, whose numbers are its surrogate key, valid_from and valid_to (epoch days). */
function versionOf(numbers: readonly (number | null)[], hash: number): HistoryVersion {
  return { sk: numbers[0]!, from: numbers[1]!, to: numbers[2] ?? null, hash };
}

function textOrNull(v: unknown): string | null {
  return v === null || v === undefined ? null : String(v);
}

/** Ids in groups whose bound parameters fit a statement of `budget` bytes (a UTF-16 unit is at most 3 bytes). */
function idChunks(ids: string[], budget: number): string[][] {
  const chunks: string[][] = [];
  let chunk: string[] = [];
  let size = 0;
  for (const id of ids) {
    const add = id.length * 3 + 8;
    if (chunk.length > 0 && size + add > budget) {
      chunks.push(chunk);
      chunk = [];
      size = 0;
    }
    chunk.push(id);
    size += add;
  }
  if (chunk.length > 0) chunks.push(chunk);
  return chunks;
}

/** Fact rows in primary-key order: the database appends to its index instead of splitting pages all over it. */
function factRows(orders: PreparedOrder[], customerSk: (o: PreparedOrder, i: number) => number, productSk: (o: PreparedOrder, i: number) => number): BulkRows {
  return linesOf([...orders].sort((a, b) => (a.orderId < b.orderId ? -1 : a.orderId > b.orderId ? 1 : 0)), customerSk, productSk);
}

/** The fact rows of `sorted`'s lines, in that order (parts: whole orders, about `n` lines each). */
function linesOf(sorted: PreparedOrder[], customerSk: (o: PreparedOrder, i: number) => number, productSk: (o: PreparedOrder, i: number) => number): BulkRows {
  let count = 0;
  for (const o of sorted) count += o.lines.length;
  const row: BulkValue[] = new Array(FACT_COLUMNS.length);
  return {
    count,
    parts(n) {
      const parts: BulkRows[] = [];
      for (let start = 0, end = 0, lines = 0; start < sorted.length; start = end, lines = 0) {
        while (end < sorted.length && (lines === 0 || lines + sorted[end]!.lines.length <= n)) lines += sorted[end++]!.lines.length;
        parts.push(linesOf(sorted.slice(start, end), customerSk, productSk));
      }
      return parts;
    },
    each(visit) {
      for (const o of sorted) {
        row[0] = o.orderId;
        row[2] = o.orderDate;
        row[3] = o.totalAmount;
        row[5] = customerSk(o, 0);
        const lines = o.lines;
        for (let i = 0; i < lines.length; i++) {
          row[1] = i + 1;
          row[4] = productSk(o, i);
          row[6] = lines[i]!.quantity;
          visit(row);
        }
      }
    },
  };
}

export function sourceKey(source: SourceIdentity): string {
  // A source read as its name says keeps the key it always had: ledgers written before framing counted hold it.
  const framing = source.framing === null ? '' : `\n${source.framing}`;
  return createHash('sha256').update(`${source.uri}\n${source.fingerprint ?? ''}${framing}`).digest('hex');
}
