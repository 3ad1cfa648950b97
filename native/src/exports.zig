//! The C ABI of the memtable library: with exports_files.zig (file locks, the write-ahead log)
//! exports_filter.zig (SST filter blocks) and exports_compaction.zig (the native compaction job)
//! the only files that export symbols, all prefixed `memtable_`. The TypeScript table of these symbols is `src/ffi/symbols.ts`.
//!
//! Rules:
//! - Every fallible export returns an `i32`: a `limits.Status` (negative) or a non-negative
//!   count/flag. Nothing here panics on bad input: handles are checked (null and magic), lengths
//!   are checked against the caller's buffer capacity and the named limits.
//! - Keys and values arrive in the caller's scratch buffer `buf` (capacity `cap`); results are
//!   written back into it. 64-bit integers travel as two u32 halves (`hi`, `lo`) or inside the
//!   buffer (little-endian); byte counts are returned as f64 (exact below 2^53).
//! - This file only marshals (with `abi.zig`, its helpers): it turns handles, lengths and option
//!   bits into Zig values, checks them (user input is never asserted on), calls the memtable,
//!   and turns its answers into statuses and buffer contents. What a lookup returns, what an
//!   iterator copies, which options a representation takes: the memtable's files decide
//!   (memtable/, rep/).
//! - Threading: see memtable/memtable.zig; exports add no locking of their own.
//! - Every handle given to JavaScript is recorded in the calling thread's holdings
//!   (holdings.zig) and dropped from them when it is given back, so a thread that ends with
//!   handles still open (a terminated Worker) releases them.
const std = @import("std");
const limits = @import("limits.zig");
const coding = @import("coding.zig");
const arena_mod = @import("arena.zig");
const mt_mod = @import("memtable/memtable.zig");
const lookup = @import("memtable/lookup.zig");
const write_batch = @import("write_batch.zig");
const share = @import("share.zig");
const seq_mod = @import("sequence.zig");
const sst = @import("sst.zig");
const filter = @import("filter.zig");
const holdings = @import("holdings.zig");

const abi = @import("abi.zig");
// The exports for files (locks, the write-ahead log) and for SST filter blocks live beside
// this file, by the same rules.
comptime {
    _ = @import("exports_files.zig");
    _ = @import("exports_compaction.zig");
    _ = @import("exports_filter.zig");
    _ = @import("exports_scan.zig");
}
const build_options = @import("build_options");

const MemTable = mt_mod.MemTable;
const Iterator = mt_mod.Iterator;
const Status = limits.Status;

const code = abi.code;
const join = abi.join;
const put32 = abi.put32;
const put64 = abi.put64;
const tooSmall = abi.tooSmall;
const corrupt = abi.corrupt;
const copied = abi.copied;
const addStatus = abi.addStatus;
const lookupOptions = abi.lookupOptions;
const asMemTable = abi.asMemTable;
const asIterator = abi.asIterator;
const asAllocator = abi.asAllocator;
const asSstBuilder = abi.asSstBuilder;

// ---- library -------------------------------------------------------------------------------

export fn memtable_abi_version() u32 {
    return limits.abi_version;
}

/// Writes the layout words (u32 LE each) into `buf`; returns their count.
export fn memtable_layout(buf: [*]u8, cap: u32) i32 {
    const words = limits.layout_words ++ abi.code_words ++ abi.options_layout;
    if (cap < words.len * 4) return tooSmall(buf, cap, words.len * 4);
    for (words, 0..) |w, i| put32(buf, i * 4, w);
    return words.len;
}

/// Native bytes currently held by every arena and handle of this library (all threads).
export fn memtable_native_bytes() f64 {
    return @floatFromInt(arena_mod.bytes_live.load(.monotonic));
}

/// Whether this build has Zig's safety checks on (Debug/ReleaseSafe).
export fn memtable_safety_checked() u32 {
    return @intFromBool(std.debug.runtime_safety);
}

// ---- checksums -----------------------------------------------------------------------------

/// CRC32c (Castagnoli) of buf[0..len], as SST block trailers and WAL records use it; 0 when
/// `len` exceeds the buffer's capacity `cap`.
pub export fn memtable_crc32c(buf: [*]const u8, cap: u32, len: u32) u32 {
    if (len > cap) return 0;
    return std.hash.crc.@"CRC-32/ISCSI".hash(buf[0..len]);
}

/// The low 32 bits of XXH3-64 (seed 0) of buf[0..len], what RocksDB's kXXH3 block checksum
/// starts from; 0 when `len` exceeds the buffer's capacity `cap`.
export fn memtable_xxh3_low32(buf: [*]const u8, cap: u32, len: u32) u32 {
    if (len > cap) return 0;
    return @truncate(std.hash.XxHash3.hash(0, buf[0..len]));
}

// ---- memtable ------------------------------------------------------------------------------

/// Creates a memtable holding one reference, from the options in buf[0..len]: an
/// `abi.OptionsAbi` (`len` its size). Null when out of memory, when an option is out of range,
/// or when the representation does not take them (the capability table). The memtable keeps
/// the bytes: `memtable_options` hands them back.
pub export fn memtable_new(buf: [*]const u8, cap: u32, len: u32) ?*anyopaque {
    if (len > cap) return null;
    const options = abi.memtableOptions(buf[0..len]) orelse return null;
    const mt = MemTable.create(options) catch return null;
    @memcpy(&mt.encoded_options, buf[0..len]);
    holdings.hold(.memtable, mt) catch {
        _ = mt.unref();
        return null;
    };
    return mt;
}

/// Writes the options the memtable was created with (the `abi.OptionsAbi` bytes it was given)
/// into buf; returns their size. What `MemTable.attach` compares a share token's options with.
pub export fn memtable_options(h: ?*anyopaque, buf: [*]u8, cap: u32) i32 {
    const mt = asMemTable(h) orelse return code(.bad_handle);
    const n = mt.encoded_options.len;
    if (cap < n) return tooSmall(buf, cap, n);
    @memcpy(buf[0..n], &mt.encoded_options);
    return @intCast(n);
}

/// Marks the memtable immutable (RocksDB's MarkImmutable): later writes get `immutable`.
export fn memtable_mark_immutable(h: ?*anyopaque) i32 {
    const mt = asMemTable(h) orelse return code(.bad_handle);
    mt.markImmutable();
    return code(.ok);
}

/// Adds a reference (held by the calling thread); returns the new count.
export fn memtable_ref(h: ?*anyopaque) i32 {
    const mt = asMemTable(h) orelse return code(.bad_handle);
    holdings.hold(.memtable, mt) catch return code(.out_of_memory);
    return @intCast(mt.ref());
}

/// Drops a reference, freeing the memtable with the last one; returns the remaining count.
pub export fn memtable_unref(h: ?*anyopaque) i32 {
    const mt = asMemTable(h) orelse return code(.bad_handle);
    holdings.release(mt);
    return @intCast(mt.unref());
}

/// Adds one entry: key at buf[0..klen], value at buf[klen..klen+vlen].
pub export fn memtable_add(h: ?*anyopaque, buf: [*]u8, cap: u32, seq_hi: u32, seq_lo: u32, value_type: u32, klen: u32, vlen: u32) i32 {
    const mt = asMemTable(h) orelse return code(.bad_handle);
    const seq = join(seq_hi, seq_lo);
    if (seq > limits.sequence_max) return code(.invalid_argument);
    if (!limits.ValueType.isKnownPointType(value_type)) return code(.invalid_argument);
    if (klen > limits.key_size_max or vlen > limits.value_size_max) return code(.invalid_argument);
    if (@as(u64, klen) + vlen > cap) return code(.invalid_argument);
    mt.add(seq, @fromBackingInt(@intCast(@as(u8, @intCast(value_type)))), buf[0..klen], buf[klen..][0..vlen]) catch |err| return addStatus(err);
    return code(.ok);
}

/// Adds the range tombstone [start, end) at `seq`: start at buf[0..slen], end right after it.
/// `invalid_argument` when end < start.
export fn memtable_add_range_deletion(h: ?*anyopaque, buf: [*]u8, cap: u32, seq_hi: u32, seq_lo: u32, slen: u32, elen: u32) i32 {
    const mt = asMemTable(h) orelse return code(.bad_handle);
    const seq = join(seq_hi, seq_lo);
    if (seq > limits.sequence_max) return code(.invalid_argument);
    if (slen > limits.key_size_max or elen > limits.key_size_max) return code(.invalid_argument);
    if (@as(u64, slen) + elen > cap) return code(.invalid_argument);
    const start = buf[0..slen];
    const end = buf[slen..][0..elen];
    if (std.mem.order(u8, start, end) == .gt) return code(.invalid_argument);
    mt.addRangeDeletion(seq, start, end) catch |err| return addStatus(err);
    return code(.ok);
}

/// Applies a RocksDB WriteBatch at buf[0..len] atomically, its counted records taking
/// sequence numbers from `seq` on. Returns the record count, or: `bad_batch` with `fixed32
/// reason ‖ fixed32 offset ‖ fixed32 detail` in buf, `duplicate` / `single_delete_misuse` /
/// `corruption` with the failing record's index in buf[0..4], `out_of_memory`.
export fn memtable_write_batch(h: ?*anyopaque, buf: [*]u8, cap: u32, len: u32, seq_hi: u32, seq_lo: u32) i32 {
    const mt = asMemTable(h) orelse return code(.bad_handle);
    if (len > cap or cap < 12) return code(.invalid_argument);
    const seq = join(seq_hi, seq_lo);
    if (seq > limits.sequence_max) return code(.invalid_argument);
    const gpa = arena_mod.backing_allocator;
    var records: std.ArrayList(MemTable.Record) = .empty;
    defer records.deinit(gpa);
    const failure = write_batch.decode(gpa, buf[0..len], seq, &records) catch return code(.out_of_memory);
    if (failure) |f| {
        put32(buf, 0, @backingInt(f.reason));
        put32(buf, 4, @intCast(f.offset));
        put32(buf, 8, @intCast(@min(f.detail, std.math.maxInt(u32))));
        return code(.bad_batch);
    }
    var failed: ?usize = null;
    mt.addBatch(records.items, &failed) catch |err| {
        put32(buf, 0, @intCast(failed orelse std.math.maxInt(u32)));
        return addStatus(err);
    };
    return @intCast(records.items.len);
}

/// Looks up the key at buf[off..][0..klen] as of `snapshot` (range tombstones ignored when
/// `flags` has `get_ignore_range_deletions`), working in buf[off..cap] (callers that carve
/// results out of one larger buffer pass where the free part starts). Writes the records of
/// `lookup.get` there: `fixed64 trailer ‖ fixed32 vlen ‖ value`, newest first — one for a
/// Value or a deletion; for Merge entries, every consecutive Merge and the entry that ends the
/// run (if any); a range tombstone (at or below the snapshot) that covers the key above a
/// version ends them with a record of type RangeDeletion, the tombstone's seq and no value.
/// Returns the record count (0: absent), `buffer_too_small` with the needed size in
/// buf[off..][0..4], or `corruption` (the entry's trailer and key at buf[off..]).
pub export fn memtable_get(h: ?*anyopaque, whole: [*]u8, off: u32, whole_cap: u32, klen: u32, snap_hi: u32, snap_lo: u32, flags: u32) i32 {
    const mt = asMemTable(h) orelse return code(.bad_handle);
    if (off > whole_cap) return code(.invalid_argument);
    // The call works in whole[off..whole_cap]: the key in front, the records written over it.
    const buf = whole + off;
    const cap = whole_cap - off;
    if (klen > limits.key_size_max or klen > cap) return code(.invalid_argument);
    // A caller that carves results out of a slab hands over memory not touched for a while:
    // claim the lines a typical record fills now, so their misses overlap the search's.
    var line: usize = 64;
    while (line < 256 and line < cap) : (line += 64) @prefetch(buf + line, .{ .rw = .write });
    const outcome = lookup.get(mt, buf[0..klen], lookupOptions(snap_hi, snap_lo, flags), buf[0..cap]) catch return code(.out_of_memory);
    return switch (outcome) {
        .records => |n| @intCast(n),
        .too_small => |need| tooSmall(buf, cap, need),
        .corrupt => |node| corrupt(buf, cap, node),
    };
}

/// Looks up the key at buf[0..klen] as of `snapshot` for a caller that reads the value into
/// memory of its own (`lookup.getInto`): the visible version's `fixed64 trailer ‖ fixed32 vlen`
/// goes to buf[0..12] and, for a Value, its first min(vlen, dest_cap) bytes to `dest`. A range
/// tombstone covering the key above the version answers as a record of type RangeDeletion
/// with the tombstone's seq. Returns 1 (a Value or a deletion), 0 (absent), 2 (the newest
/// version is a Merge: nothing written, `memtable_get` collects the run), or `corruption`
/// (the entry's trailer and key in buf). `invalid_argument` for a null `dest` with a capacity.
pub export fn memtable_get_into(h: ?*anyopaque, buf: [*]u8, cap: u32, klen: u32, dest: ?[*]u8, dest_cap: u32, snap_hi: u32, snap_lo: u32, flags: u32) i32 {
    const mt = asMemTable(h) orelse return code(.bad_handle);
    if (klen > limits.key_size_max or klen > cap or cap < limits.get_record_header_size) return code(.invalid_argument);
    if (dest == null and dest_cap != 0) return code(.invalid_argument);
    const into: []u8 = if (dest) |d| d[0..dest_cap] else &.{};
    const header = buf[0..limits.get_record_header_size];
    // Merge records, when the newest version is a Merge, go after a u32 count.
    const records = buf[get_into_records_at..cap];
    const outcome = lookup.getInto(mt, buf[0..klen], lookupOptions(snap_hi, snap_lo, flags), header, into, records) catch return code(.out_of_memory);
    return switch (outcome) {
        .absent => limits.get_into_absent,
        .found => limits.get_into_found,
        .merge => |run| switch (run) {
            .records => |n| blk: {
                put32(buf, 0, n);
                break :blk limits.get_into_merge;
            },
            .too_small => limits.get_into_merge_too_large,
            .corrupt => |node| corrupt(buf, cap, node),
        },
        .corrupt => |node| corrupt(buf, cap, node),
    };
}

/// Looks up `count` keys, listed in buf[0..keys_len] as `fixed32 len ‖ bytes` each, as
/// `memtable_get` does (one snapshot and `flags` for all), a group at a time with the group's
/// searches in lockstep (`lookup.getGroup`: RocksDB's MultiGet). Writes from buf[out_at..cap],
/// out_at = keys_len rounded up to 8, for each key in order `fixed32 count ‖ its records` (as
/// `memtable_get` writes them; count 0: absent). Returns how many keys it answered: fewer than
/// `count` when the next key's records do not fit (0: not even the first's, which
/// `memtable_get` then collects); or `corruption` (the entry's trailer and key at
/// buf[out_at..]); `invalid_argument` for a malformed key list (nothing looked up).
pub export fn memtable_multi_get(h: ?*anyopaque, buf: [*]u8, cap: u32, keys_len: u32, count: u32, snap_hi: u32, snap_lo: u32, flags: u32) i32 {
    const mt = asMemTable(h) orelse return code(.bad_handle);
    if (keys_len > cap or count > std.math.maxInt(i32)) return code(.invalid_argument);
    const out_at = std.mem.alignForward(usize, keys_len, 8);
    if (out_at > cap) return code(.invalid_argument);
    const keys = buf[0..keys_len];
    // The whole list is checked before anything is looked up.
    var at: usize = 0;
    var listed: u32 = 0;
    while (listed < count) : (listed += 1) {
        const len = nextKeyLength(keys, at) orelse return code(.invalid_argument);
        at += @sizeOf(u32) + len;
    }
    if (at != keys_len) return code(.invalid_argument);
    const options = lookupOptions(snap_hi, snap_lo, flags);
    const out = buf[out_at..cap];
    var pos: usize = 0;
    var answered: u32 = 0;
    at = 0;
    while (answered < count) {
        var group: [lookup.group_max][]const u8 = undefined;
        const n: u32 = @min(count - answered, lookup.group_max);
        for (group[0..n]) |*k| {
            const len = nextKeyLength(keys, at).?;
            k.* = keys[at + @sizeOf(u32) ..][0..len];
            at += @sizeOf(u32) + len;
        }
        const outcome = lookup.getGroup(mt, group[0..n], options, out[pos..]) catch return code(.out_of_memory);
        switch (outcome) {
            .answered => |a| {
                answered += a.keys;
                pos += a.bytes;
                if (a.keys < n) break; // the next key's records do not fit
            },
            .corrupt => |node| return corrupt(out.ptr, @intCast(out.len), node),
        }
    }
    std.debug.assert(answered <= count);
    std.debug.assert(pos <= out.len);
    return @intCast(answered);
}

/// The length of the key listed at keys[at..] (`fixed32 len ‖ bytes`), or null when the list
/// does not hold a whole key there or it is longer than `limits.key_size_max`.
fn nextKeyLength(keys: []const u8, at: usize) ?u32 {
    if (keys.len - at < @sizeOf(u32)) return null;
    const len = std.mem.readInt(u32, keys[at..][0..4], .little);
    if (len > limits.key_size_max or len > keys.len - at - @sizeOf(u32)) return null;
    return len;
}

/// Where `memtable_get_into` writes a Merge run's records: after a u32 count (a multiple of 4,
/// so the header of a found version, 12 bytes, may sit below it).
const get_into_records_at = 4;

/// Approximate memory usage (arena bytes in use), or -1 for a bad handle.
export fn memtable_memory_usage(h: ?*anyopaque) f64 {
    const mt = asMemTable(h) orelse return -1;
    return @floatFromInt(mt.memoryUsage());
}

/// Writes the counters as fixed64 LE words, in `limits.StatsWord`'s order (the representation
/// as `OptionsAbi.rep_kind` codes it).
export fn memtable_stats(h: ?*anyopaque, buf: [*]u8, cap: u32) i32 {
    const mt = asMemTable(h) orelse return code(.bad_handle);
    if (cap < limits.stats_word_count * 8) return tooSmall(buf, cap, limits.stats_word_count * 8);
    for (0..limits.stats_word_count) |i| put64(buf, i * 8, mt.stat(@fromBackingInt(@intCast(i))));
    return limits.stats_word_count;
}

/// One word of `memtable_stats` (`word` its index) as a number, or -1 for a bad handle or
/// index: for the counters read alone (exact below 2^53; the sequence numbers need the halves
/// `memtable_stats` writes).
pub export fn memtable_stat(h: ?*anyopaque, word: u32) f64 {
    const mt = asMemTable(h) orelse return -1;
    if (word >= limits.stats_word_count) return -1;
    return @floatFromInt(mt.stat(@fromBackingInt(@intCast(word))));
}

// ---- sharing with other threads -------------------------------------------------------------

/// A token (below 2^53, so exact as f64) that `memtable_attach` in any thread turns into a
/// handle holding its own reference, once. `kind` 1: a memtable, 2: a sequence allocator.
/// -1: bad handle or kind; -2: too many tokens outstanding.
export fn memtable_share(h: ?*anyopaque, kind: u32) f64 {
    const k = abi.shareKind(kind) orelse return limits.share_bad_handle;
    const object: *anyopaque = switch (k) {
        .memtable => blk: {
            const mt = asMemTable(h) orelse return limits.share_bad_handle;
            _ = mt.ref();
            break :blk mt;
        },
        .sequence_allocator => blk: {
            const a = asAllocator(h) orelse return limits.share_bad_handle;
            _ = a.ref();
            break :blk a;
        },
    };
    const token = share.put(k, object) orelse {
        switch (k) {
            .memtable => _ = asMemTable(object).?.unref(),
            .sequence_allocator => _ = asAllocator(object).?.unref(),
        }
        return limits.share_too_many;
    };
    return @floatFromInt(token);
}

/// The object of a token from `memtable_share` (with the reference the token held, now held
/// by the calling thread), or null for a token that is used up, unknown, or of another kind,
/// and when out of memory (the token then stays as it was).
export fn memtable_attach(token: f64, kind: u32) ?*anyopaque {
    if (!(token >= 0 and token < 1 << 53)) return null;
    const k = abi.shareKind(kind) orelse return null;
    const held: holdings.Kind = switch (k) {
        .memtable => .memtable,
        .sequence_allocator => .sequence_allocator,
    };
    // Room in the holdings first: once the token is taken, nothing may fail.
    holdings.reserve() catch return null;
    const object = share.take(@intFromFloat(token), k) orelse return null;
    holdings.holdReserved(held, object);
    return object;
}

// ---- sequence allocator ----------------------------------------------------------------------

/// A sequence allocator whose first number is `start` (≥ 1), or null.
export fn memtable_seqalloc_new(start_hi: u32, start_lo: u32) ?*anyopaque {
    const start = join(start_hi, start_lo);
    if (start < 1 or start > limits.sequence_max) return null;
    const a = seq_mod.SequenceAllocator.create(start) catch return null;
    holdings.hold(.sequence_allocator, a) catch {
        _ = a.unref();
        return null;
    };
    return a;
}

export fn memtable_seqalloc_unref(h: ?*anyopaque) i32 {
    const a = asAllocator(h) orelse return code(.bad_handle);
    holdings.release(a);
    return @intCast(a.unref());
}

/// Allocates `n` numbers; writes the first as fixed64 into buf.
export fn memtable_seqalloc_allocate(h: ?*anyopaque, buf: [*]u8, cap: u32, n: u32) i32 {
    const a = asAllocator(h) orelse return code(.bad_handle);
    if (cap < 8) return code(.invalid_argument);
    const first = a.allocate(n) catch return code(.invalid_argument);
    put64(buf, 0, first);
    return code(.ok);
}

/// Publishes [first, first + n).
export fn memtable_seqalloc_publish(h: ?*anyopaque, first_hi: u32, first_lo: u32, n: u32) i32 {
    const a = asAllocator(h) orelse return code(.bad_handle);
    a.publish(join(first_hi, first_lo), n) catch |err| return switch (err) {
        error.OutOfMemory => code(.out_of_memory),
        else => code(.invalid_argument),
    };
    return code(.ok);
}

/// Writes the last published number and the next to be allocated as fixed64 words into buf.
export fn memtable_seqalloc_state(h: ?*anyopaque, buf: [*]u8, cap: u32) i32 {
    const a = asAllocator(h) orelse return code(.bad_handle);
    if (cap < 16) return code(.invalid_argument);
    put64(buf, 0, a.lastPublished());
    put64(buf, 8, a.next.load(.monotonic));
    return code(.ok);
}

// ---- iterators -----------------------------------------------------------------------------

/// Creates an iterator over `h` that hides versions newer than the snapshot; it holds a
/// reference to the memtable until `memtable_iter_free`. `flags`: bit 0 iterates the range
/// tombstones instead of the point entries, bit 1 ignores range tombstones (shows covered
/// versions), bit 2 prefix_same_as_start, bit 3 total_order_seek. Null for a bad handle, bad flags or no memory.
export fn memtable_iter_new(h: ?*anyopaque, snap_hi: u32, snap_lo: u32, flags: u32) ?*anyopaque {
    const mt = asMemTable(h) orelse return null;
    if (flags >> 4 != 0) return null;
    const snapshot = @min(join(snap_hi, snap_lo), limits.sequence_max);
    const it = Iterator.create(mt, snapshot, @bitCast(flags)) catch return null;
    holdings.hold(.iterator, it) catch {
        it.destroy();
        return null;
    };
    return it;
}

/// Restricts the iterator to user keys starting with buf[0..len] (RocksDB's `prefix` read
/// option); it is then unpositioned.
export fn memtable_iter_set_prefix(h: ?*anyopaque, buf: [*]u8, cap: u32, len: u32) i32 {
    const it = asIterator(h) orelse return code(.bad_handle);
    if (len > limits.key_size_max or len > cap) return code(.invalid_argument);
    it.setBound(buf[0..len]) catch return code(.out_of_memory);
    return code(.ok);
}

export fn memtable_iter_free(h: ?*anyopaque) i32 {
    const it = asIterator(h) orelse return code(.bad_handle);
    holdings.release(it);
    it.destroy();
    return code(.ok);
}

/// Result of a positioning call: 1 and the current entry in buf (`fixed64 trailer ‖ fixed32
/// klen ‖ fixed32 vlen ‖ key ‖ value`), 0 when not valid, or `buffer_too_small` (position
/// kept; grow and call `memtable_iter_read`).
fn current(it: *Iterator, buf: [*]u8, cap: u32) i32 {
    return copied(buf, cap, it.copyCurrent(buf[0..cap]));
}

/// 1 when the iterator is positioned on an entry, 0 when not.
export fn memtable_iter_valid(h: ?*anyopaque) i32 {
    const it = asIterator(h) orelse return code(.bad_handle);
    return @intFromBool(it.valid());
}

export fn memtable_iter_read(h: ?*anyopaque, buf: [*]u8, cap: u32) i32 {
    const it = asIterator(h) orelse return code(.bad_handle);
    return current(it, buf, cap);
}

export fn memtable_iter_seek_to_first(h: ?*anyopaque, buf: [*]u8, cap: u32) i32 {
    const it = asIterator(h) orelse return code(.bad_handle);
    it.seekToFirst() catch return code(.out_of_memory);
    return current(it, buf, cap);
}

export fn memtable_iter_seek_to_last(h: ?*anyopaque, buf: [*]u8, cap: u32) i32 {
    const it = asIterator(h) orelse return code(.bad_handle);
    it.seekToLast() catch return code(.out_of_memory);
    return current(it, buf, cap);
}

/// Seeks to the first entry with user key ≥ buf[0..klen].
export fn memtable_iter_seek(h: ?*anyopaque, buf: [*]u8, cap: u32, klen: u32) i32 {
    const it = asIterator(h) orelse return code(.bad_handle);
    if (klen > limits.key_size_max or klen > cap) return code(.invalid_argument);
    it.seek(buf[0..klen]) catch return code(.out_of_memory);
    return current(it, buf, cap);
}

/// Seeks to the last entry with user key ≤ buf[0..klen].
export fn memtable_iter_seek_for_prev(h: ?*anyopaque, buf: [*]u8, cap: u32, klen: u32) i32 {
    const it = asIterator(h) orelse return code(.bad_handle);
    if (klen > limits.key_size_max or klen > cap) return code(.invalid_argument);
    it.seekForPrev(buf[0..klen]) catch return code(.out_of_memory);
    return current(it, buf, cap);
}

export fn memtable_iter_next(h: ?*anyopaque, buf: [*]u8, cap: u32) i32 {
    const it = asIterator(h) orelse return code(.bad_handle);
    if (!it.valid()) return code(.invalid_argument);
    it.next();
    return current(it, buf, cap);
}

export fn memtable_iter_prev(h: ?*anyopaque, buf: [*]u8, cap: u32) i32 {
    const it = asIterator(h) orelse return code(.bad_handle);
    if (!it.valid()) return code(.invalid_argument);
    it.prev();
    return current(it, buf, cap);
}

/// Copies up to `max` entries starting at the current one (inclusive) and advances past the
/// last one copied (`Iterator.copyBatch`). Returns the count (0 when not valid), or
/// `buffer_too_small` / `corruption` for the first entry (nothing moves); a later entry that
/// does not fit or fails its check ends the batch before it.
export fn memtable_iter_next_batch(h: ?*anyopaque, buf: [*]u8, cap: u32, max: u32) i32 {
    const it = asIterator(h) orelse return code(.bad_handle);
    return copied(buf, cap, it.copyBatch(buf[0..cap], max));
}

// ---- the native flush (sst.zig) -----------------------------------------------------------

/// A native flush: `block_size` bytes per data block (≥ 1), a restart every `restart_interval`
/// entries (≥ 1), a bloom filter of `millibits_per_key` (0: none, else in [1000, 100000]).
/// Null when out of memory or an argument is out of range.
export fn memtable_sst_new(block_size: u32, restart_interval: u32, millibits_per_key: u32) ?*anyopaque {
    if (block_size == 0 or restart_interval == 0) return null;
    if (millibits_per_key != 0 and (millibits_per_key < filter.millibits_per_key_min or
        millibits_per_key > filter.millibits_per_key_max)) return null;
    const b = sst.SstBuilder.create(block_size, restart_interval, millibits_per_key) catch return null;
    holdings.hold(.sst_builder, b) catch {
        b.destroy();
        return null;
    };
    return b;
}

/// Adds the next memtable (newest first); the builder holds a reference to it. The memtable
/// must be immutable (`invalid_argument` otherwise): no write may race the flush.
export fn memtable_sst_add_memtable(h: ?*anyopaque, m: ?*anyopaque) i32 {
    const b = asSstBuilder(h) orelse return code(.bad_handle);
    const mt = asMemTable(m) orelse return code(.bad_handle);
    if (b.built or !mt.isImmutable()) return code(.invalid_argument);
    b.addMemTable(mt) catch return code(.out_of_memory);
    return code(.ok);
}

/// Adds `n` live snapshot sequence numbers, fixed64 LE at buf[0..8n].
export fn memtable_sst_add_snapshots(h: ?*anyopaque, buf: [*]u8, cap: u32, n: u32) i32 {
    const b = asSstBuilder(h) orelse return code(.bad_handle);
    if (b.built or @as(u64, n) * 8 > cap) return code(.invalid_argument);
    var i: usize = 0;
    while (i < n) : (i += 1) {
        const s = std.mem.readInt(u64, buf[i * 8 ..][0..8], .little);
        if (s > limits.sequence_max) return code(.invalid_argument);
        b.snapshots.append(b.gpa, s) catch return code(.out_of_memory);
    }
    return code(.ok);
}

/// Folds merge runs with the built-in operator `kind` (`merge_operator.Kind`: 0 none,
/// 1 uint64Add, 2 stringAppend, 3 max, 4 put); stringAppend's delimiter is buf[0..len], the
/// other kinds take `len` 0. `invalid_argument` for an unknown kind, a delimiter the kind does
/// not take or one longer than `merge_operator.delimiter_size_max`, or a builder already built.
export fn memtable_sst_set_merge_operator(h: ?*anyopaque, kind: u32, buf: [*]u8, cap: u32, len: u32) i32 {
    const b = asSstBuilder(h) orelse return code(.bad_handle);
    if (b.built or len > cap) return code(.invalid_argument);
    b.setMergeOperator(@fromBackingInt(@intCast(kind)), buf[0..len]) catch |err| return switch (err) {
        error.OutOfMemory => code(.out_of_memory),
        error.Invalid => code(.invalid_argument),
    };
    return code(.ok);
}

/// Runs the flush (then `memtable_sst_stats` and `memtable_sst_read`); `corruption` when an
/// entry fails its protection check.
export fn memtable_sst_build(h: ?*anyopaque) i32 {
    const b = asSstBuilder(h) orelse return code(.bad_handle);
    if (b.built) return code(.invalid_argument);
    b.build() catch |err| return switch (err) {
        error.OutOfMemory => code(.out_of_memory),
        error.Corruption => code(.corruption),
    };
    return code(.ok);
}

/// Writes fixed64 LE words: file size, input entries, output entries, range tombstones,
/// smallest seq, largest seq, smallest key length, largest key length; then the smallest and
/// the largest user key (when they fit). Returns the byte count written, or a status.
export fn memtable_sst_stats(h: ?*anyopaque, buf: [*]u8, cap: u32) i32 {
    const b = asSstBuilder(h) orelse return code(.bad_handle);
    if (!b.built) return code(.invalid_argument);
    const s = b.stats;
    const words = [_]u64{ b.file.items.len, s.input_entries, s.output_entries, s.range_tombstones, s.smallest_seq, s.largest_seq, b.smallest_key.items.len, b.largest_key.items.len };
    const need = words.len * 8 + b.smallest_key.items.len + b.largest_key.items.len;
    if (need > cap) return tooSmall(buf, cap, need);
    for (words, 0..) |w, i| put64(buf, i * 8, w);
    var at: usize = words.len * 8;
    @memcpy(buf[at..][0..b.smallest_key.items.len], b.smallest_key.items);
    at += b.smallest_key.items.len;
    @memcpy(buf[at..][0..b.largest_key.items.len], b.largest_key.items);
    return @intCast(need);
}

/// Copies the file's bytes from `offset` into buf (as many as fit); returns the count.
export fn memtable_sst_read(h: ?*anyopaque, buf: [*]u8, cap: u32, offset: f64) i32 {
    const b = asSstBuilder(h) orelse return code(.bad_handle);
    if (!b.built or !(offset >= 0) or offset > @as(f64, @floatFromInt(b.file.items.len))) return code(.invalid_argument);
    const from: usize = @intFromFloat(offset);
    const n = @min(@as(usize, cap), b.file.items.len - from, @as(usize, std.math.maxInt(i32)));
    @memcpy(buf[0..n], b.file.items[from..][0..n]);
    return @intCast(n);
}

/// Frees the builder and drops its memtable references.
export fn memtable_sst_free(h: ?*anyopaque) i32 {
    const b = asSstBuilder(h) orelse return code(.bad_handle);
    holdings.release(b);
    b.destroy();
    return code(.ok);
}

// ---- testing ------------------------------------------------------------------------------

/// TESTING ONLY: flips one bit of the stored entry for key buf[0..klen] with exactly sequence
/// number `seq` (any type), to prove that corruption is detected. `what`: 0 the last value
/// byte (the last key byte when the value is empty), 1 the last key byte. Returns 1 when it
/// flipped a bit, 0 when no such entry exists.
export fn memtable_testing_corrupt(h: ?*anyopaque, buf: [*]u8, cap: u32, klen: u32, seq_hi: u32, seq_lo: u32, what: u32) i32 {
    const mt = asMemTable(h) orelse return code(.bad_handle);
    if (klen > limits.key_size_max or klen > cap or what > 1) return code(.invalid_argument);
    const seq = join(seq_hi, seq_lo);
    if (seq > limits.sequence_max) return code(.invalid_argument);
    return @intFromBool(mt.corruptForTesting(buf[0..klen], seq, if (what == 1) .key else .value));
}

// ---- benchmark-only (-Dbench-exports=true) ------------------------------------------------

comptime {
    if (build_options.bench_exports) {
        @export(&benchInserts, .{ .name = "memtable_bench_inserts" });
        @export(&benchLookups, .{ .name = "memtable_bench_lookups" });
    }
}

/// Adds keys[i*key_size..] with `value` at seq first_seq+i for i in [0, n): the Zig-driven put
/// loop, run inside the caller's process. Returns n or a status.
fn benchInserts(h: ?*anyopaque, keys: [*]const u8, key_size: u32, value: [*]const u8, value_len: u32, first_seq: u32, n: u32) callconv(.c) i32 {
    const mt = asMemTable(h) orelse return code(.bad_handle);
    var i: u32 = 0;
    while (i < n) : (i += 1) {
        mt.add(first_seq + i, .value, keys[@as(usize, i) * key_size ..][0..key_size], value[0..value_len]) catch return code(.out_of_memory);
    }
    return @intCast(n);
}

/// Looks up keys[order[i]*key_size..] for i in [0, n), copying each value out as `memtable_get`
/// does: the Zig-driven get loop. Returns how many were found.
fn benchLookups(h: ?*anyopaque, keys: [*]const u8, key_size: u32, order: [*]const u32, n: u32, out: [*]u8, cap: u32) callconv(.c) i32 {
    const mt = asMemTable(h) orelse return code(.bad_handle);
    var found: i32 = 0;
    var i: u32 = 0;
    while (i < n) : (i += 1) {
        const key = keys[@as(usize, order[i]) * key_size ..][0..key_size];
        const node = mt.findNewest(key, limits.sequence_max) orelse continue;
        const e = coding.decodeEntry(node.entry());
        if (e.value.len <= cap) @memcpy(out[0..e.value.len], e.value);
        found += 1;
    }
    return found;
}
