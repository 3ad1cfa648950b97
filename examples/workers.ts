// Workers sharing one memtable: the native memory is read in place, from any thread.
import assert from "node:assert/strict";
import { loadLibrary, MemTable, ValueType } from "../mod.ts";

const library = loadLibrary().path; // load once on the main thread before spawning Workers
using mt = new MemTable();
mt.add(1, ValueType.Value, "greeting", "hello from the main thread");
for (let i = 0; i < 999; i++) mt.add(i + 2, ValueType.Value, `k${i}`, "v");

const worker = new Worker(new URL("./workers/reader.ts", import.meta.url).href, { type: "module" });
const reply = await new Promise<{ count: number; greeting: string }>((resolve, reject) => {
  worker.onmessage = (e) => {
    // Once the Worker listens, send it a small token (not the entries) and the library's path.
    if (e.data.listening) worker.postMessage({ library, token: mt.share() });
    else resolve(e.data);
  };
  worker.onerror = (e) => reject(e);
});
worker.terminate();
assert.deepEqual(reply, { count: 1000, greeting: "hello from the main thread" });
console.log("workers: ok");
