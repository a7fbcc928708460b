/**
 * SCD Type 1 on MySQL/MariaDB, one function for every dimension: stage the batch's rows, overwrite changed
 * attributes in place, insert new natural keys (the database hands out the surrogate keys, in order of first
 * appearance), and resolve the batch's surrogate keys. Rows the cache knows unchanged skip all of it.
 */
import type { CustomerRow, ProductRow } from '../../transform/order.ts';
import { attrKey, type DimensionCache } from '../dimension-cache.ts';
import type { Connection } from './connection.ts';
import { chunkedStatements, num, str } from './sql.ts';

export interface DimensionSpec<R> {
  table: string;
  stage: string;
  naturalKey: string;
  surrogateKey: string;
  attributes: string[];
  id(row: R): string;
  /** Attribute values as SQL literals, in `attributes` order. */
  literals(row: R): string[];
  /** Attribute values as they compare, for the cache. */
  values(row: R): (string | null)[];
}

export const CUSTOMERS: DimensionSpec<CustomerRow> = {
  table: 'customers',
  stage: 'stage_customers',
  naturalKey: 'customer_id',
  surrogateKey: 'customer_sk',
  attributes: ['name', 'email', 'address'],
  id: (r) => r.customerId,
  literals: (r) => [str(r.name), str(r.email), str(r.address)],
  values: (r) => [r.name, r.email, r.address],
};

export const PRODUCTS: DimensionSpec<ProductRow> = {
  table: 'products',
  stage: 'stage_products',
  naturalKey: 'product_id',
  surrogateKey: 'product_sk',
  attributes: ['name', 'category', 'price'],
  id: (r) => r.productId,
  literals: (r) => [str(r.name), str(r.category), num(r.price)],
  values: (r) => [r.name, r.category, r.price],
};

export interface MergeResult {
  inserted: number;
  updated: number;
  /** Surrogate key of every natural key in the batch. */
  keys: Map<string, string>;
  /** Call after COMMIT: teaches the cache what is now in the table. */
  commit(): void;
}

export async function mergeScd1<R>(conn: Connection, spec: DimensionSpec<R>, rows: R[], cache: DimensionCache, budget: number): Promise<MergeResult> {
  const keys = new Map<string, string>();
  const staged: { id: string; attrs: string }[] = [];
  const tuples: string[] = [];
  for (const r of rows) {
    const id = spec.id(r);
    const attrs = attrKey(spec.values(r));
    const sk = cache.hit(id, attrs);
    if (sk !== undefined) {
      keys.set(id, sk);
      continue;
    }
    tuples.push(`(${tuples.length},${str(id)},${spec.literals(r).join(',')})`);
    staged.push({ id, attrs });
  }
  const result: MergeResult = { inserted: 0, updated: 0, keys, commit: () => {} };
  if (tuples.length === 0) return result;

  const { table: t, stage: s, naturalKey: nk, surrogateKey: sk, attributes: attrs } = spec;
  const cols = [nk, ...attrs].join(', ');
  for (const sql of chunkedStatements(`INSERT INTO ${s} (seq, ${cols}) VALUES `, tuples, '', budget)) await conn.query(sql);
  // <=> is NULL-safe equality; the binary collation makes a change of case a change.
  const [upd] = await conn.query(
    `UPDATE ${t} d JOIN ${s} s ON d.${nk} = s.${nk}
        SET ${attrs.map((a) => `d.${a} = s.${a}`).join(', ')}
      WHERE NOT (${attrs.map((a) => `d.${a} <=> s.${a}`).join(' AND ')})`,
  );
  const [ins] = await conn.query(
    `INSERT INTO ${t} (${cols})
     SELECT ${[nk, ...attrs].map((c) => `s.${c}`).join(', ')} FROM ${s} s LEFT JOIN ${t} d ON d.${nk} = s.${nk}
      WHERE d.${sk} IS NULL ORDER BY s.seq`,
  );
  const [found] = await conn.query({ sql: `SELECT s.${nk}, d.${sk} FROM ${s} s JOIN ${t} d ON d.${nk} = s.${nk}`, rowsAsArray: true });
  for (const [id, key] of found as [string, number | string][]) keys.set(id, String(key));
  // mysql2 connects with CLIENT_FOUND_ROWS: affectedRows of the UPDATE counts matched rows; the WHERE clause
  // makes matched equal changed, and changedRows says so explicitly.
  const u = upd as { changedRows?: number; affectedRows: number };
  result.updated = Number(u.changedRows ?? u.affectedRows);
  result.inserted = Number((ins as { affectedRows: number }).affectedRows);
  result.commit = () => {
    for (const e of staged) cache.set(e.id, keys.get(e.id)!, e.attrs);
  };
  return result;
}
