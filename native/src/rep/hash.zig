//! The hash representations of a memtable's point entries (RocksDB's HashSkipListRep and
//! HashLinkListRep): the user key's prefix (the prefix extractor's, or the whole key when it is
//! outside the extractor's domain) picks one of `bucket_count` buckets; a bucket is a skiplist
//! of its own (`hashSkipList`, height and branching options) or a sorted linked list (a
//! skiplist of height 1) that is rebuilt as a full skiplist once it holds more than `threshold`
//! entries (`hashLinkList`). All versions of a user key share a bucket, so point lookups and
//! prefix seeks touch one bucket. A total-order iteration needs a sorted view of every bucket
//! (`rep.zig`'s `sortedCopy`).
//!
//! Thread safety: readers never lock. One writer at a time (the memtable's guard): buckets are
//! made and published with a release store, converted buckets replace the old one the same way,
//! and readers inside an old list finish there (its nodes stay in the arena, in order).
const std = @import("std");
const coding = @import("../coding.zig");
const prefix_mod = @import("../prefix.zig");
const Arena = @import("../arena.zig").Arena;
const skiplist = @import("skiplist.zig");
const skiplist_test = @import("skiplist_test.zig");
const rep_mod = @import("rep.zig");

const Node = skiplist.Node;
const SkipList = skiplist.SkipList;
const InsertError = skiplist.InsertError;

pub const Bucket = struct {
    list: SkipList,
    /// Entries in the list (the writer's count; readers do not use it).
    count: u32 = 0,
    /// A linked list (height 1) that is to become a skiplist past the threshold.
    linked: bool,
};

pub const HashRep = struct {
    arena: *Arena,
    buckets: [*]std.atomic.Value(?*Bucket),
    bucket_count: u32,
    extractor: prefix_mod.Extractor,
    height: u32,
    branching: u32,
    /// 0: buckets are skiplists from the start (hashSkipList).
    threshold: u32,
    seed: u64,
    protection_bytes: u8,
    paranoid: bool,

    pub fn init(arena: *Arena, config: rep_mod.Config) error{OutOfMemory}!HashRep {
        const options = config.options;
        std.debug.assert(options.kind == .hash_skiplist or options.kind == .hash_linklist);
        std.debug.assert(options.bucket_count >= 1);
        std.debug.assert(options.bucket_count <= rep_mod.bucket_count_max);
        std.debug.assert(config.extractor.kind != .none);
        std.debug.assert(!config.concurrent_writes);
        const bytes = @as(usize, options.bucket_count) * @sizeOf(std.atomic.Value(?*Bucket));
        const raw = try arena.allocateTable(bytes);
        const linked = options.kind == .hash_linklist;
        return .{
            .arena = arena,
            .buckets = @ptrCast(@alignCast(raw)),
            .bucket_count = options.bucket_count,
            .extractor = config.extractor,
            .height = if (linked) skiplist.height_max else options.height,
            .branching = if (linked) skiplist.branching else options.branching,
            .threshold = if (linked) @max(options.threshold, 1) else 0,
            .seed = config.seed,
            .protection_bytes = config.protection_bytes,
            .paranoid = config.paranoid,
        };
    }

    /// The bucket of `user_key`: by its prefix, or by the whole key outside the domain.
    pub fn bucketIndex(self: *const HashRep, user_key: []const u8) usize {
        const p = self.extractor.prefixOf(user_key) orelse user_key;
        return @intCast(std.hash.Wyhash.hash(0x6275636B6574, p) % self.bucket_count);
    }

    pub fn bucketOf(self: *const HashRep, user_key: []const u8) ?*Bucket {
        return self.buckets[self.bucketIndex(user_key)].load(.acquire);
    }

    fn newBucket(self: *HashRep, linked: bool) error{OutOfMemory}!*Bucket {
        const raw = try self.arena.allocateAligned(@sizeOf(Bucket));
        const b: *Bucket = @ptrCast(@alignCast(raw));
        self.seed +%= 0x9E3779B97F4A7C15;
        b.* = .{
            .list = try SkipList.initWith(self.arena, self.seed, .{
                .height = if (linked) 1 else self.height,
                .branching = self.branching,
                .splice = false,
            }),
            .linked = linked,
        };
        b.list.protection_bytes = self.protection_bytes;
        b.list.paranoid = self.paranoid;
        return b;
    }

    fn bucketFor(self: *HashRep, index: usize) error{OutOfMemory}!*Bucket {
        if (self.buckets[index].load(.acquire)) |b| return b;
        const b = try self.newBucket(self.threshold != 0);
        self.buckets[index].store(b, .release);
        return b;
    }

    pub fn insert(self: *HashRep, key: coding.Key, value: []const u8) InsertError!*Node {
        const index = self.bucketIndex(key.user_key);
        const b = try self.bucketFor(index);
        const node = try b.list.insert(key, value);
        self.counted(index, b);
        return node;
    }

    /// After a link into bucket `b`: a linked list past the threshold becomes a skiplist. When
    /// there is no memory for it, it stays a list (slower, still correct).
    fn counted(self: *HashRep, index: usize, b: *Bucket) void {
        b.count += 1;
        if (b.linked and b.count > self.threshold) self.convert(index, b) catch {};
    }

    /// Rebuilds bucket `old` as a skiplist of copies of its entries (RocksDB's HashLinkList
    /// does the same when a bucket outgrows `threshold_use_skiplist`) and publishes it. Readers
    /// inside the old list finish there: its nodes stay in the arena, in order.
    fn convert(self: *HashRep, index: usize, old: *Bucket) error{OutOfMemory}!void {
        std.debug.assert(old.linked);
        const fresh = try self.newBucket(false);
        var last: [skiplist.height_max]?*Node = @splat(null);
        var n = old.list.head.next(0);
        while (n) |x| : (n = x.next(0)) {
            _ = try skiplist.appendCopy(&fresh.list, x, skiplist.entrySize(x, self.protection_bytes), &last);
        }
        fresh.count = old.count;
        self.buckets[index].store(fresh, .release);
    }

    /// A node for `key` ready to link (its bucket exists afterwards): the allocation half of
    /// an insert, for batches that allocate everything before linking anything.
    pub fn prepare(self: *HashRep, key: coding.Key, value: []const u8) error{OutOfMemory}!SkipList.Unlinked {
        const b = try self.bucketFor(self.bucketIndex(key.user_key));
        return b.list.allocateUnlinked(key, value);
    }

    /// Links a prepared node. REQUIRES: no equal entry (checked before; `linkUnlinked` asserts
    /// it), its bucket made by `prepare`.
    pub fn link(self: *HashRep, u: SkipList.Unlinked) void {
        const index = self.bucketIndex(u.node.key().user_key);
        const bucket = self.buckets[index].load(.acquire);
        std.debug.assert(bucket != null); // made by `prepare`
        const b = bucket.?;
        b.list.linkUnlinked(u);
        self.counted(index, b);
    }

    /// The newest version of `user_key` with sequence number ≤ `snapshot`, or null: a search of
    /// the key's bucket alone.
    pub fn findNewest(self: *const HashRep, user_key: []const u8, snapshot: u64) ?*Node {
        const b = self.bucketOf(user_key) orelse return null;
        return skiplist.findNewest(&b.list, user_key, snapshot);
    }

    pub fn contains(self: *const HashRep, key: coding.Key) bool {
        const b = self.bucketOf(key.user_key) orelse return false;
        return b.list.contains(key);
    }

    /// Appends every entry's node (bucket by bucket, each in order) to `out`.
    pub fn collect(self: *const HashRep, gpa: std.mem.Allocator, out: *std.ArrayList(*Node)) error{OutOfMemory}!void {
        var i: usize = 0;
        while (i < self.bucket_count) : (i += 1) {
            const b = self.buckets[i].load(.acquire) orelse continue;
            var n = b.list.head.next(0);
            while (n) |x| : (n = x.next(0)) try out.append(gpa, x);
        }
    }

    /// A batch of inserts (see `rep.zig`): `check` looks each entry up in its bucket,
    /// `allocate` makes the missing buckets and the nodes, `link` links each into its bucket.
    pub const Batch = struct {
        rep: *HashRep,
        entries: []const coding.Entry,
        nodes: []SkipList.Unlinked,

        pub fn init(gpa: std.mem.Allocator, rep: *HashRep, entries: []const coding.Entry) error{OutOfMemory}!Batch {
            return .{ .rep = rep, .entries = entries, .nodes = try gpa.alloc(SkipList.Unlinked, entries.len) };
        }

        pub fn deinit(self: *Batch, gpa: std.mem.Allocator) void {
            gpa.free(self.nodes);
            self.* = undefined;
        }

        pub fn check(self: *Batch, failed: *usize) InsertError!void {
            for (self.entries, 0..) |e, i| {
                if (self.rep.contains(e.key)) {
                    failed.* = i;
                    return error.Duplicate;
                }
            }
        }

        pub fn allocate(self: *Batch) error{OutOfMemory}!void {
            for (self.entries, self.nodes) |e, *u| u.* = try self.rep.prepare(e.key, e.value);
        }

        pub fn link(self: *Batch) void {
            for (self.nodes) |u| self.rep.link(u);
        }
    };
};

const testing = std.testing;
const arena_mod = @import("../arena.zig");

fn testKey(buf: []u8, i: u32, seq: u64) coding.Key {
    const s = std.fmt.bufPrint(buf, "key{d:0>6}", .{i}) catch unreachable;
    return .{ .user_key = s, .trailer = coding.packTrailer(seq, 1) };
}

test "hash representations: buckets by prefix, duplicates, link lists become skiplists" {
    inline for (.{ rep_mod.Kind.hash_skiplist, rep_mod.Kind.hash_linklist }) |kind| {
        var arena = Arena.init(4096);
        defer arena.deinit();
        // Prefix "keyNN": 100 prefixes of 100 keys each, in 7 buckets (collisions on purpose).
        var rep: rep_mod.Rep = try .init(&arena, .{
            .options = .{ .kind = kind, .bucket_count = 7, .threshold = 16 },
            .extractor = .{ .kind = .fixed, .n = 5 },
            .seed = 1,
            .paranoid = true,
        });
        defer rep.deinit();
        var prng = std.Random.DefaultPrng.init(3);
        var present: [10000]bool = @splat(false);
        var i: usize = 0;
        while (i < 20000) : (i += 1) {
            const k = prng.random().uintLessThan(u32, 10000);
            var buf: [32]u8 = undefined;
            const key = testKey(&buf, k, 1);
            if (rep.insert(key, "v")) |_| {
                try testing.expect(!present[k]);
                present[k] = true;
            } else |err| {
                try testing.expectEqual(error.Duplicate, err);
                try testing.expect(present[k]);
            }
        }
        var count: usize = 0;
        for (present, 0..) |p, k| {
            var buf: [32]u8 = undefined;
            const key = testKey(&buf, @intCast(k), 1);
            try testing.expectEqual(p, rep.contains(key));
            if (p) {
                count += 1;
                try testing.expectEqual(@as(u64, 1), rep.findNewest(key.user_key, 5).?.key().sequence());
            }
        }
        // Every bucket is sorted, and link lists past the threshold became skiplists.
        const h = &@field(rep, @tagName(kind));
        var total: usize = 0;
        var b: usize = 0;
        while (b < h.bucket_count) : (b += 1) {
            const bucket = h.buckets[b].load(.acquire) orelse continue;
            total += try skiplist_test.expectSortedCount(&bucket.list);
            if (kind == .hash_linklist) try testing.expect(!bucket.linked);
        }
        try testing.expectEqual(count, total);
        const view = try rep.sortedCopy();
        defer arena_mod.freeSliceTracked(view);
        try testing.expectEqual(count, view.len);
        for (view[1..], 0..) |n, j| try testing.expectEqual(std.math.Order.lt, coding.compareKeys(view[j].key(), n.key()));
    }
}
