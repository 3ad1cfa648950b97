//! The key filter (beyond RocksDB; every memtable has one unless its RocksDB bloom filter
//! already holds whole keys): a filter of the user keys of the point entries, so a lookup of a
//! key the memtable does not hold ends after a hash and a cache line or a few, instead of a
//! search of the representation. RocksDB's memtable bloom (`bloom.zig`) is sized once from the
//! write buffer; this one grows with the memtable, so it costs about 1.25–2.6 bytes per entry
//! (10 bits per key in the stages in use) whatever the write buffer size.
//!
//! Stages: stage j is a `Bloom` of 10 bits for each of `first_stage_keys` · 2^j keys; the
//! n-th key added (counted from 0, `reserve`) goes into the stage whose range holds n, so every
//! stage is filled to its size and no further. A lookup tests the stages newest first and stops
//! at the first that may hold the key; an absent key tests them all (the small ones stay in the
//! cache).
//!
//! Thread safety: a writer takes its keys' slots (a counter) and adds the keys after it links
//! their nodes; the adds are atomic ORs, a stage is allocated by the first key that needs it
//! and published with a release CAS before any key goes into it. A reader that can see a node
//! (at a sequence number published after its insert) sees its stage and its bits. A stage
//! that cannot be allocated (the arena is out of memory) turns the filter off for good — every
//! lookup then searches — so a write that was linked is never hidden by it, and a rejected
//! write allocates nothing here. Lookups never lock.
const std = @import("std");
const Arena = @import("../arena.zig").Arena;
const Bloom = @import("bloom.zig").Bloom;

/// Keys in stage 0 (5 KiB of bits).
pub const first_stage_keys: u64 = 4096;
pub const bits_per_key: u64 = 10;
/// Enough stages for 2^40 keys.
const stage_max = 28;

pub const KeyFilter = struct {
    arena: *Arena,
    /// Slots handed out by `reserve` (one per key added).
    reserved: std.atomic.Value(u64) = .init(0),
    /// Set when a stage could not be allocated: the filter says "may contain" to every key.
    off: std.atomic.Value(bool) = .init(false),
    /// One past the highest stage published.
    top: std.atomic.Value(u32) = .init(0),
    stages: [stage_max]std.atomic.Value(?*const Bloom) = @splat(.init(null)),

    pub fn init(arena: *Arena) KeyFilter {
        return .{ .arena = arena };
    }

    /// The stage slot `n` belongs to.
    fn stageOf(n: u64) u32 {
        return std.math.log2_int(u64, n / first_stage_keys + 1);
    }

    /// Slots for `count` keys about to be added, the first returned (a write rejected after
    /// this leaves its slots unused: a filter may count more keys than it holds, never fewer).
    pub fn reserve(self: *KeyFilter, count: u64) u64 {
        return self.reserved.fetchAdd(count, .monotonic);
    }

    /// Stage `j`, allocated and published (by this call or a racing writer's).
    fn ensureStage(self: *KeyFilter, j: u32) error{OutOfMemory}!*const Bloom {
        std.debug.assert(j < stage_max);
        if (self.stages[j].load(.acquire)) |stage| return stage;
        const raw = try self.arena.allocateAligned(@sizeOf(Bloom));
        const stage: *Bloom = @ptrCast(@alignCast(raw));
        stage.* = try Bloom.init(self.arena, (first_stage_keys << @intCast(j)) * bits_per_key);
        // A racing writer may have published this stage first: its copy wins, ours stays unused.
        const won = self.stages[j].cmpxchgStrong(null, stage, .release, .acquire);
        _ = self.top.fetchMax(j + 1, .release);
        if (won) |theirs| return theirs.?; // what the CAS found there instead of null
        return stage;
    }

    /// Adds `key` in slot `slot` (from `reserve`).
    pub fn add(self: *KeyFilter, slot: u64, key: []const u8) void {
        const j = stageOf(slot);
        const stage = self.stages[j].load(.acquire) orelse (self.ensureStage(j) catch {
            self.off.store(true, .release);
            return;
        });
        // The stage may have been published by a racing writer that has not raised `top` yet:
        // a reader that sees this write must also see `top` above j, or it would skip the stage.
        if (self.top.load(.acquire) <= j) _ = self.top.fetchMax(j + 1, .release);
        stage.addHash(Bloom.hash(key));
    }

    /// False when no key added before this call (by a write this reader can see) is `key`.
    pub fn mayContain(self: *const KeyFilter, key: []const u8) bool {
        if (self.off.load(.acquire)) return true;
        const h = Bloom.hash(key);
        var j = self.top.load(.acquire);
        while (j > 0) {
            j -= 1;
            const stage = self.stages[j].load(.acquire) orelse continue;
            if (stage.mayContainHash(h)) return true;
        }
        return false;
    }
};

const testing = std.testing;

test "key filter: stages by slot; no false negatives across stages; few false positives" {
    try testing.expectEqual(@as(u32, 0), KeyFilter.stageOf(0));
    try testing.expectEqual(@as(u32, 0), KeyFilter.stageOf(first_stage_keys - 1));
    try testing.expectEqual(@as(u32, 1), KeyFilter.stageOf(first_stage_keys));
    try testing.expectEqual(@as(u32, 1), KeyFilter.stageOf(3 * first_stage_keys - 1));
    try testing.expectEqual(@as(u32, 2), KeyFilter.stageOf(3 * first_stage_keys));

    var arena = Arena.init(1 << 16);
    defer arena.deinit();
    var f = KeyFilter.init(&arena);
    var buf: [16]u8 = undefined;
    try testing.expect(!f.mayContain("anything"));
    const n: u32 = 40_000; // four stages (4096, 8192, 16384, 32768 keys)
    var i: u32 = 0;
    while (i < n) : (i += 1) {
        const key = std.fmt.bufPrint(&buf, "key{d}", .{i}) catch unreachable;
        f.add(f.reserve(1), key);
    }
    try testing.expectEqual(@as(u32, 4), f.top.load(.monotonic));
    i = 0;
    while (i < n) : (i += 1) try testing.expect(f.mayContain(std.fmt.bufPrint(&buf, "key{d}", .{i}) catch unreachable));
    var false_positives: u32 = 0;
    i = 0;
    while (i < n) : (i += 1) {
        if (f.mayContain(std.fmt.bufPrint(&buf, "other{d}", .{i}) catch unreachable)) false_positives += 1;
    }
    try testing.expect(false_positives < n / 20); // < 5% over four stages
    // Slots alone allocate nothing (a write rejected after taking them costs no memory); the
    // first key added to a stage allocates it.
    const used = arena.usage();
    const first = f.reserve(100_000);
    try testing.expectEqual(used, arena.usage());
    try testing.expectEqual(@as(u32, 4), f.top.load(.monotonic));
    f.add(first + 99_999, "late");
    try testing.expectEqual(KeyFilter.stageOf(first + 99_999) + 1, f.top.load(.monotonic));
    try testing.expect(arena.usage() > used);
    try testing.expect(f.mayContain("late"));
    // Turned off (a stage it could not allocate), it says "may contain" to every key.
    try testing.expect(!f.mayContain("never added"));
    f.off.store(true, .release);
    try testing.expect(f.mayContain("never added"));
}

test "key filter: concurrent writers" {
    var arena = Arena.init(1 << 16);
    defer arena.deinit();
    try arena.makeConcurrent();
    var f = KeyFilter.init(&arena);
    const Writer = struct {
        fn run(filter: *KeyFilter, t: u32) void {
            var buf: [16]u8 = undefined;
            var i: u32 = 0;
            while (i < 20_000) : (i += 1) {
                const key = std.fmt.bufPrint(&buf, "t{d}k{d}", .{ t, i }) catch unreachable;
                filter.add(filter.reserve(1), key);
            }
        }
    };
    var threads: [4]std.Thread = undefined;
    for (&threads, 0..) |*th, t| th.* = try std.Thread.spawn(.{}, Writer.run, .{ &f, @as(u32, @intCast(t)) });
    for (threads) |th| th.join();
    var buf: [16]u8 = undefined;
    for (0..4) |t| {
        var i: u32 = 0;
        while (i < 20_000) : (i += 1) try testing.expect(f.mayContain(std.fmt.bufPrint(&buf, "t{d}k{d}", .{ t, i }) catch unreachable));
    }
}
