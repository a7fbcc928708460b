/**
 * `orders-etl query` on DuckDB: a streaming result (connection.stream), fetched one data chunk (2048 rows)
 * at a time, each converted and handed on before the next is fetched, so memory stays flat whatever the
 * result's size. Values are converted from DuckDB's own value types, not the JS convenience ones, which
 * would turn DECIMAL into a double: a DECIMAL keeps its exact digits.
 */
import type { DuckDBConnection, DuckDBValue } from '@duckdb/node-api';
import { EtlError } from '../../errors.ts';
import type { ColumnKind, QueryCell, QueryColumn, QuerySink } from '../types.ts';
import { DuckDBBlobValue, DuckDBTypeId } from './library.ts';

const INTEGER_TYPES = new Set<DuckDBTypeId>([
  DuckDBTypeId.TINYINT,
  DuckDBTypeId.SMALLINT,
  DuckDBTypeId.INTEGER,
  DuckDBTypeId.BIGINT,
  DuckDBTypeId.UTINYINT,
  DuckDBTypeId.USMALLINT,
  DuckDBTypeId.UINTEGER,
  DuckDBTypeId.UBIGINT,
  DuckDBTypeId.HUGEINT,
  DuckDBTypeId.UHUGEINT,
]);

function kindOf(type: DuckDBTypeId): ColumnKind {
  if (INTEGER_TYPES.has(type)) return 'integer';
  if (type === DuckDBTypeId.DECIMAL) return 'decimal';
  if (type === DuckDBTypeId.FLOAT || type === DuckDBTypeId.DOUBLE) return 'float';
  if (type === DuckDBTypeId.BOOLEAN) return 'boolean';
  return 'text';
}

/**
 * A FLOAT (REAL) as the shortest decimal that is the same single-precision value, as DuckDB's own CLI and MySQL
 * write it: handed over widened to a double, 0.1 showed as 0.10000000149011612.
 */
function shortestFloat32(v: number): number {
  if (!Number.isFinite(v)) return v;
  // Up to 9 significant digits: some single-precision values need all 9 (1.00234426e-23).
  for (let digits = 1; digits <= 9; digits++) {
    const shorter = Number(v.toPrecision(digits));
    if (Math.fround(shorter) === v) return shorter;
  }
  return v;
}

/** Numbers, bigints, booleans and strings as they are; every other value (DECIMAL, DATE, ...) as its text. */
function cell(v: DuckDBValue): QueryCell {
  if (v === null) return null;
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return v;
  if (v instanceof DuckDBBlobValue) return `0x${Buffer.from(v.bytes).toString('hex')}`;
  return v.toString();
}

export async function streamDuckdbRows(conn: DuckDBConnection, sql: string, sink: QuerySink): Promise<void> {
  // One statement, whose result is shown: DuckDB would run them all and return the last one's (MySQL refuses
  // more than one). Text with no statement (";", a comment) fails inside DuckDB's native callback instead of
  // counting 0: anything but a syntax error there means none.
  let statements: number;
  try {
    statements = (await conn.extractStatements(sql)).count;
  } catch (err) {
    if (/Parser Error/i.test((err as Error).message)) throw err;
    statements = 0;
  }
  if (statements !== 1) throw new EtlError('E_DB', `query takes one SQL statement; this text has ${statements}`);
  const result = await conn.stream(sql);
  const columns: QueryColumn[] = result.columnNames().map((name, i) => ({ name, kind: kindOf(result.columnTypeId(i)) }));
  const floats = columns.map((_, i) => result.columnTypeId(i) === DuckDBTypeId.FLOAT);
  await sink.columns(columns);
  for (;;) {
    const chunk = await result.fetchChunk();
    if (!chunk || chunk.rowCount === 0) break;
    const rows = chunk.getRows();
    const out: QueryCell[][] = new Array(rows.length);
    for (let r = 0; r < rows.length; r++) {
      const row = rows[r]!;
      const converted: QueryCell[] = new Array(row.length);
      for (let i = 0; i < row.length; i++) converted[i] = floats[i] && typeof row[i] === 'number' ? shortestFloat32(row[i] as number) : cell(row[i]!);
      out[r] = converted;
    }
    await sink.rows(out);
  }
}
