/** Pick the dialect from the --db URL. The only place outside a dialect folder that knows dialects exist. */
import { EtlError } from '../errors.ts';
import { DuckdbWarehouse } from './duckdb/dialect.ts';
import { parseMysqlUrl } from './mysql/connection.ts';
import { MysqlWarehouse } from './mysql/dialect.ts';
import type { Warehouse, WarehouseAccess } from './types.ts';

export interface WarehouseOptions {
  dbSslCa?: string | undefined;
  retries: number;
  /** `write` (load, init) unless said otherwise. */
  access?: WarehouseAccess;
}

/** With no --db and no ORDERS_ETL_DB: an embedded DuckDB file in the current folder. */
export const DEFAULT_WAREHOUSE = 'duckdb:./warehouse.duckdb';

export async function openWarehouse(url: string | undefined, opts: WarehouseOptions): Promise<Warehouse> {
  const target = url ?? DEFAULT_WAREHOUSE;
  const retry = { retries: opts.retries, backoffMs: 200 };
  const access = opts.access ?? 'write';
  if (/^(mysql|mariadb):/i.test(target)) return new MysqlWarehouse(parseMysqlUrl(target, { caFile: opts.dbSslCa }), retry, access);
  if (/^duckdb:/i.test(target)) {
    const path = target.replace(/^duckdb:(\/\/)?/i, '');
    if (path === '') throw new EtlError('E_USAGE', '--db: duckdb: needs a file path, as in duckdb:./warehouse.duckdb');
    return new DuckdbWarehouse(path, retry, access);
  }
  throw new EtlError('E_USAGE', '--db: unsupported URL; expected mysql://user:password@host:3306/database or duckdb:<path>');
}
