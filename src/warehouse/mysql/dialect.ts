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
import { EtlError } from '../../errors.ts';
import type { Batch } from '../../pipeline/batch.ts';
import { prepareBatch, type PreparedBatch } from '../prepare.ts';
import { addCounts, zeroCounts, type LoadCounts, type SourceIdentity, type SourcePlan, type Warehouse, type WarehouseCapabilities } from '../types.ts';
import { connect, isTransient, type Connection, type MysqlTarget } from './connection.ts';
import { SCHEMA_DDL, STAGING_DDL } from './ddl.ts';
import { chunkedStatements, num, str } from './sql.ts';

interface ResultHeader {
  affectedRows: number;
  changedRows?: number;
}

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
      const [rows] = await conn.query('SELECT @@max_allowed_packet AS p');
      const packet = Number((rows as { p: number | string }[])[0]!.p);
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
    await conn.query('START TRANSACTION');
    try {
      for (const ddl of STAGING_DDL) await conn.query(ddl);
      if (p.customers.length > 0) {
        await conn.query('DELETE FROM stage_customers');
        const tuples = p.customers.map((c, i) => `(${i},${str(c.customerId)},${str(c.name)},${str(c.email)},${str(c.address)})`);
        for (const sql of chunkedStatements('INSERT INTO stage_customers (seq, customer_id, name, email, address) VALUES ', tuples, '', budget)) {
          await conn.query(sql);
        }
        counts.customersUpdated = changed(
          await conn.query(
            `UPDATE customers c JOIN stage_customers s ON c.customer_id = s.customer_id
                SET c.name = s.name, c.email = s.email, c.address = s.address
              WHERE NOT (c.name <=> s.name AND c.email <=> s.email AND c.address <=> s.address)`,
          ),
        );
        counts.customersInserted = inserted(
          await conn.query(
            `INSERT INTO customers (customer_id, name, email, address)
             SELECT s.customer_id, s.name, s.email, s.address FROM stage_customers s
               LEFT JOIN customers c ON c.customer_id = s.customer_id
              WHERE c.customer_sk IS NULL ORDER BY s.seq`,
          ),
        );
      }
      if (p.products.length > 0) {
        await conn.query('DELETE FROM stage_products');
        const tuples = p.products.map((r, i) => `(${i},${str(r.productId)},${str(r.name)},${str(r.category)},${num(r.price)})`);
        for (const sql of chunkedStatements('INSERT INTO stage_products (seq, product_id, name, category, price) VALUES ', tuples, '', budget)) {
          await conn.query(sql);
        }
        counts.productsUpdated = changed(
          await conn.query(
            `UPDATE products d JOIN stage_products s ON d.product_id = s.product_id
                SET d.name = s.name, d.category = s.category, d.price = s.price
              WHERE NOT (d.name <=> s.name AND d.category <=> s.category AND d.price <=> s.price)`,
          ),
        );
        counts.productsInserted = inserted(
          await conn.query(
            `INSERT INTO products (product_id, name, category, price)
             SELECT s.product_id, s.name, s.category, s.price FROM stage_products s
               LEFT JOIN products d ON d.product_id = s.product_id
              WHERE d.product_sk IS NULL ORDER BY s.seq`,
          ),
        );
      }
      if (p.orders.length > 0) {
        const customerSk = await resolveSurrogateKeys(conn, 'SELECT s.customer_id AS id, c.customer_sk AS sk FROM stage_customers s JOIN customers c ON c.customer_id = s.customer_id');
        const productSk = p.products.length > 0
          ? await resolveSurrogateKeys(conn, 'SELECT s.product_id AS id, d.product_sk AS sk FROM stage_products s JOIN products d ON d.product_id = s.product_id')
          : new Map<string, string>();
        const ids = p.orders.map((o) => str(o.orderId));
        for (const sql of chunkedStatements('DELETE FROM orders WHERE order_id IN (', ids, ')', budget)) await conn.query(sql);
        const tuples: string[] = [];
        for (const o of p.orders) {
          const csk = customerSk.get(o.customerId)!;
          const head = `(${str(o.orderId)},`;
          const tail = `,${str(o.orderDate)},${num(o.totalAmount)},`;
          for (const l of o.lines) {
            tuples.push(`${head}${l.lineNo}${tail}${productSk.get(l.productId)!},${csk},${l.quantity})`);
          }
        }
        for (const sql of chunkedStatements('INSERT INTO orders (order_id, line_no, order_date, total_amount, product_sk, customer_sk, quantity) VALUES ', tuples, '', budget)) {
          await conn.query(sql);
        }
        counts.orders = p.orders.length;
        counts.factRows = p.factRows;
      }
      if (p.rejects.length > 0) {
        const tuples = p.rejects.map((r) => `(${loadId},${r.index},${str(uri)},${r.offset},${str(r.reason.slice(0, 1024))},${str(r.raw)},NOW(3))`);
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

async function resolveSurrogateKeys(conn: Connection, sql: string): Promise<Map<string, string>> {
  const [rows] = await conn.query({ sql, rowsAsArray: true });
  const map = new Map<string, string>();
  for (const r of rows as [string, number | string][]) map.set(r[0], String(r[1]));
  return map;
}

/** Rows an INSERT added. */
function inserted(result: unknown): number {
  return Number((result as [ResultHeader])[0].affectedRows);
}

/**
 * Rows an UPDATE changed. mysql2 connects with CLIENT_FOUND_ROWS, so affectedRows counts matched rows;
 * changedRows is what changed (the WHERE clause makes them equal anyway).
 */
function changed(result: unknown): number {
  const header = (result as [ResultHeader])[0];
  return Number(header.changedRows ?? header.affectedRows);
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
