/**
 * The native flush of a full 64 MiB memtable (issue 15), split into its parts:
 *
 *     bun bench/flush_native.ts [rounds=5]
 *     deno run -A bench/flush_native.ts …
 *
 * A memtable with `writeBufferSize: 64 << 20` (default options otherwise) is filled with random
 * 16-byte keys and distinct 100-byte values until `shouldFlush()`, made immutable, then flushed
 * with `flushMemTablesNative` to a temporary file `rounds` times. Reported: the median over the
 * rounds of MB of SST per second for the whole flush (file written, synced, renamed, directory
 * synced), of the durable write alone (`writeFileDurably` of the flush's own bytes, the same calls
 * the flush makes), and the rest (native encode and the copy out of the library: whole − write).
 * Point `MEMTABLE_LIBRARY_PATH` at another build to compare libraries.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { MemTable, ValueType } from "../mod.ts";
import { flushMemTablesNative } from "../flush.ts";
import { writeFileDurably } from "../src/table/file.ts";
import { Rng } from "../tests/helpers.ts";

const rounds = Number(process.argv[2] ?? 5);
const runtime = "Bun" in globalThis ? "bun" : "deno";

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)]!;
}

const rng = new Rng(0x15);
const mt = new MemTable({ writeBufferSize: 64 << 20 });
let seq = 0;
while (!mt.shouldFlush()) {
  const value = rng.bytes(100);
  new DataView(value.buffer).setUint32(0, seq, true); // distinct values
  mt.add(++seq, ValueType.Value, rng.bytes(16), value);
}
mt.markImmutable();

const dir = mkdtempSync(join(tmpdir(), "memtable-bench-flush-native-"));
try {
  const whole: number[] = [];
  const write: number[] = [];
  let size = 0;
  for (let r = 0; r < rounds; r++) {
    const path = join(dir, "000001.sst");
    let t = performance.now();
    size = flushMemTablesNative(path, { memtables: [mt] }).fileSize;
    whole.push(performance.now() - t);
    const bytes = readFileSync(path);
    rmSync(path);
    t = performance.now();
    writeFileDurably(join(dir, "000002.sst"), bytes);
    write.push(performance.now() - t);
    rmSync(join(dir, "000002.sst"));
  }
  const mb = size / 1e6;
  const ms = median(whole);
  const wms = median(write);
  const rate = (m: number) => +(mb / (m / 1000)).toFixed(1);
  console.log(JSON.stringify({
    runtime,
    library: process.env.MEMTABLE_LIBRARY_PATH ?? "default",
    entries: seq,
    sstMB: +mb.toFixed(1),
    ms: Math.round(ms),
    sstMBPerSec: rate(ms),
    writeSyncMs: Math.round(wms),
    encodeMs: Math.round(ms - wms),
    encodeMBPerSec: rate(ms - wms),
  }));
} finally {
  mt.close();
  rmSync(dir, { recursive: true, force: true });
}
