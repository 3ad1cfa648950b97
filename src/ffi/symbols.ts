/**
 * The one table of native symbols exported by `native/src/exports.zig`. The Bun binding
 * (`bun.ts`) and the Deno binding (`deno.ts`) are both derived from it, so a signature is
 * written once.
 *
 * Argument kinds:
 * - `u32` / `i32` / `f64`: plain numbers (lengths and counts are 32-bit: the fast FFI path on
 *   both runtimes; 64-bit values travel as two u32 halves or inside the scratch buffer).
 * - `buf`: a scratch buffer (see `Scratch`), passed without a per-call allocation.
 * - `bytes`: a caller's `Uint8Array`, passed as it is (native code writes into its bytes).
 * - `handle`: an opaque native pointer (memtable, iterator, file lock, …), created once, reused.
 *
 * @module
 */

export type NativeKind = "u32" | "i32" | "f64" | "buf" | "bytes" | "handle";

export interface SymbolSpec {
  readonly args: readonly NativeKind[];
  readonly result: NativeKind;
}

export const symbols = {
  memtable_abi_version: { args: [], result: "u32" },
  memtable_layout: { args: ["buf", "u32"], result: "i32" },
  memtable_native_bytes: { args: [], result: "f64" },
  memtable_safety_checked: { args: [], result: "u32" },
  memtable_crc32c: { args: ["buf", "u32", "u32"], result: "u32" },
  memtable_xxh3_low32: { args: ["buf", "u32", "u32"], result: "u32" },
  memtable_new: { args: ["buf", "u32", "u32"], result: "handle" },
  memtable_options: { args: ["handle", "buf", "u32"], result: "i32" },
  memtable_stat: { args: ["handle", "u32"], result: "f64" },
  memtable_ref: { args: ["handle"], result: "i32" },
  memtable_unref: { args: ["handle"], result: "i32" },
  memtable_mark_immutable: { args: ["handle"], result: "i32" },
  memtable_add: {
    args: ["handle", "buf", "u32", "u32", "u32", "u32", "u32", "u32"],
    result: "i32",
  },
  memtable_add_range_deletion: {
    args: ["handle", "buf", "u32", "u32", "u32", "u32", "u32"],
    result: "i32",
  },
  memtable_write_batch: { args: ["handle", "buf", "u32", "u32", "u32", "u32"], result: "i32" },
  memtable_get: {
    args: ["handle", "buf", "u32", "u32", "u32", "u32", "u32", "u32"],
    result: "i32",
  },
  memtable_multi_get: {
    args: ["handle", "buf", "u32", "u32", "u32", "u32", "u32", "u32"],
    result: "i32",
  },
  memtable_get_into: {
    args: ["handle", "buf", "u32", "u32", "bytes", "u32", "u32", "u32", "u32"],
    result: "i32",
  },
  memtable_memory_usage: { args: ["handle"], result: "f64" },
  memtable_stats: { args: ["handle", "buf", "u32"], result: "i32" },
  memtable_iter_new: { args: ["handle", "u32", "u32", "u32"], result: "handle" },
  memtable_iter_free: { args: ["handle"], result: "i32" },
  memtable_iter_set_prefix: { args: ["handle", "buf", "u32", "u32"], result: "i32" },
  memtable_iter_valid: { args: ["handle"], result: "i32" },
  memtable_iter_read: { args: ["handle", "buf", "u32"], result: "i32" },
  memtable_iter_seek_to_first: { args: ["handle", "buf", "u32"], result: "i32" },
  memtable_iter_seek_to_last: { args: ["handle", "buf", "u32"], result: "i32" },
  memtable_iter_seek: { args: ["handle", "buf", "u32", "u32"], result: "i32" },
  memtable_iter_seek_for_prev: { args: ["handle", "buf", "u32", "u32"], result: "i32" },
  memtable_iter_next: { args: ["handle", "buf", "u32"], result: "i32" },
  memtable_iter_prev: { args: ["handle", "buf", "u32"], result: "i32" },
  memtable_iter_next_batch: { args: ["handle", "buf", "u32", "u32"], result: "i32" },
  memtable_iter_set_range: {
    args: ["handle", "buf", "u32", "u32", "u32", "u32"],
    result: "i32",
  },
  memtable_iter_scan: { args: ["handle", "buf", "u32", "u32", "u32"], result: "i32" },
  memtable_share: { args: ["handle", "u32"], result: "f64" },
  memtable_attach: { args: ["f64", "u32"], result: "handle" },
  memtable_seqalloc_new: { args: ["u32", "u32"], result: "handle" },
  memtable_seqalloc_unref: { args: ["handle"], result: "i32" },
  memtable_seqalloc_allocate: { args: ["handle", "buf", "u32", "u32"], result: "i32" },
  memtable_seqalloc_publish: { args: ["handle", "u32", "u32", "u32"], result: "i32" },
  memtable_seqalloc_state: { args: ["handle", "buf", "u32"], result: "i32" },
  memtable_sst_new: { args: ["u32", "u32", "u32"], result: "handle" },
  memtable_sst_add_memtable: { args: ["handle", "handle"], result: "i32" },
  memtable_sst_add_snapshots: { args: ["handle", "buf", "u32", "u32"], result: "i32" },
  memtable_sst_set_merge_operator: {
    args: ["handle", "u32", "buf", "u32", "u32"],
    result: "i32",
  },
  memtable_sst_build: { args: ["handle"], result: "i32" },
  memtable_sst_stats: { args: ["handle", "buf", "u32"], result: "i32" },
  memtable_sst_read: { args: ["handle", "buf", "u32", "f64"], result: "i32" },
  memtable_sst_free: { args: ["handle"], result: "i32" },
  memtable_compaction_new: { args: ["u32", "u32", "f64", "u32", "u32"], result: "handle" },
  memtable_compaction_add_snapshots: { args: ["handle", "buf", "u32", "u32"], result: "i32" },
  memtable_compaction_set_merge_operator: {
    args: ["handle", "u32", "buf", "u32", "u32"],
    result: "i32",
  },
  memtable_compaction_add_file: { args: ["handle", "u32", "buf", "u32", "u32"], result: "i32" },
  memtable_compaction_next: { args: ["handle", "buf", "u32"], result: "i32" },
  memtable_compaction_output: { args: ["handle", "buf", "u32"], result: "i32" },
  memtable_compaction_read: { args: ["handle", "buf", "u32", "f64"], result: "i32" },
  memtable_compaction_stats: { args: ["handle", "buf", "u32"], result: "i32" },
  memtable_compaction_free: { args: ["handle"], result: "i32" },
  memtable_filter_add_keys: {
    args: ["buf", "u32", "u32", "u32", "bytes", "u32", "u32"],
    result: "i32",
  },
  memtable_filter_size: { args: ["u32", "u32"], result: "f64" },
  memtable_filter_build: {
    args: ["bytes", "u32", "u32", "u32", "bytes", "u32"],
    result: "i32",
  },
  memtable_filter_may_match: { args: ["bytes", "u32", "bytes", "u32"], result: "i32" },
  memtable_lock_file: { args: ["buf", "u32", "u32"], result: "handle" },
  memtable_unlock_file: { args: ["handle"], result: "i32" },
  memtable_open_files_limit: { args: [], result: "f64" },
  memtable_wal_open: { args: ["buf", "u32", "u32"], result: "handle" },
  memtable_wal_append: { args: ["handle", "buf", "u32", "u32"], result: "f64" },
  memtable_add_logged: {
    args: ["handle", "handle", "buf", "u32", "u32", "u32", "u32", "u32", "u32"],
    result: "i32",
  },
  memtable_wal_size: { args: ["handle"], result: "f64" },
  memtable_wal_sync: { args: ["handle"], result: "i32" },
  memtable_wal_close: { args: ["handle"], result: "i32" },
  memtable_wal_os_error: { args: [], result: "u32" },
  memtable_thread_holdings: { args: [], result: "u32" },
  memtable_testing_corrupt: {
    args: ["handle", "buf", "u32", "u32", "u32", "u32", "u32"],
    result: "i32",
  },
} as const satisfies Record<string, SymbolSpec>;

export type SymbolName = keyof typeof symbols;

/** An opaque native pointer. Only `src/ffi/` knows what is inside. */
export type Handle = { readonly __nativeHandle: unique symbol };
/** A scratch buffer's argument form for the current runtime. */
export type BufArg = { readonly __nativeBuffer: unique symbol };

type JsOf<K extends NativeKind> = K extends "buf" ? BufArg
  : K extends "bytes" ? Uint8Array
  : K extends "handle" ? Handle
  : number;
type ResultOf<K extends NativeKind> = K extends "handle" ? Handle | null : number;
type ArgsOf<A extends readonly NativeKind[]> = { [I in keyof A]: JsOf<A[I]> };

/** The typed functions a binding provides, one per symbol. */
export type NativeFunctions = {
  [N in SymbolName]: (
    ...args: ArgsOf<(typeof symbols)[N]["args"]>
  ) => ResultOf<(typeof symbols)[N]["result"]>;
};

/** What `bun.ts` and `deno.ts` export. */
export interface Binding {
  /** Opens the library at an absolute path. Throws the runtime's error when it cannot. */
  open(path: string): OpenLibrary;
}

export interface OpenLibrary {
  readonly functions: NativeFunctions;
  /** The argument form of a buffer, made once per buffer. */
  bufArg(bytes: Uint8Array): BufArg;
  close(): void;
}
