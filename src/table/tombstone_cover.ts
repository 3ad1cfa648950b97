/**
 * The cover rule of range tombstones, written once: a range tombstone [start, end) at sequence
 * number s hides the versions of the keys in its range whose sequence numbers are below s, from
 * every reader at a snapshot ≥ s (a reader at an older snapshot does not see the tombstone).
 * So what hides a key's versions at a snapshot is the newest tombstone at or below it that
 * holds the key: its sequence number is the key's cover, and a version below the cover is gone.
 *
 * Store.get (through `TableReader.maxCoveringTombstone`), the Store iterator and the TypeScript
 * flush (whose "tombstone of the version's stripe" is the cover at the stripe's snapshot) use
 * it; the memtables apply the same rule natively.
 *
 * @module
 */
import { compareUserKeys } from "../coding/internal_key.ts";
import type { SequenceNumber } from "../coding/sequence.ts";

/** A range tombstone as the rule reads it: keys in [start, end) older than `seq`. */
export interface CoveringTombstone {
  readonly start: Uint8Array;
  readonly end: Uint8Array;
  readonly seq: SequenceNumber;
}

/**
 * The cover of `key` at `snapshot`: the largest sequence number ≤ `snapshot` of a tombstone in
 * `tombstones` whose range holds `key`, or 0 when none does (a tombstone at 0 hides nothing).
 */
export function coverOf(
  tombstones: Iterable<CoveringTombstone>,
  key: Uint8Array,
  snapshot: SequenceNumber,
): SequenceNumber {
  let cover: SequenceNumber = 0;
  for (const t of tombstones) {
    // Numbers and bigints compare by value.
    if (
      t.seq <= snapshot && t.seq > cover && compareUserKeys(t.start, key) <= 0 &&
      compareUserKeys(key, t.end) < 0
    ) cover = t.seq;
  }
  return cover;
}

/** Whether a version at `seq` is hidden by `cover` (from {@linkcode coverOf}). */
export function hiddenBy(seq: SequenceNumber, cover: SequenceNumber): boolean {
  return seq < cover;
}
