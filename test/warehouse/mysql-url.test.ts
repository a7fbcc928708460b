/**
 * The MySQL URL and --db-ssl-ca (src/warehouse/mysql/url.ts), without a server: which TLS settings a URL asks
 * for, and the combinations refused as usage errors before anything connects. TLS against a real server:
 * test/tls.test.ts.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { EtlError } from '../../src/errors.ts';
import { parseMysqlUrl } from '../../src/warehouse/mysql/url.ts';
import { ROOT, runCli, tempDir } from '../helpers/run.ts';

describe('the MySQL URL', () => {
  const files = tempDir();
  const caFile = files.file('ca.pem', '-----BEGIN CERTIFICATE-----\nnot checked here\n-----END CERTIFICATE-----\n');
  after(() => files.cleanup());

  it('turns TLS on with a CA, from --db-ssl-ca or from ssl-ca in the URL, and leaves it off without one', () => {
    assert.equal(parseMysqlUrl('mysql://u:p@db.example/shop').ssl, null);
    assert.equal(parseMysqlUrl('mysql://u:p@db.example/shop?ssl-mode=DISABLED').ssl, null);
    for (const [url, tls] of [
      ['mysql://u:p@db.example/shop', { caFile }],
      [`mysql://u:p@db.example/shop?ssl-ca=${encodeURIComponent(caFile)}`, {}],
      ['mysql://u:p@db.example/shop?ssl-mode=REQUIRED', { caFile }],
    ] as const) {
      assert.deepEqual(parseMysqlUrl(url, tls).ssl, { ca: '-----BEGIN CERTIFICATE-----\nnot checked here\n-----END CERTIFICATE-----\n', rejectUnauthorized: true, verifyIdentity: true }, url);
    }
    assert.deepEqual(parseMysqlUrl('mysql://u:p@db.example/shop?ssl-mode=VERIFY_CA', { caFile }).ssl?.verifyIdentity, false);
  });

  // A CA once lost to ssl-mode=DISABLED without a word: the session went in plain text.
  it('refuses a CA with ssl-mode=DISABLED as a usage error, whichever gives the CA, rather than connect in plain text', () => {
    for (const [url, tls, ca] of [
      ['mysql://u:p@db.example/shop?ssl-mode=DISABLED', { caFile }, '--db-ssl-ca'],
      ['mysql://u:p@db.example/shop?sslmode=disabled', { caFile }, '--db-ssl-ca'],
      [`mysql://u:p@db.example/shop?ssl-mode=DISABLED&ssl-ca=${encodeURIComponent(caFile)}`, {}, 'ssl-ca in the URL'],
    ] as const) {
      assert.throws(
        () => parseMysqlUrl(url, tls),
        (err: unknown) => err instanceof EtlError && err.code === 'E_USAGE' && err.message === `--db: ${ca} asks for TLS and ssl-mode=DISABLED in the URL turns it off; give one or the other`,
        url,
      );
    }
  });

  it('says that a URL without a database names none, rather than calling "" not a plain identifier', () => {
    for (const url of ['mysql://u:p@db.example:3306', 'mysql://u:p@db.example:3306/', 'mysql://u:p@db.example/?ssl-mode=DISABLED']) {
      assert.throws(
        () => parseMysqlUrl(url),
        (err: unknown) => err instanceof EtlError && err.code === 'E_USAGE' && err.message === '--db: the URL names no database (expected mysql://user:password@host:3306/database)',
        url,
      );
    }
  });

  it('takes a database name of letters, digits, _ and $ in any order, as the message says: 2024_sales too', () => {
    for (const name of ['shop', '2024_sales', '$cache', '_x', '123']) assert.equal(parseMysqlUrl(`mysql://u:p@db.example/${name}`).database, name);
    assert.throws(() => parseMysqlUrl('mysql://u:p@db.example/bad-name'), /database name "bad-name" is not a plain identifier \(letters, digits, _ and \$, at most 64\)/);
  });

  it('writes an IPv6 server in brackets when nothing listens there: ::1:1 would read as another address', async () => {
    const r = await runCli(['load', join(ROOT, 'fixtures', 'orders_initial.json'), '--db', 'mysql://u@[::1]:1/shop', '--retries', '0']);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /nothing listens on \[::1\]:1 \(is the MySQL\/MariaDB server running\?\)/);
  });

  it('quotes an unknown ssl-mode as it was typed', () => {
    assert.throws(
      () => parseMysqlUrl('mysql://u:p@db.example/shop?ssl-mode=bogus'),
      (err: unknown) => err instanceof EtlError && err.code === 'E_USAGE' && err.message === '--db: ssl-mode "bogus" is not one of DISABLED, REQUIRED, VERIFY_CA, VERIFY_IDENTITY',
    );
  });

  it('says so with exit 2 as other usage errors, before anything connects, and shows no password', async () => {
    const r = await runCli(['query', 'SELECT 1', '--db', 'mysql://u:S3cret-not-shown@127.0.0.1:1/shop?ssl-mode=DISABLED', '--db-ssl-ca', caFile]);
    assert.equal(r.code, 2);
    assert.equal(r.stderr, 'orders-etl: --db: --db-ssl-ca asks for TLS and ssl-mode=DISABLED in the URL turns it off; give one or the other\n');
  });
});
