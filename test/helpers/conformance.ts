/** The JSONTestSuite documents, vendored in test/data/JSONTestSuite (JSONTESTSUITE_DIR points elsewhere). */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './run.ts';

export const SUITE = process.env.JSONTESTSUITE_DIR ?? join(ROOT, 'test', 'data', 'JSONTestSuite', 'test_parsing');

export function suiteFiles(): { name: string; bytes: Buffer }[] {
  if (!existsSync(SUITE)) {
    throw new Error(`JSONTestSuite not found at ${SUITE}${process.env.JSONTESTSUITE_DIR ? ' (JSONTESTSUITE_DIR)' : ''}: the conformance tests need its test_parsing folder`);
  }
  return readdirSync(SUITE)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((name) => ({ name, bytes: readFileSync(join(SUITE, name)) }));
}

