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
  if (m) heapMb = Number(m[1] ?? args[i + 1]); // validated again, with a proper message, by the CLI itself
}
if (!Number.isInteger(heapMb) || heapMb < 64) heapMb = DEFAULT_HEAP_MB;

// A worker has no standard input of its own: hand it ours when a source is `-`.
const readsStdin = args.includes('-');
const worker = new Worker(new URL('./worker.js', import.meta.url), {
  argv: args,
  stdin: readsStdin,
  workerData: { stdoutTTY: Boolean(process.stdout.isTTY), stderrTTY: Boolean(process.stderr.isTTY), columns: process.stdout.columns ?? 0 },
  // Young generation 32 MB: measured as the best speed for the size (bench/RESULTS.md).
  resourceLimits: { maxOldGenerationSizeMb: heapMb, maxYoungGenerationSizeMb: 32 },
});
if (readsStdin) process.stdin.pipe(worker.stdin);
worker.on('message', (code) => {
  process.exitCode = code;
});
worker.on('exit', () => {
  if (readsStdin) process.stdin.destroy();
});
worker.on('error', (err) => {
  const oom = err && err.code === 'ERR_WORKER_OUT_OF_MEMORY';
  process.stderr.write(
    oom
      ? `orders-etl: load failed: out of memory within --max-heap-mb ${heapMb}; lower --batch-size or raise --max-heap-mb\n`
      : `orders-etl: internal error: ${err && err.stack ? err.stack : err}\n`,
  );
  process.exitCode = 1;
});
