/**
 * SequenceAllocator: one source of sequence numbers for writers in many Workers (RocksDB's
 * last sequence and last published sequence), native and shared like a memtable.
 *
 * @module
 */
import { MemTableClosedError, MemTableError, ShareTokenError } from "../errors.ts";
import { type Handle, native, Scratch, statusError, useLibraryOf } from "../ffi/native.ts";
import { ShareKind, Status } from "../ffi/layout.ts";
import {
  checkSequence,
  sequenceHigh,
  sequenceLow,
  type SequenceNumber,
} from "../coding/sequence.ts";
import { describe } from "../coding/value_type.ts";
import type { MemTable } from "../memtable/memtable.ts";
import { checkToken } from "../memtable/share.ts";
import type { WriteBatch } from "./write_batch.ts";

/** What `SequenceAllocator.share()` returns; send it to a Worker, `attach` it there once. */
export interface SequenceAllocatorShareToken {
  /** What the token is for: a sequence allocator. */
  readonly kind: "sequence-allocator";
  /** The native side's number for the shared allocator. */
  readonly token: number;
  /** The native library file the allocator lives in. */
  readonly library: string;
  /** No options: an allocator has none (the field keeps the token's shape). */
  readonly options: Record<string, never>;
}

const finalizer = new FinalizationRegistry<Handle>((h) => {
  native().fn.memtable_seqalloc_unref(h);
});

/** Key of the handle `SequenceAllocator.attach` passes to the constructor with the options. */
const attachedHandle: unique symbol = Symbol("SequenceAllocator.attachedHandle");

function fromWords(s: Scratch, word: number): SequenceNumber {
  const low = s.view.getUint32(word * 8, true);
  const high = s.view.getUint32(word * 8 + 4, true);
  return high < 0x20_0000 ? high * 0x1_0000_0000 + low : (BigInt(high) << 32n) | BigInt(low);
}

/**
 * Hands out unique, increasing sequence numbers to writers in any Worker; a batch takes a
 * contiguous range. Writers publish their range once it is written; `lastPublished` is the
 * largest number such that every write up to it is in: the snapshot readers should use, so they
 * never see half of a batch (RocksDB's last published sequence).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemTable, SequenceAllocator, WriteBatch } from "../../mod.ts";
 * using seqs = new SequenceAllocator();
 * using mt = new MemTable({ allowConcurrentWrites: true });
 * seqs.write(mt, new WriteBatch().put("a", "1").put("b", "2")); // seqs 1 and 2
 * assert.equal(seqs.lastPublished, 2);
 * assert.equal(mt.get("b", { snapshot: seqs.lastPublished }).kind, "value");
 * ```
 */
export class SequenceAllocator implements Disposable {
  #h: Handle | null;
  #s = new Scratch(64);

  /** `start`: the first number handed out (default 1; at least 1). */
  constructor(options: { start?: SequenceNumber } = {}) {
    if (typeof options !== "object" || options === null) {
      throw new TypeError(`SequenceAllocator: options must be an object, got ${describe(options)}`);
    }
    const fn = native().fn;
    // `attach` passes the handle it attached with the options (never module state).
    const attaching = (options as { [attachedHandle]?: Handle })[attachedHandle];
    if (attaching !== undefined) {
      this.#h = attaching;
    } else {
      const start = checkSequence(options.start ?? 1, "SequenceAllocator");
      if (start === 0 || start === 0n) {
        throw new RangeError("SequenceAllocator: start must be at least 1 (0 means nothing)");
      }
      this.#h = fn.memtable_seqalloc_new(sequenceHigh(start), sequenceLow(start));
      if (this.#h === null) throw statusError(Status.outOfMemory, "SequenceAllocator");
    }
    finalizer.register(this, this.#h, this);
  }

  #live(what: string): Handle {
    if (this.#h === null) {
      throw new MemTableClosedError(`SequenceAllocator.${what}(): the allocator is closed`);
    }
    return this.#h;
  }

  /** The first of `n` (default 1) consecutive numbers no one else gets. Publish them later. */
  allocate(n = 1): SequenceNumber {
    const h = this.#live("allocate");
    if (!Number.isInteger(n) || n < 1 || n > 0xffff_ffff) {
      throw new RangeError(
        `SequenceAllocator.allocate(): n must be an integer in [1, 2^32), got ${n}`,
      );
    }
    const rc = native().fn.memtable_seqalloc_allocate(h, this.#s.arg, this.#s.capacity, n);
    if (rc === Status.invalidArgument) {
      throw new RangeError(
        "SequenceAllocator.allocate(): the sequence numbers are exhausted (2^56)",
      );
    }
    if (rc !== 0) throw statusError(rc, "SequenceAllocator.allocate()");
    return fromWords(this.#s, 0);
  }

  /**
   * Marks `[first, first + n)` as written (also after a failed write: every allocated range
   * must be published once, or `lastPublished` stops below it).
   */
  publish(first: SequenceNumber, n = 1): void {
    const h = this.#live("publish");
    checkSequence(first, "SequenceAllocator.publish()");
    if (!Number.isInteger(n) || n < 1 || n > 0xffff_ffff) {
      throw new RangeError(
        `SequenceAllocator.publish(): n must be an integer in [1, 2^32), got ${n}`,
      );
    }
    const rc = native().fn.memtable_seqalloc_publish(
      h,
      sequenceHigh(first),
      sequenceLow(first),
      n,
    );
    if (rc === Status.invalidArgument) {
      throw new RangeError(
        `SequenceAllocator.publish(): [${first}, +${n}) was not allocated, or is published already`,
      );
    }
    if (rc !== 0) throw statusError(rc, "SequenceAllocator.publish()");
  }

  #state(): Scratch {
    const rc = native().fn.memtable_seqalloc_state(
      this.#live("state"),
      this.#s.arg,
      this.#s.capacity,
    );
    if (rc !== 0) throw statusError(rc, "SequenceAllocator");
    return this.#s;
  }

  /** Every number up to this one is written (0 before the first publish at start 1). */
  get lastPublished(): SequenceNumber {
    return fromWords(this.#state(), 0);
  }

  /** The next number `allocate` will hand out. */
  get next(): SequenceNumber {
    return fromWords(this.#state(), 1);
  }

  /**
   * Writes `batch` into `mt` with freshly allocated numbers and publishes them (also when the
   * write throws). Returns the first number used.
   */
  write(mt: MemTable, batch: WriteBatch): SequenceNumber {
    const n = batch.count;
    if (n === 0) return this.next;
    const first = this.allocate(n);
    try {
      mt.write(batch, first);
    } finally {
      this.publish(first, n);
    }
    return first;
  }

  /** A token that opens this allocator in another Worker (`SequenceAllocator.attach`), once. */
  share(): SequenceAllocatorShareToken {
    const token = native().fn.memtable_share(this.#live("share"), ShareKind.sequenceAllocator);
    if (token < 0) {
      throw new MemTableError("SequenceAllocator.share(): too many share tokens outstanding");
    }
    return { kind: "sequence-allocator", token, library: native().path, options: {} };
  }

  /** Opens the allocator a token names. Throws `ShareTokenError` if it was used up. */
  static attach(token: SequenceAllocatorShareToken): SequenceAllocator {
    const t = checkToken(token, "sequence-allocator", "SequenceAllocator.attach()");
    useLibraryOf(t.library, "SequenceAllocator.attach()");
    const h = native().fn.memtable_attach(t.token, ShareKind.sequenceAllocator);
    if (h === null) {
      throw new ShareTokenError("SequenceAllocator.attach(): the token was already attached");
    }
    return new SequenceAllocator({ [attachedHandle]: h } as { start?: SequenceNumber });
  }

  /** Releases this holder's reference (idempotent); the last holder frees it. */
  close(): void {
    const h = this.#h;
    if (h === null) return;
    this.#h = null;
    finalizer.unregister(this);
    native().fn.memtable_seqalloc_unref(h);
  }

  /** `close()`, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
}
