//! The memtable bloom filter (RocksDB's DynamicBloom): bits in the memtable's arena, every key's
//! probes inside one 64-byte cache line, so a lookup costs one cache miss at most. Adds may run
//! concurrently (atomic OR); lookups never lock.
const std = @import("std");
const Arena = @import("../arena.zig").Arena;

pub const probes = 6; // RocksDB's memtable bloom uses 6 hash functions
const words_per_block = 8; // 8 × 64 bits = one cache line

pub const Bloom = struct {
    words: [*]std.atomic.Value(u64),
    blocks: u32,

    /// A filter of about `bits` bits (rounded up to whole cache lines), zeroed, in `arena`.
    pub fn init(arena: *Arena, bits: u64) error{OutOfMemory}!Bloom {
        std.debug.assert(bits > 0);
        const blocks: u32 = @intCast(@max(1, @min((bits + 511) / 512, std.math.maxInt(u32))));
        const raw = try arena.allocateTable(@as(usize, blocks) * 64 + 64);
        // Align the bit array to a cache line inside the allocation.
        const aligned = std.mem.alignForward(usize, @intFromPtr(raw), 64);
        const words: [*]std.atomic.Value(u64) = @ptrFromInt(aligned);
        @memset(@as([*]u8, @ptrFromInt(aligned))[0 .. @as(usize, blocks) * 64], 0);
        return .{ .words = words, .blocks = blocks };
    }

    pub fn hash(key: []const u8) u64 {
        return std.hash.Wyhash.hash(0x626C6F6F6D, key);
    }

    inline fn block(self: Bloom, h: u64) [*]std.atomic.Value(u64) {
        const b: u64 = ((h >> 32) * self.blocks) >> 32; // fast range reduction
        return self.words + @as(usize, @intCast(b)) * words_per_block;
    }

    /// The probes of `key`: one word of its cache line and a bit in it, `probes` times.
    const Probes = struct {
        blk: [*]std.atomic.Value(u64),
        x: u32,
        left: u32 = probes,

        fn next(self: *Probes) ?struct { word: *std.atomic.Value(u64), mask: u64 } {
            if (self.left == 0) return null;
            self.left -= 1;
            const bit = self.x & 511;
            self.x = std.math.rotl(u32, self.x, 9) *% 0x9E3779B9;
            return .{ .word = &self.blk[bit >> 6], .mask = @as(u64, 1) << @intCast(bit & 63) };
        }
    };

    fn probesOf(self: Bloom, h: u64) Probes {
        return .{ .blk = self.block(h), .x = @truncate(h) };
    }

    pub fn add(self: Bloom, key: []const u8) void {
        self.addHash(hash(key));
    }

    pub fn mayContain(self: Bloom, key: []const u8) bool {
        return self.mayContainHash(hash(key));
    }

    /// `add` of a key whose `hash` is `h`.
    pub fn addHash(self: Bloom, h: u64) void {
        var p = self.probesOf(h);
        while (p.next()) |b| _ = b.word.fetchOr(b.mask, .monotonic);
    }

    /// `mayContain` of a key whose `hash` is `h`.
    pub fn mayContainHash(self: Bloom, h: u64) bool {
        var p = self.probesOf(h);
        while (p.next()) |b| {
            if (b.word.load(.monotonic) & b.mask == 0) return false;
        }
        return true;
    }

    /// Asks the cache for the line `h` probes (a lookup that will test it soon).
    pub fn prefetchHash(self: Bloom, h: u64) void {
        @prefetch(self.block(h), .{ .rw = .read, .locality = 3, .cache = .data });
    }
};

test "bloom: no false negatives, few false positives at 10 bits per key" {
    var arena = Arena.init(1 << 16);
    defer arena.deinit();
    const n = 10_000;
    const b = try Bloom.init(&arena, n * 10);
    var buf: [16]u8 = undefined;
    var i: u32 = 0;
    while (i < n) : (i += 1) b.add(std.fmt.bufPrint(&buf, "key{d}", .{i}) catch unreachable);
    i = 0;
    while (i < n) : (i += 1) try std.testing.expect(b.mayContain(std.fmt.bufPrint(&buf, "key{d}", .{i}) catch unreachable));
    var false_positives: u32 = 0;
    i = 0;
    while (i < n) : (i += 1) {
        if (b.mayContain(std.fmt.bufPrint(&buf, "other{d}", .{i}) catch unreachable)) false_positives += 1;
    }
    try std.testing.expect(false_positives < n / 50); // < 2%
}
