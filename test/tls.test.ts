/**
 * TLS to MySQL through the CLI, against the private server and the certificates generated for it (a CA, and a
 * server certificate for IP 127.0.0.1 and a name that does not resolve): --db-ssl-ca and ssl-mode=VERIFY_IDENTITY
 * connect and the engine's own session is encrypted; VERIFY_CA accepts the server's certificate under a host name
 * it does not carry; a certificate from another CA, and under VERIFY_IDENTITY a host name the certificate does not
 * carry, are refused with a clear error before anything reaches the server.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { PrivateServer } from './helpers/mariadb-server.ts';
import { mysqlServer, privateServerOnly } from './helpers/mysql.ts';
import { ROOT, runCli } from './helpers/run.ts';
import { DIALECTS, type TestWarehouse } from './helpers/warehouses.ts';

const INITIAL = join(ROOT, 'fixtures', 'orders_initial.json');

describe('TLS to MySQL', { skip: privateServerOnly('these tests need the certificate authority generated for the private server') }, () => {
  let server: PrivateServer;
  let db: TestWarehouse;

  before(async () => {
    server = (await mysqlServer()).private!;
    db = await DIALECTS.find((d) => d.name === 'mysql')!.fresh();
  });
  after(async () => {
    await db?.drop();
  });

  /** The test database's URL, at another host or database, with a password, with URL parameters. */
  function urlOf(at: { host?: string; database?: string; password?: string }, params: Record<string, string> = {}): string {
    const u = new URL(db.url);
    if (at.host) u.hostname = at.host;
    if (at.database) u.pathname = `/${at.database}`;
    if (at.password) u.password = at.password;
    u.search = new URLSearchParams(params).toString();
    return u.toString();
  }

  /** The cipher of the engine's own session, as `orders-etl query` shows it; '' when not encrypted. */
  async function sessionCipher(...dbArgs: string[]): Promise<string> {
    const r = await runCli(['query', "SHOW STATUS LIKE 'Ssl_cipher'", '--json', ...dbArgs]);
    assert.equal(r.code, 0, r.stderr);
    return (JSON.parse(r.stdout) as { Value: string }).Value;
  }

  /** A connection refused before anything reached the server: the database the URL names was not created. */
  async function assertNotCreated(database: string): Promise<void> {
    assert.deepEqual(await db.query('SHOW DATABASES LIKE ?', [database]), [], `${database} exists: the refused connection reached the server`);
  }

  it('loads with --db-ssl-ca, and the session is encrypted', async () => {
    const r = await runCli(['load', INITIAL, '--db', db.url, '--db-ssl-ca', server.caFile, '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).factRows, 7);
    assert.match(await sessionCipher('--db', db.url, '--db-ssl-ca', server.caFile), /^\S+$/, 'a cipher: TLS is on');
    assert.equal(await sessionCipher('--db', db.url), '', 'the same query without TLS shows no cipher');
  });

  it('connects with ssl-mode=VERIFY_IDENTITY and ssl-ca in the URL', async () => {
    assert.match(await sessionCipher('--db', urlOf({}, { 'ssl-mode': 'VERIFY_IDENTITY', 'ssl-ca': server.caFile })), /^\S+$/);
  });

  it('connects with ssl-mode=VERIFY_CA under a host name the certificate does not carry', async () => {
    assert.match(await sessionCipher('--db', urlOf({ host: 'localhost' }, { 'ssl-mode': 'VERIFY_CA', 'ssl-ca': server.caFile })), /^\S+$/);
  });

  it('refuses a server certificate from another CA, naming the server and never the password', async () => {
    const secret = 'Tls-S3cret-do-not-print';
    const database = `${db.mysql!.name}_other_ca`;
    for (const args of [
      ['--db', urlOf({ database, password: secret }), '--db-ssl-ca', server.otherCaFile],
      ['--db', urlOf({ database, password: secret }, { 'ssl-mode': 'VERIFY_CA', 'ssl-ca': server.otherCaFile })],
    ]) {
      const r = await runCli(['load', INITIAL, ...args]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`cannot connect to mysql://127\\.0\\.0\\.1:${server.port}/${database}: .*certificate`), r.stderr);
      assert.ok(!(r.stdout + r.stderr).includes(secret), r.stderr);
    }
    await assertNotCreated(database);
  });

  it('refuses, under VERIFY_IDENTITY, a host name the certificate does not carry', async () => {
    const database = `${db.mysql!.name}_wrong_host`;
    // localhost reaches the server, but its certificate names 127.0.0.1 and another host. --db-ssl-ca alone
    // means VERIFY_IDENTITY, and REQUIRED is treated the same way (README).
    for (const args of [
      ['--db', urlOf({ host: 'localhost', database }, { 'ssl-mode': 'VERIFY_IDENTITY', 'ssl-ca': server.caFile })],
      ['--db', urlOf({ host: 'localhost', database }), '--db-ssl-ca', server.caFile],
      ['--db', urlOf({ host: 'localhost', database }, { 'ssl-mode': 'REQUIRED', 'ssl-ca': server.caFile })],
    ]) {
      const r = await runCli(['load', INITIAL, ...args]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`cannot connect to mysql://localhost:${server.port}/${database}: .*does not match certificate's altnames`), r.stderr);
    }
    await assertNotCreated(database);
  });
});
