#!/usr/bin/env bun
/**
 * The `memtable` command line: dump, inspect and verify SST files, list, verify and read store
 * directories (RocksDB databases) — what RocksDB's `sst_dump` and `ldb` are reached for.
 * `bunx memtable --help`, `deno run --allow-read --allow-ffi cli.ts --help`, or from JSR
 * `deno run --allow-net=jsr.io --allow-read --allow-write --allow-ffi --allow-env
 * jsr:@memtable/memtable/cli --help` (the library is downloaded to the cache once, as for any
 * JSR import).
 * Exit codes: 0 success, 1 usage error, 2 a data problem (corruption), 3 `get` of a key
 * without a value, 4 any other failure.
 *
 * @module
 */
import process from "node:process";
import { main } from "./src/cli/main.ts";

if (import.meta.main) process.exit(main(process.argv.slice(2)));
