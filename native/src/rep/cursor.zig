//! Cursor: the positioning primitives an iterator moves with, over either a skiplist (a whole
//! list, the range-tombstone table or one hash bucket) or a sorted view (an array of nodes in
//! internal-key order, what the hash and vector representations iterate). It knows nothing of
//! snapshots, tombstones or prefixes: `memtable/iterator.zig` adds those.
//!
//! Thread safety: a cursor belongs to one thread; it reads its list or view without locks, as
//! any skiplist reader does, alongside the list's writers. A view never changes once made.
const std = @import("std");
const coding = @import("../coding.zig");
const skiplist = @import("skiplist.zig");

const Node = skiplist.Node;
const SkipList = skiplist.SkipList;

/// A cursor over a skiplist (a whole list or one hash bucket) or over a sorted view.
pub const Cursor = struct {
    list: ?*SkipList = null,
    view: []const *Node = &.{},
    pos: usize = 0,
    node: ?*Node = null,

    pub fn overList(list: *SkipList) Cursor {
        return .{ .list = list };
    }

    pub fn overView(view: []const *Node) Cursor {
        return .{ .view = view };
    }

    fn at(self: *Cursor, i: usize) void {
        std.debug.assert(self.list == null);
        std.debug.assert(i <= self.view.len);
        self.pos = i;
        self.node = if (i < self.view.len) self.view[i] else null;
    }

    /// Index of the first view node ≥ key.
    fn lowerBound(self: *const Cursor, key: coding.Key) usize {
        const p = skiplist.Probe.of(key);
        var lo: usize = 0;
        var hi: usize = self.view.len;
        while (lo < hi) {
            const mid = lo + (hi - lo) / 2;
            if (skiplist.compareNode(self.view[mid], &p) == .lt) lo = mid + 1 else hi = mid;
        }
        return lo;
    }

    /// Index of the first view node > key.
    fn upperBound(self: *const Cursor, key: coding.Key) usize {
        const p = skiplist.Probe.of(key);
        var lo: usize = 0;
        var hi: usize = self.view.len;
        while (lo < hi) {
            const mid = lo + (hi - lo) / 2;
            if (skiplist.compareNode(self.view[mid], &p) != .gt) lo = mid + 1 else hi = mid;
        }
        return lo;
    }

    pub fn valid(self: *const Cursor) bool {
        return self.node != null;
    }
    /// REQUIRES: valid.
    pub fn next(self: *Cursor) void {
        std.debug.assert(self.valid());
        if (self.list != null) {
            self.node = self.node.?.next(0);
        } else self.at(self.pos + 1);
    }
    /// REQUIRES: valid.
    pub fn prev(self: *Cursor) void {
        std.debug.assert(self.valid());
        if (self.list) |l| {
            self.node = l.findLessThan(self.node.?.key());
        } else if (self.pos == 0) self.node = null else self.at(self.pos - 1);
    }
    /// First entry ≥ key.
    pub fn seek(self: *Cursor, key: coding.Key) void {
        if (self.list) |l| {
            self.node = l.findGreaterOrEqual(key);
        } else self.at(self.lowerBound(key));
    }
    /// Last entry ≤ key.
    pub fn seekForPrev(self: *Cursor, key: coding.Key) void {
        if (self.list) |l| {
            self.node = l.findLessOrEqual(key);
        } else {
            const i = self.upperBound(key);
            if (i == 0) self.node = null else self.at(i - 1);
        }
    }
    /// Last entry < key.
    pub fn seekLessThan(self: *Cursor, key: coding.Key) void {
        if (self.list) |l| {
            self.node = l.findLessThan(key);
        } else {
            const i = self.lowerBound(key);
            if (i == 0) self.node = null else self.at(i - 1);
        }
    }
    pub fn seekToFirst(self: *Cursor) void {
        if (self.list) |l| {
            self.node = l.findFirst();
        } else self.at(0);
    }
    pub fn seekToLast(self: *Cursor) void {
        if (self.list) |l| {
            self.node = l.findLast();
        } else if (self.view.len == 0) self.node = null else self.at(self.view.len - 1);
    }
};
