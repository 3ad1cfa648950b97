//! Snapshot iterators (RocksDB's MemTableIterator with the range-tombstone handling of
//! DBIter): a cursor over a memtable's entries, in internal-key order, that hides versions newer
//! than its snapshot and, unless asked not to, versions a range tombstone at or below the
//! snapshot covers (`tombstones.hides`). Over the range-deletion table it lists the tombstones
//! themselves. Prefix options as RocksDB's: `prefix_same_as_start`, `total_order_seek`, the
//! `prefix` bound. And the copies of entries an iterator hands out (`copyCurrent`,
//! `copyBatch`).
//!
//! An iterator over a representation that keeps no order walks a sorted view: the memtable's
//! shared one once it is immutable, otherwise a copy of its own made at the first positioning.
//!
//! Lifetime: an iterator pins its memtable with a reference, and the fragmented tombstones as
//! of its creation (as RocksDB's iterators do), until `destroy`.
//!
//! Thread safety: an iterator belongs to one thread at a time; it reads without locks while
//! writers add (an entry linked meanwhile may or may not be seen).
const std = @import("std");
const limits = @import("../limits.zig");
const coding = @import("../coding.zig");
const arena_mod = @import("../arena.zig");
const skiplist = @import("../rep/skiplist.zig");
const Cursor = @import("../rep/cursor.zig").Cursor;
const tombstones = @import("tombstones.zig");
const Fragments = @import("fragments.zig").Fragments;
const MemTable = @import("memtable.zig").MemTable;

pub const magic: u64 = 0x4D54495445524154; // "MTITERAT"

/// A cursor that hides versions newer than its snapshot and, unless asked not to, versions a
/// range tombstone at or below the snapshot covers. Over the range-deletion table it lists the
/// tombstones themselves. Pins its memtable with a reference, and the fragmented tombstones as
/// of its creation (as RocksDB's iterators do).
pub const Iterator = struct {
    magic: u64 = magic,
    mt: *MemTable,
    it: Cursor,
    /// A representation that keeps no order: the sorted view this iterator walks (made at the
    /// first positioning that needs total order), and whether it is the iterator's own copy.
    view: ?[]*skiplist.Node = null,
    view_owned: bool = false,
    snapshot: u64,
    fragments: ?*Fragments,
    /// The fragment that held the last key looked up (a scan meets keys in order).
    fragment_hint: usize = 0,
    flags: Flags = .{},
    /// The prefix the last seek set (points into the entry it landed on, which never moves).
    prefix: ?[]const u8 = null,
    /// The `prefix` read option: only user keys starting with these bytes (owned copy).
    bound: ?[]u8 = null,
    bound_alloc: ?[]u8 = null,
    /// Scans' key range: user keys ≥ `lower` and < `upper` (copies in `range_alloc`).
    lower: ?[]const u8 = null,
    upper: ?[]const u8 = null,
    range_alloc: ?[]u8 = null,
    /// Scans: the work buffer of `gather.zig` (made by the first batch that gathers).
    gather_work: ?[]*skiplist.Node = null,

    pub const Flags = packed struct(u32) {
        range_table: bool = false,
        ignore_range_deletions: bool = false,
        /// After a seek, stop at the first key whose prefix differs from the sought key's.
        prefix_same_as_start: bool = false,
        /// Seeks ignore the prefix bloom filter (always a total-order seek).
        total_order_seek: bool = false,
        _: u28 = 0,
    };

    pub fn create(mt: *MemTable, snapshot: u64, flags: Flags) error{OutOfMemory}!*Iterator {
        const self = try arena_mod.allocTracked(Iterator);
        errdefer arena_mod.destroyTracked(self);
        std.debug.assert(snapshot <= limits.sequence_max);
        const fragments = if (flags.range_table or flags.ignore_range_deletions) null else try mt.acquireFragments();
        _ = mt.ref();
        const cursor: Cursor = if (flags.range_table) .overList(&mt.range_del) else mt.rep.cursor() orelse .{};
        self.* = .{ .mt = mt, .it = cursor, .snapshot = snapshot, .fragments = fragments, .flags = flags };
        return self;
    }

    /// Whether positioning goes through a sorted view (a representation that keeps no order).
    fn viewed(self: *const Iterator) bool {
        return !self.flags.range_table and !self.mt.rep.caps().ordered;
    }

    /// Before a total-order positioning: the cursor over the sorted view (made now if needed).
    fn totalOrder(self: *Iterator) error{OutOfMemory}!void {
        if (!self.viewed()) return;
        const view = self.view orelse blk: {
            const v = try self.mt.sortedView(&self.view_owned);
            self.view = v;
            break :blk v;
        };
        self.it = .overView(view);
    }

    /// Before a seek: with `prefix_same_as_start` on a representation that places entries by
    /// prefix, a key with a prefix seeks among its prefix's entries only (RocksDB's prefix
    /// iterator over a hash bucket); otherwise total order.
    fn seekOrder(self: *Iterator, key: []const u8) error{OutOfMemory}!void {
        if (!self.viewed()) return;
        if (self.flags.prefix_same_as_start and self.bound == null and self.mt.extractor.prefixOf(key) != null) {
            if (self.mt.rep.prefixCursor(key)) |c| {
                self.it = c;
                return;
            }
        }
        return self.totalOrder();
    }

    /// Restricts the iterator to user keys that start with `prefix` (copied).
    pub fn setBound(self: *Iterator, prefix: []const u8) error{OutOfMemory}!void {
        const copy = try arena_mod.allocSliceTracked(u8, @max(prefix.len, 1));
        @memcpy(copy[0..prefix.len], prefix);
        if (self.bound_alloc) |b| arena_mod.freeSliceTracked(b);
        self.bound = copy[0..prefix.len];
        self.bound_alloc = copy;
        self.it.node = null;
    }

    /// Restricts the iterator to user keys in [lower, upper) (either may be null: unbounded;
    /// copied), for scans; it is then unpositioned. `seekToFirst`/`seekToLast` start at the
    /// range's ends, `next`/`prev` stop at them (seeks are not clamped: scans do not seek).
    pub fn setRange(self: *Iterator, lower: ?[]const u8, upper: ?[]const u8) error{OutOfMemory}!void {
        const lower_len = if (lower) |l| l.len else 0;
        const upper_len = if (upper) |u| u.len else 0;
        const copy = try arena_mod.allocSliceTracked(u8, @max(lower_len + upper_len, 1));
        if (lower) |l| @memcpy(copy[0..lower_len], l);
        if (upper) |u| @memcpy(copy[lower_len..][0..upper_len], u);
        if (self.range_alloc) |r| arena_mod.freeSliceTracked(r);
        self.range_alloc = copy;
        self.lower = if (lower != null) copy[0..lower_len] else null;
        self.upper = if (upper != null) copy[lower_len..][0..upper_len] else null;
        self.it.node = null;
    }

    /// Whether `user_key` is within the `prefix` bound and the scan range.
    pub fn inBounds(self: *const Iterator, user_key: []const u8) bool {
        if (self.bound) |b| if (!std.mem.startsWith(u8, user_key, b)) return false;
        if (self.lower) |l| if (std.mem.order(u8, user_key, l) == .lt) return false;
        if (self.upper) |u| if (std.mem.order(u8, user_key, u) != .lt) return false;
        return true;
    }

    pub fn checkBound(self: *Iterator) void {
        if (self.bound == null and self.lower == null and self.upper == null) return;
        const n = self.it.node orelse return;
        if (!self.inBounds(n.key().user_key)) self.it.node = null;
    }

    pub fn destroy(self: *Iterator) void {
        std.debug.assert(self.magic == magic);
        const mt = self.mt;
        if (self.view_owned) arena_mod.freeSliceTracked(self.view.?);
        if (self.bound_alloc) |b| arena_mod.freeSliceTracked(b);
        if (self.range_alloc) |r| arena_mod.freeSliceTracked(r);
        if (self.gather_work) |w| mt.giveGatherWork(w);
        if (self.fragments) |f| f.release();
        self.magic = 0;
        arena_mod.destroyTracked(self);
        _ = mt.unref();
    }

    fn visible(self: *Iterator) bool {
        const n = self.it.node orelse return true;
        return self.visibleNode(n);
    }

    /// Whether `n` is visible at the snapshot and not covered by a range tombstone (unless
    /// they are ignored).
    pub fn visibleNode(self: *Iterator, n: *skiplist.Node) bool {
        const k = n.key();
        const seq = k.sequence();
        if (seq > self.snapshot) return false;
        const f = self.fragments orelse return true;
        const hint = self.fragment_hint;
        const i = if (hint < f.frags.len and f.contains(hint, k.user_key)) hint else (f.find(k.user_key) orelse return true);
        self.fragment_hint = i;
        return !tombstones.hides(f.maxSeqIn(i, self.snapshot), seq);
    }

    pub fn skipForward(self: *Iterator) void {
        while (!self.visible()) self.it.next();
    }

    fn skipBackward(self: *Iterator) void {
        while (!self.visible()) self.it.prev();
    }

    pub fn valid(self: *const Iterator) bool {
        return self.it.valid();
    }
    /// REQUIRES: valid.
    pub fn node(self: *const Iterator) *skiplist.Node {
        std.debug.assert(self.valid());
        return self.it.node.?;
    }
    pub fn seekToFirst(self: *Iterator) error{OutOfMemory}!void {
        try self.totalOrder();
        self.prefix = null;
        var from: ?[]const u8 = self.bound;
        if (self.lower) |l| {
            if (from == null or std.mem.order(u8, l, from.?) == .gt) from = l;
        }
        if (from) |b| {
            self.it.seek(.{ .user_key = b, .trailer = coding.packTrailer(limits.sequence_max, limits.value_type_for_seek) });
        } else self.it.seekToFirst();
        self.skipForward();
        self.checkBound();
    }
    pub fn seekToLast(self: *Iterator) error{OutOfMemory}!void {
        try self.totalOrder();
        self.prefix = null;
        if (self.bound) |b| {
            // The last key below the prefix's successor (b with its last non-0xFF byte raised).
            var end = b.len;
            while (end > 0 and b[end - 1] == 0xFF) end -= 1;
            if (end == 0) self.it.seekToLast() else {
                var buf: [256]u8 = undefined;
                if (end <= buf.len) {
                    @memcpy(buf[0..end], b[0..end]);
                    buf[end - 1] += 1;
                    self.it.seekLessThan(.{ .user_key = buf[0..end], .trailer = std.math.maxInt(u64) });
                } else {
                    // Long prefixes: walk from the first key with the prefix to the last.
                    self.it.seek(.{ .user_key = b, .trailer = coding.packTrailer(limits.sequence_max, limits.value_type_for_seek) });
                    var last: ?*skiplist.Node = null;
                    while (self.it.node) |n| : (self.it.next()) {
                        if (!std.mem.startsWith(u8, n.key().user_key, b)) break;
                        last = n;
                    }
                    self.it.node = last;
                }
            }
        } else if (self.upper == null) self.it.seekToLast();
        if (self.upper) |u| {
            // The last key below `upper`, unless the prefix's end already lies before it.
            const past = if (self.bound == null) true else if (self.it.node) |n| std.mem.order(u8, n.key().user_key, u) != .lt else false;
            if (past) self.it.seekLessThan(.{ .user_key = u, .trailer = std.math.maxInt(u64) });
        }
        self.skipBackward();
        self.checkBound();
    }
    /// With a prefix extractor and no total-order seek, a prefix the bloom filter rules out
    /// leaves the iterator invalid at once (RocksDB's memtable prefix seek); with
    /// `prefix_same_as_start` the iterator then stays within the sought key's prefix.
    fn startPrefix(self: *Iterator, key: []const u8) bool {
        self.prefix = null;
        if (self.flags.range_table) return true;
        const p = self.mt.extractor.prefixOf(key) orelse return true;
        if (!self.flags.total_order_seek and !self.mt.mayContainPrefix(p)) {
            self.it.node = null;
            return false;
        }
        return true;
    }
    fn settlePrefix(self: *Iterator, sought: []const u8) void {
        if (!self.flags.prefix_same_as_start or self.flags.range_table) return;
        const want = self.mt.extractor.prefixOf(sought) orelse return;
        const n = self.it.node orelse return;
        const have = self.mt.extractor.prefixOf(n.key().user_key);
        if (have == null or !std.mem.eql(u8, have.?, want)) {
            self.it.node = null;
            return;
        }
        self.prefix = have.?;
    }
    pub fn checkPrefix(self: *Iterator) void {
        const p = self.prefix orelse return;
        const n = self.it.node orelse return;
        const have = self.mt.extractor.prefixOf(n.key().user_key);
        if (have == null or !std.mem.eql(u8, have.?, p)) self.it.node = null;
    }
    /// First visible entry whose user key is ≥ `key`.
    pub fn seek(self: *Iterator, key: []const u8) error{OutOfMemory}!void {
        std.debug.assert(key.len <= limits.key_size_max);
        try self.seekOrder(key);
        if (!self.startPrefix(key)) return;
        // With a bound, a key before it seeks to the bound's first key.
        const from = if (self.bound) |b| (if (std.mem.order(u8, key, b) == .lt) b else key) else key;
        self.it.seek(.{ .user_key = from, .trailer = coding.packTrailer(limits.sequence_max, limits.value_type_for_seek) });
        self.skipForward();
        self.settlePrefix(key);
        self.checkBound();
    }
    /// Last visible entry whose user key is ≤ `key`.
    pub fn seekForPrev(self: *Iterator, key: []const u8) error{OutOfMemory}!void {
        std.debug.assert(key.len <= limits.key_size_max);
        try self.seekOrder(key);
        if (!self.startPrefix(key)) return;
        if (self.bound) |b| {
            // A key past every key with the prefix seeks to the last of them.
            if (std.mem.order(u8, key, b) == .gt and !std.mem.startsWith(u8, key, b)) return self.seekToLast();
        }
        self.it.seekForPrev(.{ .user_key = key, .trailer = 0 });
        self.skipBackward();
        self.settlePrefix(key);
        self.checkBound();
    }
    /// REQUIRES: valid.
    pub fn next(self: *Iterator) void {
        std.debug.assert(self.valid());
        self.it.next();
        self.skipForward();
        self.checkPrefix();
        self.checkBound();
    }
    /// REQUIRES: valid.
    pub fn prev(self: *Iterator) void {
        std.debug.assert(self.valid());
        self.it.prev();
        self.skipBackward();
        self.checkPrefix();
        self.checkBound();
    }

    // ---- copying entries out ---------------------------------------------------------------

    /// What a copy wrote.
    pub const Copied = union(enum) {
        /// This many entries (0: the iterator is not valid).
        entries: u32,
        /// Not even the first entry fits: it needs this many bytes. Nothing moved.
        too_small: usize,
        /// This entry failed its protection check. Nothing moved.
        corrupt: *skiplist.Node,
    };

    /// Copies the current entry to `out` as `fixed64 trailer ‖ fixed32 key_len ‖ fixed32
    /// value_len ‖ key ‖ value` (`limits.entry_out_header_size` bytes of header); the position
    /// stays.
    pub fn copyCurrent(self: *Iterator, out: []u8) Copied {
        if (!self.valid()) return .{ .entries = 0 };
        const n = self.node();
        if (!coding.verifyProtection(n.entry(), self.mt.protectionBytes())) return .{ .corrupt = n };
        const e = coding.decodeEntry(n.entry());
        if (putEntry(out, 0, e) == null) return .{ .too_small = entryOutSize(e) };
        return .{ .entries = 1 };
    }

    /// Copies up to `max` entries from the current one on (as `copyCurrent`, back to back) and
    /// moves past the last one copied. It stops before an entry that does not fit, and before
    /// one that fails its protection check: that one is reported when the caller asks for the
    /// next batch (it is then the first).
    pub fn copyBatch(self: *Iterator, out: []u8, max: u32) Copied {
        var pos: usize = 0;
        var count: u32 = 0;
        const protection = self.mt.protectionBytes();
        while (count < max and self.valid()) {
            const n = self.node();
            if (!coding.verifyProtection(n.entry(), protection)) {
                if (count == 0) return .{ .corrupt = n };
                break;
            }
            const e = coding.decodeEntry(n.entry());
            pos = putEntry(out, pos, e) orelse {
                if (count == 0) return .{ .too_small = entryOutSize(e) };
                break;
            };
            count += 1;
            self.next();
        }
        std.debug.assert(pos <= out.len);
        return .{ .entries = count };
    }
};

fn entryOutSize(e: coding.Entry) usize {
    return limits.entry_out_header_size + e.key.user_key.len + e.value.len;
}

/// Writes `e` at out[pos..] in the entry-out format; the position after it, or null when it
/// does not fit.
fn putEntry(out: []u8, pos: usize, e: coding.Entry) ?usize {
    const need = pos + entryOutSize(e);
    if (need > out.len) return null;
    std.mem.writeInt(u64, out[pos..][0..8], e.key.trailer, .little);
    std.mem.writeInt(u32, out[pos + 8 ..][0..4], @intCast(e.key.user_key.len), .little);
    std.mem.writeInt(u32, out[pos + 12 ..][0..4], @intCast(e.value.len), .little);
    const k = pos + limits.entry_out_header_size;
    @memcpy(out[k..][0..e.key.user_key.len], e.key.user_key);
    @memcpy(out[k + e.key.user_key.len ..][0..e.value.len], e.value);
    return need;
}

const testing = std.testing;

test "an iterator hides versions newer than its snapshot and holds its memtable" {
    const live_before = arena_mod.bytes_live.load(.monotonic);
    const mt = try MemTable.create(.{ .write_buffer_size = 1 << 20 });
    try mt.add(5, .value, "k", "v5");
    try mt.add(9, .value, "k", "v9");
    try mt.add(7, .deletion, "k", "");
    const it = try Iterator.create(mt, 7, .{});
    try testing.expectEqual(@as(u32, 1), mt.unref()); // the iterator still holds one
    try it.seekToFirst();
    try testing.expectEqual(@as(u64, 7), it.node().key().sequence());
    it.next();
    try testing.expectEqual(@as(u64, 5), it.node().key().sequence());
    it.next();
    try testing.expect(!it.valid());
    try it.seekToLast();
    try testing.expectEqual(@as(u64, 5), it.node().key().sequence());
    it.prev();
    try testing.expectEqual(@as(u64, 7), it.node().key().sequence());
    it.prev();
    try testing.expect(!it.valid());
    it.destroy();
    try testing.expectEqual(live_before, arena_mod.bytes_live.load(.monotonic));
}

test "an iterator hides what the range tombstones cover, unless told not to" {
    const mt = try MemTable.create(.{ .write_buffer_size = 1 << 20 });
    defer _ = mt.unref();
    try mt.addRangeDeletion(10, "b", "f");
    try mt.add(7, .value, "c", "old"); // covered by b-f@10
    try mt.add(12, .value, "c", "new");
    const it = try Iterator.create(mt, limits.sequence_max, .{});
    defer it.destroy();
    try it.seekToFirst();
    try testing.expectEqual(@as(u64, 12), it.node().key().sequence());
    it.next();
    try testing.expect(!it.valid());
    const raw = try Iterator.create(mt, limits.sequence_max, .{ .ignore_range_deletions = true });
    defer raw.destroy();
    try raw.seekToLast();
    try testing.expectEqual(@as(u64, 7), raw.node().key().sequence());
    const table = try Iterator.create(mt, limits.sequence_max, .{ .range_table = true });
    defer table.destroy();
    try table.seekToFirst();
    try testing.expectEqualStrings("b", table.node().key().user_key);
}

test "copyBatch copies what fits, and stops before an entry that fails its check" {
    const mt = try MemTable.create(.{ .protection_bytes = 4 });
    defer _ = mt.unref();
    try mt.add(1, .value, "a", "1");
    try mt.add(2, .value, "b", "22");
    try mt.add(3, .value, "c", "333");
    const it = try Iterator.create(mt, limits.sequence_max, .{});
    defer it.destroy();
    try it.seekToFirst();
    var out: [64]u8 = undefined;
    const one = limits.entry_out_header_size + 2;
    try testing.expectEqual(Iterator.Copied{ .too_small = one }, it.copyBatch(out[0 .. one - 1], 10));
    try testing.expectEqual(Iterator.Copied{ .entries = 1 }, it.copyCurrent(&out));
    try testing.expectEqual(Iterator.Copied{ .entries = 2 }, it.copyBatch(out[0 .. 2 * one + 1], 10));
    try testing.expectEqual(@as(u8, 'b'), out[one + limits.entry_out_header_size]);
    try testing.expect(mt.corruptForTesting("c", 3, .value));
    try testing.expectEqual(Iterator.Copied{ .corrupt = it.node() }, it.copyBatch(&out, 10));
    try testing.expectEqualStrings("c", it.node().key().user_key); // nothing moved
    try it.seekToFirst();
    try testing.expectEqual(Iterator.Copied{ .entries = 2 }, it.copyBatch(&out, 10)); // stops before c
}
