//! Scan batches: what `MemTable.scan()` and `entries()` read, many entries per native call,
//! from an iterator's position on. The entries an iterator's `next` (or `prev`) would visit,
//! the same visibility rules (snapshot, range tombstones, the prefix bound, the scan range),
//! copied into one buffer laid out for JavaScript to read without parsing:
//!
//!     meta: 4 × u32 per entry i, at word 4i: trailer low, trailer high, key offset,
//!           value offset; and at word 4n+2 the end of the last value (so entry i's value ends
//!           where entry i+1's key starts, word 4(i+1)+2);
//!     data: from byte `metaSize(max)` on, key ‖ value of each entry, back to back.
//!
//! Offsets count from the buffer's start. Forward over a skiplist the nodes come from
//! `rep/gather.zig` (level-0 segments walked in lockstep, their misses overlapped); over a
//! sorted view the nodes ahead are prefetched; backward it is `prev`, one search per step.
//!
//! Thread safety: as the iterator's (one thread; reads without locks alongside writers).
const std = @import("std");
const coding = @import("../coding.zig");
const skiplist = @import("../rep/skiplist.zig");
const gather = @import("../rep/gather.zig");
const Iterator = @import("iterator.zig").Iterator;
const arena_mod = @import("../arena.zig");

const Node = skiplist.Node;
const Copied = Iterator.Copied;

/// Bytes of the meta words for a batch of up to `max` entries.
pub fn metaSize(max: u32) usize {
    return 16 * (@as(usize, max) + 1);
}

/// How far ahead a walk over a sorted view prefetches.
const view_prefetch_distance = 8;

const Writer = struct {
    out: []u8,
    count: u32 = 0,
    pos: usize,
    protection: u8,

    /// Appends `n`'s entry; what stops the batch when it does not fit or fails its check.
    fn put(self: *Writer, n: *Node) ?Copied {
        if (!coding.verifyProtection(n.entry(), self.protection)) return .{ .corrupt = n };
        return self.putDecoded(coding.decodeEntry(n.entry()));
    }

    /// `put` of an entry whose protection was checked, decoded already (`e`).
    inline fn putDecoded(self: *Writer, e: coding.Entry) ?Copied {
        const klen = e.key.user_key.len;
        const need = self.pos + klen + e.value.len;
        if (need > self.out.len) return .{ .too_small = need };
        const w = 16 * @as(usize, self.count);
        put32(self.out, w, @truncate(e.key.trailer));
        put32(self.out, w + 4, @truncate(e.key.trailer >> 32));
        put32(self.out, w + 8, @intCast(self.pos));
        put32(self.out, w + 12, @intCast(self.pos + klen));
        copyShort(self.out[self.pos..].ptr, e.key.user_key);
        copyShort(self.out[self.pos + klen ..].ptr, e.value);
        self.pos = need;
        self.count += 1;
        return null;
    }

    /// The batch's answer: the first entry's failure (`too_small` names the whole buffer it
    /// needs), else the count (a later entry that failed is the next batch's first).
    fn finish(self: *Writer, stop: ?Copied) Copied {
        if (stop) |s| if (self.count == 0) return s;
        put32(self.out, 16 * @as(usize, self.count) + 8, @intCast(self.pos));
        return .{ .entries = self.count };
    }
};

/// Copies `src` to `dst` (which do not overlap) inline, in 32-byte moves with the last one
/// overlapping the one before it: a batch's keys and values are mostly short, where a call to
/// `memcpy` costs about as much as the copy.
inline fn copyShort(dst: [*]u8, src: []const u8) void {
    const len = src.len;
    const s = src.ptr;
    if (len >= 32) {
        const V = @Vector(32, u8);
        var i: usize = 0;
        while (i + 32 < len) : (i += 32) dst[i..][0..32].* = @as(V, s[i..][0..32].*);
        dst[len - 32 ..][0..32].* = @as(V, s[len - 32 ..][0..32].*);
    } else if (len >= 16) {
        dst[0..16].* = s[0..16].*;
        dst[len - 16 ..][0..16].* = s[len - 16 ..][0..16].*;
    } else if (len >= 8) {
        dst[0..8].* = s[0..8].*;
        dst[len - 8 ..][0..8].* = s[len - 8 ..][0..8].*;
    } else if (len >= 4) {
        dst[0..4].* = s[0..4].*;
        dst[len - 4 ..][0..4].* = s[len - 4 ..][0..4].*;
    } else {
        for (0..len) |i| dst[i] = s[i];
    }
}

inline fn put32(out: []u8, at: usize, v: u32) void {
    std.mem.writeInt(u32, out[at..][0..4], v, .little);
}

/// Copies up to `max` entries from the current one on (forward, or backward with `reverse`)
/// into `out` in the batch layout and moves past the last one copied. It stops before an entry
/// that does not fit, and before one that fails its protection check: that one is reported
/// when the caller asks for the next batch (it is then the first). Nothing moves when the first
/// entry is reported. REQUIRES: `max` ≥ 1.
pub fn scanBatch(it: *Iterator, out: []u8, max: u32, reverse: bool) error{OutOfMemory}!Copied {
    std.debug.assert(max >= 1);
    if (!it.valid()) return .{ .entries = 0 };
    const meta = metaSize(max);
    if (out.len < meta) {
        // Checked first, as `Writer.put` does: a damaged entry's lengths are not to be trusted.
        const entry = it.node().entry();
        if (!coding.verifyProtection(entry, it.mt.protectionBytes())) return .{ .corrupt = it.node() };
        const e = coding.decodeEntry(entry);
        return .{ .too_small = meta + e.key.user_key.len + e.value.len };
    }
    var w: Writer = .{ .out = out, .pos = meta, .protection = it.mt.protectionBytes() };
    if (reverse) return w.finish(stepping(it, &w, max, true));
    if (it.it.list) |list| return w.finish(try gathered(it, list, &w, max));
    return w.finish(stepping(it, &w, max, false));
}

/// One `next`/`prev` per entry (over a sorted view, the nodes ahead prefetched).
fn stepping(it: *Iterator, w: *Writer, max: u32, reverse: bool) ?Copied {
    while (w.count < max and it.valid()) {
        if (!reverse and it.it.list == null) {
            const ahead = it.it.pos + view_prefetch_distance;
            if (ahead < it.it.view.len) @prefetch(@as([*]const u8, @ptrCast(it.it.view[ahead])) + 16, .{});
        }
        if (w.put(it.node())) |stop| return stop;
        if (reverse) it.prev() else it.next();
    }
    return null;
}

/// Forward over a skiplist: the nodes ahead gathered in runs, then each one taken as `next`
/// would take it (invisible ones skipped, the first one out of bounds ends the scan).
fn gathered(it: *Iterator, list: *skiplist.SkipList, w: *Writer, max: u32) error{OutOfMemory}!?Copied {
    const work = it.gather_work orelse blk: {
        const buf = try it.mt.takeGatherWork();
        it.gather_work = buf;
        break :blk buf;
    };
    var hint: ?gather.Boundary = null;
    // No range tombstones, prefix or prefix bound: forward from a position in range, only the
    // snapshot and the upper bound can end or thin the walk (keys only grow past the lower).
    const plain = it.fragments == null and it.prefix == null and it.bound == null;
    while (w.count < max and it.valid()) {
        // A few more than wanted, for versions the snapshot or a tombstone hides.
        const want = @min(@as(usize, max - w.count) + 16, gather.work_size);
        const g = gather.gather(list, it.node(), hint, work, want);
        std.debug.assert(g.count >= 1 and work[0] == it.node());
        const run = work[0..g.count];
        if (plain and (it.upper == null or std.mem.order(u8, run[run.len - 1].key().user_key, it.upper.?) == .lt)) {
            // Every node of the run is in range: only the snapshot hides any.
            for (run) |n| {
                const e = coding.decodeEntry(n.entry());
                if (e.key.sequence() > it.snapshot) continue;
                it.it.node = n; // the position stays on a node the batch stops before
                if (w.count == max) return null;
                if (!coding.verifyProtection(n.entry(), w.protection)) return .{ .corrupt = n };
                if (w.putDecoded(e)) |stop| return stop;
            }
            it.it.node = g.next;
            it.skipForward();
            it.checkBound();
            if (w.count == max or !it.valid()) return null;
            hint = if (it.it.node == g.next) g.boundary else null;
            continue;
        }
        var i: usize = 0;
        while (true) {
            if (w.put(run[i])) |stop| return stop; // the position stays on it
            const in_run = advance(it, run, g.next, &i);
            if (w.count == max or !it.valid()) return null;
            if (!in_run) {
                hint = if (it.it.node == g.next) g.boundary else null;
                break;
            }
        }
    }
    return null;
}

/// `next` from run[i]: the following visible node of the run, or past the run from `next` on
/// (false); then the prefix and range checks.
fn advance(it: *Iterator, run: []*Node, next: ?*Node, i: *usize) bool {
    i.* += 1;
    while (i.* < run.len and !it.visibleNode(run[i.*])) i.* += 1;
    const in_run = i.* < run.len;
    if (in_run) it.it.node = run[i.*] else {
        it.it.node = next;
        it.skipForward();
    }
    it.checkPrefix();
    it.checkBound();
    return in_run;
}

const testing = std.testing;
const limits = @import("../limits.zig");
const MemTable = @import("memtable.zig").MemTable;

/// Reads a batch back as (trailer, key, value) triples appended to `list`.
fn appendBatch(out: []const u8, n: u32, list: *std.ArrayList([3][]const u8), trailers: *std.ArrayList(u64)) !void {
    var i: usize = 0;
    while (i < n) : (i += 1) {
        const w = 16 * i;
        const lo = std.mem.readInt(u32, out[w..][0..4], .little);
        const hi = std.mem.readInt(u32, out[w + 4 ..][0..4], .little);
        const k = std.mem.readInt(u32, out[w + 8 ..][0..4], .little);
        const v = std.mem.readInt(u32, out[w + 12 ..][0..4], .little);
        const end = std.mem.readInt(u32, out[w + 24 ..][0..4], .little);
        try list.append(testing.allocator, .{ out[k..v], out[v..end], "" });
        try trailers.append(testing.allocator, @as(u64, hi) << 32 | lo);
    }
}

fn expectSameAsStepping(mt: *MemTable, snapshot: u64, range: [2]?[]const u8, prefix: ?[]const u8, reverse: bool, max: u32, flags: Iterator.Flags) !void {
    const a = std.testing.allocator;
    const stepper = try Iterator.create(mt, snapshot, flags);
    defer stepper.destroy();
    const scanner = try Iterator.create(mt, snapshot, flags);
    defer scanner.destroy();
    for ([_]*Iterator{ stepper, scanner }) |it| {
        if (prefix) |p| try it.setBound(p);
        try it.setRange(range[0], range[1]);
        if (reverse) try it.seekToLast() else try it.seekToFirst();
    }
    var want: std.ArrayList(u64) = .empty;
    defer want.deinit(a);
    while (stepper.valid()) : (if (reverse) stepper.prev() else stepper.next()) {
        try want.append(a, stepper.node().key().trailer ^ std.hash.Wyhash.hash(0, stepper.node().key().user_key));
    }
    var got: std.ArrayList(u64) = .empty;
    defer got.deinit(a);
    var entries: std.ArrayList([3][]const u8) = .empty;
    defer entries.deinit(a);
    var trailers: std.ArrayList(u64) = .empty;
    defer trailers.deinit(a);
    const buf = try a.alloc(u8, metaSize(max) + 64 * max);
    defer a.free(buf);
    while (true) {
        const c = try scanBatch(scanner, buf, max, reverse);
        const n = c.entries;
        if (n == 0) break;
        try testing.expect(n <= max);
        entries.clearRetainingCapacity();
        trailers.clearRetainingCapacity();
        try appendBatch(buf, n, &entries, &trailers);
        for (entries.items, trailers.items) |e, t| try got.append(a, t ^ std.hash.Wyhash.hash(0, e[0]));
    }
    try testing.expectEqualSlices(u64, want.items, got.items);
}

test "scan batches visit what next and prev visit: snapshots, tombstones, prefixes, ranges" {
    const mt = try MemTable.create(.{ .write_buffer_size = 8 << 20 });
    defer _ = mt.unref();
    var prng: std.Random.DefaultPrng = .init(0x5CA9);
    const r = prng.random();
    var key: [3]u8 = undefined;
    var seq: u64 = 1;
    while (seq < 6000) : (seq += 1) {
        key = .{ 'a' + r.uintLessThan(u8, 4), r.int(u8), r.int(u8) };
        if (r.uintLessThan(u8, 50) == 0) {
            const end: [3]u8 = .{ key[0], key[1] +| 3, 0 };
            try mt.addRangeDeletion(seq, &key, &end);
        } else {
            const t: limits.ValueType = if (r.uintLessThan(u8, 8) == 0) .deletion else .value;
            mt.add(seq, t, &key, key[0..r.uintLessThan(usize, 3)]) catch |e| if (e != error.Duplicate) return e;
        }
    }
    for ([_]u64{ limits.sequence_max, 3000, 10 }) |snapshot| {
        for ([_][2]?[]const u8{ .{ null, null }, .{ "b", null }, .{ null, "c\x80" }, .{ "b\x10", "b\x11" }, .{ "z", "a" } }) |range| {
            for ([_]?[]const u8{ null, "c" }) |prefix| {
                for ([_]u32{ 1, 7, 100, 1024 }) |max| {
                    // Ignoring range deletions, a walk with no prefix takes the plain path.
                    for ([_]Iterator.Flags{ .{}, .{ .ignore_range_deletions = true } }) |flags| {
                        try expectSameAsStepping(mt, snapshot, range, prefix, false, max, flags);
                        try expectSameAsStepping(mt, snapshot, range, prefix, true, max, flags);
                    }
                }
            }
        }
    }
}

test "a scan batch reports a first entry that does not fit, and stops before a later one" {
    const mt = try MemTable.create(.{ .write_buffer_size = 1 << 20 });
    defer _ = mt.unref();
    try mt.add(1, .value, "a", "1");
    const long: [40]u8 = @splat('2');
    try mt.add(2, .value, "b", &long);
    const it = try Iterator.create(mt, limits.sequence_max, .{});
    defer it.destroy();
    try it.seekToFirst();
    var buf: [metaSize(4) + 8]u8 = undefined;
    try testing.expectEqual(Copied{ .entries = 1 }, try scanBatch(it, &buf, 4, false));
    try testing.expectEqual(Copied{ .too_small = metaSize(4) + 41 }, try scanBatch(it, &buf, 4, false));
    try testing.expectEqualStrings("b", it.node().key().user_key); // nothing moved
}

test "a scan's gather buffer is kept for the next iterator and freed with the memtable" {
    const live = arena_mod.bytes_live.load(.monotonic);
    const mt = try MemTable.create(.{ .write_buffer_size = 8 << 20 });
    var key: [8]u8 = undefined;
    var i: u32 = 0;
    while (i < 3000) : (i += 1) {
        std.mem.writeInt(u64, &key, i, .big);
        try mt.add(i + 1, .value, &key, "v");
    }
    const buf = try testing.allocator.alloc(u8, metaSize(1024) + 64 * 1024);
    defer testing.allocator.free(buf);
    const first = try Iterator.create(mt, limits.sequence_max, .{});
    try first.seekToFirst();
    _ = try scanBatch(first, buf, 1024, false);
    const work = first.gather_work.?;
    first.destroy();
    const second = try Iterator.create(mt, limits.sequence_max, .{});
    try second.seekToFirst();
    _ = try scanBatch(second, buf, 1024, false);
    try testing.expectEqual(work.ptr, second.gather_work.?.ptr); // the spare, taken again
    try testing.expectEqual(@as(u32, 1), mt.unref()); // the iterator's reference is left
    while (true) {
        const c = try scanBatch(second, buf, 1024, false);
        if (c.entries == 0) break;
    }
    second.destroy();
    try testing.expectEqual(live, arena_mod.bytes_live.load(.monotonic));
}

test "copyShort copies every length exactly, no byte before or after" {
    var src: [300]u8 = undefined;
    for (&src, 0..) |*b, i| b.* = @truncate(i *% 7 + 1);
    var dst: [310]u8 = undefined;
    for (0..src.len + 1) |len| {
        @memset(&dst, 0xEE);
        copyShort(dst[5..].ptr, src[0..len]);
        try testing.expectEqualSlices(u8, src[0..len], dst[5..][0..len]);
        for (dst[0..5]) |b| try testing.expectEqual(@as(u8, 0xEE), b);
        for (dst[5 + len ..]) |b| try testing.expectEqual(@as(u8, 0xEE), b);
    }
}
