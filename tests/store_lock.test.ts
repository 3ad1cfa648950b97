/**
 * One Store per directory: the `LOCK` file (RocksDB's) is locked while a store is open, so a
 * second `Store.open` — from this process or another — is refused before it touches anything,
 * and nothing either process acknowledged is lost. Real processes hold the stores; one is killed
 * with SIGKILL to prove the OS releases the lock with the process.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { Store, StoreError } from "../mod.ts";
import { text } from "./helpers.ts";

const holder = fileURLToPath(new URL("./fixtures/store_holder.ts", import.meta.url));

interface Holder {
  child: ChildProcess;
  /** The next line the holder prints. */
  line(): Promise<string>;
}

function startHolder(dir: string, pairs: string[]): Holder {
  const args = "Deno" in globalThis
    ? ["run", "--allow-ffi", "--allow-read", "--allow-write", "--allow-env", holder, dir, ...pairs]
    : [holder, dir, ...pairs];
  const child = spawn(process.execPath, args, { stdio: ["pipe", "pipe", "inherit"] });
  const lines: string[] = [];
  const waiting: ((l: string) => void)[] = [];
  let buffered = "";
  child.stdout!.on("data", (chunk: Uint8Array) => {
    buffered += new TextDecoder().decode(chunk);
    let nl: number;
    while ((nl = buffered.indexOf("\n")) >= 0) {
      const l = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      const w = waiting.shift();
      if (w) w(l);
      else lines.push(l);
    }
  });
  return {
    child,
    line: () => {
      const l = lines.shift();
      return l !== undefined ? Promise.resolve(l) : new Promise((r) => waiting.push(r));
    },
  };
}

/** Resolves when the process has exited (Deno sets `signalCode` as soon as `kill()` returns,
 * before the process is gone: only the "exit" event says it is). */
function exited(child: ChildProcess): Promise<void> {
  return new Promise((r) => {
    if (child.exitCode !== null) r();
    else child.once("exit", () => r());
  });
}

/** Every file in `dir` with its bytes, to prove a refused open changed nothing. */
function contents(dir: string): Map<string, string> {
  return new Map(
    readdirSync(dir).sort().map((f) => [f, readFileSync(join(dir, f)).toString("hex")]),
  );
}

function value(store: Store, key: string): string | undefined {
  const v = store.get(key);
  return v === undefined ? undefined : text(v);
}

test("Store.open() of a directory another process holds is refused and touches nothing; no write of either process is lost", async () => {
  const dir = join(mkdtempSync(join(tmpdir(), "store-lock-")), "db");
  const a = startHolder(dir, ["a=1", "b=2"]);
  assert.equal(await a.line(), "open 2");
  const before = contents(dir);
  assert.ok(before.has("LOCK"));
  assert.throws(
    () => Store.open({ dir }),
    (e: unknown) =>
      e instanceof StoreError && e.message.includes(dir) && /in use|locked/.test(e.message),
  );
  assert.deepEqual(contents(dir), before, "the refused open changed nothing in the directory");
  a.child.stdin!.write("close\n");
  assert.equal(await a.line(), "closed");
  await exited(a.child);
  // Now this process may open it: it sees what the other one flushed, and adds its own.
  const mine = Store.open({ dir, flushInWorker: false });
  assert.equal(value(mine, "a"), "1");
  assert.equal(value(mine, "b"), "2");
  mine.put("c", "3");
  await mine.flush();
  // While this process holds it, another process is refused in turn.
  const refused = startHolder(dir, ["d=4"]);
  assert.match(await refused.line(), /^error StoreError: .*(in use|locked)/);
  await exited(refused.child);
  await mine.close();
  const c = startHolder(dir, ["d=4"]);
  assert.equal(await c.line(), "open 4");
  c.child.stdin!.write("close\n");
  assert.equal(await c.line(), "closed");
  await exited(c.child);
  const again = Store.open({ dir, flushInWorker: false });
  assert.deepEqual(["a", "b", "c", "d"].map((k) => value(again, k)), ["1", "2", "3", "4"]);
  await again.close();
  rmSync(dirname(dir), { recursive: true, force: true });
});

test("a Store holder killed with SIGKILL does not leave its directory locked", async () => {
  const dir = join(mkdtempSync(join(tmpdir(), "store-kill-")), "db");
  const a = startHolder(dir, ["k=flushed"]);
  assert.equal(await a.line(), "open 1");
  assert.throws(() => Store.open({ dir }), StoreError);
  const gone = exited(a.child);
  a.child.kill("SIGKILL");
  await gone;
  const store = Store.open({ dir, flushInWorker: false });
  assert.equal(value(store, "k"), "flushed");
  await store.close();
  rmSync(dirname(dir), { recursive: true, force: true });
});

test("Store.open() twice on one directory in one process: the second is refused until the first closes", async () => {
  const dir = join(mkdtempSync(join(tmpdir(), "store-twice-")), "db");
  const first = Store.open({ dir, flushInWorker: false });
  first.put("k", "v");
  assert.throws(
    () => Store.open({ dir }),
    (e: unknown) => e instanceof StoreError && e.message.includes(dir),
  );
  assert.equal(value(first, "k"), "v", "the refused open left the first store working");
  await first.close();
  const second = Store.open({ dir, flushInWorker: false });
  assert.equal(value(second, "k"), "v");
  await second.close();
  rmSync(dirname(dir), { recursive: true, force: true });
});
