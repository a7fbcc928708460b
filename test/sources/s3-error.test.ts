/** s3Error (sources/s3.ts): what a refused S3 request says, for a read and for a listing. No server needed. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { s3Error } from '../../src/sources/s3.ts';

const refused = (message: string) => Object.assign(new Error(message), { name: 'AccessDenied', $metadata: { httpStatusCode: 403 } });

describe('s3Error: access denied', () => {
  it('names kms:Decrypt among the causes for a read only, not for a listing (which needs no KMS key)', () => {
    const read = s3Error(refused('Access Denied'), 'b', 'k.json', 'read').message;
    assert.match(read, /access denied to s3:\/\/b\/k\.json \(the server said AccessDenied: Access Denied\): the credentials lack s3:GetObject permission \(or, for an object encrypted with a KMS key, kms:Decrypt\), or they were refused/);
    const list = s3Error(refused('Access Denied'), 'b', 'exports/', 'list').message;
    assert.match(list, /the credentials lack s3:ListBucket permission, or they were refused/);
    assert.doesNotMatch(list, /kms/i);
  });
});
