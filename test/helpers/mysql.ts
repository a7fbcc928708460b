/**
 * Each test gets its own fresh database on a MySQL-compatible server, which is one of:
 * - MYSQL_URL, when set: a server of the user's. Tests create and drop their own databases on it and leave its
 *   global variables alone: the tests that would change them are skipped, saying why (privateServerOnly).
 * - else the private server test/run.ts (npm test) started for the whole run, described in
 *   ORDERS_ETL_TEST_MARIADB; or, for a test file run on its own, one started for this process on first use
 *   and stopped when the process exits.
 * With neither, the MySQL tests fail with what to install; nothing skips silently.
 */
import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';
import { findServerBinaries, INSTALL_HINT, spawnKeeper, type PrivateServer } from './mariadb-server.ts';

/** Set by test/run.ts for the test processes: {"server": PrivateServer} or {"error": why it did not start}. */
export const PRIVATE_SERVER_ENV = 'ORDERS_ETL_TEST_MARIADB';

export interface MysqlServer {
  url: string;
  /** The private server's details; null for MYSQL_URL. */
  private: PrivateServer | null;
}

let resolved: Promise<MysqlServer> | null = null;

/** The server this test process uses, started on first use when it is a private one of its own. */
export function mysqlServer(): Promise<MysqlServer> {
  resolved ??= resolveServer();
  return resolved;
}

async function resolveServer(): Promise<MysqlServer> {
  if (process.env.MYSQL_URL) return { url: process.env.MYSQL_URL, private: null };
  const given = process.env[PRIVATE_SERVER_ENV];
  if (given) {
    const reply = JSON.parse(given) as { server?: PrivateServer; error?: string };
    if (!reply.server) throw new Error(`The private MariaDB for the tests did not start: ${reply.error}`);
    await assertIsPrivate(reply.server);
    return { url: reply.server.url, private: reply.server };
  }
  if (!findServerBinaries()) throw new Error(`The MySQL tests need a server: ${INSTALL_HINT}`);
  // Stopped by the closed pipe when this process exits (spawnKeeper holds nothing open).
  const { server } = await spawnKeeper();
  return { url: server.url, private: server };
}

/** Tests change global variables on the private server: make sure the URL handed down leads to it. */
async function assertIsPrivate(server: PrivateServer): Promise<void> {
  const conn = await connect(server.url, `the private MariaDB (${PRIVATE_SERVER_ENV})`);
  try {
    const [rows] = await conn.query('SELECT @@datadir AS datadir');
    const datadir = (rows as { datadir: string }[])[0]!.datadir;
    if (datadir !== server.datadir) throw new Error(`${PRIVATE_SERVER_ENV} names ${server.url}, whose data directory is ${datadir}, not the private ${server.datadir}`);
  } finally {
    await conn.end();
  }
}

/**
 * The skip reason for tests that only the private server may run (they change global variables, or need the
 * certificates generated for it), or false when they run. Known without connecting, for node:test's { skip }.
 * `why` is a clause: "this test changes the global max_allowed_packet".
 */
export function privateServerOnly(why: string): string | false {
  return process.env.MYSQL_URL ? `MYSQL_URL is set, and ${why}: that is for the private server npm test starts when MYSQL_URL is unset` : false;
}

async function connect(url: string, what: string): Promise<mysql.Connection> {
  const u = new URL(url);
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
    throw new Error(`The tests cannot connect to ${what} at ${u.host}: ${(err as Error).message}`);
  }
}

export async function adminConnection(): Promise<mysql.Connection> {
  const server = await mysqlServer();
  return connect(server.url, server.private ? 'the private MariaDB' : 'the MySQL server of MYSQL_URL');
}

/**
 * Runs `work` with a global variable of the private server set to `value`, and sets it back to what it was
 * afterwards, whatever happens. Refuses any other server (MYSQL_URL): its global settings are someone else's.
 * The tests that call it also skip under MYSQL_URL (privateServerOnly), saying why.
 */
export async function withPrivateGlobal<T>(name: string, value: number, work: () => Promise<T>): Promise<T> {
  if (!/^[a-z_]+$/.test(name) || !Number.isFinite(value)) throw new Error(`withPrivateGlobal: bad variable ${name} = ${value}`);
  const server = await mysqlServer();
  if (!server.private) throw new Error(`refusing to SET GLOBAL ${name} on a server the tests did not start (MYSQL_URL)`);
  const admin = await adminConnection();
  try {
    const [rows] = await admin.query(`SELECT @@global.${name} AS v`);
    const before = Number((rows as { v: unknown }[])[0]!.v);
    await admin.query(`SET GLOBAL ${name} = ${value}`);
    try {
      return await work();
    } finally {
      await admin.query(`SET GLOBAL ${name} = ${before}`);
    }
  } finally {
    await admin.end();
  }
}

/**
 * KILLs the connections of the engine to `db` (every connection to it but the test's own) until `done()` or
 * three kills, a connection every 150 ms, polling every 25 ms. Returns the kills that happened: KILL answered
 * OK (a KILL of a connection already gone fails and does not count).
 */
export async function killConnections(db: TestDb, done: () => boolean): Promise<number> {
  const killer = await adminConnection();
  let kills = 0;
  try {
    for (let i = 0; i < 400 && kills < 3 && !done(); i++) {
      await new Promise((r) => setTimeout(r, 25));
      const [rows] = await killer.query('SELECT ID FROM information_schema.PROCESSLIST WHERE DB = ? AND ID <> CONNECTION_ID() AND ID <> ?', [db.name, (db.admin as unknown as { threadId: number }).threadId]);
      for (const row of rows as { ID: number }[]) {
        if (await killer.query(`KILL ${Number(row.ID)}`).then(() => true, () => false)) kills++;
        await new Promise((r) => setTimeout(r, 150));
      }
    }
  } finally {
    await killer.end();
  }
  return kills;
}

export interface TestDb {
  /** URL of the fresh database, for --db. */
  url: string;
  name: string;
  admin: mysql.Connection;
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  drop(): Promise<void>;
}

export async function freshDatabase(): Promise<TestDb> {
  const admin = await adminConnection();
  const name = `oe_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  await admin.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
  const u = new URL((await mysqlServer()).url);
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
