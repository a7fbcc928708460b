/**
 * MySQL/MariaDB warehouse. One connection, one writer: batches commit strictly in source order, which is
 * what makes "last occurrence wins" hold across batches.
 *
 * Per batch, in one transaction:
 *   1. dimension rows -> per-connection staging tables (multi-row INSERT sized from max_allowed_packet)
 *   2. SCD1 merge: UPDATE ... JOIN for changed attributes, INSERT ... SELECT ... LEFT JOIN for new keys
 *   3. resolveSurrogateKeys: one SELECT per dimension for exactly this batch's natural keys
 *   4. the batch's orders are deleted and their lines inserted (a re-delivered order replaces its lines)
 *   5. rejects and the ledger's progress
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { EtlError } from '../../errors.ts';
import type { Batch } from '../../pipeline/batch.ts';
import { prepareBatch, type PreparedBatch } from '../prepare.ts';
import { addCounts, zeroCounts, type LoadCounts, type SourceIdentity, type SourcePlan, type Warehouse, type WarehouseCapabilities } from '../types.ts';
import { connect, isTransient, type Connection, type MysqlTarget } from './connection.ts';
import { SCHEMA_DDL, STAGING_DDL } from './ddl.ts';
import { CUSTOMERS, mergeScd1, PRODUCTS } from './scd1.ts';
import { DimensionCache } from '../dimension-cache.ts';
import { chunkedStatements, num, str } from './sql.ts';

export interface RetryPolicy {
  /** Attempts per batch after the first. */
  retries: number;
  /** First backoff in ms; doubles each attempt, capped at 5 s. */
  backoffMs: number;
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

export class MysqlWarehouse implements Warehouse {
  readonly dialect = 'mysql';
  readonly location: string;
  private readonly target: MysqlTarget;
  private readonly retry: RetryPolicy;
  private conn: Connection | null = null;
  private caps: WarehouseCapabilities = { maxStatementBytes: 4 * 1024 * 1024 };
  private lockTimeout: number | null = null;
  /** Dimension rows committed by this process (bounded): unchanged ones skip staging and merging. */
  private readonly customerCache = new DimensionCache(50_000);
  private readonly productCache = new DimensionCache(50_000);
  /** The server takes LOAD DATA LOCAL INFILE (local_infile=ON): the fastest way in for fact rows. */
  private loadDataLocal = false;
  /** What the ledger holds for each load this process writes (to settle a commit of unknown outcome). */
  private readonly loads = new Map<number, { uri: string; counts: LoadCounts }>();

  constructor(target: MysqlTarget, retry: RetryPolicy) {
    this.target = target;
    this.location = target.display;
    this.retry = retry;
  }

  get capabilities(): WarehouseCapabilities {
    return this.caps;
  }

  private async connection(): Promise<Connection> {
    if (this.conn) return this.conn;
    const conn = await connect(this.target);
    try {
      const [rows] = await conn.query('SELECT @@max_allowed_packet AS p, @@local_infile AS li');
      const row = (rows as { p: number | string; li: number | string }[])[0]!;
      const packet = Number(row.p);
      this.loadDataLocal = Number(row.li) === 1 && process.env.ORDERS_ETL_NO_LOAD_DATA !== '1';
      // Leave room for the protocol header and the statement text around the values.
      this.caps = { maxStatementBytes: Math.max(1024, packet - 1024) };
      if (this.lockTimeout !== null) await this.acquireLock(conn, this.lockTimeout);
    } catch (err) {
      await conn.end().catch(() => {});
      throw err;
    }
    this.conn = conn;
    return conn;
  }

  private dropConnection(): void {
    const c = this.conn;
    this.conn = null;
    if (c) c.destroy();
  }

  async ensureSchema(): Promise<void> {
    await this.withRetry('create the schema', async (conn) => {
      for (const ddl of SCHEMA_DDL) await conn.query(ddl);
    });
  }

  async lock(timeoutSeconds: number): Promise<void> {
    this.lockTimeout = timeoutSeconds;
    const conn = await this.connection();
    await this.acquireLock(conn, timeoutSeconds);
  }

  private async acquireLock(conn: Connection, timeoutSeconds: number): Promise<void> {
    // A named lock per database: a second load waits for the first instead of interleaving its batches.
    // It lives as long as the connection, so a killed process releases it by itself.
    const [rows] = await conn.query('SELECT GET_LOCK(?, ?) AS got', [`orders-etl:${this.target.database}`, timeoutSeconds]);
    if (Number((rows as { got: number | null }[])[0]!.got) !== 1) {
      throw new EtlError('E_LOCK', `another load holds ${this.location}; waited ${timeoutSeconds}s (--lock-timeout)`);
    }
  }

  async planSource(source: SourceIdentity, force: boolean): Promise<SourcePlan> {
    const key = sourceKey(source);
    return this.withRetry('read the load ledger', async (conn) => {
      if (source.fingerprint !== null && !force) {
        const [rows] = await conn.query(
          `SELECT load_id, status, records_committed, ${LEDGER_COUNTS.map(([, c]) => c).join(', ')}
             FROM etl_loads WHERE source_key = ? ORDER BY load_id DESC LIMIT 1`,
          [key],
        );
        const last = (rows as Record<string, unknown>[])[0];
        if (last) {
          const loadId = Number(last.load_id);
          const counts = zeroCounts();
          for (const [k, c] of LEDGER_COUNTS) counts[k] = Number(last[c]);
          if (last.status === 'completed') return { action: 'skip', loadId, counts };
          const resumeFrom = Number(last.records_committed);
          await conn.query("UPDATE etl_loads SET status = 'running', error = NULL, updated_at = NOW(3) WHERE load_id = ?", [loadId]);
          this.loads.set(loadId, { uri: source.uri, counts });
          return { action: 'load', loadId, resumeFrom, counts };
        }
      }
      const [res] = await conn.query(
        "INSERT INTO etl_loads (source_uri, source_key, fingerprint, status, started_at, updated_at) VALUES (?, ?, ?, 'running', NOW(3), NOW(3))",
        [source.uri, key, source.fingerprint],
      );
      const loadId = Number((res as { insertId: number }).insertId);
      this.loads.set(loadId, { uri: source.uri, counts: zeroCounts() });
      return { action: 'load', loadId, resumeFrom: 0, counts: zeroCounts() };
    });
  }

  async applyBatch(loadId: number, batch: Batch): Promise<LoadCounts> {
    const prepared = prepareBatch(batch);
    const load = this.loads.get(loadId);
    if (!load) throw new EtlError('E_INTERNAL', `load ${loadId} was not planned`);
    return this.withRetry(
      `commit records ${batch.firstIndex}..${batch.nextIndex - 1}`,
      async (conn) => {
        const counts = await this.applyPrepared(conn, loadId, load.uri, prepared, batch);
        load.counts = addedCounts(load.counts, counts);
        return counts;
      },
      // A commit whose outcome is unknown: the ledger row moves in the same transaction, so it says.
      async (conn) => {
        const [rows] = await conn.query(
          `SELECT records_committed, ${LEDGER_COUNTS.map(([, c]) => c).join(', ')} FROM etl_loads WHERE load_id = ?`,
          [loadId],
        );
        const row = (rows as Record<string, unknown>[])[0];
        if (!row || Number(row.records_committed) < batch.nextIndex) return null;
        const ledger = zeroCounts();
        for (const [k, c] of LEDGER_COUNTS) ledger[k] = Number(row[c]);
        const counts = zeroCounts();
        for (const k of Object.keys(counts) as (keyof LoadCounts)[]) counts[k] = ledger[k] - load.counts[k];
        load.counts = ledger;
        return counts;
      },
    );
  }

  private async applyPrepared(conn: Connection, loadId: number, uri: string, p: PreparedBatch, batch: Batch): Promise<LoadCounts> {
    const budget = this.caps.maxStatementBytes;
    const counts = zeroCounts();
    // Staging is emptied outside the transaction: DELETE inside it would leave delete-marked rows that
    // temporary tables never purge, and every later join would scan them (measured: 10x slower by batch 200).
    for (const ddl of STAGING_DDL) await conn.query(ddl);
    await conn.query('TRUNCATE TABLE stage_customers');
    await conn.query('TRUNCATE TABLE stage_products');
    await conn.query('START TRANSACTION');
    try {
      const customers = await mergeScd1(conn, CUSTOMERS, p.customers, this.customerCache, budget);
      const products = await mergeScd1(conn, PRODUCTS, p.products, this.productCache, budget);
      counts.customersInserted = customers.inserted;
      counts.customersUpdated = customers.updated;
      counts.productsInserted = products.inserted;
      counts.productsUpdated = products.updated;
      if (p.orders.length > 0) {
        const ids = p.orders.map((o) => str(o.orderId));
        for (const sql of chunkedStatements('DELETE FROM orders WHERE order_id IN (', ids, ')', budget)) await conn.query(sql);
        // An empty LOAD DATA stream confuses mysql2's packet sequence ("Got packets out of order"): skip it.
        if (p.factRows === 0) {
          // orders without lines: deleting their old lines was all there was to do
        } else if (this.loadDataLocal) await loadFactsInfile(conn, p, customers.keys, products.keys, budget);
        else await insertFacts(conn, p, customers.keys, products.keys, budget);
        counts.orders = p.orders.length;
        counts.factRows = p.factRows;
      }
      if (p.rejects.length > 0) {
        const tuples = p.rejects.map((r) => `(${loadId},${r.index},${str(uri)},${num(r.offset)},${str(r.reason.slice(0, 1024))},${str(r.raw)},NOW(3))`);
        for (const sql of chunkedStatements(
          'INSERT INTO etl_rejects (load_id, record_index, source_uri, byte_offset, reason, raw, rejected_at) VALUES ',
          tuples,
          ' ON DUPLICATE KEY UPDATE reason = VALUES(reason), raw = VALUES(raw), byte_offset = VALUES(byte_offset)',
          budget,
        )) {
          await conn.query(sql);
        }
        counts.rejected = p.rejects.length;
      }
      await conn.query(
        `UPDATE etl_loads SET records_committed = ?, batches_committed = batches_committed + 1, updated_at = NOW(3),
           ${LEDGER_COUNTS.map(([k, c]) => `${c} = ${c} + ${counts[k]}`).join(', ')}
         WHERE load_id = ?`,
        [batch.nextIndex, loadId],
      );
      await conn.query('COMMIT');
      customers.commit();
      products.commit();
    } catch (err) {
      await conn.query('ROLLBACK').catch(() => {});
      throw err;
    }
    return counts;
  }

  async finishSource(loadId: number, status: 'completed' | 'failed', error?: string): Promise<void> {
    await this.withRetry('update the load ledger', async (conn) => {
      await conn.query('UPDATE etl_loads SET status = ?, error = ?, finished_at = NOW(3), updated_at = NOW(3) WHERE load_id = ?', [
        status,
        error === undefined ? null : error.slice(0, 60000),
        loadId,
      ]);
    });
  }

  async close(): Promise<void> {
    const c = this.conn;
    this.conn = null;
    if (c) await c.end().catch(() => c.destroy());
  }

  /**
   * Run `work` in a fresh connection after a transient failure, with bounded exponential backoff. `settle`
   * decides, before a retry, whether the failed attempt committed after all.
   */
  private async withRetry<T>(what: string, work: (c: Connection) => Promise<T>, settle?: (c: Connection) => Promise<T | null>): Promise<T> {
    let attempt = 0;
    let uncertain = false;
    for (;;) {
      try {
        const conn = await this.connection();
        if (uncertain && settle) {
          const settled = await settle(conn);
          if (settled !== null) return settled;
        }
        return await work(conn);
      } catch (err) {
        if (!isTransient(err) && !(err instanceof EtlError && err.transient)) throw asEtlError(err, what, this.location);
        this.dropConnection();
        uncertain = true;
        if (attempt++ >= this.retry.retries) {
          throw new EtlError('E_DB_CONNECTION', `gave up after ${attempt} attempts to ${what} on ${this.location}: ${(err as Error).message}`, {}, { cause: err, transient: true });
        }
        await sleep(Math.min(5000, this.retry.backoffMs * 2 ** (attempt - 1)));
      }
    }
  }
}

/** Fact rows as multi-row INSERTs, each within max_allowed_packet: the fallback when LOAD DATA LOCAL is off. */
async function insertFacts(conn: Connection, p: PreparedBatch, customerSk: Map<string, string>, productSk: Map<string, string>, budget: number): Promise<void> {
  const tuples: string[] = [];
  for (const o of p.orders) {
    const csk = customerSk.get(o.customerId)!;
    const head = `(${str(o.orderId)},`;
    const tail = `,${str(o.orderDate)},${num(o.totalAmount)},`;
    for (const l of o.lines) tuples.push(`${head}${l.lineNo}${tail}${productSk.get(l.productId)!},${csk},${l.quantity})`);
  }
  for (const sql of chunkedStatements(`INSERT INTO orders (${FACT_COLUMNS}) VALUES `, tuples, '', budget)) await conn.query(sql);
}

const FACT_COLUMNS = 'order_id, line_no, order_date, total_amount, product_sk, customer_sk, quantity';

/**
 * Fact rows through LOAD DATA LOCAL INFILE, streamed by mysql2 from memory (the file name is a dummy; the
 * bytes come from infileStreamFactory). LOCAL turns data errors into warnings, so any warning fails the batch:
 * the rows are exactly what the transform validated, and a warning means something is wrong.
 */
async function loadFactsInfile(conn: Connection, p: PreparedBatch, customerSk: Map<string, string>, productSk: Map<string, string>, budget: number): Promise<void> {
  const parts: string[] = [];
  // In primary-key order: InnoDB appends to the clustered index instead of splitting pages all over it.
  const sorted = [...p.orders].sort((a, b) => (a.orderId < b.orderId ? -1 : a.orderId > b.orderId ? 1 : 0));
  for (const o of sorted) {
    const csk = customerSk.get(o.customerId)!;
    const head = `${tsv(o.orderId)}\t`;
    const tail = `\t${o.orderDate}\t${o.totalAmount ?? '\\N'}\t`;
    for (const l of o.lines) parts.push(`${head}${l.lineNo}${tail}${productSk.get(l.productId)!}\t${csk}\t${l.quantity}\n`);
  }
  const data = Buffer.from(parts.join(''), 'utf8');
  // mysql2 sends each chunk of the stream as one packet: keep them under max_allowed_packet.
  const piece = Math.min(256 * 1024, budget);
  const pieces: Buffer[] = [];
  for (let i = 0; i < data.length; i += piece) pieces.push(data.subarray(i, i + piece));
  const [res] = await conn.query({
    sql: `LOAD DATA LOCAL INFILE 'facts.tsv' INTO TABLE orders CHARACTER SET utf8mb4 (${FACT_COLUMNS})`,
    infileStreamFactory: () => Readable.from(pieces),
  });
  const header = res as { affectedRows: number; warningStatus?: number };
  if (header.warningStatus || header.affectedRows !== p.factRows) {
    const [warnings] = await conn.query('SHOW WARNINGS LIMIT 3');
    throw new EtlError('E_DB', `LOAD DATA of ${p.factRows} fact rows stored ${header.affectedRows}: ${JSON.stringify(warnings)}`);
  }
}

const TSV_SPECIAL = /[\\\t\n\r\0]/;
const TSV_ALL = /[\\\t\n\r\0]/g;
const TSV_ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r', '\0': '\\0' };

/** LOAD DATA's default text format: tab-separated, backslash escapes, \N for NULL. */
function tsv(s: string): string {
  return TSV_SPECIAL.test(s) ? s.replace(TSV_ALL, (c) => TSV_ESCAPES[c]!) : s;
}

function addedCounts(a: LoadCounts, b: LoadCounts): LoadCounts {
  const out = { ...a };
  addCounts(out, b);
  return out;
}

export function sourceKey(source: SourceIdentity): string {
  return createHash('sha256').update(`${source.uri}\n${source.fingerprint ?? ''}`).digest('hex');
}

function asEtlError(err: unknown, what: string, location: string): Error {
  if (err instanceof EtlError) return err;
  const e = err as { message?: string; code?: string };
  return new EtlError('E_DB', `cannot ${what} on ${location}: ${e.message ?? String(err)}`, {}, { cause: err });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
