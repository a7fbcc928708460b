/**
 * TLS to MySQL through the CLI, against the private server and the certificates generated for it (a CA, and a
 * server certificate for IP 127.0.0.1 and a name that does not resolve): --db-ssl-ca and ssl-mode=VERIFY_IDENTITY
 * connect and the engine's own session is encrypted; VERIFY_CA accepts the server's certificate under a host name
 * it does not carry; a certificate from another CA, and under VERIFY_IDENTITY a host name the certificate does not
 * carry, are refused with a clear error before anything reaches the server; so is a server without TLS when TLS
 * is asked for. Such refusals fail at once: another attempt would meet the same certificate.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { PrivateServer } from './helpers/mariadb-server.ts';
import { mysqlServer, privateServerOnly } from './helpers/mysql.ts';
import { startCountingProxy, type CountingProxy } from './helpers/mysql-proxy.ts';
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

  /** The test database's URL, at another host, port or database, with a password, with URL parameters. */
  function urlOf(at: { host?: string; port?: number; database?: string; password?: string }, params: Record<string, string> = {}): string {
    const u = new URL(db.url);
    if (at.host) u.hostname = at.host;
    if (at.port) u.port = String(at.port);
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

  /**
   * `orders-etl load` through a proxy that counts connections (`hideTls`: the server appears to have no TLS),
   * `args` made for the proxy's port: a refusal is final, so it fails after one connection, as E_DB (a
   * transient failure would be E_DB_CONNECTION "gave up after 6 attempts", some 7 s later).
   */
  async function refusedAtOnce(args: (port: number) => string[], why: (port: number) => RegExp, opts: { hideTls?: boolean } = {}): Promise<string> {
    const proxy: CountingProxy = await startCountingProxy(db.url, opts);
    try {
      const port = Number(new URL(proxy.url).port);
      const r = await runCli(['load', INITIAL, ...args(port)]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, why(port));
      assert.equal(proxy.connections(), 1, `one attempt: ${r.stderr}`);
      return r.stdout + r.stderr;
    } finally {
      await proxy.close();
    }
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
      (port: number) => ['--db', urlOf({ port, database, password: secret }), '--db-ssl-ca', server.otherCaFile],
      (port: number) => ['--db', urlOf({ port, database, password: secret }, { 'ssl-mode': 'VERIFY_CA', 'ssl-ca': server.otherCaFile })],
    ]) {
      const output = await refusedAtOnce(args, (port) => new RegExp(`^orders-etl: load failed \\[E_DB\\]: cannot connect to mysql://127\\.0\\.0\\.1:${port}/${database}: .*certificate`));
      assert.ok(!output.includes(secret), output);
    }
    await assertNotCreated(database);
  });

  it('refuses, under VERIFY_IDENTITY, a host name the certificate does not carry', async () => {
    const database = `${db.mysql!.name}_wrong_host`;
    // localhost reaches the server, but its certificate names 127.0.0.1 and another host. --db-ssl-ca alone
    // means VERIFY_IDENTITY, and REQUIRED is treated the same way (README).
    for (const args of [
      (port: number) => ['--db', urlOf({ host: 'localhost', port, database }, { 'ssl-mode': 'VERIFY_IDENTITY', 'ssl-ca': server.caFile })],
      (port: number) => ['--db', urlOf({ host: 'localhost', port, database }), '--db-ssl-ca', server.caFile],
      (port: number) => ['--db', urlOf({ host: 'localhost', port, database }, { 'ssl-mode': 'REQUIRED', 'ssl-ca': server.caFile })],
    ]) {
      await refusedAtOnce(args, (port) => new RegExp(`^orders-etl: load failed \\[E_DB\\]: cannot connect to mysql://localhost:${port}/${database}: .*does not match certificate's altnames`));
    }
    await assertNotCreated(database);
  });

  // A server without TLS was taken for a dropped connection: six attempts over some 7 s, then "gave up".
  it('refuses at once a server without TLS when TLS is asked for', async () => {
    const database = `${db.mysql!.name}_no_tls`;
    for (const args of [
      (port: number) => ['--db', urlOf({ port, database }, { 'ssl-mode': 'REQUIRED' })],
      (port: number) => ['--db', urlOf({ port, database }), '--db-ssl-ca', server.caFile],
    ]) {
      await refusedAtOnce(args, (port) => new RegExp(`^orders-etl: load failed \\[E_DB\\]: cannot connect to mysql://127\\.0\\.0\\.1:${port}/${database}: Server does not support secure connection\n$`), { hideTls: true });
    }
    await assertNotCreated(database);
  });

  it('still retries a connection dropped during the TLS handshake: that may be transient', async () => {
    const database = `${db.mysql!.name}_dropped`;
    const proxy = await startCountingProxy(db.url, { closeOnReply: true });
    try {
      const port = Number(new URL(proxy.url).port);
      const r = await runCli(['load', INITIAL, '--db', urlOf({ port, database }), '--db-ssl-ca', server.caFile, '--retries', '1']);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`^orders-etl: load failed \\[E_DB_CONNECTION\\]: gave up after 2 attempts to take the load lock on mysql://127\\.0\\.0\\.1:${port}/${database}: cannot connect to mysql://127\\.0\\.0\\.1:${port}/${database}: `));
      assert.equal(proxy.connections(), 2, r.stderr);
    } finally {
      await proxy.close();
    }
    await assertNotCreated(database);
  });
});
