/**
 * What a load from S3 prints on stderr through the bin, as users run it: its own notes and summary only. The AWS
 * SDK (the locked 3.981) warns on every Node below 22 that later versions will need it, nine lines on the first client made,
 * although this package runs on Node 20 (package.json engines) and pins an SDK that does. A real S3 server
 * (s3rver) on loopback; the warehouse is a DuckDB path that the load never opens (nothing under the prefix).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runBin, tempDir } from '../helpers/run.ts';
import { BUCKET, S3_ENV, startS3, type TestS3 } from '../helpers/s3.ts';

describe('S3 load, stderr', () => {
  let s3: TestS3;
  const files = tempDir();
  before(async () => {
    s3 = await startS3();
  });
  after(async () => {
    await s3.close();
    files.cleanup();
  });

  it('holds the load\'s own lines only: no warning of the AWS SDK about the Node version', async () => {
    const file = join(files.dir, 'w.duckdb');
    const r = await runBin(['load', `s3://${BUCKET}/none/`, '--db', `duckdb:${file}`, '--s3-endpoint', s3.endpoint], {
      env: { ...S3_ENV, AWS_EC2_METADATA_DISABLED: 'true', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: undefined, NODE_NO_WARNINGS: undefined },
    });
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /NodeVersionSupportWarning|Warning:/);
    assert.match(r.stderr, new RegExp(`^orders-etl: nothing to load under s3://${BUCKET}/none/\\n.*loaded 0 of 0 source\\(s\\)`, 's'));
    assert.equal(existsSync(file), false);
  });
});
