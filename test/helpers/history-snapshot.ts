/**
 * A warehouse with history dimensions (issue 13), read into the oracle's comparable shape
 * (test/helpers/history-oracle.ts): versions by natural key and valid_from, facts by the natural key and
 * valid_from of the version each of their surrogate keys points at. Surrogate keys are kept aside (`tables`)
 * for the tests that compare them with a clean run's (after SIGKILL and re-run) or across loads (a late order
 * that matches changes nothing).
 *
 * Also the invariants a history warehouse keeps whatever the input, each a readable line in `problems`:
 * surrogate keys unique; per natural key, versions sorted by valid_from tile the time (each valid_to is the
 * next valid_from: no gap, no overlap, no empty interval), the last one open (valid_to NULL) and the only one
 * is_current; neighbours differ in their attributes; every fact's surrogate keys exist and their versions
 * cover the fact's order_date; one row per (order_id, line_no). An SCD1 dimension: one row per natural key.
 *
 * Read through TestWarehouse.query, on both dialects; the dialect only decides how a value is cast to text.
 */
import type { DialectName, TestWarehouse } from './warehouses.ts';
import { factRow, sameAttributes, scd1Row, versionRow, type ComparableHistory, type HistoryMode } from './history-oracle.ts';

export interface DimensionRow {
  sk: string;
  key: string;
  attributes: (string | null)[];
  /** Null in an SCD1 dimension (no such columns). */
  validFrom: string | null;
  validTo: string | null;
  isCurrent: boolean | null;
}

export interface FactTableRow {
  orderId: string;
  lineNo: number;
  orderDate: string;
  totalAmount: string | null;
  productSk: string;
  customerSk: string;
  quantity: number;
}

export interface HistoryTables {
  customers: DimensionRow[];
  products: DimensionRow[];
  facts: FactTableRow[];
}

export interface HistorySnapshot extends ComparableHistory {
  tables: HistoryTables;
  /** Broken invariants, one line each; empty when all hold. */
  problems: string[];
}

export const HISTORY_COLUMNS = ['valid_from', 'valid_to', 'is_current'];

const DIMENSIONS = {
  customers: { sk: 'customer_sk', key: 'customer_id', attributes: ['name', 'email', 'address'] },
  products: { sk: 'product_sk', key: 'product_id', attributes: ['name', 'category', 'price'] },
} as const;

const text = (d: DialectName, c: string) => (d === 'mysql' ? `CAST(${c} AS CHAR)` : `CAST(${c} AS VARCHAR)`);
const date = (d: DialectName, c: string) => (d === 'mysql' ? `DATE_FORMAT(${c}, '%Y-%m-%d')` : `strftime(${c}, '%Y-%m-%d')`);

/** is_current: TINYINT(1) 0/1 on MariaDB, BOOLEAN on DuckDB; anything else is reported, not guessed. */
function flag(v: unknown): boolean | null {
  if (v === true || v === 1 || v === '1' || v === 1n) return true;
  if (v === false || v === 0 || v === '0' || v === 0n) return false;
  return null;
}

const orNull = (v: unknown) => (v === null || v === undefined ? null : String(v));

async function readDimension(db: TestWarehouse, table: keyof typeof DIMENSIONS, history: boolean, problems: string[]): Promise<DimensionRow[]> {
  const dim = DIMENSIONS[table];
  const columns = [
    `${text(db.dialect, dim.sk)} AS sk`,
    `${dim.key} AS k`,
    ...dim.attributes.map((a, i) => `${a === 'price' ? text(db.dialect, a) : a} AS a${i}`),
    ...(history ? [`${date(db.dialect, 'valid_from')} AS vf`, `${date(db.dialect, 'valid_to')} AS vt`, 'is_current AS cur'] : []),
  ];
  const rows = await db.query<any>(`SELECT ${columns.join(', ')} FROM ${table}`);
  return rows.map((r) => {
    const isCurrent = history ? flag(r.cur) : null;
    if (history && isCurrent === null) problems.push(`${table} ${r.k} from ${r.vf}: is_current is ${JSON.stringify(r.cur)}, not 0/1 or a boolean`);
    return {
      sk: String(r.sk),
      key: String(r.k),
      attributes: dim.attributes.map((_, i) => orNull(r[`a${i}`])),
      validFrom: history ? orNull(r.vf) : null,
      validTo: history ? orNull(r.vt) : null,
      isCurrent,
    };
  });
}

export async function readHistoryTables(db: TestWarehouse, mode: HistoryMode, problems: string[] = []): Promise<HistoryTables> {
  const customers = await readDimension(db, 'customers', mode.customers, problems);
  const products = await readDimension(db, 'products', mode.products, problems);
  const t = (c: string) => text(db.dialect, c);
  const facts = await db.query<any>(
    `SELECT order_id, ${t('line_no')} AS line_no, ${date(db.dialect, 'order_date')} AS d, ${t('total_amount')} AS total,
            ${t('product_sk')} AS psk, ${t('customer_sk')} AS csk, ${t('quantity')} AS q FROM orders`,
  );
  return {
    customers,
    products,
    facts: facts.map((r) => ({
      orderId: String(r.order_id),
      lineNo: Number(r.line_no),
      orderDate: String(r.d),
      totalAmount: orNull(r.total),
      productSk: String(r.psk),
      customerSk: String(r.csk),
      quantity: Number(r.q),
    })),
  };
}

function dimensionProblems(table: string, rows: DimensionRow[], history: boolean): string[] {
  const problems: string[] = [];
  const sks = new Set<string>();
  for (const r of rows) {
    if (sks.has(r.sk)) problems.push(`${table}: surrogate key ${r.sk} is used twice`);
    sks.add(r.sk);
  }
  const byKey = new Map<string, DimensionRow[]>();
  for (const r of rows) byKey.set(r.key, [...(byKey.get(r.key) ?? []), r]);
  for (const [key, versions] of byKey) {
    if (!history) {
      if (versions.length > 1) problems.push(`${table} ${key}: ${versions.length} rows in an SCD1 dimension`);
      continue;
    }
    if (versions.some((v) => v.validFrom === null)) {
      problems.push(`${table} ${key}: a version without valid_from`);
      continue;
    }
    versions.sort((a, b) => (a.validFrom! < b.validFrom! ? -1 : a.validFrom! > b.validFrom! ? 1 : 0));
    const current = versions.filter((v) => v.isCurrent);
    const open = versions.filter((v) => v.validTo === null);
    if (current.length !== 1 || open.length !== 1 || current[0] !== open[0] || open[0] !== versions.at(-1)) {
      problems.push(`${table} ${key}: ${current.length} current and ${open.length} open version(s); the one current version must be the last, with valid_to NULL`);
    }
    versions.forEach((v, i) => {
      const at = `${table} ${key} [${v.validFrom}, ${v.validTo ?? 'NULL'})`;
      if (v.validTo !== null && v.validTo <= v.validFrom!) problems.push(`${at}: empty or reversed interval`);
      const next = versions[i + 1];
      if (!next) return;
      if (v.validTo === null) problems.push(`${at}: open, but followed by a version from ${next.validFrom}`);
      else if (v.validTo < next.validFrom!) problems.push(`${at}: gap until the next version from ${next.validFrom}`);
      else if (v.validTo > next.validFrom!) problems.push(`${at}: overlaps the next version from ${next.validFrom}`);
      if (sameAttributes(v.attributes, next.attributes)) problems.push(`${at}: same attributes as the next version from ${next.validFrom}`);
    });
  }
  return problems;
}

/** The version a fact's surrogate key points at, and whether it covers the fact's date. */
function pointee(table: string, rows: Map<string, DimensionRow>, sk: string, f: FactTableRow, history: boolean, problems: string[]): DimensionRow | null {
  const row = rows.get(sk);
  const fact = `fact ${f.orderId}/${f.lineNo} of ${f.orderDate}`;
  if (!row) {
    problems.push(`${fact}: ${table} surrogate key ${sk} does not exist`);
    return null;
  }
  if (history && row.validFrom !== null && !(row.validFrom <= f.orderDate && (row.validTo === null || f.orderDate < row.validTo))) {
    problems.push(`${fact}: points at ${table} ${row.key} [${row.validFrom}, ${row.validTo ?? 'NULL'}), which does not cover its date`);
  }
  return row;
}

/** The tables as the oracle writes them, and the broken invariants. */
export function compareShape(tables: HistoryTables, mode: HistoryMode, problems: string[] = []): HistorySnapshot {
  problems.push(...dimensionProblems('customers', tables.customers, mode.customers), ...dimensionProblems('products', tables.products, mode.products));
  const customers = new Map(tables.customers.map((r) => [r.sk, r]));
  const products = new Map(tables.products.map((r) => [r.sk, r]));
  const lines = new Set<string>();
  const facts = tables.facts.map((f) => {
    const line = `${f.orderId}/${f.lineNo}`;
    if (lines.has(line)) problems.push(`fact ${line}: twice`);
    lines.add(line);
    const c = pointee('customers', customers, f.customerSk, f, mode.customers, problems);
    const p = pointee('products', products, f.productSk, f, mode.products, problems);
    return factRow({
      orderId: f.orderId,
      lineNo: f.lineNo,
      orderDate: f.orderDate,
      totalAmount: f.totalAmount,
      productId: p?.key ?? `?sk ${f.productSk}`,
      productValidFrom: mode.products ? (p?.validFrom ?? null) : null,
      customerId: c?.key ?? `?sk ${f.customerSk}`,
      customerValidFrom: mode.customers ? (c?.validFrom ?? null) : null,
      quantity: f.quantity,
    });
  });
  const dimension = (rows: DimensionRow[], history: boolean) =>
    rows
      .map((r) => (history ? versionRow({ key: r.key, validFrom: r.validFrom!, validTo: r.validTo, isCurrent: r.isCurrent!, attributes: r.attributes }) : scd1Row(r.key, r.attributes)))
      .sort();
  return {
    customers: dimension(tables.customers, mode.customers),
    products: dimension(tables.products, mode.products),
    facts: facts.sort(),
    tables,
    problems,
  };
}

export async function historySnapshot(db: TestWarehouse, mode: HistoryMode): Promise<HistorySnapshot> {
  const problems: string[] = [];
  return compareShape(await readHistoryTables(db, mode, problems), mode, problems);
}

/** Every row with its surrogate keys, sorted: for comparing two warehouses key for key. */
export function keyedRows(t: HistoryTables): { customers: string[]; products: string[]; facts: string[] } {
  const dim = (rows: DimensionRow[]) => rows.map((r) => JSON.stringify([r.sk, r.key, ...r.attributes, r.validFrom, r.validTo, r.isCurrent])).sort();
  return {
    customers: dim(t.customers),
    products: dim(t.products),
    facts: t.facts.map((f) => JSON.stringify([f.orderId, f.lineNo, f.orderDate, f.totalAmount, f.productSk, f.customerSk, f.quantity])).sort(),
  };
}

/** A table's columns: their types as the database describes them (lower-case), and whether they take NULL. */
export async function columnsOf(db: TestWarehouse, table: string): Promise<Map<string, { type: string; nullable: boolean }>> {
  const sql =
    db.dialect === 'mysql'
      ? `SELECT COLUMN_NAME AS c, COLUMN_TYPE AS t, IS_NULLABLE AS n FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '${table}' ORDER BY ORDINAL_POSITION`
      : `SELECT column_name AS c, data_type AS t, is_nullable AS n FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = '${table}' ORDER BY ordinal_position`;
  const rows = await db.query<any>(sql);
  return new Map(rows.map((r) => [String(r.c), { type: String(r.t).toLowerCase(), nullable: String(r.n).toUpperCase() === 'YES' }]));
}
