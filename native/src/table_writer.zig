//! A table written entry by entry (the compaction's outputs) through the native flush's own
//! table building (`sst.zig`'s SstBuilder: its blocks, filter, properties and finish path), so
//! a compaction output and a flushed file are laid out alike. Used by one thread at a time.
const std = @import("std");
const coding = @import("coding.zig");
const limits = @import("limits.zig");
const sst = @import("sst.zig");

const SstBuilder = sst.SstBuilder;
const Output = sst.Output;

/// Entries in internal-key order, range tombstones in any order (sorted when the table ends),
/// then `finish` once; `bytes()` holds the file afterwards.
pub const TableWriter = struct {
    b: *SstBuilder,
    out: Output,

    /// `millibits_per_key`: the bloom filter's thousandths of a bit per key (0: no filter).
    pub fn create(block_size: u32, restart_interval: u32, millibits_per_key: u32) error{OutOfMemory}!TableWriter {
        const b = try SstBuilder.create(block_size, restart_interval, millibits_per_key);
        return .{ .b = b, .out = .{ .data = .{ .interval = restart_interval } } };
    }

    pub fn destroy(self: *TableWriter) void {
        self.out.deinit(self.b.gpa);
        self.b.destroy();
    }

    /// Adds a point entry (its internal key and value); keys come in internal-key order.
    pub fn add(self: *TableWriter, ikey: []const u8, value: []const u8) error{OutOfMemory}!void {
        std.debug.assert(!self.b.built);
        try self.b.emit(&self.out, ikey, value);
    }

    /// Adds the range tombstone [start, end) at `seq` (copied).
    pub fn addRangeTombstone(self: *TableWriter, start: []const u8, end: []const u8, seq: u64) error{OutOfMemory}!void {
        std.debug.assert(!self.b.built);
        const gpa = self.b.gpa;
        const ikey = try gpa.alloc(u8, start.len + coding.trailer_size);
        errdefer gpa.free(ikey);
        @memcpy(ikey[0..start.len], start);
        std.mem.writeInt(u64, ikey[start.len..][0..8], coding.packTrailer(seq, @backingInt(limits.ValueType.range_deletion)), .little);
        const e = try gpa.dupe(u8, end);
        errdefer gpa.free(e);
        try self.b.added_tombstones.append(gpa, .{ .ikey = ikey, .end = e });
    }

    /// Point entries and tombstones added so far.
    pub fn entryCount(self: *const TableWriter) u64 {
        return self.b.stats.output_entries + self.b.added_tombstones.items.len;
    }

    /// Bytes of the blocks written so far (what outputs are cut by).
    pub fn fileSize(self: *const TableWriter) usize {
        return self.b.file.items.len;
    }

    /// Ends the table: the last data block, the index, tombstones, properties and footer.
    pub fn finish(self: *TableWriter) error{ OutOfMemory, Corruption }!void {
        const b = self.b;
        std.debug.assert(!b.built);
        if (self.out.data.entries > 0) try b.flushBlock(&self.out);
        try b.finishFile(&self.out.index);
        if (b.stats.smallest_seq == std.math.maxInt(u64)) b.stats.smallest_seq = 0;
        b.built = true;
    }

    pub fn bytes(self: *const TableWriter) []const u8 {
        std.debug.assert(self.b.built);
        return self.b.file.items;
    }
};
