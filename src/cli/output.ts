/**
 * How `orders-etl query`, `loads` and `rejects` print a result: JSON lines, CSV or an aligned table. Rows
 * arrive in chunks from the warehouse (Warehouse.streamQuery) and leave as one write per chunk, and each write
 * waits for standard output to drain: the reader's pace reaches the database, and memory stays flat whatever
 * the result's size. The table alone keeps rows, a bounded preview, because its widths depend on them.
 *
 * One rule for values on every warehouse (README, *Query output*): integers are JSON numbers when they are
 * safe integers (|n| < 2^53), else strings of their digits; DECIMAL values are JSON numbers written with their
 * exact digits when they have at most 15 significant digits (any reader's double then gives the same value
 * back), else strings; floats are numbers (NaN and infinities strings); booleans are booleans; everything
 * else, dates and timestamps included, is a string. NULL is null in JSON, empty in CSV, NULL in the table.
 */
import type { ColumnKind, QueryCell, QueryColumn, QuerySink } from '../warehouse/types.ts';
import { displayWidth, truncateToWidth } from './width.ts';

export type OutputFormat = 'table' | 'json' | 'csv';

/** A destination that is waited for: every write resolves once the stream can take more. */
export class Output {
  private readonly stream: NodeJS.WritableStream;
  private failure: Error | null = null;
  private readonly onError = (err: Error) => {
    this.failure ??= err;
  };

  constructor(stream: NodeJS.WritableStream) {
    this.stream = stream;
    stream.on('error', this.onError);
  }

  async write(text: string): Promise<void> {
    if (this.failure) throw this.failure;
    if (text === '' || this.stream.write(text)) return;
    await new Promise<void>((resolve, reject) => {
      const settle = (err?: Error) => {
        this.stream.off('drain', onDrain);
        this.stream.off('error', onFailure);
        this.stream.off('close', onClose);
        if (err) reject(err);
        else resolve();
      };
      const onDrain = () => settle();
      const onFailure = (err: Error) => settle(err);
      const onClose = () => settle(this.failure ?? new Error('standard output was closed'));
      this.stream.on('drain', onDrain);
      this.stream.on('error', onFailure);
      this.stream.on('close', onClose);
    });
  }

  /** The reader went away (EPIPE): the command stops, and that is not a failure (`query ... | head`). */
  get readerGone(): boolean {
    return (this.failure as NodeJS.ErrnoException | null)?.code === 'EPIPE';
  }

  close(): void {
    this.stream.off('error', this.onError);
  }
}

export interface ResultWriter extends QuerySink {
  /** After the last row: what only the end can say (the table, its row count). */
  finish(): Promise<void>;
}

export interface TableOptions {
  /** Rows shown; the rest are counted. */
  previewRows: number;
  /** Columns cut to at most `width` terminal columns (`…` marks the cut), by name; `keep: 'end'` for paths. */
  cut?: Readonly<Record<string, { width: number; keep?: 'start' | 'end' }>>;
}

export const DEFAULT_PREVIEW_ROWS = 1000;

export function resultWriter(format: OutputFormat, out: Output, table: TableOptions = { previewRows: DEFAULT_PREVIEW_ROWS }): ResultWriter {
  if (format === 'json') return new JsonLinesWriter(out);
  if (format === 'csv') return new CsvWriter(out);
  return new TableWriter(out, table);
}

// --- JSON lines --------------------------------------------------------------------------------------------

/** Significant digits a double holds exactly: a decimal with at most this many survives any JSON reader. */
const EXACT_DIGITS = 15;
const DECIMAL_TEXT = /^-?\d+(\.\d+)?$/;
const INTEGER_TEXT = /^-?\d+$/;

function significantDigits(decimal: string): number {
  return decimal.replace(/[-.]/g, '').replace(/^0+/, '').length;
}

export function jsonCell(v: QueryCell, kind: ColumnKind): string {
  if (v === null) return 'null';
  switch (typeof v) {
    case 'number':
      return Number.isFinite(v) ? String(v) : JSON.stringify(String(v));
    case 'bigint':
      return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? String(v) : `"${v}"`;
    case 'boolean':
      return v ? 'true' : 'false';
    default:
      if (kind === 'integer' && INTEGER_TEXT.test(v) && Number.isSafeInteger(Number(v))) return String(Number(v));
      if (kind === 'decimal' && DECIMAL_TEXT.test(v) && significantDigits(v) <= EXACT_DIGITS) return v;
      return JSON.stringify(v);
  }
}

/** Keys of a JSON object must differ: a name seen before gets _2, _3, ..., the first of them no column has. */
function distinctNames(names: string[]): string[] {
  // The names given come first: a made-up a_2 never takes the name of a column called a_2.
  const taken = new Set(names);
  const used = new Set<string>();
  return names.map((n) => {
    let name = n;
    for (let i = 2; used.has(name) || (name !== n && taken.has(name)); i++) name = `${n}_${i}`;
    used.add(name);
    return name;
  });
}

class JsonLinesWriter implements ResultWriter {
  private keys: string[] = [];
  private kinds: ColumnKind[] = [];
  private readonly out: Output;

  constructor(out: Output) {
    this.out = out;
  }

  columns(columns: QueryColumn[]): void {
    this.keys = distinctNames(columns.map((c) => c.name)).map((n) => `${JSON.stringify(n)}:`);
    this.kinds = columns.map((c) => c.kind);
  }

  rows(rows: QueryCell[][]): Promise<void> {
    let text = '';
    for (const row of rows) {
      text += '{';
      for (let i = 0; i < row.length; i++) text += (i ? ',' : '') + this.keys[i] + jsonCell(row[i]!, this.kinds[i]!);
      text += '}\n';
    }
    return this.out.write(text);
  }

  async finish(): Promise<void> {}
}

// --- CSV ---------------------------------------------------------------------------------------------------

/**
 * RFC 4180, with LF line ends (as most tools write and all read): a header line, fields quoted when they hold
 * a comma, a quote, CR or LF, quotes doubled. NULL is an empty field; an empty string is "" (quoted), so the
 * two stay apart.
 */
export function csvField(v: QueryCell): string {
  if (v === null) return '';
  if (typeof v !== 'string') return String(v);
  return v === '' || /[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

class CsvWriter implements ResultWriter {
  private readonly out: Output;

  constructor(out: Output) {
    this.out = out;
  }

  columns(columns: QueryColumn[]): Promise<void> {
    return this.out.write(`${columns.map((c) => csvField(c.name)).join(',')}\n`);
  }

  rows(rows: QueryCell[][]): Promise<void> {
    let text = '';
    for (const row of rows) {
      for (let i = 0; i < row.length; i++) text += (i ? ',' : '') + csvField(row[i]!);
      text += '\n';
    }
    return this.out.write(text);
  }

  async finish(): Promise<void> {}
}

// --- the table ---------------------------------------------------------------------------------------------

// C1 as well as C0: U+009B is CSI to terminals that take C1 controls in UTF-8 (VTE's, behind GNOME Terminal),
// as ESC [ is to all; and U+0080-U+009F is what Windows-1252 quotes and dashes become when decoded as Latin-1.
const CONTROL = /[\x00-\x1f\x7f-\x9f]/g;
const ESCAPES: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** A cell as the table shows it: on one line, control characters escaped. */
export function tableCell(v: QueryCell): string {
  if (v === null) return 'NULL';
  if (typeof v !== 'string') return String(v);
  return v.replace(CONTROL, (c) => ESCAPES[c] ?? `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

const NUMERIC: ReadonlySet<ColumnKind> = new Set(['integer', 'decimal', 'float']);

/** An aligned text table, padded by display width; numbers to the right. */
export function formatTable(columns: QueryColumn[], rows: string[][]): string {
  // Names escaped as cells are: MySQL names a column it is not given a name for by the expression's text, line
  // breaks included (`SUM(quantity *<newline> 2)`), which broke the header over two lines.
  const header = columns.map((c) => tableCell(c.name));
  const widths = header.map(displayWidth);
  const cellWidths = rows.map((r) => r.map((cell, i) => {
    const w = displayWidth(cell);
    if (w > widths[i]!) widths[i] = w;
    return w;
  }));
  const pad = (text: string, w: number, i: number) => {
    const fill = ' '.repeat(widths[i]! - w);
    return NUMERIC.has(columns[i]!.kind) ? fill + text : text + fill;
  };
  const line = (cells: string[], ws: number[]) => cells.map((c, i) => pad(c, ws[i]!, i)).join(' | ').trimEnd();
  return [
    line(header, header.map(displayWidth)),
    widths.map((w) => '-'.repeat(w)).join('-+-'),
    ...rows.map((r, k) => line(r, cellWidths[k]!)),
  ].join('\n') + '\n';
}

class TableWriter implements ResultWriter {
  private readonly out: Output;
  private readonly opts: TableOptions;
  private columnsSeen: QueryColumn[] = [];
  private cuts: ({ width: number; keep?: 'start' | 'end' } | undefined)[] = [];
  private readonly preview: string[][] = [];
  private total = 0;
  /** Names of the columns that had a cell cut. */
  private readonly cutColumns = new Set<string>();

  constructor(out: Output, opts: TableOptions) {
    this.out = out;
    this.opts = opts;
  }

  columns(columns: QueryColumn[]): void {
    this.columnsSeen = columns;
    this.cuts = columns.map((c) => this.opts.cut?.[c.name]);
  }

  rows(rows: QueryCell[][]): void {
    for (const row of rows) {
      this.total++;
      if (this.preview.length >= this.opts.previewRows) continue;
      this.preview.push(
        row.map((v, i) => {
          const text = tableCell(v);
          const how = this.cuts[i];
          if (how === undefined) return text;
          const cut = truncateToWidth(text, how.width, how.keep);
          if (cut !== text) this.cutColumns.add(this.columnsSeen[i]!.name);
          return cut;
        }),
      );
    }
  }

  finish(): Promise<void> {
    const n = (x: number) => x.toLocaleString('en-US');
    const shown = this.preview.length;
    const notes: string[] = [];
    if (this.total > shown) {
      notes.push(`… ${n(this.total - shown)} more row${this.total - shown === 1 ? '' : 's'} not shown (${n(this.total)} in all); use --csv or --json for all`);
    } else {
      notes.push(`(${n(this.total)} row${this.total === 1 ? '' : 's'})`);
    }
    if (this.cutColumns.size > 0) {
      notes.push(`(${[...this.cutColumns].join(', ')} cut to fit the terminal where marked …; --json or --csv give them whole)`);
    }
    return this.out.write(formatTable(this.columnsSeen, this.preview) + notes.join('\n') + '\n');
  }
}
