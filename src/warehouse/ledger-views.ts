/**
 * The ledger and the quarantined records as a user reads them (`orders-etl loads`, `orders-etl rejects`):
 * portable SQL over etl_loads and etl_rejects, so that nobody needs to know the tables, and one look at
 * their timestamps, to the second, whatever precision each dialect keeps (DATETIME(3), TIMESTAMP in µs).
 */
import type { QueryColumn, QuerySink } from './types.ts';

/**
 * The `running` rows of loads that have ended: those up to load id `through` (the largest when the warehouse
 * was seen free of loads, read before that), and where the dialect can tell, not updated since
 * `notUpdatedSince` (the server's time, read with `through`): a load that resumed an older row after that
 * check set its updated_at later.
 */
export interface DeadLoads {
  through: number;
  notUpdatedSince: string | null;
}

/**
 * Newest first: the load a user just ran is at the top, also of a preview cut short. What a reader looks for
 * first comes first (status, source, times, rows, rejects); the dimension counts and the error follow.
 *
 * `dead`: which `running` rows no process can still be running (see DeadLoads), or null when that is not
 * known. They are shown as `interrupted`: the process was killed (SIGKILL, Ctrl-C, a crash) before it could
 * say so. The next load of a source with a fingerprint (a file, an S3 object) resumes it; standard input and
 * pipes are never resumed, so theirs stay interrupted.
 *
 * `readWith`: the ledger has etl_loads.read_with (the --format and --records-path a source was read with,
 * where not what its name says), shown last.
 */
export function loadsSql(dead: DeadLoads | null, readWith: boolean): string {
  // Read from the warehouse, and written into the statement: only as a number and a plain timestamp.
  const valid = dead !== null && Number.isSafeInteger(dead.through) && (dead.notUpdatedSince === null || /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{1,6})?$/.test(dead.notUpdatedSince));
  const since = valid && dead.notUpdatedSince !== null ? ` AND updated_at < '${dead.notUpdatedSince}'` : '';
  const status = valid ? `CASE WHEN status = 'running' AND load_id <= ${dead.through}${since} THEN 'interrupted' ELSE status END AS status` : 'status';
  return `SELECT load_id, ${status}, source_uri, started_at, finished_at, records_committed, orders, fact_rows, rejected,
    customers_inserted, customers_updated, products_inserted, products_updated, error${readWith ? ', read_with' : ''}
  FROM etl_loads
 ORDER BY load_id DESC`;
}

/** One load's rejects in record order, or every load's, newest load first. */
export function rejectsSql(loadId: number | null): string {
  if (loadId !== null && !Number.isSafeInteger(loadId)) throw new Error(`not a load id: ${loadId}`);
  const where = loadId === null ? '' : `WHERE load_id = ${loadId}`;
  return `SELECT load_id, record_index, byte_offset, reason, raw, source_uri FROM etl_rejects ${where} ORDER BY load_id DESC, record_index`;
}

export const LEDGER_TIMESTAMPS = ['started_at', 'finished_at'];

/** `sink`, with the named timestamp columns cut to 'YYYY-MM-DD HH:MM:SS'. */
export function timestampsToSeconds(sink: QuerySink, names: readonly string[]): QuerySink {
  let cut: number[] = [];
  return {
    columns(columns: QueryColumn[]) {
      cut = columns.flatMap((c, i) => (names.includes(c.name) ? [i] : []));
      return sink.columns(columns);
    },
    rows(rows) {
      for (const row of rows) for (const i of cut) if (typeof row[i] === 'string') row[i] = (row[i] as string).slice(0, 19);
      return sink.rows(rows);
    },
  };
}
