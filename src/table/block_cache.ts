/**
 * BlockCache: the data blocks a store's reads found, verified and uncompressed, kept up to a
 * byte budget with the least recently used evicted first (RocksDB's block cache, an LRU cache of
 * `block_cache_size` bytes, 8 MiB by default). A hit skips the file read, the checksum and the
 * decompression. Blocks are keyed by the table reader that owns them (an id the cache hands
 * out) and their offset; a reader that closes drops its blocks.
 *
 * A block is charged by the buffer it lies in: blocks read into one shared buffer (a
 * `ByteSlab`'s) are charged that buffer once, while any of them is held — so the budget bounds
 * the memory the cache keeps alive, not only the blocks' own bytes.
 *
 * Contract: one realm, synchronous use. Cached bytes are never handed to callers: readers copy
 * what they return out of them.
 *
 * @module
 */

/** One cached block, in the cache's recency list. */
interface Slot {
  owner: number;
  offset: number;
  contents: Uint8Array;
  older: Slot | undefined;
  newer: Slot | undefined;
}

/** What a block cache holds and how it was used (`StoreStats.blockCache`). */
export interface BlockCacheFigures {
  /** The budget in bytes (`blockCacheSize`). */
  capacity: number;
  /** Bytes the held blocks keep alive now (the buffers they lie in). */
  usage: number;
  /** Blocks held now. */
  blocks: number;
  /** Reads a cached block answered. */
  hits: number;
  /** Reads that went to the file (and then cached the block). */
  misses: number;
}

/** An LRU cache of data blocks (see the module notes). */
export class BlockCache {
  /** The budget in bytes. */
  readonly capacity: number;
  #usage = 0;
  #hits = 0;
  #misses = 0;
  #owners = 0;
  /** Blocks by owner, then by offset. */
  readonly #byOwner = new Map<number, Map<number, Slot>>();
  #oldest: Slot | undefined;
  #newest: Slot | undefined;
  #count = 0;
  /** Held blocks per buffer they lie in. */
  readonly #buffers = new Map<ArrayBufferLike, number>();

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  /** An id for a new reader's blocks. */
  newOwner(): number {
    return ++this.#owners;
  }

  /** The block of `owner` at `offset`, if held (it becomes the most recently used). */
  get(owner: number, offset: number): Uint8Array | undefined {
    const slot = this.#byOwner.get(owner)?.get(offset);
    if (slot === undefined) {
      this.#misses++;
      return undefined;
    }
    this.#hits++;
    this.#unlink(slot);
    this.#link(slot);
    return slot.contents;
  }

  /** Keeps `contents` as the block of `owner` at `offset`, evicting the oldest to fit. */
  insert(owner: number, offset: number, contents: Uint8Array): void {
    if (contents.buffer.byteLength > this.capacity) return;
    const old = this.#byOwner.get(owner)?.get(offset);
    if (old !== undefined) this.#remove(old); // may drop the owner's map: fetched after
    let blocks = this.#byOwner.get(owner);
    if (blocks === undefined) this.#byOwner.set(owner, blocks = new Map());
    const slot: Slot = { owner, offset, contents, older: undefined, newer: undefined };
    blocks.set(offset, slot);
    this.#link(slot);
    const held = this.#buffers.get(contents.buffer) ?? 0;
    if (held === 0) this.#usage += contents.buffer.byteLength;
    this.#buffers.set(contents.buffer, held + 1);
    this.#count++;
    while (this.#usage > this.capacity && this.#oldest !== undefined) this.#remove(this.#oldest);
  }

  /** Drops every block of `owner` (its reader closed). */
  drop(owner: number): void {
    const blocks = this.#byOwner.get(owner);
    if (blocks === undefined) return;
    for (const slot of [...blocks.values()]) this.#remove(slot);
  }

  /** What the cache holds and how it was used. */
  figures(): BlockCacheFigures {
    return {
      capacity: this.capacity,
      usage: this.#usage,
      blocks: this.#count,
      hits: this.#hits,
      misses: this.#misses,
    };
  }

  #remove(slot: Slot): void {
    this.#unlink(slot);
    const blocks = this.#byOwner.get(slot.owner)!;
    blocks.delete(slot.offset);
    if (blocks.size === 0) this.#byOwner.delete(slot.owner);
    const buffer = slot.contents.buffer;
    const held = this.#buffers.get(buffer)!;
    if (held === 1) {
      this.#buffers.delete(buffer);
      this.#usage -= buffer.byteLength;
    } else this.#buffers.set(buffer, held - 1);
    this.#count--;
  }

  #link(slot: Slot): void {
    slot.older = this.#newest;
    slot.newer = undefined;
    if (this.#newest !== undefined) this.#newest.newer = slot;
    this.#newest = slot;
    this.#oldest ??= slot;
  }

  #unlink(slot: Slot): void {
    if (slot.older !== undefined) slot.older.newer = slot.newer;
    else this.#oldest = slot.newer;
    if (slot.newer !== undefined) slot.newer.older = slot.older;
    else this.#newest = slot.older;
    slot.older = slot.newer = undefined;
  }
}
