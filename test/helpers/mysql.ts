/**
 * Each test gets its own fresh database on the real MariaDB/MySQL server (MYSQL_URL, default
 * mysql://root@127.0.0.1:3306/test). A missing server fails the test with what to start; nothing skips.
 */
import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';

export const MYSQL_URL = process.env.MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';

export interface TestDb {
  /** URL of the fresh database, for --db. */
  url: string;
  name: string;
  admin: mysql.Connection;
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  drop(): Promise<void>;
}

export async function adminConnection(): Promise<mysql.Connection> {
  const u = new URL(MYSQL_URL);
  try {
    return await mysql.createConnection({
      host: u.hostname,
      port: Number(u.port || 3306),
      user: decodeURIComponent(u.username) || 'root',
      password: decodeURIComponent(u.password),
      charset: 'UTF8MB4_BIN',
      dateStrings: true,
      supportBigNumbers: true,
      bigNumberStrings: true,
      multipleStatements: true,
    });
  } catch (err) {
    throw new Error(
      `The tests need a MySQL-compatible server at ${u.host} (MYSQL_URL). Start MariaDB with: ` +
        `start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd  (${(err as Error).message})`,
    );
  }
}

export async function freshDatabase(): Promise<TestDb> {
  const admin = await adminConnection();
  const name = `oe_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  await admin.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
  const u = new URL(MYSQL_URL);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    name,
    admin,
    async query<T>(sql: string, params?: unknown[]) {
      await admin.query(`USE \`${name}\``);
      const [rows] = await admin.query(sql, params);
      return rows as T[];
    },
    async drop() {
      await admin.query(`DROP DATABASE IF EXISTS \`${name}\``);
      await admin.end();
    },
  };
}
