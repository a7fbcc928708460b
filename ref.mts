import { duckdbReference } from './bench/duckdb-reference.ts';
const r = await duckdbReference(process.argv[2], process.argv[3]);
console.log(JSON.stringify(r));
