/**
 * Versions of keys from several sources (memtables, tables), each in internal-key order, merged
 * into one stream in that order (RocksDB's MergingIterator): what a flush and a Store scan read.
 *
 * @module
 */
import { compareUserKeys } from "../coding/internal_key.ts";
import type { SequenceNumber } from "../coding/sequence.ts";

/** A version of a key: what memtables and tables list. */
export type Versioned = { key: Uint8Array; seq: SequenceNumber; type: number };

/** Internal-key order of two versions: user key ascending, seq descending, type descending. */
export function compareVersions(a: Versioned, b: Versioned): number {
  const c = compareUserKeys(a.key, b.key);
  if (c !== 0) return c;
  if (a.seq !== b.seq) return a.seq > b.seq ? -1 : 1;
  return b.type - a.type;
}

/**
 * The versions of several sources, each in internal-key order, merged in that order (for equal
 * versions, the earlier source's first). A handful of sources: a linear pick beats a heap.
 * Stopped early or not, every source is ended (memtable cursors free their native side).
 */
export function* mergeVersions<T extends Versioned>(sources: Iterator<T>[]): Generator<T> {
  try {
    const heads = sources.map((s) => s.next());
    while (true) {
      let best = -1;
      for (let i = 0; i < heads.length; i++) {
        const h = heads[i]!;
        if (h.done) continue;
        if (best < 0 || compareVersions(h.value, heads[best]!.value as T) < 0) best = i;
      }
      if (best < 0) return;
      const e = heads[best]!.value as T;
      heads[best] = sources[best]!.next();
      yield e;
    }
  } finally {
    for (const s of sources) s.return?.();
  }
}
