//! Arena: block allocator owning every byte of one memtable (RocksDB's `Arena`).
//!
//! Contract:
//! - Memory is handed out from the current block, aligned allocations from its front and
//!   unaligned ones from its back. A request larger than a quarter block gets a block of its
//!   own so the current block's tail is not wasted (LevelDB/RocksDB rule).
//! - Nothing is freed individually; `deinit` returns every block at once.
//! - `allocatedBytes()` is the sum of all block sizes (headers included); `usage()` is that
//!   minus the unused tail of the current block: both are exact, not estimates.
//! - Single-threaded: a memtable has one writer. Readers never touch the arena's bookkeeping,
//!   only memory it already handed out, which stays valid until `deinit`.
//!
//! Blocks come from `backing_allocator`; `bytes_live` counts every byte the library holds in
//! any arena or handle, so tests can prove that native memory returns to zero.
const std = @import("std");
const builtin = @import("builtin");
const limits = @import("limits.zig");

pub const backing_allocator = std.heap.smp_allocator;

/// All native bytes currently held by this library (arenas and handle objects).
pub var bytes_live = std.atomic.Value(usize).init(0);

pub fn allocTracked(comptime T: type) error{OutOfMemory}!*T {
    const p = try backing_allocator.create(T);
    _ = bytes_live.fetchAdd(@sizeOf(T), .monotonic);
    return p;
}

pub fn destroyTracked(p: anytype) void {
    _ = bytes_live.fetchSub(@sizeOf(@TypeOf(p.*)), .monotonic);
    backing_allocator.destroy(p);
}

pub fn allocSliceTracked(comptime T: type, n: usize) error{OutOfMemory}![]T {
    const s = try backing_allocator.alloc(T, n);
    _ = bytes_live.fetchAdd(@sizeOf(T) * n, .monotonic);
    return s;
}

pub fn freeSliceTracked(s: anytype) void {
    _ = bytes_live.fetchSub(@sizeOf(@typeInfo(@TypeOf(s)).pointer.child) * s.len, .monotonic);
    backing_allocator.free(s);
}

const BlockHeader = struct {
    next: ?*BlockHeader,
    size: usize,
    /// Mapped by `hugeBlock` (returned with munmap), not by the backing allocator.
    huge: bool = false,
};
const header_size = std.mem.alignForward(usize, @sizeOf(BlockHeader), limits.arena_alignment);
const block_alignment: std.mem.Alignment = .of(BlockHeader);

/// RocksDB's `OptimizeBlockSize`: clamp to [4 KiB, 1 GiB] and round up to the alignment.
pub fn optimizeBlockSize(requested: usize) usize {
    const clamped = std.math.clamp(requested, limits.arena_block_size_min, limits.arena_block_size_max);
    return std.mem.alignForward(usize, clamped, limits.arena_alignment);
}

/// RocksDB's default when `arena_block_size` is 0: an eighth of the write buffer, at most 1 MiB.
pub fn defaultBlockSize(write_buffer_size: usize) usize {
    return optimizeBlockSize(@min(write_buffer_size / 8, 1024 * 1024));
}

/// Maps `size` bytes aligned to `huge` and asks the kernel to back them with transparent huge
/// pages (fewer TLB misses on the skiplist's random walks). Null where that is not possible;
/// the caller then falls back to the backing allocator.
fn hugeBlock(size: usize, huge: usize) ?[]u8 {
    if (builtin.os.tag != .linux) return null;
    const linux = std.os.linux;
    const span = size + huge;
    const rc = linux.mmap(null, span, .{ .READ = true, .WRITE = true }, .{ .TYPE = .PRIVATE, .ANONYMOUS = true }, -1, 0);
    if (linux.errno(rc) != .SUCCESS) return null;
    const start = rc;
    const aligned = std.mem.alignForward(usize, start, huge);
    if (aligned > start) _ = linux.munmap(@ptrFromInt(start), aligned - start);
    const tail = start + span - (aligned + size);
    if (tail > 0) _ = linux.munmap(@ptrFromInt(aligned + size), tail);
    _ = linux.madvise(@ptrFromInt(aligned), size, linux.MADV.HUGEPAGE);
    return @as([*]u8, @ptrFromInt(aligned))[0..size];
}

fn unmapHuge(mem: []align(std.heap.page_size_min) u8) void {
    if (builtin.os.tag != .linux) unreachable;
    _ = std.os.linux.munmap(mem.ptr, mem.len);
}

pub const Arena = struct {
    block_size: usize,
    /// 0: blocks come from the backing allocator. Otherwise blocks are rounded up to a multiple
    /// of this size and mapped with transparent huge pages (RocksDB's memtable_huge_page_size).
    huge_page_size: usize = 0,
    blocks: ?*BlockHeader = null,
    /// Free region of the current block: aligned allocations advance `aligned_ptr`,
    /// unaligned ones retreat `unaligned_end`.
    aligned_ptr: usize = 0,
    unaligned_end: usize = 0,
    allocated_bytes: usize = 0,
    block_count: usize = 0,

    pub fn init(block_size: usize) Arena {
        return .{ .block_size = optimizeBlockSize(block_size) };
    }

    pub fn deinit(self: *Arena) void {
        var it = self.blocks;
        while (it) |h| {
            it = h.next;
            const mem: [*]align(block_alignment.toByteUnits()) u8 = @ptrCast(h);
            _ = bytes_live.fetchSub(h.size, .monotonic);
            if (h.huge) {
                unmapHuge(@alignCast(mem[0..h.size]));
            } else {
                backing_allocator.free(mem[0..h.size]);
            }
        }
        self.* = .{ .block_size = self.block_size };
    }

    pub fn allocatedBytes(self: *const Arena) usize {
        return self.allocated_bytes;
    }

    /// Allocated bytes minus the unused tail of the current block.
    pub fn usage(self: *const Arena) usize {
        return self.allocated_bytes - (self.unaligned_end - self.aligned_ptr);
    }

    /// Returns `n` bytes aligned to `limits.arena_alignment`.
    pub fn allocateAligned(self: *Arena, n: usize) error{OutOfMemory}![*]u8 {
        std.debug.assert(n > 0);
        const start = std.mem.alignForward(usize, self.aligned_ptr, limits.arena_alignment);
        if (self.aligned_ptr != 0 and start + n <= self.unaligned_end) {
            self.aligned_ptr = start + n;
            return @ptrFromInt(start);
        }
        return self.allocateFallback(n, true);
    }

    /// Returns `n` bytes with no alignment guarantee.
    pub fn allocate(self: *Arena, n: usize) error{OutOfMemory}![*]u8 {
        std.debug.assert(n > 0);
        if (self.aligned_ptr != 0 and n <= self.unaligned_end - self.aligned_ptr) {
            self.unaligned_end -= n;
            return @ptrFromInt(self.unaligned_end);
        }
        return self.allocateFallback(n, false);
    }

    fn allocateFallback(self: *Arena, n: usize, aligned: bool) error{OutOfMemory}![*]u8 {
        if (n > self.block_size / 4) {
            // Big request: its own block; the current block keeps serving small ones.
            const mem = try self.newBlock(n);
            return mem.ptr;
        }
        const mem = try self.newBlock(self.block_size);
        const begin = @intFromPtr(mem.ptr);
        self.aligned_ptr = begin;
        self.unaligned_end = begin + mem.len;
        if (aligned) {
            self.aligned_ptr += n;
            return mem.ptr;
        }
        self.unaligned_end -= n;
        return @ptrFromInt(self.unaligned_end);
    }

    /// Allocates a block with room for `payload` bytes after its header; returns the payload.
    fn newBlock(self: *Arena, payload: usize) error{OutOfMemory}![]u8 {
        var size = header_size + payload;
        const mem: []u8 = if (self.huge_page_size != 0) blk: {
            size = std.mem.alignForward(usize, size, self.huge_page_size);
            break :blk hugeBlock(size, self.huge_page_size) orelse
                try backing_allocator.alignedAlloc(u8, block_alignment, size);
        } else try backing_allocator.alignedAlloc(u8, block_alignment, size);
        const h: *BlockHeader = @ptrCast(@alignCast(mem.ptr));
        h.* = .{ .next = self.blocks, .size = size, .huge = self.huge_page_size != 0 and std.mem.isAligned(@intFromPtr(mem.ptr), self.huge_page_size) };
        self.blocks = h;
        self.allocated_bytes += size;
        self.block_count += 1;
        _ = bytes_live.fetchAdd(size, .monotonic);
        return mem[header_size..];
    }
};

test "arena clamps the block size like RocksDB" {
    try std.testing.expectEqual(limits.arena_block_size_min, optimizeBlockSize(1));
    try std.testing.expectEqual(limits.arena_block_size_max, optimizeBlockSize(1 << 40));
    try std.testing.expectEqual(@as(usize, 8 * 1024), optimizeBlockSize(8 * 1024 - 3));
    try std.testing.expectEqual(@as(usize, 1024 * 1024), defaultBlockSize(64 << 20));
    try std.testing.expectEqual(@as(usize, 512 * 1024), defaultBlockSize(4 << 20));
}

test "arena usage is exact and big allocations get their own block" {
    const live_before = bytes_live.load(.monotonic);
    var a = Arena.init(4096);
    try std.testing.expectEqual(@as(usize, 0), a.allocatedBytes());
    const p = try a.allocateAligned(10);
    try std.testing.expectEqual(@as(usize, 0), @intFromPtr(p) % limits.arena_alignment);
    try std.testing.expectEqual(header_size + 4096, a.allocatedBytes());
    try std.testing.expectEqual(header_size + 10, a.usage());
    const q = try a.allocateAligned(3);
    try std.testing.expectEqual(@intFromPtr(p) + 16, @intFromPtr(q));
    try std.testing.expectEqual(header_size + 19, a.usage());
    _ = try a.allocate(5);
    try std.testing.expectEqual(header_size + 24, a.usage());
    // Fits the current block: served from it even though it is over a quarter block.
    const big = try a.allocateAligned(2000);
    try std.testing.expectEqual(@intFromPtr(q) + 8, @intFromPtr(big));
    try std.testing.expectEqual(header_size + 4096, a.allocatedBytes());
    // Does not fit and is over a quarter block: its own block; the tail stays usable.
    _ = try a.allocateAligned(2500);
    try std.testing.expectEqual(2 * header_size + 4096 + 2500, a.allocatedBytes());
    // Used: 19 bytes, 5 of padding to realign, 2000, and 5 unaligned bytes at the back.
    try std.testing.expectEqual(2 * header_size + 19 + 5 + 2000 + 5 + 2500, a.usage());
    const r = try a.allocateAligned(8);
    try std.testing.expectEqual(@intFromPtr(big) + 2000, @intFromPtr(r));
    try std.testing.expectEqual(@as(usize, 2), a.block_count);
    a.deinit();
    try std.testing.expectEqual(live_before, bytes_live.load(.monotonic));
}

test "arena with huge pages rounds blocks up and frees them" {
    const live_before = bytes_live.load(.monotonic);
    var a = Arena.init(4096);
    a.huge_page_size = 2 << 20;
    const p = try a.allocateAligned(100);
    p[99] = 1;
    try std.testing.expectEqual(@as(usize, 2 << 20), a.allocatedBytes());
    try std.testing.expectEqual(header_size + 100, a.usage());
    _ = try a.allocateAligned(3 << 20); // own block, rounded up to two huge pages
    try std.testing.expectEqual(@as(usize, 6 << 20), a.allocatedBytes());
    a.deinit();
    try std.testing.expectEqual(live_before, bytes_live.load(.monotonic));
}

test "arena opens a new block when the current one is full" {
    var a = Arena.init(4096);
    defer a.deinit();
    var i: usize = 0;
    while (i < 5) : (i += 1) _ = try a.allocateAligned(1000);
    try std.testing.expectEqual(@as(usize, 2), a.block_count);
    // 4 allocations fit the first block; its 96-byte tail is wasted and counted.
    try std.testing.expectEqual(2 * (header_size + 4096), a.allocatedBytes());
    try std.testing.expectEqual(header_size + 4096 + header_size + 1000, a.usage());
}
