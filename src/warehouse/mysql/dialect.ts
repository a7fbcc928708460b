/**
 * MySQL/MariaDB behind the shared load logic (../sql-warehouse.ts): one mysql2 connection, multi-row INSERTs
 * sized from max_allowed_packet, and LOAD DATA LOCAL INFILE streamed from memory for fact rows where the
 * server allows it.
 */
import { Readable } from 'node:stream';
import { EtlError } from '../../errors.ts';
import type { BulkRows, BulkValue, DimensionSpec } from '../dimensions.ts';
import { SqlWarehouse, type DialectSql, type WarehouseSettings } from '../sql-warehouse.ts';
import type { QuerySink } from '../types.ts';
import { connect, isTransient, type Connection, type MysqlTarget } from './connection.ts';
import { FACT_SECONDARY_KEYS, schemaDdl, stagingDdl, TABLES, type ByteCollation } from './ddl.ts';
import { streamMysqlRows } from './query.ts';
import { chunkedStatements, ident, num, str } from './sql.ts';

const MYSQL_SQL: DialectSql = {
  now: 'NOW(3)',
  clear: (table) => `TRUNCATE TABLE ${table}`,
  // <=> is NULL-safe equality; the binary collation makes a change of case a change.
  updateChanged: ({ table, stage, naturalKey: nk, attributes }: DimensionSpec<unknown>) =>
    `UPDATE ${table} d JOIN ${stage} s ON d.${nk} = s.${nk}
        SET ${attributes.map((a) => `d.${a} = s.${a}`).join(', ')}
      WHERE NOT (${attributes.map((a) => `d.${a} <=> s.${a}`).join(' AND ')})`,
};

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
      this.caps = { maxStatementBytes: Math.max(1024, Number(row.p) - 1024) };
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
      await this.exec(`ALTER TABLE ${table} CONVERT TO CHARACTER SET utf8mb4 COLLATE ${this.collation}`);
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

  protected get schemaDdl(): readonly string[] {
    return schemaDdl(this.collation);
  }

  protected get stagingDdl(): readonly string[] {
    return stagingDdl(this.collation);
  }

  protected override async createSchema(): Promise<void> {
    await super.createSchema();
    await this.withRetry('convert the warehouse to byte-exact text', () => this.migrateCollation());
    // A bulk load killed before it rebuilt the keys left them missing: put them back first.
    await this.withRetry('restore the fact table keys', () => this.restoreFactKeys());
  }

  /**
   * Loading into an empty fact table: drop its secondary indexes and foreign keys, and build them once at the
   * end (endLoad), by sorting instead of row by row. The fact table was empty, so no reader loses anything;
   * the engine itself only writes surrogate keys it just resolved from the dimensions, which are never deleted.
   * A crash in between leaves them missing; the next load or init restores them before it writes.
   */
  protected override async prepareLoad(): Promise<void> {
    await this.withRetry('prepare the fact table for a bulk load', async () => {
      const [row] = await this.select('SELECT EXISTS (SELECT 1 FROM orders) AS has_rows');
      if (Number(row!.has_rows) !== 0) return;
      const missing = new Set((await this.missingFactKeys()).map((k) => k.name));
      const fks = FACT_SECONDARY_KEYS.filter((k) => k.kind === 'foreign key' && !missing.has(k.name));
      const indexes = FACT_SECONDARY_KEYS.filter((k) => k.kind === 'index' && !missing.has(k.name));
      if (fks.length) await this.exec(`ALTER TABLE orders ${fks.map((k) => `DROP FOREIGN KEY ${k.name}`).join(', ')}`);
      if (indexes.length) await this.exec(`ALTER TABLE orders ${indexes.map((k) => `DROP KEY ${k.name}`).join(', ')}`);
    });
  }

  protected override async finishLoad(): Promise<void> {
    await this.timed('build fact keys', () => this.withRetry('build the fact table keys', () => this.restoreFactKeys()));
  }

  private async restoreFactKeys(): Promise<void> {
    const missing = await this.missingFactKeys();
    if (missing.length === 0) return;
    // The session runs with foreign_key_checks = 0 (see connection.ts): the constraints are added in place,
    // without a scan that re-checks what the engine guarantees.
    await this.exec(`ALTER TABLE orders ${missing.map((k) => `ADD ${k.definition}`).join(', ')}`);
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

  protected async acquireLock(timeoutSeconds: number): Promise<void> {
    // A named lock per database: a second load waits for the first instead of interleaving its batches.
    // It lives as long as the connection, so a killed process releases it by itself.
    const [rows] = await this.c().query('SELECT GET_LOCK(?, ?) AS got', [`orders-etl:${this.target.database}`, timeoutSeconds]);
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

  protected streamRows(sql: string, sink: QuerySink): Promise<void> {
    return streamMysqlRows(this.c(), sql, sink);
  }

  protected async pairs(sql: string): Promise<[string, string][]> {
    const [rows] = await this.c().query({ sql, rowsAsArray: true });
    return (rows as [unknown, unknown][]).map((r) => [String(r[0]), String(r[1])]);
  }

  protected async bulkWrite(table: string, columns: readonly string[], rows: BulkRows, kind: 'stage' | 'facts' | 'rejects'): Promise<void> {
    if (rows.count === 0) return; // an empty LOAD DATA stream confuses mysql2's packet sequence
    if (kind === 'facts' && this.loadDataLocal) {
      await this.loadData(table, columns, rows);
      return;
    }
    const tuples: string[] = [];
    rows.each((r) => {
      let t = '(';
      for (let i = 0; i < r.length; i++) t += (i ? ',' : '') + (typeof r[i] === 'string' ? str(r[i] as string) : num(r[i] as number | null));
      tuples.push(`${t})`);
    });
    for (const sql of chunkedStatements(`INSERT INTO ${table} (${columns.join(', ')}) VALUES `, tuples, '', this.caps.maxStatementBytes)) {
      await this.c().query(sql);
    }
  }

  /**
   * LOAD DATA LOCAL INFILE, streamed by mysql2 from memory (the file name is a dummy; the bytes come from
   * infileStreamFactory). LOCAL turns data errors into warnings, so any warning fails the batch: the rows
   * are exactly what the transform validated, and a warning means something is wrong.
   */
  private async loadData(table: string, columns: readonly string[], rows: BulkRows): Promise<void> {
    let text = '';
    rows.each((r) => {
      for (let i = 0; i < r.length; i++) text += (i ? '\t' : '') + tsv(r[i]!);
      text += '\n';
    });
    const data = Buffer.from(text, 'utf8');
    // mysql2 sends each chunk of the stream as one packet: keep them under max_allowed_packet.
    const piece = Math.min(256 * 1024, this.caps.maxStatementBytes);
    const pieces: Buffer[] = [];
    for (let i = 0; i < data.length; i += piece) pieces.push(data.subarray(i, i + piece));
    const [res] = await this.c().query({
      sql: `LOAD DATA LOCAL INFILE 'rows.tsv' INTO TABLE ${table} CHARACTER SET utf8mb4 (${columns.join(', ')})`,
      infileStreamFactory: () => Readable.from(pieces),
    });
    const header = res as { affectedRows: number; warningStatus?: number };
    if (header.warningStatus || header.affectedRows !== rows.count) {
      const [warnings] = await this.c().query('SHOW WARNINGS LIMIT 3');
      throw new EtlError('E_DB', `LOAD DATA of ${rows.count} rows into ${table} stored ${header.affectedRows}: ${JSON.stringify(warnings)}`);
    }
  }
}

const TSV_SPECIAL = /[\\\t\n\r\0]/;
const TSV_ALL = /[\\\t\n\r\0]/g;
const TSV_ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r', '\0': '\\0' };

/** LOAD DATA's default text format: tab-separated, backslash escapes, \N for NULL. */
function tsv(v: BulkValue): string {
  if (v === null) return '\\N';
  if (typeof v === 'number') return String(v);
  return TSV_SPECIAL.test(v) ? v.replace(TSV_ALL, (c) => TSV_ESCAPES[c]!) : v;
}
