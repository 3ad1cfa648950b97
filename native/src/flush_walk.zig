//! A flush's walk over one memtable: the entries its iterator's `next` would visit, in order,
//! with the skiplist's cache misses overlapped. A plain level-0 walk pays one memory latency per
//! node (each node's address is in the node before it); over a skiplist the nodes ahead are
//! gathered in runs by `rep/gather.zig` (segments walked in lockstep, as the scans do) and then
//! taken one by one, the invisible ones skipped with the iterator's own `visibleNode`. Over
//! other representations it is the iterator's `next`. The flush's iterators have no prefix,
//! bound or range set, so visibility is the whole of what `next` checks.
//!
//! Thread safety: as the iterator's (one thread; the memtable is immutable during a flush).
const std = @import("std");
const skiplist = @import("rep/skiplist.zig");
const gather = @import("rep/gather.zig");
const limits = @import("limits.zig");
const Iterator = @import("memtable/iterator.zig").Iterator;
const MemTable = @import("memtable/memtable.zig").MemTable;

const Node = skiplist.Node;
const Allocator = std.mem.Allocator;

pub const Walk = struct {
    it: *Iterator,
    /// The gather buffer (skiplists only).
    work: ?[]*Node = null,
    run: []*Node = &.{},
    i: usize = 0,
    /// The node after the run (null: the end of the list).
    after: ?*Node = null,
    hint: ?gather.Boundary = null,
    current: ?*Node = null,

    /// A walk over all of `m`'s point entries (every sequence number, range tombstones not
    /// applied: the flush's own iterator). `close` frees it.
    pub fn open(gpa: Allocator, m: *MemTable) error{OutOfMemory}!Walk {
        const it = try Iterator.create(m, limits.sequence_max, .{ .ignore_range_deletions = true });
        errdefer it.destroy();
        try it.seekToFirst();
        return init(gpa, it);
    }

    /// A walk from `it`'s position on (`it` positioned, e.g. by `seekToFirst`); it owns `it`.
    pub fn init(gpa: Allocator, it: *Iterator) error{OutOfMemory}!Walk {
        var w: Walk = .{ .it = it };
        if (!it.valid()) return w;
        if (it.it.list == null) {
            w.current = it.node();
            return w;
        }
        w.work = try gpa.alloc(*Node, gather.work_size);
        w.fill(it.node(), null);
        w.settle();
        return w;
    }

    pub fn close(self: *Walk, gpa: Allocator) void {
        if (self.work) |b| gpa.free(b);
        self.work = null;
        self.it.destroy();
    }

    /// The current entry's node (null: past the end).
    pub fn node(self: *const Walk) ?*Node {
        return self.current;
    }

    /// Moves to the next visible entry. REQUIRES: `node()` is not null.
    pub fn next(self: *Walk) void {
        std.debug.assert(self.current != null);
        if (self.work == null) {
            self.it.next();
            self.current = if (self.it.valid()) self.it.node() else null;
            return;
        }
        self.i += 1;
        self.settle();
    }

    /// Gathers the run from `from` (visible or not) on.
    fn fill(self: *Walk, from: *Node, hint: ?gather.Boundary) void {
        const list = self.it.it.list.?;
        const g = gather.gather(list, from, hint, self.work.?, gather.work_size);
        std.debug.assert(g.count >= 1 and self.work.?[0] == from);
        self.run = self.work.?[0..g.count];
        self.i = 0;
        self.after = g.next;
        self.hint = g.boundary;
    }

    /// From run[i] on: the first visible node, gathering the next runs as needed.
    fn settle(self: *Walk) void {
        while (true) {
            while (self.i < self.run.len and !self.it.visibleNode(self.run[self.i])) self.i += 1;
            if (self.i < self.run.len) {
                self.current = self.run[self.i];
                return;
            }
            const nx = self.after orelse {
                self.current = null;
                return;
            };
            self.fill(nx, self.hint);
        }
    }
};

const testing = std.testing;

fn expectSameAsNext(gpa: Allocator, mt: *MemTable, points: usize) !void {
    const plain = try Iterator.create(mt, limits.sequence_max, .{ .ignore_range_deletions = true });
    defer plain.destroy();
    try plain.seekToFirst();
    var w = try Walk.open(gpa, mt);
    defer w.close(gpa);
    var n: usize = 0;
    while (plain.valid()) : (plain.next()) {
        try testing.expectEqual(@as(?*Node, plain.node()), w.node());
        w.next();
        n += 1;
    }
    try testing.expectEqual(@as(?*Node, null), w.node());
    try testing.expectEqual(points, n);
}

test "the flush walk visits what next visits, skiplist and vector, empty to many runs" {
    const gpa = testing.allocator;
    for ([_]usize{ 0, 1, 40, 9000, 60000 }) |count| {
        for ([_]bool{ false, true }) |vector| {
            const mt = try MemTable.create(.{ .write_buffer_size = 64 << 20, .rep = .{ .kind = if (vector) .vector else .skiplist } });
            defer _ = mt.unref();
            var prng: std.Random.DefaultPrng = .init(0xF1);
            const r = prng.random();
            var points: usize = 0;
            var seq: u64 = 1;
            while (seq <= count) : (seq += 1) {
                var key: [6]u8 = undefined;
                r.bytes(&key);
                key[0] %= 8; // several versions of some keys
                if (r.uintLessThan(u8, 40) == 0) {
                    try mt.addRangeDeletion(seq, &key, "\xff");
                } else {
                    mt.add(seq, .value, key[0..r.uintLessThan(usize, 6)], "v") catch |e| if (e != error.Duplicate) return e;
                    points += 1;
                }
            }
            mt.markImmutable();
            try expectSameAsNext(gpa, mt, points);
        }
    }
}
