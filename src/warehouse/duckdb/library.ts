/**
 * DuckDB's packages, required rather than imported. Both are CommonJS: an ES module's import of one makes Node
 * parse its source and every module it re-exports (cjs-module-lexer) to find the names it exports, on top of
 * loading it: @duckdb/node-api re-exports some forty modules, which took 60 to 80 ms more than require() alone
 * (about 0.19 s against 0.11 s, by hand), on every start of a command on a DuckDB warehouse. The types are
 * node-api's own.
 */
import { createRequire } from 'node:module';
import type * as NodeApi from '@duckdb/node-api';
import type NodeBindings from '@duckdb/node-bindings';

const require = createRequire(import.meta.url);
const api = require('@duckdb/node-api') as typeof NodeApi;

export const bindings = require('@duckdb/node-bindings') as typeof NodeBindings;
export const { DuckDBBlobValue, DuckDBDataChunk, DuckDBInstance, DuckDBTypeId } = api;
export type DuckDBDataChunk = NodeApi.DuckDBDataChunk;
export type DuckDBInstance = NodeApi.DuckDBInstance;
export type DuckDBTypeId = NodeApi.DuckDBTypeId;
