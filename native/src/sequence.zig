//! SequenceAllocator: sequence numbers for writers on many threads (RocksDB's last sequence and
//! last published sequence). `allocate(n)` hands out n consecutive numbers; a writer publishes
//! them once its writes are in; `published` is the largest number such that every number up to
//! it is published — what readers may use as their snapshot.
const std = @import("std");
const limits = @import("limits.zig");
const arena_mod = @import("arena.zig");

pub const magic: u64 = 0x5345514E414C4C43; // "SEQNALLC"

const Range = struct { first: u64, last: u64 };

pub const Error = error{ Exhausted, InvalidRange, OutOfMemory };

pub const SequenceAllocator = struct {
    magic: u64 = magic,
    refs: std.atomic.Value(u32) = .init(1),
    next: std.atomic.Value(u64),
    published: std.atomic.Value(u64),
    lock: arena_mod.SpinLock = .{},
    /// Published ranges above a gap, ascending.
    pending: std.ArrayList(Range) = .empty,

    /// The first number handed out is `start` (≥ 1); `published` starts at start − 1.
    pub fn create(start: u64) error{OutOfMemory}!*SequenceAllocator {
        std.debug.assert(start >= 1 and start <= limits.sequence_max);
        const self = try arena_mod.allocTracked(SequenceAllocator);
        self.* = .{ .next = .init(start), .published = .init(start - 1) };
        return self;
    }

    pub fn ref(self: *SequenceAllocator) u32 {
        return self.refs.fetchAdd(1, .monotonic) + 1;
    }

    pub fn unref(self: *SequenceAllocator) u32 {
        const before = self.refs.fetchSub(1, .acq_rel);
        if (before != 1) return before - 1;
        self.magic = 0;
        self.pending.deinit(arena_mod.backing_allocator);
        arena_mod.destroyTracked(self);
        return 0;
    }

    /// The first of `n` consecutive, never handed out numbers.
    pub fn allocate(self: *SequenceAllocator, n: u64) Error!u64 {
        if (n == 0) return self.next.load(.monotonic);
        var cur = self.next.load(.monotonic);
        while (true) {
            if (cur > limits.sequence_max or n - 1 > limits.sequence_max - cur) return error.Exhausted;
            cur = self.next.cmpxchgWeak(cur, cur + n, .monotonic, .monotonic) orelse return cur;
        }
    }

    /// Marks [first, first + n) as written. Every range allocated must be published once
    /// (also when its write failed), or `published` stops at it.
    pub fn publish(self: *SequenceAllocator, first: u64, n: u64) Error!void {
        if (n == 0) return;
        if (first > limits.sequence_max or n - 1 > limits.sequence_max - first) return error.InvalidRange;
        const last = first + n - 1;
        if (last >= self.next.load(.monotonic)) return error.InvalidRange;
        self.lock.lock();
        defer self.lock.unlock();
        var published = self.published.load(.monotonic);
        if (first <= published) return error.InvalidRange;
        if (first != published + 1) {
            const items = self.pending.items;
            var at: usize = 0;
            while (at < items.len and items[at].first < first) at += 1;
            if (at < items.len and items[at].first <= last) return error.InvalidRange;
            if (at > 0 and items[at - 1].last >= first) return error.InvalidRange;
            try self.pending.insert(arena_mod.backing_allocator, at, .{ .first = first, .last = last });
            return;
        }
        published = last;
        var drop: usize = 0;
        while (drop < self.pending.items.len and self.pending.items[drop].first == published + 1) : (drop += 1) {
            published = self.pending.items[drop].last;
        }
        if (drop > 0) self.pending.replaceRangeAssumeCapacity(0, drop, &.{});
        self.published.store(published, .release);
    }

    pub fn lastPublished(self: *const SequenceAllocator) u64 {
        return self.published.load(.acquire);
    }
};

test "published advances only over gap-free prefixes" {
    const a = try SequenceAllocator.create(1);
    defer _ = a.unref();
    const x = try a.allocate(3); // 1..3
    const y = try a.allocate(2); // 4..5
    const z = try a.allocate(1); // 6
    try std.testing.expectEqual(@as(u64, 1), x);
    try std.testing.expectEqual(@as(u64, 4), y);
    try a.publish(z, 1);
    try a.publish(y, 2);
    try std.testing.expectEqual(@as(u64, 0), a.lastPublished());
    try a.publish(x, 3);
    try std.testing.expectEqual(@as(u64, 6), a.lastPublished());
    try std.testing.expectError(error.InvalidRange, a.publish(x, 3)); // twice
    try std.testing.expectError(error.InvalidRange, a.publish(7, 1)); // never allocated
    const big = try SequenceAllocator.create(limits.sequence_max - 1);
    defer _ = big.unref();
    _ = try big.allocate(2);
    try std.testing.expectError(error.Exhausted, big.allocate(1));
}
