/**
 * node-api decodes every VARCHAR it hands over with one TextDecoder of its own (vectors/dataAccessors.js),
 * made with the defaults, which drop a byte order mark (U+FEFF) that starts the text: a value stored as
 * "\uFEFFabc" came back as "abc" (in `query` output, in the keys the engine reads back). The warehouse holds
 * it byte for byte; only the reading lost it. Swapped here, once, when the DuckDB warehouse is loaded, for a
 * decoder that keeps it (ignoreBOM; invalid bytes still become U+FFFD, as before): node-api reads that export
 * at every call. Should a later node-api decode otherwise, or move that file, nothing fails here:
 * test/conformance-warehouse.test.ts does (values that start with U+FEFF, shown by `query`). The keys the engine
 * reads back do not depend on this (DuckdbWarehouse.scanKeys).
 */
import { createRequire } from 'node:module';

try {
  const accessors = createRequire(import.meta.url)('@duckdb/node-api/lib/vectors/dataAccessors.js') as { textDecoder?: unknown };
  if (accessors.textDecoder instanceof TextDecoder && !accessors.textDecoder.ignoreBOM) {
    accessors.textDecoder = new TextDecoder('utf-8', { ignoreBOM: true });
  }
} catch {
  // A node-api without that file: its output as it decodes it.
}
