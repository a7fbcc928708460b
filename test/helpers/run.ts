/** Running the CLI in-process (fast) and as a real child process (exit codes, signals, the bin entry). */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { main } from '../../src/cli/main.ts';

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

/**
 * `opts.bin`: another copy's bin entry (default this package's); an `env` value undefined removes the variable;
 * `opts.stdin`: the input, written to a pipe, or `{ fd }`, a file descriptor the child gets as it is (a file).
 */
export function runBin(args: string[], opts: { env?: NodeJS.ProcessEnv; stdin?: Buffer | string | { fd: number }; cwd?: string; bin?: string } = {}): Promise<RunResult & { signal: NodeJS.Signals | null }> {
  const fd = typeof opts.stdin === 'object' && 'fd' in opts.stdin ? opts.stdin.fd : null;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [opts.bin ?? BIN, ...args], {
      cwd: opts.cwd ?? ROOT,
      env: Object.fromEntries(Object.entries({ ...process.env, ...opts.env }).filter(([, v]) => v !== undefined)),
      stdio: [fd ?? 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code: code ?? -1, signal, stdout, stderr }));
    if (fd !== null) return;
    // A child that fails before reading all of its input closes the pipe: not an error of the test's.
    child.stdin!.on('error', () => {});
    child.stdin!.end((opts.stdin as Buffer | string | undefined) ?? '');
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
