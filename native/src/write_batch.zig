//! Decoding RocksDB's WriteBatch representation (`db/write_batch.cc`):
//!     fixed64 sequence ‖ fixed32 count ‖ record*
//! Each record is a tag byte followed by varint32-length-prefixed strings:
//!     Value / Merge             tag key value
//!     Deletion / SingleDeletion tag key
//!     RangeDeletion             tag begin end
//!     the ColumnFamily* forms   tag varint32(cf) …the same…
//!     LogData                   tag blob            (not counted)
//!     Noop                      tag                 (not counted)
//! `count` must equal the number of counted records ("WriteBatch has wrong count").
const std = @import("std");
const limits = @import("limits.zig");
const MemTable = @import("memtable/memtable.zig").MemTable;

pub const header_size = 12;

/// RocksDB's record tags (`db/dbformat.h`, the WAL-only codes included).
pub const Tag = struct {
    pub const deletion = 0x0;
    pub const value = 0x1;
    pub const merge = 0x2;
    pub const log_data = 0x3;
    pub const cf_deletion = 0x4;
    pub const cf_value = 0x5;
    pub const cf_merge = 0x6;
    pub const single_deletion = 0x7;
    pub const cf_single_deletion = 0x8;
    pub const noop = 0xD;
    pub const cf_range_deletion = 0xE;
    pub const range_deletion = 0xF;
    /// The highest tag RocksDB defines (kTypeColumnFamilyValuePreferredSeqno); tags up to it
    /// that a memtable cannot apply (transaction markers, blob indexes, timestamps, wide
    /// columns) are "unsupported", above it "unknown".
    pub const known_max = 0x19;
};

/// Why a batch was refused; written to the caller's buffer as `fixed32 reason ‖ fixed32 offset
/// ‖ fixed32 detail` (offset: where in the batch; detail: the tag, cf id, length or count).
pub const Reason = enum(u32) {
    too_short = 1,
    truncated = 2,
    unknown_tag = 3,
    wrong_count = 4,
    unsupported_tag = 5,
    column_family = 6,
    too_large = 7,
    range_end_before_start = 8,
    sequence_overflow = 9,
};

pub const Failure = struct { reason: Reason, offset: usize, detail: u64 };

const Reader = struct {
    data: []const u8,
    pos: usize,

    fn varint32(self: *Reader) ?u32 {
        var result: u32 = 0;
        var shift: u6 = 0;
        while (shift <= 28) : (shift += 7) {
            if (self.pos >= self.data.len) return null;
            const b = self.data[self.pos];
            self.pos += 1;
            result |= @as(u32, b & 0x7F) << @intCast(shift);
            if (b < 0x80) return result;
        }
        return null;
    }

    fn slice(self: *Reader) ?[]const u8 {
        const n = self.varint32() orelse return null;
        if (n > self.data.len - self.pos) return null;
        const s = self.data[self.pos..][0..n];
        self.pos += n;
        return s;
    }
};

/// Decodes `data` into `out` with consecutive sequence numbers from `first_seq` (the batch's
/// own header sequence is ignored: the caller decides). Returns the counted records, or the
/// failure. `out` is cleared first.
pub fn decode(
    gpa: std.mem.Allocator,
    data: []const u8,
    first_seq: u64,
    out: *std.ArrayList(MemTable.Record),
) error{OutOfMemory}!?Failure {
    out.clearRetainingCapacity();
    if (data.len < header_size) return .{ .reason = .too_short, .offset = 0, .detail = data.len };
    const count = std.mem.readInt(u32, data[8..12], .little);
    var r: Reader = .{ .data = data, .pos = header_size };
    var seq = first_seq;
    while (r.pos < data.len) {
        const at = r.pos;
        const tag = data[r.pos];
        r.pos += 1;
        const truncated: Failure = .{ .reason = .truncated, .offset = at, .detail = tag };
        switch (tag) {
            Tag.log_data => {
                _ = r.slice() orelse return truncated;
                continue;
            },
            Tag.noop => continue,
            Tag.deletion, Tag.value, Tag.merge, Tag.single_deletion, Tag.range_deletion, Tag.cf_deletion, Tag.cf_value, Tag.cf_merge, Tag.cf_single_deletion, Tag.cf_range_deletion => {},
            else => return .{
                .reason = if (tag <= Tag.known_max) .unsupported_tag else .unknown_tag,
                .offset = at,
                .detail = tag,
            },
        }
        const cf_form = tag == Tag.cf_deletion or tag == Tag.cf_value or tag == Tag.cf_merge or
            tag == Tag.cf_single_deletion or tag == Tag.cf_range_deletion;
        if (cf_form) {
            const cf = r.varint32() orelse return truncated;
            if (cf != 0) return .{ .reason = .column_family, .offset = at, .detail = cf };
        }
        const value_type: limits.ValueType = switch (tag) {
            Tag.deletion, Tag.cf_deletion => .deletion,
            Tag.value, Tag.cf_value => .value,
            Tag.merge, Tag.cf_merge => .merge,
            Tag.single_deletion, Tag.cf_single_deletion => .single_deletion,
            else => .range_deletion,
        };
        const key = r.slice() orelse return truncated;
        const has_value = value_type == .value or value_type == .merge or value_type == .range_deletion;
        const value: []const u8 = if (has_value) (r.slice() orelse return truncated) else "";
        if (key.len > limits.key_size_max) return .{ .reason = .too_large, .offset = at, .detail = key.len };
        const value_max: usize = if (value_type == .range_deletion) limits.key_size_max else limits.value_size_max;
        if (value.len > value_max) return .{ .reason = .too_large, .offset = at, .detail = value.len };
        if (value_type == .range_deletion and std.mem.order(u8, key, value) == .gt) {
            return .{ .reason = .range_end_before_start, .offset = at, .detail = 0 };
        }
        if (seq > limits.sequence_max) return .{ .reason = .sequence_overflow, .offset = at, .detail = out.items.len };
        try out.append(gpa, .{ .seq = seq, .value_type = value_type, .key = key, .value = value });
        seq += 1;
    }
    if (out.items.len != count) return .{ .reason = .wrong_count, .offset = data.len, .detail = out.items.len };
    return null;
}

const testing = std.testing;

test "decodes every record form RocksDB writes and refuses malformed batches" {
    const gpa = testing.allocator;
    var out: std.ArrayList(MemTable.Record) = .empty;
    defer out.deinit(gpa);
    // seq 99 (ignored), count 5: Put(a,b) LogData(x) Delete(c) CF0 Merge(d,e) Noop
    // SingleDelete(f) DeleteRange(g,h)
    const batch = [_]u8{ 99, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0 } ++
        [_]u8{ 1, 1, 'a', 1, 'b' } ++ [_]u8{ 3, 1, 'x' } ++ [_]u8{ 0, 1, 'c' } ++
        [_]u8{ 6, 0, 1, 'd', 1, 'e' } ++ [_]u8{0xD} ++ [_]u8{ 7, 1, 'f' } ++
        [_]u8{ 0xF, 1, 'g', 1, 'h' };
    try testing.expect((try decode(gpa, &batch, 1000, &out)) == null);
    try testing.expectEqual(@as(usize, 5), out.items.len);
    const types = [_]limits.ValueType{ .value, .deletion, .merge, .single_deletion, .range_deletion };
    for (out.items, types, 0..) |rec, t, i| {
        try testing.expectEqual(t, rec.value_type);
        try testing.expectEqual(@as(u64, 1000 + i), rec.seq);
    }
    try testing.expectEqualStrings("h", out.items[4].value);

    const Case = struct { bytes: []const u8, reason: Reason };
    const cases = [_]Case{
        .{ .bytes = batch[0..11], .reason = .too_short },
        .{ .bytes = batch[0 .. batch.len - 1], .reason = .truncated },
        .{ .bytes = &([_]u8{ 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 1, 1, 'a', 1, 'b' }), .reason = .wrong_count },
        .{ .bytes = &([_]u8{ 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0x7F, 1, 'a' }), .reason = .unknown_tag },
        .{ .bytes = &([_]u8{ 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0x9, 1, 'a' }), .reason = .unsupported_tag },
        .{ .bytes = &([_]u8{ 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 4, 2, 1, 'a' }), .reason = .column_family },
        .{ .bytes = &([_]u8{ 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0xF, 1, 'z', 1, 'a' }), .reason = .range_end_before_start },
        .{ .bytes = &([_]u8{ 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF }), .reason = .truncated },
    };
    for (cases) |c| {
        const f = (try decode(gpa, c.bytes, 1, &out)).?;
        try testing.expectEqual(c.reason, f.reason);
    }
    // The last sequence number must stay within 56 bits.
    const near_max = (try decode(gpa, &batch, limits.sequence_max - 2, &out)).?;
    try testing.expectEqual(Reason.sequence_overflow, near_max.reason);
}
