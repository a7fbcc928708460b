#!/usr/bin/env node
// The CLI runs in a worker thread whose heap is capped (--max-heap-mb, default 160): memory stays bounded
// whatever V8's lazy collector would otherwise allow itself on a big machine, and running out of it is a
// clear error instead of a crash. This file only starts the worker and relays its exit code.
import { Worker } from 'node:worker_threads';

const DEFAULT_HEAP_MB = 160;
const args = process.argv.slice(2);
let heapMb = DEFAULT_HEAP_MB;
for (let i = 0; i < args.length; i++) {
  const m = /^--max-heap-mb(?:=(.*))?$/.exec(args[i]);
  if (m) heapMb = Number(m[1] ?? args[i + 1]);
}
// A value the CLI will refuse (it validates --max-heap-mb and exits 2 with the flag's message) still needs a
// worker to say so: start that one with the default.
if (!Number.isInteger(heapMb) || heapMb < 64 || heapMb > 1024 * 1024) heapMb = DEFAULT_HEAP_MB;

// A current folder deleted after the shell entered it: Node's worker cannot start there (process.cwd() fails in
// its setup), which showed as 'internal error' with Node's stack trace. Said as what it is, exit 1.
try {
  process.cwd();
} catch (err) {
  process.stderr.write(`orders-etl: failed: the current folder no longer exists (${err && err.code}: deleted since the shell entered it); cd into a folder that exists and run the command again\n`);
  process.exit(1);
}

// A worker has no standard input of its own: hand it ours when a source is `-`.
const readsStdin = args.includes('-');
const worker = new Worker(new URL('./worker.js', import.meta.url), {
  argv: args,
  stdin: readsStdin,
  workerData: { stdinTTY: Boolean(process.stdin.isTTY), stdoutTTY: Boolean(process.stdout.isTTY), stderrTTY: Boolean(process.stderr.isTTY), columns: process.stdout.columns ?? 0, readsStdin },
  // Young generation 32 MB: measured as the best speed for the size (bench/RESULTS.md).
  resourceLimits: { maxOldGenerationSizeMb: heapMb, maxYoungGenerationSizeMb: 32 },
  // A named pipe is read through a socket made from the descriptor fs.open gave (src/sources/file.ts openPipe),
  // and the socket closes it: the worker's record of descriptors to close when it exits would keep the number,
  // and the next pipe opened under it drew Node's warning "File descriptor N opened in unmanaged mode twice".
  // The worker lives as long as the process, which closes every descriptor when it ends.
  trackUnmanagedFds: false,
});
if (readsStdin) process.stdin.pipe(worker.stdin);
// A reader that goes away (orders-etl query ... | head) is not a failure: stop the engine and end quietly,
// as Unix tools do, instead of dying on an unhandled EPIPE with a stack trace. Only query, loads and rejects
// write much to stdout, and they only read; load writes its summary once, after everything is committed.
// The worker is told, and stops by itself: its standard output fails as a pipe would, its query ends and
// the warehouse is closed. Terminating it while DuckDB's native code runs can abort the whole process
// (`terminate called after throwing an instance of 'Napi::Error'`), so that is only the last resort.
// Standard output that fails otherwise (ENOSPC on /dev/full, EIO) is a failure, exit 1, and the worker is stopped
// the same way, for the same reason.
let readerGone = false;
let stdoutFailed = false;
process.stdout.on('error', (err) => {
  if (readerGone || stdoutFailed) return;
  if (err && err.code === 'EPIPE') readerGone = true;
  else {
    stdoutFailed = true;
    process.stderr.write(`orders-etl: cannot write to standard output: ${err && err.message}\n`);
  }
  worker.postMessage('reader-gone');
  setTimeout(() => void worker.terminate(), 5000).unref();
});
// Once the CLI has finished, the worker ends by itself. If something it started were still holding it, the
// process must end anyway: a nightly job never hangs on us. Saying so makes such a leak visible.
let stopper = null;
let finished = false;
// Ctrl-C (SIGINT), SIGTERM, or SIGHUP (the terminal or the ssh session closed). A server hears that a client
// went away only when it next writes to it: a query that works long before its first row (a sort, a large join, a
// SLEEP) ran on to its end after this process had died, keeping a core of the server busy and its tables held (a
// load then waits for them to build the fact table's keys). While query, loads or rejects runs a statement, the
// engine stops it on the server (KILL QUERY on a connection of its own), for up to 2 s (a second Ctrl-C meanwhile
// changes nothing: pressed twice, it ended the process before the KILL was sent); then, and at once otherwise (a
// load: its ledger row shows it interrupted), the process ends by the signal, as without this listener.
let stoppable = false;
let interrupted = null;
// The source the load was reading last, and whether a re-run resumes it (the worker says as each starts): named
// if the engine runs out of memory.
let loading = null;
const outOfMemoryWhere = () => {
  const tuning = '; lower --batch-size or raise --max-heap-mb';
  if (loading === null) return tuning;
  const again = loading.resumable ? ': the same command goes on after them' : '; this source has no ledger position and is read again from its start';
  return ` while loading ${loading.source}${tuning} (the batches committed are kept${again})`;
};
const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'];
const endBy = (signal) => {
  for (const s of STOP_SIGNALS) process.off(s, onSignal);
  process.kill(process.pid, signal);
};
const onSignal = (signal) => {
  if (interrupted) return;
  if (!stoppable) return endBy(signal);
  interrupted = signal;
  worker.postMessage('interrupt');
  setTimeout(() => endBy(signal), 2000);
};
for (const s of STOP_SIGNALS) process.on(s, onSignal);
worker.on('message', (code) => {
  if (typeof code === 'object' && code !== null) {
    if ('stoppable' in code) stoppable = code.stoppable;
    if ('source' in code) loading = code;
    if (code.interrupted && interrupted) endBy(interrupted);
    return;
  }
  finished = true;
  // Stopped because the reader went away: not a failure (see above).
  process.exitCode = stdoutFailed ? 1 : readerGone ? 0 : code;
  stopper = setTimeout(() => {
    process.stderr.write('orders-etl: internal: the engine did not stop by itself within 2 s of finishing; stopping it\n');
    void worker.terminate();
  }, 2000);
});
worker.on('exit', () => {
  if (stopper) clearTimeout(stopper);
  if (interrupted) return endBy(interrupted);
  // For measurements (the tests, bench): the whole process's peak, the engine's worker and DuckDB included.
  if (process.env.ORDERS_ETL_REPORT_RSS === '1') {
    process.stderr.write(`orders-etl: peak RSS ${Math.round(process.resourceUsage().maxRSS / 1024)} MB\n`);
  }
  if (stdoutFailed) process.exitCode = 1;
  else if (readerGone && !finished) process.exitCode ??= 0;
  // A worker that ends without handing over an exit code stopped before the CLI finished (its event loop ran
  // dry while it was still waiting): that is a failure, never a success.
  if (!finished && process.exitCode === undefined) {
    process.stderr.write('orders-etl: internal: the engine stopped before it finished\n');
    process.exitCode = 1;
  }
  if (readsStdin) process.stdin.destroy();
});
worker.on('error', (err) => {
  const oom = err && err.code === 'ERR_WORKER_OUT_OF_MEMORY';
  process.stderr.write(
    oom
      ? `orders-etl: failed: out of memory within --max-heap-mb ${heapMb}${outOfMemoryWhere()}\n`
      : `orders-etl: internal error: ${err && err.stack ? err.stack : err}\n`,
  );
  process.exitCode = 1;
});
