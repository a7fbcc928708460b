/**
 * DuckDB, the embedded default warehouse (`./warehouse.duckdb`), behind the same load logic as MySQL
 * (../sql-warehouse.ts). Bulk rows (staging, facts) go through DuckDB's appender, inside the batch's
 * transaction. DuckDB types stay in this folder.
 *
 * Locking: DuckDB itself refuses a second process on the same file ("Could not set lock on file"); opening
 * is retried until --lock-timeout. Inside one process, loads of the same file queue on a promise chain.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { EtlError } from '../../errors.ts';
import type { BulkRows, BulkValue, DimensionSpec } from '../dimensions.ts';
import { SqlWarehouse, type DialectSql, type WarehouseSettings } from '../sql-warehouse.ts';
import type { QuerySink } from '../types.ts';
import { SCHEMA_DDL, STAGING_DDL } from './ddl.ts';
import { streamDuckdbRows } from './query.ts';

const DUCKDB_SQL: DialectSql = {
  now: 'current_timestamp',
  clear: (table) => `DELETE FROM ${table}`,
  updateChanged: ({ table, stage, naturalKey: nk, attributes }: DimensionSpec<unknown>) =>
    `UPDATE ${table} SET ${attributes.map((a) => `${a} = s.${a}`).join(', ')}
       FROM ${stage} s
      WHERE ${table}.${nk} = s.${nk}
        AND NOT (${attributes.map((a) => `${table}.${a} IS NOT DISTINCT FROM s.${a}`).join(' AND ')})`,
};

/** In-process queue per database file: the tail of each file's chain of loads. */
const fileQueues = new Map<string, Promise<void>>();

export class DuckdbWarehouse extends SqlWarehouse {
  readonly dialect = 'duckdb';
  readonly location: string;
  protected readonly sql = DUCKDB_SQL;
  protected readonly schemaDdl = SCHEMA_DDL;
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
    this.caps = { maxStatementBytes: 64 * 1024 * 1024 };
  }

  protected async open(): Promise<void> {
    const deadline = Date.now() + (this.lockTimeout ?? 0) * 1000;
    for (;;) {
      try {
        if (this.access === 'read' && !existsSync(this.path)) {
          throw new EtlError('E_DB', `no warehouse at ${this.path} (load something into it first, or pass --db)`);
        }
        this.instance = await DuckDBInstance.create(this.path, {
          memory_limit: '256MB',
          threads: '2',
          ...(this.access === 'read' ? { access_mode: 'READ_ONLY' } : {}),
        });
        break;
      } catch (err) {
        if (err instanceof EtlError) throw err;
        const locked = /lock/i.test((err as Error).message);
        if (!locked) throw new EtlError('E_DB', `cannot open ${this.location}: ${(err as Error).message}`, {}, { cause: err });
        if (Date.now() >= deadline) {
          throw new EtlError('E_LOCK', `another process holds ${this.location}; waited ${this.lockTimeout ?? 0}s (--lock-timeout)`, {}, { cause: err });
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
    this.releaseQueue?.();
    this.releaseQueue = null;
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

  protected async pairs(sql: string): Promise<[string, string][]> {
    const reader = await this.c().runAndReadAll(sql);
    return (reader.getRowsJS() as unknown[][]).map((r) => [String(r[0]), String(r[1])]);
  }

  protected async bulkWrite(table: string, columns: readonly string[], rows: BulkRows, kind: 'stage' | 'facts' | 'rejects'): Promise<void> {
    if (rows.count === 0) return;
    if (kind === 'rejects') {
      // Not every column (rejected_at takes its default): plain INSERTs, a rare path.
      const copies: BulkValue[][] = [];
      rows.each((r) => copies.push([...r]));
      for (const r of copies) await this.exec(`INSERT INTO ${table} (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`, r);
      return;
    }
    // The appender writes whole rows in table column order; staging and fact columns are declared so.
    const appender = await this.c().createAppender(table);
    try {
      rows.each((r) => {
        for (const v of r) {
          if (v === null) appender.appendNull();
          else if (typeof v === 'number') appender.appendInteger(v);
          else appender.appendVarchar(v); // DuckDB casts to the column's type: DATE, DECIMAL, BIGINT
        }
        appender.endRow();
      });
      appender.flushSync();
    } finally {
      appender.closeSync();
    }
  }
}
