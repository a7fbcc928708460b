// The keeper of a private test server (see mariadb-server.ts), run as its own process by spawnKeeper().
// Prints one JSON line, {"server": {...}} once the server answers or {"error": "..."}, then stops the server
// and removes its folder when stdin closes (the spawner ended, however it ended) or on SIGINT, SIGTERM, SIGHUP.
import { startServer } from './mariadb-server.ts';

const handle = startServer();
let exitCode = 0;
const shutdown = () => {
  void handle.stop().then(() => process.exit(exitCode));
};
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, shutdown);
process.stdin.on('end', shutdown);
process.stdin.on('error', shutdown);
process.stdin.resume();
// The spawner may be gone before the line is written: nothing to tell, the closed stdin stops the server.
process.stdout.on('error', () => {});

try {
  process.stdout.write(`${JSON.stringify({ server: await handle.ready })}\n`);
} catch (err) {
  exitCode = 1;
  process.stdout.write(`${JSON.stringify({ error: (err as Error).message })}\n`);
  shutdown();
}
