/**
 * node-api decodes every VARCHAR it hands over with one TextDecoder of its own (vectors/dataAccessors.js),
 * made with the defaults, which drop a byte order mark (U+FEFF) that starts the text: a value stored as
 * "\uFEFFabc" came back as "abc" (in `query` output, in the keys the engine reads back). The warehouse holds
 * it byte for byte; only the reading lost it. Swapped here, once, when the DuckDB warehouse is loaded, for a
 * decoder that keeps it (ignoreBOM; invalid bytes still become U+FFFD, as before): node-api reads that export
 * at every call. Should a later node-api decode otherwise, test/conformance-warehouse.test.ts fails (values
 * that start with U+FEFF, read back by `query` and by the engine).
 */
import { createRequire } from 'node:module';

const accessors = createRequire(import.meta.url)('@duckdb/node-api/lib/vectors/dataAccessors.js') as { textDecoder?: unknown };
if (accessors.textDecoder instanceof TextDecoder && !accessors.textDecoder.ignoreBOM) {
  accessors.textDecoder = new TextDecoder('utf-8', { ignoreBOM: true });
}
