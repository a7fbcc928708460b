/**
 * Rows into DuckDB a column at a time. The appender's per-value calls (appendVarchar, appendInteger, ...)
 * cross into native code once per cell; here each numeric column of a 2,048-row chunk is filled in a typed
 * array in JavaScript and copied into its vector with one native call, dates and decimals are converted to
 * their stored integers on the way (no per-value objects), and only strings still cross one at a time (DuckDB
 * copies each into its string heap). The chunk is then handed to the appender whole.
 */
import type { DuckDBAppender, DuckDBType } from '@duckdb/node-api';
import { EtlError } from '../../errors.ts';
import type { BulkRows, BulkValue } from '../dimensions.ts';
import { bindings as duckdb, DuckDBDataChunk, DuckDBTypeId } from './library.ts';

const ROWS = duckdb.vector_size();
const TWO_32 = 4294967296;
const MS_PER_DAY = 86_400_000;

type Kind = 'varchar' | 'bool' | 'int32' | 'int64' | 'date' | 'decimal';

interface Column {
  kind: Kind;
  /** DECIMAL: digits after the point. */
  scale: number;
  /** int32 / date: one slot per row; int64 / decimal: two (low, high) per row, little-endian. */
  ints: Int32Array | null;
  /** bool: one byte per row. */
  bytes: Uint8Array | null;
  words: Uint32Array | null;
  strings: (string | null)[] | null;
  /** Validity bits, 1 = not NULL; null until the chunk has a NULL in this column. */
  validity: Uint8Array | null;
}

function kindOf(type: DuckDBType, table: string, column: number): { kind: Kind; scale: number } {
  switch (type.typeId) {
    case DuckDBTypeId.VARCHAR:
      return { kind: 'varchar', scale: 0 };
    case DuckDBTypeId.BOOLEAN:
      return { kind: 'bool', scale: 0 };
    case DuckDBTypeId.INTEGER:
      return { kind: 'int32', scale: 0 };
    case DuckDBTypeId.BIGINT:
      return { kind: 'int64', scale: 0 };
    case DuckDBTypeId.DATE:
      return { kind: 'date', scale: 0 };
    case DuckDBTypeId.DECIMAL: {
      const { width, scale } = type as unknown as { width: number; scale: number };
      if (width > 18) break; // stored as a 128-bit integer: not needed by this schema
      return { kind: 'decimal', scale };
    }
  }
  throw new EtlError('E_INTERNAL', `${table}: column ${column} has type ${type.toString()}, which the chunk writer does not write`);
}

/** A table's column types, as its appender reports them. */
export function columnTypes(appender: DuckDBAppender): DuckDBType[] {
  const types: DuckDBType[] = [];
  for (let c = 0; c < appender.columnCount; c++) types.push(appender.columnType(c));
  return types;
}

/** `rows` (in the table's column order) as filled data chunks, ready for an appender. */
export function buildChunks(types: DuckDBType[], table: string, rows: BulkRows): DuckDBDataChunk[] {
  const chunks: DuckDBDataChunk[] = [];
  const columns: Column[] = types.map((t, c) => {
    const { kind, scale } = kindOf(t, table, c);
    const wide = kind === 'int64' || kind === 'decimal';
    const buffer = new ArrayBuffer(ROWS * (wide ? 8 : kind === 'bool' ? 1 : 4));
    return {
      kind,
      scale,
      ints: kind === 'varchar' || kind === 'bool' ? null : new Int32Array(buffer),
      bytes: kind === 'bool' ? new Uint8Array(buffer) : null,
      words: wide ? new Uint32Array(buffer) : null,
      strings: kind === 'varchar' ? new Array<string | null>(ROWS) : null,
      validity: null,
    };
  });
  let n = 0;
  rows.each((row) => {
    if (row.length !== columns.length) throw new EtlError('E_INTERNAL', `${table}: a row of ${row.length} values for ${columns.length} columns`);
    for (let c = 0; c < columns.length; c++) put(columns[c]!, n, row[c]!, table);
    if (++n === ROWS) {
      chunks.push(fillChunk(types, columns, n));
      n = 0;
    }
  });
  if (n > 0) chunks.push(fillChunk(types, columns, n));
  return chunks;
}

function put(col: Column, i: number, v: BulkValue, table: string): void {
  if (v === null) {
    col.validity ??= new Uint8Array(ROWS / 8).fill(0xff);
    col.validity[i >> 3]! &= ~(1 << (i & 7));
    if (col.strings) col.strings[i] = null;
    return;
  }
  if (col.validity) col.validity[i >> 3]! |= 1 << (i & 7);
  switch (col.kind) {
    case 'varchar':
      col.strings![i] = typeof v === 'string' ? v : String(v);
      return;
    case 'bool':
      col.bytes![i] = v === 0 || v === '0' || v === 'false' ? 0 : 1;
      return;
    case 'int32':
      col.ints![i] = typeof v === 'number' ? v : Number(v);
      return;
    case 'int64':
      setInt64(col, i, typeof v === 'number' ? v : Number(v));
      return;
    case 'date':
      col.ints![i] = epochDays(String(v), table);
      return;
    case 'decimal':
      setInt64(col, i, scaled(String(v), col.scale, table));
      return;
  }
}

function setInt64(col: Column, i: number, v: number): void {
  const high = Math.floor(v / TWO_32);
  col.words![2 * i] = v - high * TWO_32;
  col.ints![2 * i + 1] = high;
}

const days = new Map<string, number>();

/** YYYY-MM-DD (as the transform writes it) -> days since 1970-01-01, DuckDB's DATE. */
function epochDays(s: string, table: string): number {
  let d = days.get(s);
  if (d === undefined) {
    const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
    if (!m) throw new EtlError('E_INTERNAL', `${table}: ${JSON.stringify(s)} is not a YYYY-MM-DD date`);
    d = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) / MS_PER_DAY;
    if (days.size > 100_000) days.clear();
    days.set(s, d);
  }
  return d;
}

/** Decimal text with exactly `scale` digits after the point (as the transform writes it) -> its scaled integer. */
function scaled(s: string, scale: number, table: string): number {
  const point = s.indexOf('.');
  if (point < 0 ? scale !== 0 : s.length - point - 1 !== scale) throw new EtlError('E_INTERNAL', `${table}: ${JSON.stringify(s)} does not have ${scale} decimals`);
  const n = Number(point < 0 ? s : s.slice(0, point) + s.slice(point + 1));
  if (!Number.isSafeInteger(n)) throw new EtlError('E_INTERNAL', `${table}: ${JSON.stringify(s)} is not a decimal`);
  return n;
}

function fillChunk(types: DuckDBType[], columns: Column[], n: number): DuckDBDataChunk {
  // A fresh chunk each time: its validity masks start all valid.
  const chunk = DuckDBDataChunk.create(types, n);
  for (let c = 0; c < columns.length; c++) {
    const col = columns[c]!;
    const vector = duckdb.data_chunk_get_vector(chunk.chunk, c);
    if (col.strings) {
      for (let i = 0; i < n; i++) {
        const s = col.strings[i];
        if (s !== null && s !== undefined) duckdb.vector_assign_string_element(vector, i, s);
      }
    } else if (col.bytes) {
      duckdb.copy_data_to_vector(vector, 0, col.bytes.buffer as ArrayBuffer, 0, n);
    } else {
      const bytes = n * (col.words ? 8 : 4);
      duckdb.copy_data_to_vector(vector, 0, col.ints!.buffer as ArrayBuffer, 0, bytes);
    }
    if (col.validity) {
      duckdb.vector_ensure_validity_writable(vector);
      // The mask is made of 64-bit words.
      duckdb.copy_data_to_vector_validity(vector, 0, col.validity.buffer as ArrayBuffer, 0, Math.ceil(n / 64) * 8);
      col.validity = null;
    }
  }
  return chunk;
}
