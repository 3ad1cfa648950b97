/**
 * MANIFEST.json is untrusted input: thousands of seeded mutations of a real one (values
 * replaced by other types and ranges, fields dropped or added, bytes flipped, the text cut
 * short). Every `Store.open` either opens a store that reads and closes, or refuses with a
 * `CorruptionError`/`StoreError` and leaves every file of the directory as it was, with no
 * descriptor left open. Replay with MEMTABLE_MANIFEST_SEED=<seed>.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { CorruptionError, Store, StoreError, WriteBatch } from "../mod.ts";
import { Rng, seedFor } from "./helpers.ts";

const oddValues: unknown[] = [
  null,
  true,
  "x",
  "../../etc/passwd",
  "1",
  -1,
  0,
  0.5,
  1e300,
  2 ** 53,
  Number.MAX_SAFE_INTEGER,
  [],
  {},
  [1],
  { number: 1 },
];

function mutate(good: string, rng: Rng): string {
  const m = JSON.parse(good);
  switch (rng.below(6)) {
    case 0: { // a top-level field gets an odd value
      const keys = Object.keys(m);
      m[keys[rng.below(keys.length)]!] = oddValues[rng.below(oddValues.length)];
      return JSON.stringify(m);
    }
    case 1: { // a file's field gets an odd value, or a nearby integer
      const f = m.files[rng.below(m.files.length)];
      const keys = Object.keys(f);
      const k = keys[rng.below(keys.length)]!;
      f[k] = rng.below(2) === 0 ? oddValues[rng.below(oddValues.length)] : f[k] + rng.below(5) - 2;
      return JSON.stringify(m);
    }
    case 2: { // a field dropped, or an unknown one added
      const target = rng.below(2) === 0 ? m : m.files[rng.below(m.files.length)];
      const keys = Object.keys(target);
      if (rng.below(2) === 0) delete target[keys[rng.below(keys.length)]!];
      else target.extra = oddValues[rng.below(oddValues.length)];
      return JSON.stringify(m);
    }
    case 3: { // files reordered, duplicated or dropped
      const files = m.files as unknown[];
      const i = rng.below(files.length);
      if (rng.below(3) === 0) files.push(structuredClone(files[i]));
      else if (rng.below(2) === 0) files.splice(i, 1);
      else files.reverse();
      return JSON.stringify(m);
    }
    case 4: { // a byte of the text changed
      const bytes = new TextEncoder().encode(good);
      bytes[rng.below(bytes.length)] = rng.below(256);
      return new TextDecoder().decode(bytes);
    }
    default: // the text cut short
      return good.slice(0, rng.below(good.length));
  }
}

function snapshotOf(dir: string): Map<string, string> {
  return new Map(
    readdirSync(dir).filter((f) => f !== "MANIFEST.json").sort().map((
      f,
    ) => [f, readFileSync(join(dir, f)).toString("hex")]),
  );
}

test(
  "Store.open() of a mutated MANIFEST.json opens a working store or refuses it and changes nothing (seeded)",
  {
    timeout: 300_000,
  },
  async () => {
    const rng = new Rng(seedFor("MEMTABLE_MANIFEST_SEED", "manifest mutations"));
    const dir = join(mkdtempSync(join(tmpdir(), "manifest-fuzz-")), "db");
    const setup = Store.open({ dir, flushInWorker: false });
    for (let f = 0; f < 3; f++) {
      for (let i = 0; i < 20; i++) setup.put(`k${f}:${i}`, `v${f}:${i}`);
      await setup.flush();
    }
    await setup.close();
    const good = readFileSync(join(dir, "MANIFEST.json"), "utf8");
    const files = snapshotOf(dir);
    let opened = 0;
    let refused = 0;
    for (let round = 0; round < 1500; round++) {
      const bad = mutate(good, rng);
      writeFileSync(join(dir, "MANIFEST.json"), bad);
      let store: Store | undefined;
      try {
        store = Store.open({ dir, flushInWorker: false });
      } catch (e) {
        assert.ok(
          e instanceof CorruptionError || e instanceof StoreError,
          `round ${round}: ${(e as Error).name}: ${(e as Error).message}\nmanifest: ${bad}`,
        );
        assert.match((e as Error).message, /^Store\.open\(\): /);
        assert.deepEqual(snapshotOf(dir), files, `round ${round}: a refused open changed a file`);
        refused++;
        continue;
      }
      // Accepted: the store must work (reads may find less if the mutation dropped a file).
      for (const { key } of store.iterator()) assert.ok(key.length > 0);
      store.get("k0:0");
      if (store.lastSequence < Number.MAX_SAFE_INTEGER) store.put("new", "x");
      else assert.throws(() => store!.put("new", "x"), /sequence numbers are used up/);
      await store.close();
      opened++;
      // Put the directory back as it was for the next round.
      rmSync(dir, { recursive: true, force: true });
      const again = Store.open({ dir, flushInWorker: false });
      await again.close();
      for (const [f, hex] of files) writeFileSync(join(dir, f), Buffer.from(hex, "hex"));
      for (const f of readdirSync(dir)) {
        if (!files.has(f) && f !== "MANIFEST.json") {
          rmSync(join(dir, f));
        }
      }
    }
    writeFileSync(join(dir, "MANIFEST.json"), good);
    const store = Store.open({ dir, flushInWorker: false });
    assert.equal(new TextDecoder().decode(store.get("k2:19")), "v2:19");
    await store.close();
    assert.ok(refused > 1000, `${refused} refused, ${opened} opened`);
    rmSync(dirname(dir), { recursive: true, force: true });
  },
);

test("Store: at the last sequence number a Store can count to, writes are refused with a StoreError and change nothing", async () => {
  const dir = join(mkdtempSync(join(tmpdir(), "manifest-last-")), "db");
  const setup = Store.open({ dir, flushInWorker: false });
  setup.put("k", "v");
  await setup.close();
  const path = join(dir, "MANIFEST.json");
  const m = JSON.parse(readFileSync(path, "utf8"));
  m.lastSequence = Number.MAX_SAFE_INTEGER - 1;
  writeFileSync(path, JSON.stringify(m));
  const store = Store.open({ dir, flushInWorker: false });
  store.put("last", "fits"); // takes 2^53 - 1
  assert.equal(store.lastSequence, Number.MAX_SAFE_INTEGER);
  assert.throws(
    () => store.put("k", "x"),
    (e: Error) =>
      e instanceof StoreError &&
      /^Store\.put\(\): the store's sequence numbers are used up/.test(e.message),
  );
  assert.throws(
    () => store.write(new WriteBatch().put("a", "1")),
    /StoreError: Store\.write\(\): .*used up/,
  );
  assert.equal(new TextDecoder().decode(store.get("k")), "v");
  assert.equal(new TextDecoder().decode(store.get("last")), "fits");
  assert.equal(store.lastSequence, Number.MAX_SAFE_INTEGER);
  await store.close();
  rmSync(dirname(dir), { recursive: true, force: true });
});
