/**
 * Reference 1: the database's own bulk load. Takes exactly the final rows the engine produced (customers,
 * products, orders of a loaded warehouse), writes them as TSV into a temp folder, and times
 * LOAD DATA LOCAL INFILE into a fresh database with the same DDL and indexes: dimensions first, then facts.
 * This is the practical speed limit for getting those rows into those tables.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { FACT_SECONDARY_KEYS, SCHEMA_DDL } from '../src/warehouse/mysql/ddl.ts';
import { STAR_TABLES, tsv } from './star.ts';

const TABLES: [string, readonly string[]][] = STAR_TABLES.map((t) => [t.table, t.columns]);

export interface ReferenceResult {
  seconds: number;
  rows: number;
  perTable: Record<string, number>;
}

/**
 * Export the engine's rows from `fromDb` and time LOAD DATA of them into a fresh `toDb`.
 * `deferKeys`: load the fact table with its primary key only and add its secondary keys afterwards, as the
 * engine does on a first load (the same trick as mydumper's --innodb-optimize-keys); otherwise the indexes and
 * foreign keys are maintained row by row during the load.
 */
export async function loadDataReference(conn: mysql.Connection, fromDb: string, toDb: string, tmp: string, deferKeys: boolean): Promise<ReferenceResult> {
  const files: Record<string, string> = {};
  let rows = 0;
  for (const [table, cols] of TABLES) {
    const path = join(tmp, `${table}.tsv`);
    files[table] = path;
    const out = createWriteStream(path);
    // Streamed out of the server row by row: the export itself never holds a table in memory.
    const stream = (conn as unknown as { connection: { query: (sql: string) => { stream: () => AsyncIterable<unknown[]> } } }).connection
      .query(`SELECT ${cols.join(', ')} FROM \`${fromDb}\`.${table} ORDER BY ${cols[0]}`)
      .stream();
    for await (const row of stream as AsyncIterable<Record<string, unknown>>) {
      if (!out.write(cols.map((c) => tsv(row[c])).join('\t') + '\n')) await once(out, 'drain');
      rows++;
    }
    out.end();
    await once(out, 'finish');
  }
  await conn.query(`DROP DATABASE IF EXISTS \`${toDb}\``);
  await conn.query(`CREATE DATABASE \`${toDb}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin`);
  await conn.query(`USE \`${toDb}\``);
  for (const ddl of SCHEMA_DDL) await conn.query(ddl);
  if (deferKeys) {
    await conn.query(`ALTER TABLE orders ${FACT_SECONDARY_KEYS.filter((k) => k.kind === 'foreign key').map((k) => `DROP FOREIGN KEY ${k.name}`).join(', ')}`);
    await conn.query(`ALTER TABLE orders ${FACT_SECONDARY_KEYS.filter((k) => k.kind === 'index').map((k) => `DROP KEY ${k.name}`).join(', ')}`);
  }
  const perTable: Record<string, number> = {};
  const t0 = performance.now();
  for (const [table, cols] of TABLES) {
    const t = performance.now();
    await conn.query({
      sql: `LOAD DATA LOCAL INFILE 'ref.tsv' INTO TABLE ${table} CHARACTER SET utf8mb4 (${cols.join(', ')})`,
      infileStreamFactory: () => createReadStream(files[table]!),
    } as mysql.QueryOptions);
    perTable[table] = (performance.now() - t) / 1000;
  }
  if (deferKeys) {
    const t = performance.now();
    await conn.query('SET SESSION foreign_key_checks = 0');
    await conn.query(`ALTER TABLE orders ${FACT_SECONDARY_KEYS.map((k) => `ADD ${k.definition}`).join(', ')}`);
    await conn.query('SET SESSION foreign_key_checks = 1');
    perTable['orders keys'] = (performance.now() - t) / 1000;
  }
  const seconds = (performance.now() - t0) / 1000;
  await conn.query(`DROP DATABASE \`${toDb}\``);
  return { seconds, rows, perTable };
}
