/**
 * Reference 2: the seed's pipeline (bench/seed/seed_pipeline.py, vendored: pandas, SQLAlchemy, PyMySQL) on the
 * same file and the same MariaDB, measured for wall time and peak memory. Its Python packages come from Debian
 * (python3-pandas, python3-sqlalchemy, python3-pymysql); they are installed when missing and we are root.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type mysql from 'mysql2/promise';

/** The seed's pipeline and schema, vendored beside the bench: nothing outside the repository is read. */
export const SEED_DIR = join(import.meta.dirname, 'seed');

/** Why the seed cannot run here, or null when it can. */
export function seedUnavailable(): string | null {
  if (!existsSync(join(SEED_DIR, 'seed_pipeline.py'))) return `no ${join(SEED_DIR, 'seed_pipeline.py')}`;
  const probe = () => spawnSync('/usr/bin/python3', ['-c', 'import pandas, sqlalchemy, pymysql'], { stdio: 'ignore' }).status === 0;
  if (probe()) return null;
  if (process.getuid?.() === 0) {
    process.stderr.write('bench: installing python3-pandas python3-sqlalchemy python3-pymysql (Debian) for the seed reference\n');
    spawnSync('apt-get', ['update', '-qq'], { stdio: 'ignore' });
    spawnSync('apt-get', ['install', '-y', '-qq', 'python3-pandas', 'python3-sqlalchemy', 'python3-pymysql'], { stdio: 'ignore', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    if (probe()) return null;
  }
  return 'python3 with pandas, sqlalchemy and pymysql is not installed (apt-get install python3-pandas python3-sqlalchemy python3-pymysql)';
}

export interface SeedResult {
  seconds: number;
  peakRssMb: number;
}

/** Run the seed's initial load of `file` into a fresh database `db` with the seed's own schema, on the server `server` names. */
export async function runSeed(admin: mysql.Connection, file: string, db: string, server: URL): Promise<SeedResult> {
  await admin.query(`DROP DATABASE IF EXISTS \`${db}\``);
  await admin.query(`CREATE DATABASE \`${db}\``);
  await admin.query(`USE \`${db}\``);
  for (const ddl of readFileSync(join(SEED_DIR, 'seed_schema.sql'), 'utf8').split(';').map((s) => s.trim()).filter(Boolean)) await admin.query(ddl);
  // Peak memory from the kernel's own accounting of the child (ru_maxrss), printed by a one-line wrapper.
  const wrapper = [
    'import resource, runpy, sys, time',
    't = time.time()',
    `sys.argv = ['seed_pipeline.py', 'initial', sys.argv[1], sys.argv[2]]`,
    `runpy.run_path(${JSON.stringify(join(SEED_DIR, 'seed_pipeline.py'))}, run_name='__main__')`,
    'print("SEED", time.time() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)',
  ].join('\n');
  // The same server and credentials as the bench's own connection (MYSQL_URL), in SQLAlchemy's spelling.
  const url = new URL(server.toString());
  url.protocol = 'mysql+pymysql:';
  url.username ||= 'root';
  url.port ||= '3306';
  url.pathname = `/${db}`;
  const r = spawnSync('/usr/bin/python3', ['-c', wrapper, file, url.toString()], { encoding: 'utf8', maxBuffer: 1 << 24 });
  const m = /SEED ([\d.]+) (\d+)/.exec(r.stderr ?? '');
  await admin.query(`DROP DATABASE IF EXISTS \`${db}\``);
  if (r.status !== 0 || !m) throw new Error(`the seed pipeline failed (exit ${r.status}): ${(r.stderr ?? '').slice(-2000)}`);
  return { seconds: Number(m[1]), peakRssMb: Math.round(Number(m[2]) / 1024) };
}
