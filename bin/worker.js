// Runs the CLI inside the worker started by orders-etl.js: the esbuild bundle (dist/cli.mjs) when it is
// there and newer than every file in src/, else the TypeScript sources through tsx.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parentPort, workerData } from 'node:worker_threads';

const root = fileURLToPath(new URL('..', import.meta.url));

function newestSource(dir) {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = `${dir}/${e.name}`;
    if (e.isDirectory()) {
      newest = Math.max(newest, newestSource(p));
      continue;
    }
    try {
      newest = Math.max(newest, statSync(p).mtimeMs);
    } catch (err) {
      // Gone since it was listed (an editor's save), or a link to nothing (an editor's lock file): not a source.
      if (!err || err.code !== 'ENOENT') throw err;
    }
  }
  return newest;
}

/** The newest source's time, or 0 where there are no sources (a copy of the package with dist/ only). */
function newestSourceOrNone() {
  return existsSync(`${root}src`) ? newestSource(`${root}src`) : 0;
}

/** The bundle's time, or -1 where there is none (esbuild was not installed). */
function bundleTime() {
  try {
    return statSync(`${root}dist/cli.mjs`).mtimeMs;
  } catch (err) {
    if (err && err.code === 'ENOENT') return -1;
    throw err;
  }
}

async function loadMain() {
  const bundled = bundleTime();
  // A bundle that does not load is an error, said as such: not hidden by running the sources instead.
  if (bundled >= 0 && bundled >= newestSourceOrNone()) {
    try {
      return (await import('../dist/cli.mjs')).main;
    } catch (err) {
      throw new Error(`dist/cli.mjs does not load (${err && err.message}): npm ci installs the dependencies again and builds it (npm run build builds it alone)`, { cause: err });
    }
  }
  const { register } = await import('tsx/esm/api');
  register();
  return (await import('../src/cli/main.ts')).main;
}

// The reader of standard output went away (bin/orders-etl.js): standard output fails here as the pipe did,
// so the command stops writing and ends (Output in src/cli/output.ts).
let readerGone = false;
// Ctrl-C or SIGTERM while a statement runs that the CLI can stop (orders-etl.js): it is stopped, then the main
// thread is told, and ends the process by that signal.
let stopStatement = null;
parentPort.on('message', (message) => {
  if (message === 'interrupt') {
    void Promise.resolve()
      .then(() => stopStatement?.())
      .catch(() => {})
      .finally(() => parentPort.postMessage({ interrupted: true }));
    return;
  }
  if (message !== 'reader-gone') return;
  readerGone = true;
  // The CLI's Output takes the error up while it writes; the table writes only at its end, and the news may come
  // once it has (its listener gone): then the error is expected and nobody's, not a crash of the worker.
  process.stdout.on('error', () => {});
  process.stdout.destroy(Object.assign(new Error('the reader of standard output went away'), { code: 'EPIPE' }));
});
// A listener on parentPort keeps the worker alive: it must not once the CLI has finished.
parentPort.unref();

const main = await loadMain();
// Output written in a worker reaches the terminal through the main thread, and input comes from it: say
// whether that is a terminal.
Object.defineProperty(process.stdin, 'isTTY', { value: workerData.stdinTTY });
Object.defineProperty(process.stdout, 'isTTY', { value: workerData.stdoutTTY });
Object.defineProperty(process.stderr, 'isTTY', { value: workerData.stderrTTY });
if (workerData.columns) Object.defineProperty(process.stdout, 'columns', { value: workerData.columns });
const onStoppable = (stop) => {
  stopStatement = stop;
  parentPort.postMessage({ stoppable: stop !== null });
};
const onSource = (uri, resumable) => parentPort.postMessage({ source: uri, resumable });
const code = await main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env, onStoppable, onSource });
// Hand everything written to the main thread before the exit code that ends it.
await new Promise((r) => process.stdout.write('', r));
await new Promise((r) => process.stderr.write('', r));
parentPort.postMessage(code);
// A destroyed standard output keeps a worker from ending by itself, and so does a standard input the CLI
// stopped reading part way (a load that failed: Node's port for it stays open until the input ends); the CLI
// has finished and closed the warehouse, so nothing native runs any more. (For a load from stdin this also
// skips the check in orders-etl.js that the engine stops by itself.)
if (readerGone || workerData.readsStdin) process.exit(code);
