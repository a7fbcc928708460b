/** The JSONTestSuite documents from ../shared/conformance, beside the checkout. */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './run.ts';

export const SUITE = process.env.JSONTESTSUITE_DIR ?? join(ROOT, '..', 'shared', 'conformance', 'JSONTestSuite', 'test_parsing');

export function suiteFiles(): { name: string; bytes: Buffer }[] {
  if (!existsSync(SUITE)) {
    throw new Error(`JSONTestSuite not found at ${SUITE}: the conformance tests need ../shared/conformance beside the checkout`);
  }
  return readdirSync(SUITE)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((name) => ({ name, bytes: readFileSync(join(SUITE, name)) }));
}

