//! Limits and layout constants shared by the native library and the TypeScript side.
//!
//! The constants both sides rely on (`src/ffi/layout.ts` restates them) are reported by
//! `memtable_layout` as `layout_words` and checked by the TS loader at load time, so a stale
//! library fails loudly instead of misreading memory. The rest (arena bounds, the seek type)
//! are the native side's own.

/// Bumped whenever an export's signature or a shared layout changes.
pub const abi_version: u32 = 18;

/// RocksDB's InlineSkipList defaults (`skiplist_height` 12, `skiplist_branching_factor` 4):
/// with p = 1/4 a list of 4^12 ≈ 16.7M nodes still has O(log n) search paths.
pub const skiplist_height_max: u32 = 12;
pub const skiplist_branching: u32 = 4;

/// A user key is stored as `key ‖ fixed64 trailer`; the internal key length must fit the
/// varint32 of the entry encoding, and keys are copied through the per-call scratch buffer.
/// 8 MiB is far above any sane key (RocksDB users keep keys in the bytes to kilobytes) while
/// keeping a bad call from asking for gigabytes.
pub const key_size_max: u32 = 8 * 1024 * 1024;

/// Values are length-prefixed by a varint32 in the entry; 256 MiB bounds the scratch buffer a
/// single call may need and keeps every entry far below the u32 range.
pub const value_size_max: u32 = 256 * 1024 * 1024;

/// Sequence numbers occupy the high 56 bits of the 64-bit internal-key trailer.
pub const sequence_max: u64 = (1 << 56) - 1;

/// Arena block size bounds, as RocksDB's `OptimizeBlockSize` (4 KiB … 1 GiB here).
pub const arena_block_size_min: usize = 4 * 1024;
pub const arena_block_size_max: usize = 1024 * 1024 * 1024;
/// Arena allocations are aligned to a pointer: skiplist nodes start with their next pointers.
pub const arena_alignment: usize = @alignOf(usize);

/// RocksDB value type codes (`db/dbformat.h`). Do not change: they are part of the on-disk
/// format of internal keys, write batches and SST files.
pub const ValueType = enum(u8) {
    deletion = 0x0,
    value = 0x1,
    merge = 0x2,
    single_deletion = 0x7,
    range_deletion = 0xF,
    _,

    pub fn isKnownPointType(code: u32) bool {
        return code == 0x0 or code == 0x1 or code == 0x2 or code == 0x7;
    }
};

/// Used as the type byte of seek keys: larger than every real type, so (key, seq, seek type)
/// sorts before every real version with sequence number ≤ seq.
pub const value_type_for_seek: u8 = 0xFF;

/// Status codes returned by fallible exports. Non-negative results are counts or flags.
pub const Status = enum(i32) {
    ok = 0,
    duplicate = -1,
    out_of_memory = -2,
    buffer_too_small = -3,
    invalid_argument = -4,
    bad_handle = -5,
    /// An entry failed its protection check, or entries were found out of order; the
    /// offending entry's key is written to the caller's buffer (see exports.zig).
    corruption = -6,
    /// A SingleDeletion over versions it may not delete (checked in paranoid and safe builds).
    single_delete_misuse = -7,
    /// A write batch is malformed or holds a record a memtable cannot apply; details in the
    /// caller's buffer. Nothing was applied.
    bad_batch = -8,
    /// Another thread is writing to a memtable that allows one writer at a time.
    concurrent_write = -9,
    /// The memtable was marked immutable: it takes no more writes.
    immutable = -10,
    /// A file lock is held by another holder (this process or another).
    lock_held = -11,
    /// A file operation failed; the OS error code is reported beside the status.
    io_error = -12,
};

/// The protection sizes RocksDB's `memtable_protection_bytes_per_key` accepts.
pub fn isProtectionSize(n: u32) bool {
    return n == 0 or n == 1 or n == 2 or n == 4 or n == 8;
}

/// Fixed header written before every entry that an export copies out:
/// `fixed64 trailer ‖ fixed32 key_len ‖ fixed32 value_len`, then key bytes and value bytes.
pub const entry_out_header_size: u32 = 16;
/// Header of every get() record: `fixed64 trailer ‖ fixed32 value_len`, then value bytes.
pub const get_record_header_size: u32 = 12;

/// The words of `memtable_stats`, in their order (`memtable_stat` reads one by its index).
pub const StatsWord = enum(u32) {
    num_entries,
    num_deletes,
    data_size,
    first_seq,
    earliest_seq,
    memory_usage,
    arena_allocated_bytes,
    arena_block_size,
    write_buffer_size,
    num_range_deletes,
    bloom_hits,
    bloom_misses,
    immutable,
    rep,
};
pub const stats_word_count: u32 = @typeInfo(StatsWord).@"enum".field_names.len;

/// What `memtable_get_into` returns besides statuses.
pub const get_into_absent: i32 = 0;
pub const get_into_found: i32 = 1;
/// The newest version is a Merge: the run's records follow a u32 count in the buffer.
pub const get_into_merge: i32 = 2;
/// The newest version is a Merge whose records do not fit the buffer (`memtable_get` them).
pub const get_into_merge_too_large: i32 = 3;

/// Bytes before each key's records in `memtable_multi_get`'s answer: their count (fixed32).
pub const multi_get_count_size: u32 = 4;

/// `memtable_share`'s failures (it returns a token as f64, or one of these).
pub const share_bad_handle: i32 = -1;
pub const share_too_many: i32 = -2;

/// The layout words `memtable_layout` reports and the TS loader checks (`src/ffi/layout.ts`);
/// the order is part of the ABI. Then come `abi.code_words` (the iterator flags and share
/// kinds, from the code that uses them) and `abi.OptionsAbi`'s size and field offsets.
pub const layout_words = [_]u32{
    abi_version,
    skiplist_height_max,
    skiplist_branching,
    key_size_max,
    value_size_max,
    @truncate(sequence_max >> 32),
    @truncate(sequence_max),
    entry_out_header_size,
    get_record_header_size,
    @bitCast(@backingInt(Status.duplicate)),
    @bitCast(@backingInt(Status.out_of_memory)),
    @bitCast(@backingInt(Status.buffer_too_small)),
    @bitCast(@backingInt(Status.invalid_argument)),
    @bitCast(@backingInt(Status.bad_handle)),
    @bitCast(@backingInt(Status.corruption)),
    @bitCast(@backingInt(Status.single_delete_misuse)),
    @bitCast(@backingInt(Status.bad_batch)),
    @bitCast(@backingInt(Status.concurrent_write)),
    @bitCast(@backingInt(Status.immutable)),
    @bitCast(@backingInt(Status.lock_held)),
    @bitCast(@backingInt(Status.io_error)),
    stats_word_count,
    @bitCast(get_into_absent),
    @bitCast(get_into_found),
    @bitCast(get_into_merge),
    @bitCast(get_into_merge_too_large),
    @bitCast(share_bad_handle),
    @bitCast(share_too_many),
    multi_get_count_size,
};
