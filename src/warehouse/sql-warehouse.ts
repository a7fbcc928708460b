/**
 * The load semantics, written once for every SQL dialect: ledger, SCD1 merge, surrogate key resolution,
 * order replacement, rejects, retries. A dialect (mysql/, duckdb/) supplies the connection, a few SQL
 * spellings and its fastest bulk path; it does not re-implement any rule.
 *
 * One connection, one writer: batches commit strictly in source order, which is what makes "last occurrence
 * wins" hold across batches. Per batch, in one transaction:
 *   1. dimension rows the cache does not know unchanged -> staging tables (the dialect's bulk path)
 *   2. SCD1 merge: UPDATE changed attributes in place, INSERT new natural keys (ordered by first appearance)
 *   3. resolveSurrogateKeys: one SELECT per dimension for exactly the staged natural keys
 *   4. the batch's orders are deleted and their lines written (a re-delivered order replaces its lines)
 *   5. rejects and the ledger's progress
 */
import { createHash } from 'node:crypto';
import { EtlError } from '../errors.ts';
import type { Batch } from '../model.ts';
import { DimensionCache } from './dimension-cache.ts';
import { LEDGER_TIMESTAMPS, LOADS_SQL, rejectsSql, timestampsToSeconds } from './ledger-views.ts';
import { bulkRows, CUSTOMERS, FACT_COLUMNS, PRODUCTS, REJECT_COLUMNS, type BulkRows, type BulkValue, type DimensionSpec } from './dimensions.ts';
import { prepareBatch, type PreparedBatch } from './prepare.ts';
import { addCounts, zeroCounts, type LoadCounts, type QuerySink, type SourceIdentity, type SourcePlan, type Warehouse, type WarehouseAccess, type WarehouseCapabilities } from './types.ts';

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
  /** Empty a staging table (outside the batch transaction). */
  clear(table: string): string;
  /** Overwrite changed attributes of existing keys from the staging table; returns rows changed. */
  updateChanged(spec: DimensionSpec<unknown>): string;
}

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
 * Dimension rows remembered per dimension (bounded): unchanged ones skip staging and merging. 100,000
 * customers are about 20 MB; beyond that the least recently seen are merged again, which is correct, only
 * slower (bench/RESULTS.md: customers are the largest dimension step at 1 M orders).
 */
const CACHE_ENTRIES = 100_000;

export abstract class SqlWarehouse implements Warehouse {
  abstract readonly dialect: string;
  abstract readonly location: string;
  protected abstract readonly sql: DialectSql;
  protected abstract readonly schemaDdl: readonly string[];
  protected abstract readonly stagingDdl: readonly string[];
  protected caps: WarehouseCapabilities = { maxStatementBytes: 4 * 1024 * 1024 };
  private readonly retry: RetryPolicy;
  protected readonly access: WarehouseAccess;
  private readonly customerCache = new DimensionCache(CACHE_ENTRIES);
  private readonly productCache = new DimensionCache(CACHE_ENTRIES);
  /** What the ledger holds for each load this process writes (to settle a commit of unknown outcome). */
  private readonly loads = new Map<number, { uri: string; counts: LoadCounts }>();
  private connected = false;
  /** Set once a connection has been opened: a later open() is a reconnect. */
  private everConnected = false;
  /** Set by close(): nothing runs and nothing reconnects after it. */
  private closed = false;
  /** The tail of the chain of operations: one at a time on the one connection (see serial). */
  private queue: Promise<unknown> = Promise.resolve();
  protected lockTimeout: number | null = null;
  /** Milliseconds spent per step of applyBatch, summed over the run (for the bench's breakdown). */
  readonly timings: Record<string, number> = {};
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
  /** Two-column result as text pairs (natural key, surrogate key). */
  protected abstract pairs(sql: string): Promise<[string, string][]>;
  /** Any query's result as column names and rows, whole. */
  protected abstract table(sql: string): Promise<{ columns: string[]; rows: unknown[][] }>;
  /** Any query's result, streamed to `sink` with backpressure (each dialect's query.ts). */
  protected abstract streamRows(sql: string, sink: QuerySink): Promise<void>;
  /** Write rows into a table by the dialect's fastest path. `kind` says what they are. */
  protected abstract bulkWrite(table: string, columns: readonly string[], rows: BulkRows, kind: 'stage' | 'facts' | 'rejects'): Promise<void>;

  // --- the Warehouse interface ---------------------------------------------------------------------------

  ensureSchema(): Promise<void> {
    return this.serial(() => this.createSchema());
  }

  lock(timeoutSeconds: number): Promise<void> {
    return this.serial(() => this.takeLock(timeoutSeconds));
  }

  beginLoad(): Promise<void> {
    return this.serial(() => this.prepareLoad());
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
          if (started && this.isTransient(err)) {
            throw new EtlError('E_DB_CONNECTION', `lost ${this.location} while the result was being written: ${(err as Error).message}`, {}, { cause: err });
          }
          throw err;
        }
      }),
    );
  }

  streamLoads(sink: QuerySink): Promise<void> {
    return this.streamQuery(LOADS_SQL, timestampsToSeconds(sink, LEDGER_TIMESTAMPS));
  }

  streamRejects(loadId: number | null, sink: QuerySink): Promise<void> {
    return this.streamQuery(rejectsSql(loadId), sink);
  }

  planSource(source: SourceIdentity, force: boolean): Promise<SourcePlan> {
    return this.serial(() => this.plan(source, force));
  }

  applyBatch(loadId: number, batch: Batch): Promise<LoadCounts> {
    return this.serial(() => this.apply(loadId, batch));
  }

  finishSource(loadId: number, status: 'completed' | 'failed', error?: string): Promise<void> {
    return this.serial(() =>
      this.withRetry('update the load ledger', async () => {
        await this.exec(`UPDATE etl_loads SET status = ?, error = ?, finished_at = ${this.sql.now}, updated_at = ${this.sql.now} WHERE load_id = ?`, [
          status,
          error === undefined ? null : error.slice(0, 60000),
          loadId,
        ]);
      }),
    );
  }

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
    // open() takes the lock again on every new connection once lockTimeout is set.
    this.lockTimeout = timeoutSeconds;
    if (this.connected) await this.acquireLock(timeoutSeconds);
    else await this.ensureConnected();
  }

  protected async createSchema(): Promise<void> {
    await this.withRetry('create the schema', async () => {
      for (const ddl of this.schemaDdl) await this.exec(ddl);
    });
  }

  /** Before the first batch of a run (after lock and schema). */
  protected async prepareLoad(): Promise<void> {}

  /** After the last batch of a run, successful or not: undo what prepareLoad did. */
  protected async finishLoad(): Promise<void> {}

  // --- ledger and batches ----------------------------------------------------------------------------------

  private async plan(source: SourceIdentity, force: boolean): Promise<SourcePlan> {
    const key = sourceKey(source);
    return this.withRetry('read the load ledger', async () => {
      if (source.fingerprint !== null && !force) {
        const [last] = await this.select(
          `SELECT load_id, status, records_committed, ${LEDGER_COLUMNS} FROM etl_loads WHERE source_key = ? ORDER BY load_id DESC LIMIT 1`,
          [key],
        );
        if (last) {
          const loadId = Number(last.load_id);
          const counts = ledgerCounts(last);
          if (last.status === 'completed') return { action: 'skip', loadId, counts };
          const resumeFrom = Number(last.records_committed);
          await this.exec(`UPDATE etl_loads SET status = 'running', error = NULL, updated_at = ${this.sql.now} WHERE load_id = ?`, [loadId]);
          this.loads.set(loadId, { uri: source.uri, counts });
          return { action: 'load', loadId, resumeFrom, counts };
        }
      }
      const [next] = await this.select('SELECT COALESCE(MAX(load_id), 0) + 1 AS id FROM etl_loads');
      const loadId = Number(next!.id);
      await this.exec(
        `INSERT INTO etl_loads (load_id, source_uri, source_key, fingerprint, status, started_at, updated_at) VALUES (?, ?, ?, ?, 'running', ${this.sql.now}, ${this.sql.now})`,
        [loadId, source.uri, key, source.fingerprint],
      );
      this.loads.set(loadId, { uri: source.uri, counts: zeroCounts() });
      return { action: 'load', loadId, resumeFrom: 0, counts: zeroCounts() };
    });
  }

  private async apply(loadId: number, batch: Batch): Promise<LoadCounts> {
    const prepared = prepareBatch(batch);
    const load = this.loads.get(loadId);
    if (!load) throw new EtlError('E_INTERNAL', `load ${loadId} was not planned`);
    return this.withRetry(
      `commit records ${batch.firstIndex}..${batch.nextIndex - 1}`,
      async () => {
        const counts = await this.applyPrepared(loadId, load.uri, prepared, batch);
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
        return counts;
      },
    );
  }

  // --- one batch -----------------------------------------------------------------------------------------

  protected async timed<T>(step: string, work: () => Promise<T>): Promise<T> {
    const t = performance.now();
    try {
      return await work();
    } finally {
      this.timings[step] = (this.timings[step] ?? 0) + performance.now() - t;
    }
  }

  private async applyPrepared(loadId: number, uri: string, p: PreparedBatch, batch: Batch): Promise<LoadCounts> {
    const counts = zeroCounts();
    // Staging is emptied outside the transaction: on MySQL a DELETE inside it leaves delete-marked rows that
    // temporary tables never purge, and every later join scans them (measured: key lookups 8x slower by batch 200).
    await this.exec(this.sql.clear(CUSTOMERS.stage));
    await this.exec(this.sql.clear(PRODUCTS.stage));
    await this.exec('BEGIN');
    try {
      const customers = await this.timed('customers', () => this.mergeScd1(CUSTOMERS, p.customers, this.customerCache));
      const products = await this.timed('products', () => this.mergeScd1(PRODUCTS, p.products, this.productCache));
      counts.customersInserted = customers.inserted;
      counts.customersUpdated = customers.updated;
      counts.productsInserted = products.inserted;
      counts.productsUpdated = products.updated;
      if (p.orders.length > 0) {
        const ids = p.orders.map((o) => o.orderId);
        await this.timed('delete orders', () => this.deleteOrders(ids));
        if (p.factRows > 0) await this.timed('facts', () => this.bulkWrite('orders', FACT_COLUMNS, factRows(p, customers.keys, products.keys), 'facts'));
        counts.orders = p.orders.length;
        counts.factRows = p.factRows;
      }
      if (p.rejects.length > 0) {
        // Idempotent by (load, record): a retried or resumed batch replaces its own rejects.
        await this.exec('DELETE FROM etl_rejects WHERE load_id = ? AND record_index >= ? AND record_index < ?', [loadId, batch.firstIndex, batch.nextIndex]);
        const rows = p.rejects.map((r): BulkValue[] => [loadId, r.index, uri, r.offset, r.reason.slice(0, 1024), r.raw]);
        await this.bulkWrite('etl_rejects', REJECT_COLUMNS, bulkRows(rows), 'rejects');
        counts.rejected = p.rejects.length;
      }
      await this.exec(
        `UPDATE etl_loads SET records_committed = ?, batches_committed = batches_committed + 1, updated_at = ${this.sql.now},
           ${LEDGER_COUNTS.map(([k, c]) => `${c} = ${c} + ${counts[k]}`).join(', ')}
         WHERE load_id = ?`,
        [batch.nextIndex, loadId],
      );
      await this.timed('commit', () => this.exec('COMMIT'));
      customers.commit();
      products.commit();
    } catch (err) {
      await this.exec('ROLLBACK').catch(() => {});
      throw err;
    }
    return counts;
  }

  /** SCD Type 1 for one dimension. Rows the cache knows unchanged skip all of it. */
  private async mergeScd1<R>(spec: DimensionSpec<R>, rows: R[], cache: DimensionCache) {
    const keys = new Map<string, string>();
    const staged: { id: string; values: (string | null)[] }[] = [];
    const stageRows: BulkValue[][] = [];
    for (const r of rows) {
      const id = spec.id(r);
      const values = spec.values(r);
      const sk = cache.hit(id, values);
      if (sk !== undefined) {
        keys.set(id, sk);
        continue;
      }
      stageRows.push([stageRows.length, id, ...values]);
      staged.push({ id, values });
    }
    const result = { inserted: 0, updated: 0, keys, commit: () => {} };
    if (stageRows.length === 0) return result;
    const { table: t, stage: s, naturalKey: nk, surrogateKey: sk, attributes } = spec;
    const cols = [nk, ...attributes];
    await this.bulkWrite(s, ['seq', ...cols], bulkRows(stageRows), 'stage');
    result.updated = await this.exec(this.sql.updateChanged(spec as DimensionSpec<unknown>));
    // Surrogate keys are handed out by the database as the next numbers after the largest one, in order of
    // first appearance. Not AUTO_INCREMENT's counter: a rolled-back batch (a retry, a crash) would leave a
    // gap in it, and the same input would end with other keys than a clean run. This way the keys depend only
    // on the input and its order, identical after any fault and re-run, and identical on every dialect.
    // Safe because one writer holds the warehouse lock.
    result.inserted = await this.exec(
      `INSERT INTO ${t} (${sk}, ${cols.join(', ')})
       SELECT m.top + ROW_NUMBER() OVER (ORDER BY s.seq), ${cols.map((c) => `s.${c}`).join(', ')}
         FROM ${s} s
        CROSS JOIN (SELECT COALESCE(MAX(${sk}), 0) AS top FROM ${t}) m
         LEFT JOIN ${t} d ON d.${nk} = s.${nk}
        WHERE d.${sk} IS NULL`,
    );
    for (const [id, key] of await this.pairs(`SELECT s.${nk}, d.${sk} FROM ${s} s JOIN ${t} d ON d.${nk} = s.${nk}`)) keys.set(id, key);
    result.commit = () => {
      for (const e of staged) cache.set(e.id, keys.get(e.id)!, e.values);
    };
    return result;
  }

  /** Delete the batch's orders (their lines are about to be written again), in statements that fit. */
  private async deleteOrders(ids: string[]): Promise<void> {
    const budget = Math.floor(this.caps.maxStatementBytes / 3) - 64;
    let start = 0;
    while (start < ids.length) {
      let size = 0;
      let end = start;
      while (end < ids.length && (end === start || size + ids[end]!.length * 2 + 8 < budget)) size += ids[end++]!.length * 2 + 8;
      const chunk = ids.slice(start, end);
      await this.exec(`DELETE FROM orders WHERE order_id IN (${chunk.map(() => '?').join(',')})`, chunk);
      start = end;
    }
  }

  // --- connection and retries ----------------------------------------------------------------------------

  protected async ensureConnected(): Promise<void> {
    if (this.connected) return;
    if (this.closed) throw new EtlError('E_INTERNAL', `${this.location} is closed; not reconnecting`);
    if (this.everConnected) {
      // A new connection is a new session: the named lock of the old one died with it, and another load may
      // have changed the warehouse in between. What the caches say about committed rows can no longer be
      // trusted (nor can the cache updates of a commit that was settled from the ledger, which never ran).
      this.customerCache.clear();
      this.productCache.clear();
    }
    this.everConnected = true;
    await this.open();
    // Staging tables are temporary: they belong to the connection, so each new one creates them once.
    if (this.access === 'write') for (const ddl of this.stagingDdl) await this.exec(ddl);
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
        // Only the database's own transient failures (and our "not connected") are retried; never after close().
        if (this.closed || (!this.isTransient(err) && !(err instanceof EtlError && err.code === 'E_DB_CONNECTION' && err.transient))) {
          throw this.asEtlError(err, what);
        }
        this.connected = false;
        this.discard();
        uncertain = true;
        if (attempt++ >= this.retry.retries) {
          throw new EtlError('E_DB_CONNECTION', `gave up after ${attempt} attempts to ${what} on ${this.location}: ${(err as Error).message}`, {}, { cause: err, transient: true });
        }
        this.retries++;
        await new Promise((r) => setTimeout(r, Math.min(5000, this.retry.backoffMs * 2 ** (attempt - 1))));
      }
    }
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

/** Fact rows in primary-key order: the database appends to its index instead of splitting pages all over it. */
function factRows(p: PreparedBatch, customerSk: Map<string, string>, productSk: Map<string, string>): BulkRows {
  const sorted = [...p.orders].sort((a, b) => (a.orderId < b.orderId ? -1 : a.orderId > b.orderId ? 1 : 0));
  const row: BulkValue[] = new Array(FACT_COLUMNS.length);
  return {
    count: p.factRows,
    each(visit) {
      for (const o of sorted) {
        row[0] = o.orderId;
        row[2] = o.orderDate;
        row[3] = o.totalAmount;
        row[5] = customerSk.get(o.customerId)!;
        for (const l of o.lines) {
          row[1] = l.lineNo;
          row[4] = productSk.get(l.productId)!;
          row[6] = l.quantity;
          visit(row);
        }
      }
    },
  };
}

export function sourceKey(source: SourceIdentity): string {
  return createHash('sha256').update(`${source.uri}\n${source.fingerprint ?? ''}`).digest('hex');
}
