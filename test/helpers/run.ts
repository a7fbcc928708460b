/** Running the CLI in-process (fast) and as a real child process (exit codes, signals, the bin entry). */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { main } from '../../src/cli/main.ts';
import type { TestDb } from './mysql.ts';
import type { Snapshot } from './model.ts';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const BIN = join(ROOT, 'bin', 'orders-etl.js');

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

class Capture extends Writable {
  text = '';
  isTTY = false;
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

export async function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<RunResult> {
  const stdout = new Capture();
  const stderr = new Capture();
  const code = await main(args, { stdout, stderr: stderr as unknown as NodeJS.WriteStream, env: { ...env } });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

export function runBin(args: string[], opts: { env?: NodeJS.ProcessEnv; stdin?: Buffer | string; cwd?: string } = {}): Promise<RunResult & { signal: NodeJS.Signals | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: opts.cwd ?? ROOT,
      env: Object.fromEntries(Object.entries({ ...process.env, ...opts.env }).filter(([, v]) => v !== undefined)),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code: code ?? -1, signal, stdout, stderr }));
    child.stdin.end(opts.stdin ?? '');
  });
}

export function tempDir(): { dir: string; file(name: string, content: string | Buffer): string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'orders-etl-test-'));
  return {
    dir,
    file(name, content) {
      const p = join(dir, name);
      writeFileSync(p, content);
      return p;
    },
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The warehouse as comparable rows keyed by natural keys; `keys` maps natural keys to surrogate keys. */
export async function mysqlSnapshot(db: TestDb): Promise<Snapshot & { customerKeys: Map<string, string>; productKeys: Map<string, string> }> {
  const customers = await db.query<any>('SELECT customer_sk, customer_id, name, email, address FROM customers');
  const products = await db.query<any>('SELECT product_sk, product_id, name, category, CAST(price AS CHAR) AS price FROM products');
  const facts = await db.query<any>(
    `SELECT o.order_id, o.line_no, DATE_FORMAT(o.order_date, '%Y-%m-%d') AS d, CAST(o.total_amount AS CHAR) AS t,
            p.product_id, c.customer_id, o.quantity
       FROM orders o JOIN products p ON p.product_sk = o.product_sk JOIN customers c ON c.customer_sk = o.customer_sk`,
  );
  const factCount = await db.query<any>('SELECT COUNT(*) AS n FROM orders');
  if (Number(factCount[0].n) !== facts.length) throw new Error('fact rows whose surrogate keys do not resolve');
  return {
    customers: customers.map((r) => JSON.stringify([r.customer_id, r.name, r.email, r.address])).sort(),
    products: products.map((r) => JSON.stringify([r.product_id, r.name, r.category, r.price])).sort(),
    facts: facts.map((r) => JSON.stringify([r.order_id, Number(r.line_no), r.d, r.t, r.product_id, r.customer_id, Number(r.quantity)])).sort(),
    customerKeys: new Map(customers.map((r) => [r.customer_id, String(r.customer_sk)])),
    productKeys: new Map(products.map((r) => [r.product_id, String(r.product_sk)])),
  };
}
