//! Tests of the skiplist (skiplist.zig) through its public interface, and the helpers other
//! representations' tests use (`testKey`, `expectLevelsSorted`, `expectSortedCount`).
const std = @import("std");
const coding = @import("../coding.zig");
const Arena = @import("../arena.zig").Arena;
const skiplist = @import("skiplist.zig");
const SkipList = skiplist.SkipList;
const Node = skiplist.Node;
const Probe = skiplist.Probe;
const Splice = skiplist.Splice;
const height_max = skiplist.height_max;
const findNewest = skiplist.findNewest;
const findNewestGroup = skiplist.findNewestGroup;
const lookup_group_max = skiplist.lookup_group_max;
const testing = std.testing;
const Cursor = @import("cursor.zig").Cursor;

pub fn testKey(buf: []u8, i: u32, seq: u64) coding.Key {
    const s = std.fmt.bufPrint(buf, "key{d:0>8}", .{i}) catch unreachable;
    return .{ .user_key = s, .trailer = coding.packTrailer(seq, 1) };
}

/// Every level above 0 is in strict order (test helper).
pub fn expectLevelsSorted(list: *SkipList) !void {
    var level: usize = 1;
    while (level < list.max_height.load(.monotonic)) : (level += 1) {
        var x = list.head.next(level);
        while (x) |n| {
            if (n.next(level)) |m| try testing.expectEqual(std.math.Order.lt, coding.compareKeys(n.key(), m.key()));
            x = n.next(level);
        }
    }
}

/// Walks level 0, checking strict order; returns the node count (test helper).
pub fn expectSortedCount(list: *SkipList) !usize {
    var it = Cursor.overList(list);
    it.seekToFirst();
    var count: usize = 0;
    var prev_key: ?coding.Key = null;
    while (it.valid()) : (it.next()) {
        const k = it.node.?.key();
        if (prev_key) |p| try testing.expectEqual(std.math.Order.lt, coding.compareKeys(p, k));
        prev_key = k;
        count += 1;
    }
    return count;
}

test "skiplist keeps random inserts sorted and reports duplicates" {
    var arena = Arena.init(4096);
    defer arena.deinit();
    var list = try SkipList.init(&arena, 42);
    var prng = std.Random.DefaultPrng.init(7);
    const n = 5000;
    var present: [n]bool = @splat(false);
    var inserted: usize = 0;
    var i: usize = 0;
    while (i < 3 * n) : (i += 1) {
        const k = prng.random().uintLessThan(u32, n);
        var buf: [32]u8 = undefined;
        const key = testKey(&buf, k, 1);
        if (list.insert(key, "v")) |_| {
            try testing.expect(!present[k]);
            present[k] = true;
            inserted += 1;
        } else |err| {
            try testing.expectEqual(error.Duplicate, err);
            try testing.expect(present[k]);
        }
    }
    try testing.expectEqual(inserted, try expectSortedCount(&list));
    // Backwards gives the same sequence reversed.
    var it = Cursor.overList(&list);
    it.seekToLast();
    var back: usize = 0;
    while (it.valid()) : (it.prev()) back += 1;
    try testing.expectEqual(inserted, back);
}

test "skiplist seek, seekForPrev and contains" {
    var arena = Arena.init(4096);
    defer arena.deinit();
    var list = try SkipList.init(&arena, 1);
    var buf: [32]u8 = undefined;
    var i: u32 = 0;
    while (i < 100) : (i += 2) _ = try list.insert(testKey(&buf, i, 5), "x");
    var it = Cursor.overList(&list);
    var kb: [32]u8 = undefined;
    it.seek(testKey(&kb, 51, 5));
    try testing.expectEqualStrings("key00000052", it.node.?.key().user_key);
    it.seekForPrev(testKey(&kb, 51, 5));
    try testing.expectEqualStrings("key00000050", it.node.?.key().user_key);
    it.seekForPrev(testKey(&kb, 50, 5));
    try testing.expectEqualStrings("key00000050", it.node.?.key().user_key);
    it.seek(testKey(&kb, 99, 5));
    try testing.expect(!it.valid());
    it.seekForPrev(.{ .user_key = "a", .trailer = 0 });
    try testing.expect(!it.valid());
    try testing.expect(list.contains(testKey(&kb, 40, 5)));
    try testing.expect(!list.contains(testKey(&kb, 40, 6)));
    try testing.expect(!list.contains(testKey(&kb, 41, 5)));
}

test "skiplist splice hint handles ascending, descending and interleaved inserts" {
    var arena = Arena.init(1 << 16);
    defer arena.deinit();
    var list = try SkipList.init(&arena, 3);
    var buf: [32]u8 = undefined;
    var i: u32 = 0;
    while (i < 2000) : (i += 1) _ = try list.insert(testKey(&buf, 10_000 + i, 1), "a");
    i = 2000;
    while (i > 0) : (i -= 1) _ = try list.insert(testKey(&buf, i, 1), "d");
    i = 0;
    while (i < 2000) : (i += 1) _ = try list.insert(testKey(&buf, if (i % 2 == 0) 5000 + i else 20_000 + i, 1), "m");
    try testing.expectEqual(@as(usize, 6000), try expectSortedCount(&list));
    // Every level is a sorted sublist.
    try expectLevelsSorted(&list);
}

test "concurrent inserts from several threads keep every level sorted and lose nothing" {
    var arena = Arena.init(1 << 16);
    defer arena.deinit();
    try arena.makeConcurrent();
    var list = try SkipList.init(&arena, 5);
    const Writer = struct {
        fn run(l: *SkipList, t: u32, dups: *std.atomic.Value(u32)) void {
            var buf: [32]u8 = undefined;
            var i: u32 = 0;
            while (i < 5000) : (i += 1) {
                // Disjoint keys per thread, plus one shared key everybody races to insert.
                const k = if (i % 1000 == 0) testKey(&buf, 1_000_000 + i, 1) else testKey(&buf, i * 4 + t, 1);
                _ = l.insertConcurrently(k, "v") catch |err| {
                    std.debug.assert(err == error.Duplicate);
                    _ = dups.fetchAdd(1, .monotonic);
                };
            }
        }
    };
    var dups = std.atomic.Value(u32).init(0);
    var threads: [4]std.Thread = undefined;
    for (&threads, 0..) |*t, i| t.* = try std.Thread.spawn(.{}, Writer.run, .{ &list, @as(u32, @intCast(i)), &dups });
    for (threads) |t| t.join();
    // 4 × 4995 disjoint keys + 5 shared keys inserted once each; the other 15 were duplicates.
    try testing.expectEqual(@as(u32, 15), dups.load(.monotonic));
    try testing.expectEqual(@as(usize, 4 * 4995 + 5), try expectSortedCount(&list));
    try expectLevelsSorted(&list);
}

/// Every node of level L+1 is on level L (each level is a sublist of the one below).
fn expectNestedLevels(list: *SkipList) !void {
    var level: usize = list.max_height.load(.monotonic) - 1;
    while (level > 0) : (level -= 1) {
        var upper = list.head.next(level);
        var lower = list.head.next(level - 1);
        while (upper) |u| {
            while (lower != null and lower.? != u) lower = lower.?.next(level - 1);
            try testing.expect(lower != null); // u is missing from the level below
            upper = u.next(level);
        }
    }
}

test "interleaved splices (insert hints) keep every level complete" {
    var arena = Arena.init(1 << 16);
    defer arena.deinit();
    var list = try SkipList.init(&arena, 11);
    var splices: [8]Splice = @splat(.{});
    var buf: [32]u8 = undefined;
    var i: u32 = 0;
    while (i < 8000) : (i += 1) {
        const stream = i % 8;
        const k = testKey(&buf, stream * 100_000 + i / 8, 1);
        _ = try list.insertWithSplice(k, "v", &splices[stream]);
        if (i % 97 == 0) _ = try list.insert(testKey(&buf, 900_000 + i, 1), "x"); // the shared splice
    }
    try testing.expectEqual(@as(usize, 8000 + 83), try expectSortedCount(&list));
    // Every level is a sublist of the one below, and a search from the head finds every key.
    try expectNestedLevels(&list);
    i = 0;
    while (i < 8000) : (i += 1) try testing.expect(list.contains(testKey(&buf, (i % 8) * 100_000 + i / 8, 1)));
}

test "searches agree with a sorted array when keys tie on their heads, are short or hold zero bytes" {
    var arena = Arena.init(1 << 16);
    defer arena.deinit();
    var list = try SkipList.init(&arena, 9);
    var prng = std.Random.DefaultPrng.init(0x68656164);
    const rnd = prng.random();
    const n = 3000;
    // Lengths 0–12 over the bytes 0, 1, 2: heads tie often, and "ab" vs "ab\x00" both occur.
    var store: [n][12]u8 = undefined;
    var keys: std.ArrayList(coding.Key) = .empty;
    defer keys.deinit(testing.allocator);
    for (&store) |*b| {
        const k = b[0..rnd.uintAtMost(usize, 12)];
        for (k) |*c| c.* = rnd.uintLessThan(u8, 3);
        const key: coding.Key = .{ .user_key = k, .trailer = coding.packTrailer(rnd.uintLessThan(u64, 4), 1) };
        if (list.insert(key, "v")) |_| try keys.append(testing.allocator, key) else |err| try testing.expectEqual(error.Duplicate, err);
    }
    const Less = struct {
        fn less(_: void, a: coding.Key, b: coding.Key) bool {
            return coding.compareKeys(a, b) == .lt;
        }
    };
    std.mem.sort(coding.Key, keys.items, {}, Less.less);
    try testing.expectEqual(keys.items.len, try expectSortedCount(&list));
    var i: usize = 0;
    while (i < 2000) : (i += 1) {
        var b: [12]u8 = undefined;
        const k = b[0..rnd.uintAtMost(usize, 12)];
        for (k) |*c| c.* = rnd.uintLessThan(u8, 3);
        const probe: coding.Key = .{ .user_key = k, .trailer = coding.packTrailer(rnd.uintLessThan(u64, 4), 1) };
        // Index of the first key ≥ probe in the array.
        var lo: usize = 0;
        while (lo < keys.items.len and coding.compareKeys(keys.items[lo], probe) == .lt) lo += 1;
        const ge = list.findGreaterOrEqual(probe);
        if (lo == keys.items.len) try testing.expect(ge == null) else try testing.expectEqual(std.math.Order.eq, coding.compareKeys(ge.?.key(), keys.items[lo]));
        const lt = list.findLessThan(probe);
        if (lo == 0) try testing.expect(lt == null) else try testing.expectEqual(std.math.Order.eq, coding.compareKeys(lt.?.key(), keys.items[lo - 1]));
        const present = lo < keys.items.len and coding.compareKeys(keys.items[lo], probe) == .eq;
        try testing.expectEqual(present, list.contains(probe));
    }
    // Every node's head, read in place, is its key's head.
    var x = list.head.next(0);
    while (x) |node| : (x = node.next(0)) try testing.expectEqual(coding.keyHead(node.key().user_key), node.keyHead());
}

test "findNewestGroup finds what findNewest finds, a group at a time" {
    var arena = Arena.init(1 << 16);
    defer arena.deinit();
    var list = try SkipList.init(&arena, 13);
    var buf: [32]u8 = undefined;
    var i: u32 = 0;
    // Keys 0, 2, 4, … with versions at seq 1 and (every third key) 5.
    while (i < 4000) : (i += 2) {
        _ = try list.insert(testKey(&buf, i, 1), "v1");
        if (i % 3 == 0) _ = try list.insert(testKey(&buf, i, 5), "v5");
    }
    var prng = std.Random.DefaultPrng.init(99);
    var bufs: [lookup_group_max][32]u8 = undefined;
    var keys: [lookup_group_max][]const u8 = undefined;
    var out: [lookup_group_max]?*Node = undefined;
    var round: usize = 0;
    while (round < 200) : (round += 1) {
        const count = prng.random().uintAtMost(usize, lookup_group_max);
        const snapshot = prng.random().uintLessThan(u64, 7);
        for (keys[0..count], 0..) |*k, j| k.* = testKey(&bufs[j], prng.random().uintLessThan(u32, 4100), 0).user_key;
        if (count > 1) keys[count - 1] = keys[0]; // the same key twice in a group
        findNewestGroup(&list, keys[0..count], snapshot, out[0..count]);
        for (keys[0..count], out[0..count]) |k, o| try testing.expectEqual(findNewest(&list, k, snapshot), o);
    }
    const empty = try SkipList.init(&arena, 1);
    var e = empty;
    findNewestGroup(&e, keys[0..3], 9, out[0..3]);
    for (out[0..3]) |o| try testing.expect(o == null);
}
