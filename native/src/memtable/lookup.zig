//! Point lookups (RocksDB's MemTable::Get and SaveValue): where a lookup starts — the newest
//! range tombstone covering the key at the snapshot, the bloom filter, the newest version at or
//! below the snapshot — the walk over older versions, and the records a lookup produces.
//!
//! A get's records (`get`), newest first, each `fixed64 trailer ‖ fixed32 value_len ‖ value`
//! (`limits.get_record_header_size` bytes of header): one for a Value or a deletion; for Merge
//! entries, every consecutive Merge and the entry that ends the run (if any). A range tombstone
//! (at or below the snapshot) that covers the key above a version ends the records with one of
//! type RangeDeletion, the tombstone's sequence number and no value. The caller folds merge
//! operands; the memtable decides which versions a reader at the snapshot sees.
//!
//! Thread safety: lookups never lock and run alongside writers; a version linked while one runs
//! may or may not be seen, one at a sequence number the writer has published is.
const std = @import("std");
const limits = @import("../limits.zig");
const coding = @import("../coding.zig");
const skiplist = @import("../rep/skiplist.zig");
const tombstones = @import("tombstones.zig");
const MemTable = @import("memtable.zig").MemTable;

const Node = skiplist.Node;
const header_size = limits.get_record_header_size;

/// The newest version of `key` with sequence number ≤ `snapshot`, or null.
pub fn findNewest(mt: *MemTable, key: []const u8, snapshot: u64) ?*Node {
    return mt.rep.findNewest(key, snapshot);
}

/// The next older version of `node`'s user key (a point entry), or null.
pub fn nextVersion(mt: *MemTable, node: *Node) ?*Node {
    return mt.rep.nextVersion(node);
}

pub const Options = struct {
    /// REQUIRES: ≤ `limits.sequence_max` (the boundary clamps larger snapshots to it).
    snapshot: u64,
    /// Range tombstones hide nothing (a reader that applies them itself).
    ignore_range_deletions: bool = false,
};

/// Where a lookup starts: the newest range tombstone covering the key at the snapshot (0: none,
/// or ignored) and the newest version at or below the snapshot (null when the bloom filter rules
/// the key out or there is none).
pub const Start = struct { covering: u64, newest: ?*Node };

pub fn start(mt: *MemTable, key: []const u8, options: Options) error{OutOfMemory}!Start {
    std.debug.assert(options.snapshot <= limits.sequence_max);
    std.debug.assert(key.len <= limits.key_size_max);
    return .{
        .covering = if (options.ignore_range_deletions) 0 else try mt.maxCovering(key, options.snapshot),
        .newest = if (mt.mayContain(key)) mt.findNewest(key, options.snapshot) else null,
    };
}

/// What a lookup wrote.
pub const Outcome = union(enum) {
    /// This many records (0: the key is absent at the snapshot).
    records: u32,
    /// `out` holds fewer bytes than the records need: this many.
    too_small: usize,
    /// This entry failed its protection check; nothing is to be trusted of the lookup.
    corrupt: *Node,
};

/// Looks `key` up and writes its records (see the file's contract) to `out`. `out` may hold the
/// key itself: the key is read only before the first record is written.
pub fn get(mt: *MemTable, key: []const u8, options: Options, out: []u8) error{OutOfMemory}!Outcome {
    return walk(mt, try start(mt, key, options), out);
}

/// The version walk from `from` (a lookup's start): the records, newest first, to `out`.
fn walk(mt: *MemTable, from: Start, out: []u8) Outcome {
    const protection = mt.protectionBytes();
    var pos: usize = 0;
    var count: u32 = 0;
    var overflow = false;
    var found = from.newest;
    while (found) |node| {
        if (!coding.verifyProtection(node.entry(), protection)) return .{ .corrupt = node };
        const e = coding.decodeEntry(node.entry());
        if (tombstones.hides(from.covering, e.key.sequence())) break; // it ends the run
        const need = pos + header_size + e.value.len;
        if (need > out.len) overflow = true;
        if (!overflow) putRecord(out[pos..need], e.key.trailer, e.value);
        pos = need;
        count += 1;
        if (e.key.valueType() != @backingInt(limits.ValueType.merge)) {
            return if (overflow) .{ .too_small = pos } else .{ .records = count };
        }
        // `out` may have overwritten the key: the walk compares the nodes' own copies.
        found = mt.nextVersion(node);
    }
    if (from.covering != 0) {
        const need = pos + header_size;
        if (need > out.len) overflow = true;
        if (!overflow) putRecord(out[pos..need], tombstoneTrailer(from.covering), "");
        pos = need;
        count += 1;
    }
    if (overflow) return .{ .too_small = pos };
    std.debug.assert(pos <= out.len);
    std.debug.assert(pos >= @as(usize, count) * header_size);
    return .{ .records = count };
}

/// What `getInto` found.
pub const IntoOutcome = union(enum) {
    /// No version at the snapshot, and no tombstone over the key.
    absent,
    /// The visible version's header (or a RangeDeletion header for the tombstone hiding the
    /// key) is in `header`, and a Value's first bytes in `dest`.
    found,
    /// The newest version is a Merge: the run's records (as `get` writes them) in `run`.
    merge: Outcome,
    corrupt: *Node,
};

/// Looks `key` up for a caller that reads the value into memory of its own: the visible
/// version's `fixed64 trailer ‖ fixed32 value_len` goes to `header` and, for a Value, its first
/// min(value_len, dest.len) bytes to `dest`. A range tombstone covering the key above the
/// version answers as a header of type RangeDeletion with the tombstone's sequence number.
/// `header` and `run` (where a Merge run's records go) may hold the key itself: they are written after the key is read.
/// The lookup starts once (the bloom filter is asked once), a Merge run included.
pub fn getInto(mt: *MemTable, key: []const u8, options: Options, header: *[header_size]u8, dest: []u8, run: []u8) error{OutOfMemory}!IntoOutcome {
    const from = try start(mt, key, options);
    if (from.newest) |node| {
        if (!coding.verifyProtection(node.entry(), mt.protectionBytes())) return .{ .corrupt = node };
        const e = coding.decodeEntry(node.entry());
        if (!tombstones.hides(from.covering, e.key.sequence())) {
            if (e.key.valueType() == @backingInt(limits.ValueType.merge)) return .{ .merge = walk(mt, from, run) };
            putHeader(header, e.key.trailer, e.value.len);
            const n = @min(e.value.len, dest.len);
            @memcpy(dest[0..n], e.value[0..n]);
            return .found;
        }
    }
    if (from.covering == 0) return .absent;
    putHeader(header, tombstoneTrailer(from.covering), 0);
    return .found;
}

fn tombstoneTrailer(seq: u64) u64 {
    return coding.packTrailer(seq, @backingInt(limits.ValueType.range_deletion));
}

fn putHeader(header: *[header_size]u8, trailer: u64, value_len: usize) void {
    std.mem.writeInt(u64, header[0..8], trailer, .little);
    std.mem.writeInt(u32, header[8..12], @intCast(value_len), .little);
}

/// REQUIRES: `out` is exactly the record's size.
fn putRecord(out: []u8, trailer: u64, value: []const u8) void {
    std.debug.assert(out.len == header_size + value.len);
    putHeader(out[0..header_size], trailer, value.len);
    @memcpy(out[header_size..], value);
}

const testing = std.testing;

/// The records of a get, as "type@seq=value" joined by spaces (a RangeDeletion as "rd@seq").
fn records(mt: *MemTable, key: []const u8, options: Options, text: []u8) ![]const u8 {
    var out: [256]u8 = undefined;
    const outcome = try get(mt, key, options, &out);
    const n = outcome.records;
    var w: std.Io.Writer = .fixed(text);
    var pos: usize = 0;
    var i: u32 = 0;
    while (i < n) : (i += 1) {
        const trailer = std.mem.readInt(u64, out[pos..][0..8], .little);
        const len = std.mem.readInt(u32, out[pos + 8 ..][0..4], .little);
        const value = out[pos + header_size ..][0..len];
        const t: u8 = @truncate(trailer);
        if (i > 0) try w.writeByte(' ');
        if (t == @backingInt(limits.ValueType.range_deletion)) {
            try w.print("rd@{d}", .{trailer >> 8});
        } else try w.print("{d}@{d}={s}", .{ t, trailer >> 8, value });
        pos += header_size + len;
    }
    return w.buffered();
}

test "get: the visible version, merge runs down to what ends them, tombstones end the records" {
    const mt = try MemTable.create(.{ .write_buffer_size = 1 << 20 });
    defer _ = mt.unref();
    try mt.add(1, .value, "k", "a");
    try mt.add(2, .merge, "k", "m2");
    try mt.add(3, .merge, "k", "m3");
    try mt.add(5, .deletion, "k", "");
    try mt.add(6, .merge, "k", "m6");
    try mt.addRangeDeletion(4, "j", "l");
    var text: [256]u8 = undefined;
    try testing.expectEqualStrings("", try records(mt, "k", .{ .snapshot = 0 }, &text));
    try testing.expectEqualStrings("1@1=a", try records(mt, "k", .{ .snapshot = 1 }, &text));
    try testing.expectEqualStrings("2@3=m3 2@2=m2 1@1=a", try records(mt, "k", .{ .snapshot = 3 }, &text));
    // The tombstone at 4 covers what is below it.
    try testing.expectEqualStrings("rd@4", try records(mt, "k", .{ .snapshot = 4 }, &text));
    try testing.expectEqualStrings("2@6=m6 0@5=", try records(mt, "k", .{ .snapshot = 9 }, &text));
    try testing.expectEqualStrings("2@3=m3 2@2=m2 1@1=a", try records(mt, "k", .{ .snapshot = 4, .ignore_range_deletions = true }, &text));
    try testing.expectEqualStrings("rd@4", try records(mt, "ka", .{ .snapshot = 9 }, &text));
    try testing.expectEqualStrings("", try records(mt, "z", .{ .snapshot = 9 }, &text));
    // Too small: the size every record needs, with nothing promised about `out`.
    var small: [20]u8 = undefined;
    try testing.expectEqual(Outcome{ .too_small = 3 * header_size + 5 }, try get(mt, "k", .{ .snapshot = 3 }, &small));
}

test "get and getInto report an entry that fails its protection check" {
    const mt = try MemTable.create(.{ .protection_bytes = 8 });
    defer _ = mt.unref();
    try mt.add(1, .value, "k", "value");
    try testing.expect(mt.corruptForTesting("k", 1, .value));
    var out: [64]u8 = undefined;
    const outcome = try get(mt, "k", .{ .snapshot = 1 }, &out);
    try testing.expectEqualStrings("k", outcome.corrupt.key().user_key);
    var header: [header_size]u8 = undefined;
    try testing.expect((try getInto(mt, "k", .{ .snapshot = 1 }, &header, &.{}, &out)) == .corrupt);
}

test "getInto: the header, the value cut to the destination, a Merge run's records" {
    const mt = try MemTable.create(.{});
    defer _ = mt.unref();
    try mt.add(1, .value, "k", "value");
    try mt.add(2, .merge, "m", "x");
    try mt.addRangeDeletion(3, "r", "s");
    var header: [header_size]u8 = undefined;
    var dest: [3]u8 = undefined;
    var run: [64]u8 = undefined;
    try testing.expectEqual(IntoOutcome.found, try getInto(mt, "k", .{ .snapshot = 1 }, &header, &dest, &run));
    try testing.expectEqual(coding.packTrailer(1, 1), std.mem.readInt(u64, header[0..8], .little));
    try testing.expectEqual(@as(u32, 5), std.mem.readInt(u32, header[8..12], .little));
    try testing.expectEqualStrings("val", &dest);
    try testing.expectEqual(IntoOutcome.absent, try getInto(mt, "k", .{ .snapshot = 0 }, &header, &dest, &run));
    const merge = try getInto(mt, "m", .{ .snapshot = 5 }, &header, &dest, &run);
    try testing.expectEqual(@as(u32, 1), merge.merge.records);
    try testing.expectEqual(coding.packTrailer(2, 2), std.mem.readInt(u64, run[0..8], .little));
    try testing.expectEqualStrings("x", run[header_size..][0..1]);
    var small: [4]u8 = undefined;
    try testing.expectEqual(@as(usize, header_size + 1), (try getInto(mt, "m", .{ .snapshot = 5 }, &header, &dest, &small)).merge.too_small);
    try testing.expectEqual(IntoOutcome.found, try getInto(mt, "r", .{ .snapshot = 5 }, &header, &dest, &run));
    try testing.expectEqual(tombstoneTrailer(3), std.mem.readInt(u64, header[0..8], .little));
    try testing.expectEqual(IntoOutcome.absent, try getInto(mt, "r", .{ .snapshot = 5, .ignore_range_deletions = true }, &header, &dest, &run));
}
