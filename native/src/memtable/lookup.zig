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
    var bytes: usize = 0;
    return walkCounting(mt, from, out, &bytes);
}

/// `walk`, also giving the bytes of the records it wrote (when it answers `records`).
fn walkCounting(mt: *MemTable, from: Start, out: []u8, bytes: *usize) Outcome {
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
            if (overflow) return .{ .too_small = pos };
            bytes.* = pos;
            return .{ .records = count };
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
    bytes.* = pos;
    return .{ .records = count };
}

/// Keys looked up together by `getGroup`.
pub const group_max = skiplist.lookup_group_max;

/// What `getGroup` wrote.
pub const GroupOutcome = union(enum) {
    /// The first `keys` keys are answered in out[0..bytes]; fewer than asked when the next
    /// key's records do not fit the rest of `out`.
    answered: struct { keys: u32, bytes: usize },
    /// This entry failed its protection check; nothing is to be trusted of the lookups.
    corrupt: *Node,
};

/// Looks up `keys` (at most `group_max`) as `get` does, at one snapshot (RocksDB's MultiGet):
/// the tombstones and the bloom filter key by key, then one search for all the keys the filter
/// lets through, their cache misses overlapped (`Rep.findNewestGroup`). Writes, key by key in
/// order, `fixed32 count ‖ the records get writes` (count 0: absent) to `out`, and stops before
/// the first key whose records do not fit. REQUIRES: `out` does not overlap the keys.
pub fn getGroup(mt: *MemTable, keys: []const []const u8, options: Options, out: []u8) error{OutOfMemory}!GroupOutcome {
    std.debug.assert(keys.len <= group_max);
    std.debug.assert(options.snapshot <= limits.sequence_max);
    var starts: [group_max]Start = undefined;
    var searched: [group_max][]const u8 = undefined;
    var searched_at: [group_max]u8 = undefined;
    var found: [group_max]?*Node = undefined;
    var m: usize = 0;
    for (keys, 0..) |k, i| {
        std.debug.assert(k.len <= limits.key_size_max);
        starts[i] = .{ .covering = if (options.ignore_range_deletions) 0 else try mt.maxCovering(k, options.snapshot), .newest = null };
        if (!mt.mayContain(k)) continue;
        searched[m] = k;
        searched_at[m] = @intCast(i);
        m += 1;
    }
    mt.rep.findNewestGroup(searched[0..m], options.snapshot, found[0..m]);
    for (searched_at[0..m], found[0..m]) |i, f| {
        starts[i].newest = f;
        // The search read the head and the key; the walk reads the value after them: start
        // fetching its lines for every key now, so those misses overlap too.
        if (f) |node| {
            @prefetch(node.entry() + 64, .{});
            @prefetch(node.entry() + 128, .{});
        }
    }
    var pos: usize = 0;
    for (starts[0..keys.len], 0..) |from, i| {
        const answered: GroupOutcome = .{ .answered = .{ .keys = @intCast(i), .bytes = pos } };
        if (out.len - pos < multi_get_count_size) return answered;
        var bytes: usize = 0;
        switch (walkCounting(mt, from, out[pos + multi_get_count_size ..], &bytes)) {
            .records => |n| {
                std.mem.writeInt(u32, out[pos..][0..4], n, .little);
                pos += multi_get_count_size + bytes;
            },
            .too_small => return answered,
            .corrupt => |node| return .{ .corrupt = node },
        }
    }
    std.debug.assert(pos <= out.len);
    return .{ .answered = .{ .keys = @intCast(keys.len), .bytes = pos } };
}

const multi_get_count_size = limits.multi_get_count_size;
comptime {
    std.debug.assert(multi_get_count_size == @sizeOf(u32));
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

test "getGroup answers each key as get does, and stops before a key whose records do not fit" {
    const mt = try MemTable.create(.{ .write_buffer_size = 1 << 20 });
    defer _ = mt.unref();
    try mt.add(1, .value, "k", "a");
    try mt.add(2, .merge, "k", "m2");
    try mt.add(3, .deletion, "d", "");
    try mt.add(4, .value, "v", "value");
    try mt.addRangeDeletion(5, "u", "w");
    const keys = [_][]const u8{ "k", "d", "absent", "v", "k", "", "u" };
    for ([_]u64{ 0, 1, 2, 4, 9 }) |snapshot| {
        const options: Options = .{ .snapshot = snapshot };
        var out: [512]u8 = undefined;
        const outcome = try getGroup(mt, &keys, options, &out);
        try testing.expectEqual(@as(u32, keys.len), outcome.answered.keys);
        var pos: usize = 0;
        for (keys) |k| {
            const count = std.mem.readInt(u32, out[pos..][0..4], .little);
            var one: [128]u8 = undefined;
            const want = (try get(mt, k, options, &one)).records;
            try testing.expectEqual(want, count);
            var len: usize = 0;
            var r: u32 = 0;
            while (r < count) : (r += 1) len += header_size + std.mem.readInt(u32, out[pos + 4 + len + 8 ..][0..4], .little);
            try testing.expectEqualSlices(u8, one[0..len], out[pos + 4 ..][0..len]);
            pos += 4 + len;
        }
        try testing.expectEqual(pos, outcome.answered.bytes);
    }
    // Room for the first three keys' answers only ("k": two records of 2 and 1 bytes; "d":
    // one; "absent": a count of 0), not for the fourth's ("v": 4 + 12 + 5 bytes).
    const need_three = 4 + 2 * header_size + 3 + 4 + header_size + 4;
    var small: [need_three + 10]u8 = undefined;
    const partial = try getGroup(mt, &keys, .{ .snapshot = 9 }, &small);
    try testing.expectEqual(@as(u32, 3), partial.answered.keys);
    try testing.expectEqual(@as(usize, need_three), partial.answered.bytes);
    var none: [3]u8 = undefined;
    try testing.expectEqual(@as(u32, 0), (try getGroup(mt, &keys, .{ .snapshot = 9 }, &none)).answered.keys);
}
