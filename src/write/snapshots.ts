/**
 * Snapshots (RocksDB's `SnapshotList`): the sequence numbers that readers hold. A read at a
 * snapshot sees exactly the writes with a sequence number at or below it; a flush keeps, per
 * key, the newest version visible at each live snapshot.
 *
 * @module
 */
import { SnapshotReleasedError } from "../errors.ts";
import { checkSequence, compareSequence, type SequenceNumber } from "../coding/sequence.ts";

const releaseToken: unique symbol = Symbol("Snapshot.release");

/**
 * A held sequence number. Pass it as `{ snapshot }` to reads; release it (or `using`) when
 * done so flushes may drop the versions only it could see.
 */
export class Snapshot implements Disposable {
  /** The sequence number reads at this snapshot see up to (inclusive). */
  readonly seq: SequenceNumber;
  #list: SnapshotList | null;

  /** Not for direct use: snapshots come from `SnapshotList.acquire()`. */
  constructor(token: typeof releaseToken, list: SnapshotList, seq: SequenceNumber) {
    if (token !== releaseToken) {
      throw new TypeError("Snapshot: acquire snapshots with SnapshotList.acquire()");
    }
    this.#list = list;
    this.seq = seq;
  }

  /** Whether `release()` has been called. */
  get released(): boolean {
    return this.#list === null;
  }

  /** The sequence number, or a SnapshotReleasedError once released. */
  sequence(what: string): SequenceNumber {
    if (this.#list === null) {
      throw new SnapshotReleasedError(`${what}: snapshot at ${this.seq} has been released`);
    }
    return this.seq;
  }

  /** Gives the snapshot back to its list (idempotent). */
  release(): void {
    const list = this.#list;
    if (list === null) return;
    this.#list = null;
    list[releaseToken](this);
  }

  /** `release()`, for `using`. */
  [Symbol.dispose](): void {
    this.release();
  }
}

/**
 * The live snapshots of one store, ordered by sequence number.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemTable, SnapshotList, ValueType } from "../../mod.ts";
 * const snapshots = new SnapshotList();
 * using mt = new MemTable();
 * mt.add(1, ValueType.Value, "k", "old");
 * using snap = snapshots.acquire(1);
 * mt.add(2, ValueType.Value, "k", "new");
 * const r = mt.get("k", { snapshot: snap });
 * assert(r.kind === "value");
 * assert.equal(new TextDecoder().decode(r.value), "old");
 * assert.equal(snapshots.oldest, 1);
 * assert.equal(snapshots.count, 1);
 * ```
 */
export class SnapshotList {
  /** Live snapshots, ascending by sequence number (stable for equal ones). */
  #live: Snapshot[] = [];

  /** Holds `seq` until the returned snapshot is released. */
  acquire(seq: SequenceNumber): Snapshot {
    const checked = checkSequence(seq, "SnapshotList.acquire()");
    const snap = new Snapshot(releaseToken, this, checked);
    const live = this.#live;
    // Snapshots are nearly always taken at the newest sequence number: append in that case.
    let at = live.length;
    while (at > 0 && compareSequence(live[at - 1]!.seq, checked) > 0) at--;
    live.splice(at, 0, snap);
    return snap;
  }

  /** @internal Called by `Snapshot.release()`. */
  [releaseToken](snap: Snapshot): void {
    const i = this.#live.lastIndexOf(snap);
    if (i >= 0) this.#live.splice(i, 1);
  }

  /** Number of live snapshots (each acquire counts, also at equal sequence numbers). */
  get count(): number {
    return this.#live.length;
  }

  /** Whether no snapshot is live. */
  get empty(): boolean {
    return this.#live.length === 0;
  }

  /** The smallest live snapshot sequence number, or undefined when none is live. */
  get oldest(): SequenceNumber | undefined {
    return this.#live[0]?.seq;
  }

  /** The largest live snapshot sequence number, or undefined when none is live. */
  get newest(): SequenceNumber | undefined {
    return this.#live.at(-1)?.seq;
  }

  /**
   * The distinct live snapshot sequence numbers, ascending, optionally only those ≤ `upTo`
   * (RocksDB's `GetAll(max_seq)`): what a flush needs to decide which versions to keep.
   */
  sequences(upTo?: SequenceNumber): SequenceNumber[] {
    const limit = upTo === undefined ? undefined : checkSequence(upTo, "SnapshotList.sequences()");
    const out: SequenceNumber[] = [];
    for (const s of this.#live) {
      if (limit !== undefined && compareSequence(s.seq, limit) > 0) break;
      if (out.length === 0 || compareSequence(out[out.length - 1]!, s.seq) !== 0) out.push(s.seq);
    }
    return out;
  }
}
