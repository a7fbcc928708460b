// Bundles src/ into dist/cli.mjs with esbuild (already installed as tsx's own dependency), so that the CLI
// starts without transpiling and without tsx's loader thread (about 35 MB less at peak). Runs on `npm ci`
// (the prepare script). bin/ falls back to running src/ through tsx when dist/ is missing or older than src/.
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// Paths below are the package's, wherever this script is started from.
process.chdir(fileURLToPath(new URL('..', import.meta.url)));

let build;
try {
  ({ build } = await import('esbuild'));
} catch {
  // Without esbuild there is no bundle, and bin/ runs the sources through tsx: slower to start, same result.
  console.warn('orders-etl: esbuild is not installed; skipping the bundle (bin/ will run src/ through tsx)');
  process.exit(0);
}

// Split: what the CLI imports only when needed (DuckDB's bindings, the AWS SDK) lives in chunks loaded then, so
// that a process which does not use them does not map their native code or build their modules.
rmSync('dist', { recursive: true, force: true });
await build({
  entryPoints: { cli: 'src/cli/main.ts' },
  outdir: 'dist',
  outExtension: { '.js': '.mjs' },
  chunkNames: 'chunks/[name]-[hash]',
  splitting: true,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  sourcemap: 'linked',
  logLevel: 'warning',
});
