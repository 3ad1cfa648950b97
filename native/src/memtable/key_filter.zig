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
//! Thread safety: a writer reserves its keys' slots before it links their nodes (the stages
//! they need are allocated then, the only step that can fail) and adds the keys after; the
//! adds are atomic ORs, a stage is published with a release CAS before any key goes into it.
//! A reader that can see a node (at a sequence number published after its insert) sees its
//! stage and its bits. Lookups never lock.
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

    /// Slots for `count` keys about to be added, the first returned; the stages they fall in
    /// exist afterwards. On error.OutOfMemory the slots stay reserved but unused (a filter
    /// may count more keys than it holds, never fewer).
    pub fn reserve(self: *KeyFilter, count: u64) error{OutOfMemory}!u64 {
        const first = self.reserved.fetchAdd(count, .monotonic);
        if (count == 0) return first;
        var j = stageOf(first);
        const last = stageOf(first + count - 1);
        while (j <= last) : (j += 1) try self.ensureStage(j);
        return first;
    }

    fn ensureStage(self: *KeyFilter, j: u32) error{OutOfMemory}!void {
        std.debug.assert(j < stage_max);
        if (self.stages[j].load(.acquire) != null) return;
        const raw = try self.arena.allocateAligned(@sizeOf(Bloom));
        const stage: *Bloom = @ptrCast(@alignCast(raw));
        stage.* = try Bloom.init(self.arena, (first_stage_keys << @intCast(j)) * bits_per_key);
        // A racing writer may have published this stage first: its copy wins, ours stays unused.
        _ = self.stages[j].cmpxchgStrong(null, stage, .release, .monotonic);
        _ = self.top.fetchMax(j + 1, .release);
    }

    /// Adds `key` in slot `slot` (from `reserve`).
    pub fn add(self: *KeyFilter, slot: u64, key: []const u8) void {
        const stage = self.stages[stageOf(slot)].load(.acquire).?;
        stage.addHash(Bloom.hash(key));
    }

    /// False when no key added before this call (by a write this reader can see) is `key`.
    pub fn mayContain(self: *const KeyFilter, key: []const u8) bool {
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
        f.add(try f.reserve(1), key);
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
    // A reservation spanning stages makes all of them.
    const first = try f.reserve(100_000);
    try testing.expect(f.top.load(.monotonic) >= KeyFilter.stageOf(first + 100_000 - 1) + 1);
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
                filter.add(filter.reserve(1) catch unreachable, key);
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
