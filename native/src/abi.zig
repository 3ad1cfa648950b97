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

/// `memtable_new`'s arguments as memtable options (see there), or null when one is out of range
/// or the representation does not take them (`Options.supported`: the capability table).
pub fn memtableOptions(write_buffer_size: f64, arena_block_size: f64, huge_page_size: u32, earliest_hi: u32, earliest_lo: u32, flags: u32, extractor: u32, prefix_len: u32, bloom_bits: f64, hint_extractor: u32, hint_prefix_len: u32, rep: u32, rep_count: u32, rep_threshold: u32) ?mt_mod.Options {
    const max_size: f64 = 1 << 53;
    if (!(write_buffer_size >= 1 and write_buffer_size <= max_size)) return null;
    if (!(arena_block_size >= 0 and arena_block_size <= max_size)) return null;
    if (huge_page_size != 0 and (!std.math.isPowerOfTwo(huge_page_size) or
        huge_page_size < limits.arena_block_size_min or huge_page_size > limits.arena_block_size_max)) return null;
    const earliest = join(earliest_hi, earliest_lo);
    if (earliest != mt_mod.seq_unset and earliest > limits.sequence_max) return null;
    const protection: u32 = flags & 0xFF;
    if (!limits.isProtectionSize(protection) or flags >> 12 != 0) return null;
    if (extractor > 3 or prefix_len > limits.key_size_max) return null;
    if (hint_extractor > 3 or hint_prefix_len > limits.key_size_max) return null;
    if (!(bloom_bits >= 0 and bloom_bits <= max_size)) return null;
    const rep_options = repOptions(rep, rep_count, rep_threshold) orelse return null;
    const options: mt_mod.Options = .{
        .rep = rep_options,
        .protection_bytes = @intCast(protection),
        .paranoid = flags & 0x100 != 0,
        .concurrent_writes = flags & 0x200 != 0,
        .whole_key_filtering = flags & 0x400 != 0,
        .point_index = flags & 0x800 != 0,
        .extractor = .{ .kind = @fromBackingInt(@intCast(extractor)), .n = prefix_len },
        .hint_extractor = .{ .kind = @fromBackingInt(@intCast(hint_extractor)), .n = hint_prefix_len },
        .bloom_bits = @intFromFloat(bloom_bits),
        .write_buffer_size = @intFromFloat(write_buffer_size),
        .arena_block_size = @intFromFloat(arena_block_size),
        .huge_page_size = huge_page_size,
        .earliest_seq = earliest,
    };
    return if (options.supported()) options else null;
}

fn repOptions(rep: u32, count: u32, threshold: u32) ?rep_mod.Options {
    if (rep >> 16 != 0) return null;
    const kind = rep & 0xF;
    const height = (rep >> 4) & 0xF;
    const branching = (rep >> 8) & 0xFF;
    switch (kind) {
        0 => return if (rep == 0 and count == 0 and threshold == 0) .{} else null,
        1, 2 => {
            if (count < 1 or count > rep_mod.bucket_count_max) return null;
            if (kind == 1 and (height < 1 or height > limits.skiplist_height_max or branching < 2)) return null;
            if (kind == 2 and (threshold < 1 or height != 0 or branching != 0)) return null;
            return .{ .kind = @fromBackingInt(kind), .bucket_count = count, .height = height, .branching = branching, .threshold = threshold };
        },
        3 => return if (count <= rep_mod.bucket_count_max and height == 0 and branching == 0 and threshold == 0)
            .{ .kind = .vector, .reserve = count }
        else
            null,
        else => return null,
    }
}
