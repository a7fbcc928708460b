/** Pick the dialect from the --db URL. The only place outside a dialect folder that knows dialects exist. */
import { EtlError, importFor, REINSTALL } from '../errors.ts';
import { duckdbFile, isMysqlUrl } from '../model.ts';
import { parseMysqlUrl } from './mysql/url.ts';
import type { WarehouseSettings } from './sql-warehouse.ts';
import type { Warehouse, WarehouseAccess } from './types.ts';

export interface WarehouseOptions {
  dbSslCa?: string | undefined;
  retries: number;
  /** `write` (load, init) unless said otherwise. */
  access?: WarehouseAccess;
  /** Where the warehouse says what it did on its own (a schema migration); nowhere by default. */
  note?: (message: string) => void;
}

/** What --db takes, for messages. */
export const DB_EXAMPLES = 'mysql://user:password@host:3306/database or duckdb:<path>';

/** With no --db and no ORDERS_ETL_DB: an embedded DuckDB file in the current folder. */
export const DEFAULT_WAREHOUSE = 'duckdb:./warehouse.duckdb';

export async function openWarehouse(url: string | undefined, opts: WarehouseOptions): Promise<Warehouse> {
  const target = url ?? DEFAULT_WAREHOUSE;
  const settings: WarehouseSettings = {
    retry: { retries: opts.retries, backoffMs: 200 },
    access: opts.access ?? 'write',
    note: opts.note ?? (() => {}),
  };
  if (isMysqlUrl(target)) {
    const mysqlTarget = parseMysqlUrl(target, { caFile: opts.dbSslCa });
    // Loaded only here, as DuckDB's library is below: a DuckDB warehouse's process does not build mysql2's
    // modules (about 0.1 s of every start, measured by a CPU profile).
    const { MysqlWarehouse } = await importFor(
      {
        needer: `the warehouse ${mysqlTarget.display} (--db or ORDERS_ETL_DB)`,
        packages: ['mysql2'],
        what: 'the MySQL client library (mysql2)',
        repair: REINSTALL,
      },
      () => import('./mysql/dialect.ts'),
    );
    return new MysqlWarehouse(mysqlTarget, settings);
  }
  const path = duckdbFile(target);
  if (path !== null) {
    if (path === '') throw new EtlError('E_USAGE', '--db: duckdb: needs a file path, as in duckdb:./warehouse.duckdb');
    // Loaded only here: DuckDB's native library adds about 30 MB of resident memory to a process that loads it.
    const { DuckdbWarehouse } = await importFor(
      {
        needer: url === undefined ? `the default warehouse ${target} (neither --db nor ORDERS_ETL_DB given)` : `the warehouse ${target} (--db or ORDERS_ETL_DB)`,
        packages: ['@duckdb/node-bindings', '@duckdb/node-api'],
        what: "DuckDB's library (@duckdb/node-api and its native binary for this platform)",
        repair:
          `${REINSTALL}, optional ones included (not --omit=optional: DuckDB's binary for each platform is an optional dependency); ` +
          "where DuckDB's binary cannot run on this system, use a mysql:// warehouse",
      },
      () => import('./duckdb/dialect.ts'),
    );
    return new DuckdbWarehouse(path, settings);
  }
  // Only the scheme of what was given is shown: a URL without // may hold a password redact() does not see.
  const scheme = /^[a-z][a-z0-9+.-]*:/i.exec(target)?.[0];
  throw new EtlError('E_USAGE', `--db: ${scheme ? `the scheme ${JSON.stringify(scheme)} is not supported` : 'not a warehouse URL'}; expected ${DB_EXAMPLES}`, {}, { redacted: true });
}
