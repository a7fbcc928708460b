/**
 * The database boundary. The pipeline talks to this interface only; each dialect (mysql/, duckdb/) is a
 * folder behind it. Nothing outside src/warehouse knows which database it writes to.
 */
import type { Batch, HistoryMode } from '../model.ts';

/** The step that plans a batch while the batch before it is written: Node's work, beside the writer's. */
export const PLAN_AHEAD_STEP = 'plan ahead';

/**
 * Steps outside batches (so not a part of `writerMs`): when a load starts (the history keys dropped by a MariaDB
 * bulk load into a history warehouse, or keys a killed load left missing built), or at its end.
 */
export const BUILD_FACT_KEYS_STEP = 'build fact keys';
/** History keys: the days tables' primary keys and the history dimensions' version indexes (MysqlWarehouse.dropHistoryKeys). */
export const BUILD_HISTORY_KEYS_STEP = 'build history keys';
export const DROP_HISTORY_KEYS_STEP = 'drop history keys';
export const DEFERRED_MOVES_STEP = 'move deferred facts';
export const DEFERRED_REPLACES_STEP = 'replace redelivered orders';

export interface SourceIdentity {
  /** Where the bytes come from, redacted (file path, s3://bucket/key, `-`). */
  uri: string;
  /** What makes this version of the source distinct: ETag/version id, or size and mtime. Null: unknown (stdin). */
  fingerprint: string | null;
  /**
   * How records are found in its bytes, where that is not what its name says (a --format or --records-path):
   * record indexes, and what was loaded, mean something else under another framing. Null: the name's.
   */
  framing: string | null;
  /** The same as the flags that set it (`--format ndjson --records-path data.orders`), for `orders-etl loads`. */
  readWith: string | null;
}

export interface LoadCounts {
  orders: number;
  factRows: number;
  customersInserted: number;
  customersUpdated: number;
  productsInserted: number;
  productsUpdated: number;
  rejected: number;
}

export function zeroCounts(): LoadCounts {
  return { orders: 0, factRows: 0, customersInserted: 0, customersUpdated: 0, productsInserted: 0, productsUpdated: 0, rejected: 0 };
}

export function addCounts(into: LoadCounts, add: LoadCounts): void {
  for (const k of Object.keys(into) as (keyof LoadCounts)[]) into[k] += add[k];
}

export type SourcePlan =
  /** Loaded completely before; nothing to do unless forced. */
  | { action: 'skip'; loadId: number; counts: LoadCounts }
  /** Load from record `resumeFrom` (0: from the start) under ledger entry `loadId`. */
  | { action: 'load'; loadId: number; resumeFrom: number; counts: LoadCounts };

/**
 * `write`: load and init (the database or file is created when missing). `read`: orders-etl query and the
 * ledger views: nothing is created, a missing warehouse is an error, and the session cannot change data.
 */
export type WarehouseAccess = 'write' | 'read';

/**
 * What a result column holds, so that every dialect's values come out by one rule (README, *Query output*):
 * `integer` cells are numbers or bigints (or digit strings beyond the driver's safe range), `decimal` cells the
 * exact digits as text ("12.50"), `float` cells numbers, `boolean` cells booleans, `text` cells strings
 * (dates and timestamps as the database writes them, other types as their text).
 */
export type ColumnKind = 'integer' | 'decimal' | 'float' | 'boolean' | 'text';

export interface QueryColumn {
  name: string;
  kind: ColumnKind;
}

export type QueryCell = null | boolean | number | bigint | string;

/** Where a streamed result goes. Each call is awaited before more rows are read: that is the backpressure. */
export interface QuerySink {
  /** The result's columns, once, before any row. */
  columns(columns: QueryColumn[]): void | Promise<void>;
  /** The next rows, in order, a bounded number at a time. */
  rows(rows: QueryCell[][]): void | Promise<void>;
}

/** What a run is about to load, so that a dialect can prepare for its size (MysqlWarehouse.prepareLoad). */
export interface LoadIntent {
  sources: { source: SourceIdentity; bytes: number | null }[];
  /** --force: sources the ledger says are loaded are loaded again. */
  force: boolean;
  /** --keep-fact-keys: the fact table keeps its secondary keys whatever the load's size. */
  keepFactKeys: boolean;
}

export interface WarehouseCapabilities {
  /** Largest statement the server accepts, in bytes (MySQL's max_allowed_packet). */
  readonly maxStatementBytes: number;
  /** Orders per batch when --batch-size is not given (bench/RESULTS.md, the sweep). */
  readonly defaultBatchSize: number;
  /**
   * Every load lets the engine's heap grow further between full collections (pipeline/load.ts, heapGrowth),
   * not only a load into a history warehouse: where the warehouse's data lives outside the process (MySQL),
   * not where its buffers share the process's memory budget (DuckDB).
   */
  readonly growHeap: boolean;
}

export interface Warehouse {
  /** `mysql` or `duckdb`: for messages only. */
  readonly dialect: string;
  /** Where the data goes, with credentials removed. */
  readonly location: string;
  readonly capabilities: WarehouseCapabilities;
  /**
   * Milliseconds per step of applying batches, summed (for the summary's breakdown). Every step but
   * `PLAN_AHEAD_STEP`, `BUILD_FACT_KEYS_STEP`, `BUILD_HISTORY_KEYS_STEP`, `DROP_HISTORY_KEYS_STEP`, `DEFERRED_MOVES_STEP`
   * and `DEFERRED_REPLACES_STEP` (and their parts) is a part of `writerMs`.
   */
  readonly timings: Readonly<Record<string, number>>;
  /**
   * The writer's own wall time applying batches, one batch at a time: from taking a batch up (waiting for
   * its plan if it is not ready: `wait for plan`) to its commit. A batch planned ahead is planned while the
   * batch before it is written: that planning is in here only as far as the writer waits for it.
   */
  readonly writerMs: number;
  /** Operations retried on a fresh connection after a transient failure (lost connection, deadlock, lock wait). */
  readonly retries: number;
  /**
   * Create whatever part of the star schema, ledger and rejects tables is missing, with the warehouse's
   * history mode (recorded when it is created; `history` asks for one, and fails if the warehouse has another).
   * Finishes what a load killed before its end left undone. `forLoad`: a load follows (beginLoad), which
   * decides whether the fact table's keys such a load left missing are built before it or after it.
   */
  ensureSchema(history?: HistoryMode, forLoad?: boolean): Promise<HistoryMode>;
  /** Keep other loads out of this warehouse until `close` (waits up to `timeoutSeconds`). */
  lock(timeoutSeconds: number): Promise<void>;
  /** Before the first batch of a run (after lock and schema): a dialect may prepare for bulk loading. */
  beginLoad(intent: LoadIntent): Promise<void>;
  /** After the last batch of a run, successful or not: undo whatever beginLoad did. */
  endLoad(): Promise<void>;
  /** Look the source up in the ledger and decide what to do with it. */
  planSource(source: SourceIdentity, force: boolean): Promise<SourcePlan>;
  /** Apply one batch atomically: dimension merge, facts, rejects and ledger progress commit together. */
  applyBatch(loadId: number, batch: Batch): Promise<LoadCounts>;
  /** Run any SQL and return its result, whole (small results only; `orders-etl query` streams). */
  query(sql: string): Promise<{ columns: string[]; rows: unknown[][] }>;
  /** Run any SQL and hand its result to `sink` as it arrives, in bounded memory (`orders-etl query`). */
  streamQuery(sql: string, sink: QuerySink): Promise<void>;
  /** The load ledger, one row per source load, newest first (`orders-etl loads`); a killed load's `running` row shows as `interrupted` where the warehouse can tell. */
  streamLoads(sink: QuerySink): Promise<void>;
  /** The rejected records of one load, or of all loads, in load and record order (`orders-etl rejects`). */
  streamRejects(loadId: number | null, sink: QuerySink): Promise<void>;
  /** Mark the ledger entry finished (or failed, with the error's message). */
  finishSource(loadId: number, status: 'completed' | 'failed', error?: string): Promise<void>;
  /**
   * Stop the statement running on the server, from a connection of its own (MySQL: KILL QUERY), for Ctrl-C during
   * `orders-etl query`: a server hears that a client went away only when it next writes to it. DuckDB runs in
   * this process, and stops with it: nothing to do.
   */
  stopStatement(): Promise<void>;
  close(): Promise<void>;
}
