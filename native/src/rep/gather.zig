//! Gathering the level-0 run of a skiplist ahead of a position with its cache misses overlapped
//! (the scans' walk). A level-0 walk is a chain of dependent loads: each node's address is in
//! the node before it, so a plain walk pays one memory latency per node. The nodes tall enough
//! to be on level `L` cut level 0 into segments (about `branching^L` nodes each); several
//! `lanes` walk different segments in lockstep, one node per lane per round, so their misses
//! are in flight together, while a scout walks level `L` ahead of them for the next segments'
//! starts. Each segment's nodes land in a region of its own in the work buffer and are packed
//! back into level-0 order at the end.
//!
//! Thread safety: as any skiplist reader (no locks; a node linked meanwhile may or may not be
//! seen). Segment ends are nodes of level `L`, which stay on level 0 after their segment's
//! start forever (nodes are never unlinked), so every lane reaches its end.
const std = @import("std");
const skiplist = @import("skiplist.zig");

const Node = skiplist.Node;
const SkipList = skiplist.SkipList;

/// Lanes walking at once: enough misses in flight for the line-fill buffers.
pub const lanes = 16;
/// The level whose nodes start segments (lower on lists not that tall): with branching 4,
/// segments of about 16 nodes.
pub const segment_level = 2;
/// Slots per segment region; a longer segment ends the gather at its last slot.
pub const segment_cap = 64;
/// Segments per gather.
pub const segments_max = 128;
/// Pointers the work buffer holds.
pub const work_size = segments_max * segment_cap;

/// What a gather found.
pub const Gathered = struct {
    /// Nodes at the start of the work buffer, in level-0 order from the starting node on.
    count: usize,
    /// The node after the last one gathered (null: the end of the list).
    next: ?*Node,
    /// A node of the segment level after `next` (null: none up to the end), when known.
    boundary: ?Boundary,
};

pub const Boundary = struct { node: ?*Node };

fn levelOf(list: *const SkipList) usize {
    return @min(segment_level, list.height_limit - 1);
}

/// The first node of level `level` after `from` (null when there is none), by a search from
/// the head (its upper levels are usually cached).
fn firstAbove(list: *SkipList, from: *Node, level: usize) ?*Node {
    const probe = skiplist.Probe.ofNode(from);
    const top = list.max_height.load(.monotonic);
    if (top <= level) return null;
    var x = list.head;
    var l: usize = top - 1;
    while (true) : (l -= 1) {
        while (x.next(l)) |nx| {
            if (skiplist.compareNode(nx, &probe) == .gt) break;
            x = nx;
        }
        if (l == level) break;
    }
    return x.next(level);
}

inline fn prefetchNode(n: *Node) void {
    const p: [*]const u8 = @ptrCast(n);
    @prefetch(p, .{});
    @prefetch(p + 64, .{});
    @prefetch(p + 128, .{});
}

/// Gathers up to `max` (≤ `work.len`, which is `work_size`) nodes of `list`'s level 0 from
/// `from` on into `work[0..count]`. `hint`, when given, is a node of the segment level after
/// `from` (a previous gather's `boundary` for its `next`).
pub fn gather(list: *SkipList, from: *Node, hint: ?Boundary, work: []*Node, max: usize) Gathered {
    std.debug.assert(work.len >= work_size);
    std.debug.assert(max >= 1 and max <= work.len);
    const level = levelOf(list);
    if (level == 0 or max < 2 * lanes) return serial(from, work, max);

    // starts[s] is segment s's first node; segment s ends where segment s+1 starts.
    var starts: [segments_max + 1]?*Node = undefined;
    var counts: [segments_max]u32 = undefined;
    var resume_at: [segments_max]?*Node = undefined; // where an overflowing segment stopped
    starts[0] = from;
    starts[1] = if (hint) |h| h.node else firstAbove(list, from, level);
    var known: usize = 2; // starts[0..known] are known
    var scout: ?*Node = starts[1];

    const Lane = struct { seg: usize, node: ?*Node, end: ?*Node, count: u32 };
    var lane: [lanes]Lane = undefined;
    var active: usize = 0;
    var assigned: usize = 0; // segments handed to lanes
    var gathered: usize = 0; // nodes recorded so far, all segments

    while (true) {
        // The scout: one step along the segment level per round, its miss among the lanes'.
        if (scout) |s| {
            if (known <= segments_max) {
                const nx = s.next(level);
                starts[known] = nx;
                known += 1;
                scout = nx;
                if (nx) |n| @prefetch(@as([*]const u8, @ptrCast(n)), .{});
            }
        }
        // Hand out segments whose ends are known while there is room.
        while (active < lanes and assigned + 1 < known and assigned < segments_max and gathered < max) {
            const start = starts[assigned];
            if (start == null) break; // past the end of the list
            lane[active] = .{ .seg = assigned, .node = start, .end = starts[assigned + 1], .count = 0 };
            prefetchNode(start.?);
            active += 1;
            assigned += 1;
            // A segment that starts at the end closes the list: nothing follows it.
            if (starts[assigned] == null) break;
        }
        if (active == 0) break;
        var i: usize = 0;
        while (i < active) {
            const l = &lane[i];
            const n = l.node;
            const done = n == l.end or l.count == segment_cap;
            if (done) {
                counts[l.seg] = l.count;
                resume_at[l.seg] = n;
                active -= 1;
                lane[i] = lane[active];
                continue;
            }
            const node = n.?;
            work[l.seg * segment_cap + l.count] = node;
            l.count += 1;
            gathered += 1;
            const nx = node.next(0);
            if (nx) |x| prefetchNode(x);
            l.node = nx;
            i += 1;
        }
    }

    // Pack the segments back into order (each region moves down, never over an unread one).
    var count: usize = 0;
    var s: usize = 0;
    while (s < assigned and count < max) : (s += 1) {
        const c = counts[s];
        const take = @min(c, max - count);
        if (count != s * segment_cap) {
            std.mem.copyForwards(*Node, work[count..][0..take], work[s * segment_cap ..][0..take]);
        }
        count += take;
        // Full, or a segment longer than its region: the rest of it comes next time.
        if (take < c) return .{ .count = count, .next = work[s * segment_cap + take], .boundary = .{ .node = starts[s + 1] } };
        if (resume_at[s] != starts[s + 1]) return .{ .count = count, .next = resume_at[s], .boundary = .{ .node = starts[s + 1] } };
    }
    // Segments 0..s were taken whole: the next node is segment s's start.
    const next = starts[s];
    if (next == null or s + 1 >= known) return .{ .count = count, .next = next, .boundary = null };
    return .{ .count = count, .next = next, .boundary = .{ .node = starts[s + 1] } };
}

/// A list with no levels to cut it by: one node after another.
fn serial(from: *Node, work: []*Node, max: usize) Gathered {
    var n: ?*Node = from;
    var count: usize = 0;
    while (count < max) {
        const node = n orelse break;
        work[count] = node;
        count += 1;
        n = node.next(0);
    }
    return .{ .count = count, .next = n, .boundary = null };
}

const testing = std.testing;
const Arena = @import("../arena.zig").Arena;
const coding = @import("../coding.zig");

fn expectWalk(list: *SkipList, work: []*Node, max: usize) !void {
    // Gathering from every node equals the level-0 walk from it, in runs of `max`.
    var from = list.head.next(0);
    var hint: ?Boundary = null;
    while (from) |f| {
        const g = gather(list, f, hint, work, max);
        try testing.expect(g.count >= 1 and g.count <= max);
        var n: ?*Node = f;
        for (work[0..g.count]) |w| {
            try testing.expectEqual(n, w);
            n = w.next(0);
        }
        try testing.expectEqual(n, g.next);
        from = g.next;
        hint = g.boundary;
    }
}

test "a gather lists level 0 in order, in runs of any length, with or without hints" {
    var arena = Arena.init(1 << 20);
    defer arena.deinit();
    var list = try SkipList.init(&arena, 7);
    var key: [8]u8 = undefined;
    var i: u32 = 0;
    while (i < 5000) : (i += 1) {
        std.mem.writeInt(u32, key[0..4], i *% 2654435761, .big);
        std.mem.writeInt(u32, key[4..8], i, .big);
        _ = try list.insert(.{ .user_key = &key, .trailer = coding.packTrailer(1, 1) }, "v");
    }
    const work = try testing.allocator.alloc(*Node, work_size);
    defer testing.allocator.free(work);
    for ([_]usize{ 1, 2, 7, 16, 100, 1024, work_size }) |max| try expectWalk(&list, work, max);
    // From a node in the middle, without a hint.
    var mid = list.head.next(0).?;
    i = 0;
    while (i < 2500) : (i += 1) mid = mid.next(0).?;
    const g = gather(&list, mid, null, work, 300);
    try testing.expectEqual(@as(usize, 300), g.count);
    try testing.expectEqual(mid, work[0]);
}

test "a gather over a list of one level walks it serially" {
    var arena = Arena.init(1 << 16);
    defer arena.deinit();
    var list = try SkipList.initWith(&arena, 3, .{ .height = 1, .splice = false });
    for ([_][]const u8{ "c", "a", "b" }) |k| _ = try list.insert(.{ .user_key = k, .trailer = coding.packTrailer(1, 1) }, "");
    const work = try testing.allocator.alloc(*Node, work_size);
    defer testing.allocator.free(work);
    try expectWalk(&list, work, 2);
}
