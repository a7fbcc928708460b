/** Pick the dialect from the --db URL. The only place outside a dialect folder that knows dialects exist. */
import { EtlError } from '../errors.ts';
import { parseMysqlUrl } from './mysql/connection.ts';
import { MysqlWarehouse } from './mysql/dialect.ts';
import type { Warehouse } from './types.ts';

export interface WarehouseOptions {
  dbSslCa?: string | undefined;
  retries: number;
}

export async function openWarehouse(url: string | undefined, opts: WarehouseOptions): Promise<Warehouse> {
  if (url === undefined) {
    throw new EtlError('E_USAGE', '--db: no warehouse given (use --db mysql://user:password@host:3306/database or set ORDERS_ETL_DB)');
  }
  if (/^(mysql|mariadb):/i.test(url)) {
    return new MysqlWarehouse(parseMysqlUrl(url, { caFile: opts.dbSslCa }), { retries: opts.retries, backoffMs: 200 });
  }
  throw new EtlError('E_USAGE', '--db: unsupported URL; expected mysql://user:password@host:3306/database');
}
