/**
 * The long crash run: a writer process (tests/fixtures/store_writer.ts, loop mode: batches of
 * 1–24 puts and some range deletions, a third of them `sync: true` through `writeAsync`, some
 * through `write(…, { sync: true })`, the rest `sync: false`; a 64 KiB write buffer, so
 * memtable switches, new logs and flushes happen all the time) is SIGKILLed at a random moment,
 * `kills` times. After each kill the store is reopened and checked: the batches it holds are a
 * whole prefix of those written, every acknowledged one among them, with the model's contents;
 * and `ldb scan` (RocksDB replaying the killed directory on a copy) reads the same.
 *
 *     bun bench/crash.ts [kills] [seed]
 *     deno run -A bench/crash.ts [kills] [seed]
 *
 * Prints one line per kill and a summary: kills, acknowledged batches, batches applied without
 * an acknowledgement (in flight at the kill), lost acknowledged batches (must be 0).
 */
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { Store } from "../mod.ts";
import { appliedBatches, killMidWrite, modelAfter } from "../tests/fixtures/crash_check.ts";
import { Rng } from "../tests/helpers.ts";

const kills = Number(process.argv[2] ?? 100);
const seed = Number(process.argv[3] ?? Date.now() % 2 ** 31);
const rng = new Rng(seed);
const runtime = "Bun" in globalThis ? "bun" : "deno";
const decoder = new TextDecoder();
console.log(`${runtime}: ${kills} kills, seed ${seed}`);

let acknowledged = 0;
let inFlight = 0;
let lost = 0;
let failures = 0;
for (let kill = 1; kill <= kills; kill++) {
  const root = mkdtempSync(join(tmpdir(), "memtable-crash-"));
  const dir = join(root, "db");
  try {
    const sync = ["none", "mixed", "async"][rng.below(3)]!;
    const afterMs = 50 + rng.below(1500);
    const acked = await killMidWrite(dir, afterMs, sync);
    cpSync(dir, `${dir}-rocksdb`, { recursive: true });
    const store = Store.open({ dir });
    const { applied, whole } = appliedBatches(store.lastSequence);
    const want = modelAfter(applied);
    const got = [...store.iterator()].map((e) =>
      `${decoder.decode(e.key)} : ${decoder.decode(e.value)}`
    );
    await store.close();
    const scan = spawnSync("ldb", [`--db=${dir}-rocksdb`, "scan"], {
      encoding: "utf8",
      maxBuffer: 1 << 30,
    });
    const rocks = scan.stdout.split("\n").filter((l) => l !== "");
    const problems = [
      ...(whole ? [] : ["a batch applied in part"]),
      ...(applied >= acked ? [] : [`${acked - applied} acknowledged batches lost`]),
      ...(JSON.stringify(got) === JSON.stringify(want) ? [] : ["contents differ from the model"]),
      ...(scan.status === 0 && JSON.stringify(rocks) === JSON.stringify(want)
        ? []
        : [`ldb scan differs (${scan.stderr.trim()})`]),
    ];
    acknowledged += acked;
    inFlight += Math.max(0, applied - acked);
    lost += Math.max(0, acked - applied);
    if (problems.length > 0) failures++;
    console.log(
      `kill ${kill}: ${sync}, ${afterMs} ms in: ${acked} acknowledged, ${applied} applied` +
        (problems.length > 0 ? ` — FAILED: ${problems.join("; ")}` : ""),
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
console.log(JSON.stringify({
  runtime,
  seed,
  kills,
  acknowledgedBatches: acknowledged,
  appliedInFlight: inFlight,
  lostAcknowledged: lost,
  failedKills: failures,
}));
if (failures > 0) process.exit(1);
