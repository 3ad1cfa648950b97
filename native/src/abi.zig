//! The marshalling of the C ABI (`exports.zig`, which holds only the exported functions): from
//! ABI values to Zig values — handles checked by their magic, 64-bit numbers from two halves,
//! option bits to options — and from the memtable's answers back to statuses and buffer
//! contents. Everything here checks what JavaScript passes and never asserts on it.
const std = @import("std");
const limits = @import("limits.zig");
const mt_mod = @import("memtable/memtable.zig");
const lookup = @import("memtable/lookup.zig");
const seq_mod = @import("sequence.zig");
const skiplist = @import("rep/skiplist.zig");
const rep_mod = @import("rep/rep.zig");
const prefix_mod = @import("prefix.zig");
const share = @import("share.zig");
const sst = @import("sst.zig");
const wal_mod = @import("wal.zig");
const file_lock = @import("file_lock.zig");

const MemTable = mt_mod.MemTable;
const Iterator = mt_mod.Iterator;
const Status = limits.Status;

pub inline fn code(s: Status) i32 {
    return @backingInt(s);
}

pub inline fn join(hi: u32, lo: u32) u64 {
    return (@as(u64, hi) << 32) | lo;
}

pub fn asMemTable(h: ?*anyopaque) ?*MemTable {
    const p = h orelse return null;
    const mt: *MemTable = @ptrCast(@alignCast(p));
    return if (mt.magic == mt_mod.memtable_magic) mt else null;
}

pub fn asIterator(h: ?*anyopaque) ?*Iterator {
    const p = h orelse return null;
    const it: *Iterator = @ptrCast(@alignCast(p));
    return if (it.magic == mt_mod.iterator_magic) it else null;
}

pub fn asSstBuilder(h: ?*anyopaque) ?*sst.SstBuilder {
    const p = h orelse return null;
    const b: *sst.SstBuilder = @ptrCast(@alignCast(p));
    return if (b.magic == sst.builder_magic) b else null;
}

pub fn asWal(h: ?*anyopaque) ?*wal_mod.Wal {
    const p = h orelse return null;
    const w: *wal_mod.Wal = @ptrCast(@alignCast(p));
    return if (w.magic == wal_mod.magic) w else null;
}

pub fn asFileLock(h: ?*anyopaque) ?*file_lock.FileLock {
    const p = h orelse return null;
    const l: *file_lock.FileLock = @ptrCast(@alignCast(p));
    return if (l.magic == file_lock.magic) l else null;
}

/// The kind `memtable_share` and `memtable_attach` take (`share.Kind`'s codes), or null.
pub fn shareKind(kind: u32) ?share.Kind {
    return switch (kind) {
        @backingInt(share.Kind.memtable) => .memtable,
        @backingInt(share.Kind.sequence_allocator) => .sequence_allocator,
        else => null,
    };
}

pub inline fn put32(buf: [*]u8, at: usize, v: u32) void {
    std.mem.writeInt(u32, buf[at..][0..4], v, .little);
}
pub inline fn put64(buf: [*]u8, at: usize, v: u64) void {
    std.mem.writeInt(u64, buf[at..][0..8], v, .little);
}

/// Reports `need` bytes in the first word of the buffer (when it has one) and says so.
pub fn tooSmall(buf: [*]u8, cap: u32, need: usize) i32 {
    if (cap >= 4) put32(buf, 0, @intCast(@min(need, std.math.maxInt(u32))));
    return code(.buffer_too_small);
}

pub fn asAllocator(h: ?*anyopaque) ?*seq_mod.SequenceAllocator {
    const p = h orelse return null;
    const a: *seq_mod.SequenceAllocator = @ptrCast(@alignCast(p));
    return if (a.magic == seq_mod.magic) a else null;
}

/// Reports a corrupt entry: `fixed64 trailer ‖ fixed32 key_len ‖ key` (the key cut to fit).
pub fn corrupt(buf: [*]u8, cap: u32, node: *skiplist.Node) i32 {
    const k = node.key();
    if (cap >= 12) {
        put64(buf, 0, k.trailer);
        put32(buf, 8, @intCast(k.user_key.len));
        const n = @min(k.user_key.len, cap - 12);
        @memcpy(buf[12..][0..n], k.user_key[0..n]);
    }
    return code(.corruption);
}

/// A copy's answer as a status: the entry count, `buffer_too_small` with the size needed in
/// buf[0..4], or `corruption` with the entry's trailer and key in buf.
pub fn copied(buf: [*]u8, cap: u32, c: Iterator.Copied) i32 {
    return switch (c) {
        .entries => |n| @intCast(n),
        .too_small => |need| tooSmall(buf, cap, need),
        .corrupt => |node| corrupt(buf, cap, node),
    };
}

pub fn addStatus(err: mt_mod.AddError) i32 {
    return switch (err) {
        error.Duplicate => code(.duplicate),
        error.OutOfMemory => code(.out_of_memory),
        error.Corruption => code(.corruption),
        error.SingleDeleteMisuse => code(.single_delete_misuse),
        error.ConcurrentWrite => code(.concurrent_write),
        error.Immutable => code(.immutable),
    };
}

/// `flags` bit of the lookups: range tombstones hide nothing (the iterators' bit for it).
const get_ignore_range_deletions: u32 = 2;

pub fn lookupOptions(snap_hi: u32, snap_lo: u32, flags: u32) lookup.Options {
    return .{
        .snapshot = @min(join(snap_hi, snap_lo), limits.sequence_max),
        .ignore_range_deletions = flags & get_ignore_range_deletions != 0,
    };
}

/// The options `memtable_new` takes, as TypeScript encodes them (`src/memtable/options.ts`):
/// little-endian, at these offsets (the layout check compares them at load). The
/// representation fields mean what `rep.Options` says; `earliest_seq` all ones is unset.
pub const OptionsAbi = extern struct {
    write_buffer_size: u64,
    /// 0: derived from the write buffer size.
    arena_block_size: u64,
    huge_page_size: u64,
    earliest_seq: u64,
    bloom_bits: u64,
    rep_bucket_count: u32,
    rep_threshold: u32,
    rep_reserve: u32,
    prefix_len: u32,
    hint_prefix_len: u32,
    protection_bytes: u8,
    paranoid: u8,
    concurrent_writes: u8,
    whole_key_filtering: u8,
    point_index: u8,
    extractor: u8,
    hint_extractor: u8,
    rep_kind: u8,
    rep_height: u8,
    rep_branching: u8,
    transparent_huge_pages: u8,
    reserved: [9]u8,
};

comptime {
    std.debug.assert(@sizeOf(OptionsAbi) == mt_mod.encoded_options_size);
    std.debug.assert(@alignOf(OptionsAbi) == 8);
}

/// Layout words taken from the definitions the code uses: the iterator flag bits (range table,
/// ignore range deletions, prefix same as start, total order seek), the share kinds (memtable,
/// sequence allocator), the rep codes (skiplist, hash skiplist, hash linked list, vector) and
/// the prefix extractor kinds (fixed, capped, noop).
pub const code_words = [_]u32{
    @bitCast(Iterator.Flags{ .range_table = true }),
    @bitCast(Iterator.Flags{ .ignore_range_deletions = true }),
    @bitCast(Iterator.Flags{ .prefix_same_as_start = true }),
    @bitCast(Iterator.Flags{ .total_order_seek = true }),
    @backingInt(share.Kind.memtable),
    @backingInt(share.Kind.sequence_allocator),
    @backingInt(rep_mod.Kind.skiplist),
    @backingInt(rep_mod.Kind.hash_skiplist),
    @backingInt(rep_mod.Kind.hash_linklist),
    @backingInt(rep_mod.Kind.vector),
    @backingInt(prefix_mod.Kind.fixed),
    @backingInt(prefix_mod.Kind.capped),
    @backingInt(prefix_mod.Kind.noop),
};

/// The layout words of `OptionsAbi`: its size, then each field's offset, in declaration order.
pub const options_layout = blk: {
    const names = @typeInfo(OptionsAbi).@"struct".field_names;
    var words: [names.len + 1]u32 = undefined;
    words[0] = @sizeOf(OptionsAbi);
    for (names, 1..) |name, i| words[i] = @offsetOf(OptionsAbi, name);
    break :blk words;
};

fn flag(v: u8) ?bool {
    return switch (v) {
        0 => false,
        1 => true,
        else => null,
    };
}

fn extractorOf(kind: u8, n: u32) ?prefix_mod.Extractor {
    if (kind > 3 or n > limits.key_size_max) return null;
    if (kind == 0 and n != 0) return null;
    return .{ .kind = @fromBackingInt(@as(u32, kind)), .n = n };
}

/// The options `raw` (an `OptionsAbi`'s bytes) describe, or null when one is out of range or
/// the representation does not take them (`Options.supported`: the capability table).
pub fn memtableOptions(raw: []const u8) ?mt_mod.Options {
    if (raw.len != @sizeOf(OptionsAbi)) return null;
    var a: OptionsAbi = undefined;
    @memcpy(std.mem.asBytes(&a), raw);
    const max_size: u64 = 1 << 53;
    if (a.write_buffer_size < 1 or a.write_buffer_size > max_size) return null;
    if (a.arena_block_size > max_size or a.bloom_bits > max_size) return null;
    if (a.huge_page_size != 0 and (!std.math.isPowerOfTwo(a.huge_page_size) or
        a.huge_page_size < limits.arena_block_size_min or a.huge_page_size > limits.arena_block_size_max)) return null;
    if (a.earliest_seq != mt_mod.seq_unset and a.earliest_seq > limits.sequence_max) return null;
    if (!limits.isProtectionSize(a.protection_bytes)) return null;
    if (!std.mem.allEqual(u8, &a.reserved, 0)) return null;
    const rep_options = repOptions(a) orelse return null;
    const options: mt_mod.Options = .{
        .rep = rep_options,
        .protection_bytes = a.protection_bytes,
        .paranoid = flag(a.paranoid) orelse return null,
        .concurrent_writes = flag(a.concurrent_writes) orelse return null,
        .whole_key_filtering = flag(a.whole_key_filtering) orelse return null,
        .point_index = flag(a.point_index) orelse return null,
        .transparent_huge_pages = flag(a.transparent_huge_pages) orelse return null,
        .extractor = extractorOf(a.extractor, a.prefix_len) orelse return null,
        .hint_extractor = extractorOf(a.hint_extractor, a.hint_prefix_len) orelse return null,
        .bloom_bits = a.bloom_bits,
        .write_buffer_size = a.write_buffer_size,
        .arena_block_size = a.arena_block_size,
        .huge_page_size = a.huge_page_size,
        .earliest_seq = a.earliest_seq,
    };
    return if (options.supported()) options else null;
}

fn repOptions(a: OptionsAbi) ?rep_mod.Options {
    switch (a.rep_kind) {
        0 => return if (a.rep_bucket_count == 0 and a.rep_threshold == 0 and a.rep_reserve == 0 and
            a.rep_height == 0 and a.rep_branching == 0) .{} else null,
        1 => {
            if (a.rep_bucket_count < 1 or a.rep_bucket_count > rep_mod.bucket_count_max) return null;
            if (a.rep_height < 1 or a.rep_height > limits.skiplist_height_max or a.rep_branching < 2) return null;
            if (a.rep_threshold != 0 or a.rep_reserve != 0) return null;
            return .{ .kind = .hash_skiplist, .bucket_count = a.rep_bucket_count, .height = a.rep_height, .branching = a.rep_branching, .threshold = 0 };
        },
        2 => {
            if (a.rep_bucket_count < 1 or a.rep_bucket_count > rep_mod.bucket_count_max) return null;
            if (a.rep_threshold < 1 or a.rep_height != 0 or a.rep_branching != 0 or a.rep_reserve != 0) return null;
            return .{ .kind = .hash_linklist, .bucket_count = a.rep_bucket_count, .height = 0, .branching = 0, .threshold = a.rep_threshold };
        },
        3 => {
            if (a.rep_reserve > rep_mod.bucket_count_max) return null;
            if (a.rep_bucket_count != 0 or a.rep_threshold != 0 or a.rep_height != 0 or a.rep_branching != 0) return null;
            return .{ .kind = .vector, .reserve = a.rep_reserve };
        },
        else => return null,
    }
}
