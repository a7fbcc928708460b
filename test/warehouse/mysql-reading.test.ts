/**
 * What `orders-etl query` runs on MySQL (src/warehouse/mysql/reading.ts), read as MySQL's lexer reads it:
 * INTO inside a string, a quoted identifier or a comment is text; anywhere else it is refused. The same
 * statements against a real server: test/query.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkReading } from '../../src/warehouse/mysql/reading.ts';

const refused = (sql: string, why: RegExp) => assert.throws(() => checkReading(sql), (err: Error) => why.test(err.message), sql);

describe('statements orders-etl query runs on MySQL', () => {
  it('takes statements that read, whatever INTO their strings, identifiers and comments hold', () => {
    for (const sql of [
      'select 1',
      "SELECT 'it\\'s INTO' AS a, 'say ''INTO''' AS b, \"INTO\" AS c",
      'SELECT `into` FROM `t``INTO`',
      'SELECT 1 # INTO OUTFILE\n',
      'SELECT 1 --\tINTO OUTFILE',
      'SELECT 1 -- INTO',
      'SELECT /*+ MAX_EXECUTION_TIME(1000) */ 1 /* INTO */',
      '(((SELECT 1))) UNION (SELECT 2)',
      '  \n\tWITH a AS (SELECT 1) SELECT * FROM a',
      'desc customers',
      'SHOW CREATE TABLE orders',
      'EXPLAIN FORMAT=JSON SELECT 1',
      'TABLE customers',
      'VALUES (1), (2)',
      "SELECT x'494E544F', N'INTO', _utf8mb4'INTO'",
      'SELECT 1 FROM t WHERE a = 1 ORDER BY b DESC',
      'SELECT naïve_into FROM t',
      'SELECT into_date, 1abc, 1.5e3, .5, 0x1F, \\N FROM t',
    ]) {
      assert.doesNotThrow(() => checkReading(sql), sql);
    }
  });

  it('refuses what writes, sets or puts a result somewhere', () => {
    refused('select a into outfile "/tmp/x" from t', /INTO \(a file, a variable\) is not taken/);
    refused('SELECT a FROM t INTO DUMPFILE "/tmp/x"', /INTO/);
    refused('SELECT 1--1 INTO @x', /INTO/); // `--` before a digit is arithmetic
    refused("SELECT 'a\\\\' INTO @x", /INTO/); // the string ends after an escaped backslash
    // Numbers end where MySQL ends them, and \N is a token: INTO right after one is still INTO.
    for (const sql of ['SELECT 1.0INTO @x', 'SELECT .5INTO @x', 'SELECT 1.INTO @x', 'SELECT 1e1INTO @x', 'SELECT 1E+1INTO @x', 'SELECT \\NINTO @x', 'SELECT 0x1FINTO @x']) {
      refused(sql, /INTO/);
    }
    refused('SELECT 1 /*!50000 INTO @x */', /executable comment/);
    refused('SELECT 1 /*M!100000 INTO @x */', /executable comment/);
    refused('SET GLOBAL max_connections = 1', /starts with SET/);
    refused('/* x */ FLUSH PRIVILEGES', /starts with FLUSH/);
    refused('KILL 1', /starts with KILL/);
    refused('DO SLEEP(1)', /starts with DO/);
    refused('CALL p()', /starts with CALL/);
    refused('ANALYZE TABLE orders', /starts with ANALYZE/);
    refused('(DELETE FROM t)', /starts with DELETE/);
    refused('INSERT INTO t VALUES (1)', /starts with INSERT/);
    refused('  ', /this text has none/);
    refused('# only a comment', /this text has none/);
  });
});
