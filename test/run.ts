/**
 * npm test, after the typecheck: node:test over the test files, one file at a time, against one private MariaDB
 * started for the whole run (unless MYSQL_URL names a server), which is stopped and removed at the end: after
 * a failure, and on Ctrl-C, SIGTERM or SIGHUP too. The tests' temp folders go into one folder of the run
 * (TMPDIR), removed at the end as well: an interrupted test file never gets to clean up after itself.
 * Arguments, when given, are the test files to run. Exit code: the tests' own, or 128 + the signal's number
 * when interrupted.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findServerBinaries, INSTALL_HINT, spawnKeeper, type KeptServer } from './helpers/mariadb-server.ts';
import { PRIVATE_SERVER_ENV } from './helpers/mysql.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** test/*.test.ts, then test/<folder>/*.test.ts, as the shell would expand them. */
function testFiles(): string[] {
  const found: string[] = [];
  const walk = (dir: string, depth: number) => {
    for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
      if (entry.isFile() && entry.name.endsWith('.test.ts')) found.push(`${dir}/${entry.name}`);
      else if (entry.isDirectory() && depth === 0) walk(`${dir}/${entry.name}`, 1);
    }
  };
  walk('test', 0);
  const depth = (f: string) => f.split('/').length;
  return found.sort((a, b) => depth(a) - depth(b) || (a < b ? -1 : 1));
}

const say = (line: string) => process.stderr.write(`npm test: ${line}\n`);

let interrupted: NodeJS.Signals | null = null;
let keeper: KeptServer | null = null;
let tests: ReturnType<typeof spawn> | null = null;
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    interrupted ??= signal;
    // A Ctrl-C at the terminal reaches the tests too; a signal sent to this process alone is passed on.
    // The private server is stopped below, once the tests have ended.
    if (tests && tests.exitCode === null) {
      tests.kill(signal);
      setTimeout(() => tests?.kill('SIGKILL'), 20_000).unref(); // a test stuck past its interruption
    }
  });
}

const runTmp = mkdtempSync(join(tmpdir(), 'orders-etl-test-run-'));
let code = 1;
try {
  const env: NodeJS.ProcessEnv = { ...process.env, TMPDIR: runTmp };
  delete env[PRIVATE_SERVER_ENV];
  if (process.env.MYSQL_URL) {
    say('MySQL tests use MYSQL_URL; the tests that change server-wide settings or need the private server\'s TLS certificates are skipped');
  } else if (!findServerBinaries()) {
    say(`no mariadbd or mysqld found and MYSQL_URL is not set: the MySQL tests will fail (${INSTALL_HINT}); the others run`);
  } else {
    try {
      keeper = await spawnKeeper();
      env[PRIVATE_SERVER_ENV] = JSON.stringify({ server: keeper.server });
      say(`private MariaDB on ${keeper.server.host}:${keeper.server.port} with TLS, in ${keeper.server.dir} (removed at the end)`);
    } catch (err) {
      env[PRIVATE_SERVER_ENV] = JSON.stringify({ error: (err as Error).message });
      say(`the private MariaDB did not start, so the MySQL tests will fail: ${(err as Error).message}`);
    }
  }
  if (!interrupted) {
    const files = process.argv.length > 2 ? process.argv.slice(2) : testFiles();
    tests = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', ...files], { cwd: ROOT, env, stdio: 'inherit' });
    const [exitCode, signal] = (await once(tests, 'exit')) as [number | null, NodeJS.Signals | null];
    code = exitCode ?? 128 + constants.signals[signal ?? 'SIGTERM'];
  }
} finally {
  await keeper?.close();
  rmSync(runTmp, { recursive: true, force: true });
}
process.exit(interrupted ? 128 + constants.signals[interrupted] : code);
