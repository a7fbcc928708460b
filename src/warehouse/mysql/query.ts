/**
 * `orders-etl query` on MySQL/MariaDB: the result streamed row by row off the wire (mysql2's query events on
 * the underlying connection, rows as arrays), handed on a bounded number at a time. While the sink works on
 * a chunk the connection is paused, so the server's pace meets the reader's and memory stays flat whatever
 * the result's size (as mysql2's own stream() does, without a Readable in between).
 *
 * mysql2's callback connection is declared structurally: only what this file uses.
 */
import type { ColumnKind, QueryCell, QueryColumn, QuerySink } from '../types.ts';
import { watchStreaming, type Connection } from './connection.ts';
import { checkReading } from './reading.ts';

interface FieldInfo {
  name: string;
  columnType?: number;
  columnLength?: number;
}

interface StreamingQuery {
  on(event: 'fields', listener: (fields: FieldInfo[] | undefined) => void): StreamingQuery;
  on(event: 'result', listener: (row: unknown) => void): StreamingQuery;
  on(event: 'end', listener: () => void): StreamingQuery;
  on(event: 'error', listener: (err: Error) => void): StreamingQuery;
}

interface CoreConnection {
  query(options: { sql: string; rowsAsArray: boolean }): StreamingQuery;
  pause(): void;
  resume(): void;
  destroy(): void;
}

/** Rows per call of the sink: large enough to amortize the pause, small enough to be nothing in memory. */
const ROWS_PER_CHUNK = 1000;

// MySQL protocol column types (mysql2/lib/constants/types.js).
const INTEGER_TYPES = new Set([0x01, 0x02, 0x03, 0x08, 0x09, 0x0d]); // TINY, SHORT, LONG, LONGLONG, INT24, YEAR
const DECIMAL_TYPES = new Set([0x00, 0xf6]); // DECIMAL, NEWDECIMAL
const FLOAT_TYPES = new Set([0x04, 0x05]); // FLOAT, DOUBLE
const TINY = 0x01;

function kindOf(f: FieldInfo): ColumnKind {
  const t = f.columnType ?? -1;
  // MySQL's BOOLEAN is TINYINT(1), as is_current is: a boolean, as DuckDB's BOOLEAN is (README, Query output).
  if (t === TINY && f.columnLength === 1) return 'boolean';
  if (INTEGER_TYPES.has(t)) return 'integer';
  if (DECIMAL_TYPES.has(t)) return 'decimal';
  if (FLOAT_TYPES.has(t)) return 'float';
  return 'text';
}

/**
 * The session decodes with dateStrings, decimalNumbers off and supportBigNumbers (connection.ts): dates come
 * as text, DECIMAL as its exact digits, BIGINT as a number when it is safe and as digits when not. Binary
 * strings come as bytes (shown as hex), JSON columns parsed (shown as JSON text).
 */
function cell(v: unknown, kind: ColumnKind): QueryCell {
  if (v === null || v === undefined) return null;
  // A TINYINT(1) may hold other numbers than 0 and 1: those stay numbers, nothing is lost.
  if (kind === 'boolean' && (v === 0 || v === 1)) return v === 1;
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return v;
  if (Buffer.isBuffer(v)) return `0x${v.toString('hex')}`;
  return JSON.stringify(v) ?? String(v);
}

/** `location` names the warehouse in messages. */
export function streamMysqlRows(conn: Connection, location: string, sql: string, sink: QuerySink): Promise<void> {
  checkReading(sql);
  const core = (conn as unknown as { connection: CoreConnection }).connection;
  return new Promise<void>((resolve, reject) => {
    let width = 0;
    let kinds: ColumnKind[] = [];
    let pending: QueryCell[][] = [];
    // The sink's calls, in order; a failure of the sink (standard output gone) ends the query: nothing would
    // read the rest, and the connection is dropped rather than drained.
    let chain: Promise<void> = Promise.resolve();
    let failed = false;
    let unwatch = () => {};
    const fail = (err: unknown) => {
      if (failed) return;
      failed = true;
      unwatch();
      reject(err);
    };
    // A connection that dies under the query fails it (watchStreaming says why it must be watched), until the
    // query has ended on the wire: the sink may still be at work on its last rows, which are all there are.
    unwatch = watchStreaming(conn, location, fail);
    const deliver = (work: () => void | Promise<void>) => {
      chain = chain
        .then(() => (failed ? undefined : work()))
        .catch((err: unknown) => {
          if (!failed) core.destroy();
          fail(err);
        });
    };
    const flush = () => {
      if (pending.length === 0) return;
      const rows = pending;
      pending = [];
      core.pause();
      deliver(async () => {
        await sink.rows(rows);
        core.resume();
      });
    };
    const query = core.query({ sql, rowsAsArray: true });
    query.on('fields', (fields) => {
      if (!fields) return; // a statement without a result set: its header comes as a 'result'
      const columns: QueryColumn[] = fields.map((f) => ({ name: f.name, kind: kindOf(f) }));
      width = columns.length;
      kinds = columns.map((c) => c.kind);
      deliver(() => sink.columns(columns));
    });
    query.on('result', (row) => {
      if (!Array.isArray(row)) {
        deliver(() => sink.columns([{ name: 'affected_rows', kind: 'integer' }]));
        pending.push([Number((row as { affectedRows?: number }).affectedRows ?? 0)]);
        return;
      }
      const out: QueryCell[] = new Array(width);
      for (let i = 0; i < width; i++) out[i] = cell(row[i], kinds[i]!);
      pending.push(out);
      if (pending.length >= ROWS_PER_CHUNK) flush();
    });
    query.on('end', () => {
      unwatch();
      flush();
      void chain.then(() => {
        if (!failed) resolve();
      });
    });
    query.on('error', fail);
  });
}
