// The Worker of examples/workers.ts: attaches the shared memtable and reads it in place.
import { loadLibrary, MemTable, type MemTableShareToken } from "../../mod.ts";

interface WorkerScope {
  onmessage: ((e: MessageEvent) => void) | null;
  postMessage(message: unknown): void;
}
const scope = globalThis as unknown as WorkerScope;

// A message sent before this handler exists can be lost: the main thread waits for this one.
scope.onmessage = (e: MessageEvent<{ library: string; token: MemTableShareToken }>) => {
  loadLibrary({ path: e.data.library }); // the main thread's library file, before any other call
  using mt = MemTable.attach(e.data.token); // the same native memtable: nothing is copied
  let count = 0;
  for (const _ of mt.entries()) count++;
  const r = mt.get("greeting");
  scope.postMessage({
    count,
    greeting: r.kind === "value" ? new TextDecoder().decode(r.value) : r.kind,
  });
};
scope.postMessage({ listening: true });
