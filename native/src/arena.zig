//! Arena: block allocator owning every byte of one memtable (RocksDB's `Arena`).
//!
//! Contract:
//! - Memory is handed out from the current block, aligned allocations from its front and
//!   unaligned ones from its back. A request larger than a quarter block gets a block of its
//!   own so the current block's tail is not wasted (LevelDB/RocksDB rule).
//! - Nothing is freed individually; `deinit` returns every block at once.
//! - `allocatedBytes()` is the sum of all block sizes (headers included); `usage()` is that
//!   minus the unused tail of the current block (and, when concurrent, of every shard's chunk;
//!   a chunk's tail given up for a new chunk counts as used, as in RocksDB): both are exact,
//!   not estimates.
//! - Thread safety: one allocating thread at a time (a memtable's single writer), unless
//!   `makeConcurrent` was called before the first allocation: then any number of threads
//!   allocate at once (RocksDB's ConcurrentArena): small requests from a per-thread shard's
//!   chunk under the shard's spinlock, large ones and new chunks under the arena's; `usage` and
//!   `allocatedBytes` take the same locks. Readers never touch the bookkeeping, only memory
//!   already handed out, which stays valid and in place until `deinit`.
//!
//! Blocks come from `backing_allocator`; or, with `huge_page_size` set, each from an aligned
//! `mmap` advised for transparent huge pages and rounded up to them (RocksDB's rule); or, with
//! `thp_regions`, blocks of the block size are carved one after another from 64 MiB regions
//! so advised, their sizes unchanged (Linux; elsewhere, or when a mapping fails, the backing
//! allocator again). `bytes_live` counts every byte the library holds in any arena or handle,
//! so tests can prove that native memory returns to zero.
//!
//! References: every block has a number (from 1) in a registry that readers load without
//! locks, so an aligned address in the arena has a 32-bit-sized name, its block's number above
//! its offset (`refOf`, `atRef`): the point index stores those instead of 8-byte addresses.
const std = @import("std");
const builtin = @import("builtin");
const limits = @import("limits.zig");
const Registry = @import("block_registry.zig").Registry;

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
    // A pointer to an array would count its length twice (its child is the whole array).
    comptime std.debug.assert(@typeInfo(@TypeOf(s)).pointer.size == .slice);
    _ = bytes_live.fetchSub(@sizeOf(@typeInfo(@TypeOf(s)).pointer.child) * s.len, .monotonic);
    backing_allocator.free(s);
}

const BlockHeader = struct {
    next: ?*BlockHeader,
    size: usize,
    /// Mapped by `hugeBlock` (returned with munmap), not by the backing allocator.
    huge: bool = false,
    /// Carved from a `Region` (returned with it), not by the backing allocator.
    carved: bool = false,
};

/// A mapping that blocks are carved from one after another (`Arena.thp_regions`): 2 MiB-aligned
/// and advised for transparent huge pages, so that a block's pages are huge ones while its size
/// and every figure counted stay as without. Virtual until touched.
const Region = struct {
    next: ?*Region,
    mem: []align(std.heap.page_size_min) u8,
};
const region_size: usize = 64 << 20;
const thp_page: usize = 2 << 20;
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
    const rc = linux.mmap(null, span, .{ .READ = true, .WRITE = true }, .{ .TYPE = .PRIVATE, .ANONYMOUS = true, .NORESERVE = true }, -1, 0);
    if (linux.errno(rc) != .SUCCESS) return null;
    const start = rc;
    const aligned = std.mem.alignForward(usize, start, huge);
    if (aligned > start) _ = linux.munmap(@ptrFromInt(start), aligned - start);
    const tail = start + span - (aligned + size);
    if (tail > 0) _ = linux.munmap(@ptrFromInt(aligned + size), tail);
    _ = linux.madvise(@ptrFromInt(aligned), size, linux.MADV.HUGEPAGE);
    return @as([*]u8, @ptrFromInt(aligned))[0..size];
}

/// Asks for transparent huge pages over the 2 MiB-aligned part of `mem` (nothing elsewhere).
pub fn adviseHuge(mem: []u8) void {
    if (builtin.os.tag != .linux) return;
    const huge: usize = 2 << 20;
    const start = std.mem.alignForward(usize, @intFromPtr(mem.ptr), huge);
    const end = std.mem.alignBackward(usize, @intFromPtr(mem.ptr) + mem.len, huge);
    if (end <= start) return;
    _ = std.os.linux.madvise(@ptrFromInt(start), end - start, std.os.linux.MADV.HUGEPAGE);
}

fn unmapHuge(mem: []align(std.heap.page_size_min) u8) void {
    if (builtin.os.tag != .linux) unreachable;
    _ = std.os.linux.munmap(mem.ptr, mem.len);
}

/// A tiny spinlock for the few places that need mutual exclusion (a library entered through
/// FFI has no `std.Io` to lock with); held for a handful of instructions.
pub const SpinLock = struct {
    state: std.atomic.Value(u32) = .init(0),

    pub fn lock(self: *SpinLock) void {
        while (self.state.cmpxchgWeak(0, 1, .acquire, .monotonic) != null) std.atomic.spinLoopHint();
    }
    pub fn unlock(self: *SpinLock) void {
        self.state.store(0, .release);
    }
};

/// Shards of a concurrent arena (RocksDB's ConcurrentArena): each writer thread allocates small
/// requests from its own shard's chunk, so writers do not contend on one bump pointer.
pub const shard_count = 8;

const Shard = struct {
    lock: SpinLock = .{},
    ptr: usize = 0,
    remaining: usize = 0,
};

threadlocal var thread_shard: u32 = std.math.maxInt(u32);
var next_thread_shard = std.atomic.Value(u32).init(0);

fn myShard() u32 {
    if (thread_shard == std.math.maxInt(u32)) thread_shard = next_thread_shard.fetchAdd(1, .monotonic) % shard_count;
    return thread_shard;
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
    /// Set by `makeConcurrent`: allocations may come from any number of threads at once.
    shards: ?*[shard_count]Shard = null,
    lock: SpinLock = .{},
    /// Every block by number, for `refOf` and `atRef`; numbers start at 1.
    registry: std.atomic.Value(?*Registry) = .init(null),
    /// Blocks numbered so far: 1 to `numbered` are in `registry`.
    numbered: std.atomic.Value(usize) = .init(0),
    /// `refOffsetBits()`, fixed when the first block is made (the sizes are settled by then).
    ref_offset_bits: u6 = 0,
    /// Blocks of `block_size` are carved from `Region`s advised for transparent huge pages
    /// (Linux; elsewhere, or when a mapping fails, they come from the backing allocator). Set
    /// before the first allocation; `huge_page_size` takes precedence.
    thp_regions: bool = false,
    regions: ?*Region = null,
    /// The unused part of the newest region.
    region_ptr: usize = 0,
    region_end: usize = 0,

    pub fn init(block_size: usize) Arena {
        return .{ .block_size = optimizeBlockSize(block_size) };
    }

    /// Switches to concurrent allocation. REQUIRES: before any allocation is shared.
    pub fn makeConcurrent(self: *Arena) error{OutOfMemory}!void {
        std.debug.assert(self.blocks == null); // nothing allocated yet, so nothing shared
        std.debug.assert(self.shards == null);
        const shards = try allocTracked([shard_count]Shard);
        shards.* = @splat(.{});
        self.shards = shards;
    }

    /// Whether allocations may come from any number of threads at once (`makeConcurrent`).
    pub fn isConcurrent(self: *const Arena) bool {
        return self.shards != null;
    }

    /// The chunk a shard takes from the arena at a time (RocksDB: min(128 KiB, block / 8)).
    fn shardChunk(self: *const Arena) usize {
        return @min(128 * 1024, self.block_size / 8);
    }

    pub fn deinit(self: *Arena) void {
        var it = self.blocks;
        while (it) |h| {
            it = h.next;
            const mem: [*]align(block_alignment.toByteUnits()) u8 = @ptrCast(h);
            _ = bytes_live.fetchSub(h.size, .monotonic);
            if (h.carved) {
                // Returned with its region, below.
            } else if (h.huge) {
                unmapHuge(@alignCast(mem[0..h.size]));
            } else {
                backing_allocator.free(mem[0..h.size]);
            }
        }
        if (self.shards) |sh| destroyTracked(sh);
        var region = self.regions;
        while (region) |r| {
            region = r.next;
            unmapHuge(r.mem);
            destroyTracked(r);
        }
        var reg = self.registry.load(.monotonic);
        while (reg) |r| {
            reg = r.older;
            r.destroy();
        }
        self.* = .{ .block_size = self.block_size };
    }

    /// Bits a reference gives to the offset inside a block, counted in `limits.arena_alignment`
    /// units: enough for the largest block that holds more than one allocation (a block of its
    /// own holds one, at its start).
    pub fn refOffsetBits(self: *const Arena) u6 {
        const payload = if (self.huge_page_size != 0)
            std.mem.alignForward(usize, header_size + self.block_size, self.huge_page_size) - header_size
        else
            self.block_size;
        return @intCast(std.math.log2_int_ceil(usize, payload / limits.arena_alignment));
    }

    /// Blocks made so far (the largest block number).
    pub fn blockNumbers(self: *const Arena) usize {
        return self.numbered.load(.acquire);
    }

    /// A reference to the aligned address `p` inside this arena: its block's number above
    /// `refOffsetBits()` bits of offset, never 0; null when `p` is in no block (or too far into
    /// one of its own). Safe against concurrent allocation. `hint`: a block number to try first,
    /// set to the one found (a caller keeps it between calls: allocations are mostly from one
    /// block).
    pub fn refOf(self: *const Arena, p: usize, hint: *usize) ?u64 {
        std.debug.assert(std.mem.isAligned(p, limits.arena_alignment));
        const n = self.numbered.load(.acquire);
        const reg = self.registry.load(.acquire) orelse return null;
        const headers = reg.headers();
        if (hint.* >= 1 and hint.* <= n) {
            if (self.refIn(headers, hint.*, p)) |ref| return ref;
        }
        var id = n;
        while (id >= 1) : (id -= 1) {
            if (self.refIn(headers, id, p)) |ref| {
                hint.* = id;
                return ref;
            }
        }
        return null;
    }

    fn refIn(self: *const Arena, headers: [*]std.atomic.Value(usize), id: usize, p: usize) ?u64 {
        const at = headers[id].load(.monotonic);
        const h: *const BlockHeader = @ptrFromInt(at);
        const start = at + header_size;
        if (p < start or p >= at + h.size) return null;
        const offset = (p - start) / limits.arena_alignment;
        if (offset >> self.ref_offset_bits != 0) return null;
        return @as(u64, id) << self.ref_offset_bits | offset;
    }

    /// The address `ref` (a `refOf` answer) stands for. Lock-free.
    pub inline fn atRef(self: *const Arena, ref: u64) usize {
        const headers = self.registry.load(.acquire).?.headers();
        const id: usize = @intCast(ref >> self.ref_offset_bits);
        const offset: usize = @intCast(ref & ((@as(u64, 1) << self.ref_offset_bits) - 1));
        return headers[id].load(.monotonic) + header_size + offset * limits.arena_alignment;
    }

    /// Makes room in the registry for one more block. Under the exclusion of block creation.
    fn reserveNumber(self: *Arena) error{OutOfMemory}!void {
        const old = self.registry.load(.monotonic);
        const n = self.numbered.load(.monotonic);
        if (old) |o| if (n + 1 < o.cap) return;
        const r = try Registry.grown(old, n);
        // Readers that load the new count load this array or a later one (stored first).
        self.registry.store(r, .release);
    }

    pub fn allocatedBytes(self: *Arena) usize {
        if (self.shards == null) return @atomicLoad(usize, &self.allocated_bytes, .monotonic);
        self.lock.lock();
        defer self.lock.unlock();
        return self.allocated_bytes;
    }

    /// Allocated bytes minus the unused tail of the current block (and, when concurrent, of
    /// every shard's chunk). Exact when no allocation runs; with a single writer allocating
    /// meanwhile, the figure of an instant during it.
    pub fn usage(self: *Arena) usize {
        const sh = self.shards orelse {
            const allocated = @atomicLoad(usize, &self.allocated_bytes, .monotonic);
            const tail = @atomicLoad(usize, &self.unaligned_end, .monotonic) -% @atomicLoad(usize, &self.aligned_ptr, .monotonic);
            return allocated -| tail;
        };
        self.lock.lock();
        var unused = self.unaligned_end - self.aligned_ptr;
        for (sh) |*shard| {
            shard.lock.lock();
            unused += shard.remaining;
            shard.lock.unlock();
        }
        defer self.lock.unlock();
        return self.allocated_bytes - unused;
    }

    /// Returns `n` bytes aligned to `limits.arena_alignment`.
    pub fn allocateAligned(self: *Arena, n: usize) error{OutOfMemory}![*]u8 {
        std.debug.assert(n > 0);
        const p = if (self.shards) |sh| try self.allocateShared(sh, n) else try self.allocateAlignedSingle(n);
        std.debug.assert(std.mem.isAligned(@intFromPtr(p), limits.arena_alignment));
        return p;
    }

    /// A concurrent allocation: from this thread's shard, or under the arena lock when large.
    fn allocateShared(self: *Arena, shards: *[shard_count]Shard, n: usize) error{OutOfMemory}![*]u8 {
        const chunk = self.shardChunk();
        const need = std.mem.alignForward(usize, n, limits.arena_alignment);
        if (need > chunk / 4) {
            self.lock.lock();
            defer self.lock.unlock();
            return self.allocateAlignedSingle(n);
        }
        const shard = &shards[myShard()];
        shard.lock.lock();
        defer shard.lock.unlock();
        if (shard.remaining < need) {
            self.lock.lock();
            defer self.lock.unlock();
            // The old chunk's tail is given up: from now on it counts as used, as in RocksDB.
            const fresh = try self.allocateAlignedSingle(chunk);
            shard.ptr = @intFromPtr(fresh);
            shard.remaining = chunk;
        }
        const p = shard.ptr;
        shard.ptr += need;
        shard.remaining -= need;
        return @ptrFromInt(p);
    }

    fn allocateAlignedSingle(self: *Arena, n: usize) error{OutOfMemory}![*]u8 {
        const start = std.mem.alignForward(usize, self.aligned_ptr, limits.arena_alignment);
        if (self.aligned_ptr != 0 and start + n <= self.unaligned_end) {
            self.aligned_ptr = start + n;
            return @ptrFromInt(start);
        }
        return self.allocateFallback(n, true);
    }

    /// A zeroed, aligned table of `n` bytes (a hash table or filter, hit at random): its
    /// 2 MiB-aligned interior is marked for transparent huge pages where the OS allows (Linux,
    /// THP in `madvise` or `always` mode), which saves a TLB miss on most lookups.
    pub fn allocateTable(self: *Arena, n: usize) error{OutOfMemory}![*]u8 {
        const p = try self.allocateAligned(n);
        adviseHuge(p[0..n]);
        @memset(p[0..n], 0);
        return p;
    }

    /// Returns `n` bytes with no alignment guarantee.
    /// REQUIRES: one allocating thread (not for a concurrent arena).
    pub fn allocate(self: *Arena, n: usize) error{OutOfMemory}![*]u8 {
        std.debug.assert(n > 0);
        std.debug.assert(!self.isConcurrent());
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

    /// `size` bytes from the newest region, or a new one's; null when no region can be mapped
    /// (or off Linux). Its tail too short for a block is left untouched (never resident).
    fn carve(self: *Arena, size: usize) ?[]u8 {
        if (builtin.os.tag != .linux) return null;
        const need = std.mem.alignForward(usize, size, block_alignment.toByteUnits());
        if (self.region_end - self.region_ptr < need) {
            const span = @max(region_size, std.mem.alignForward(usize, need, thp_page));
            const record = allocTracked(Region) catch return null;
            const mem = hugeBlock(span, thp_page) orelse {
                destroyTracked(record);
                return null;
            };
            record.* = .{ .next = self.regions, .mem = @alignCast(mem) };
            self.regions = record;
            self.region_ptr = @intFromPtr(mem.ptr);
            self.region_end = self.region_ptr + mem.len;
        }
        const p = self.region_ptr;
        self.region_ptr += need;
        return @as([*]u8, @ptrFromInt(p))[0..size];
    }

    /// Allocates a block with room for `payload` bytes after its header; returns the payload.
    fn newBlock(self: *Arena, payload: usize) error{OutOfMemory}![]u8 {
        if (self.blocks == null) self.ref_offset_bits = self.refOffsetBits();
        try self.reserveNumber();
        var size = header_size + payload;
        var carved = false;
        const mem: []u8 = if (self.huge_page_size == 0 and self.thp_regions and payload == self.block_size) blk: {
            if (self.carve(size)) |m| {
                carved = true;
                break :blk m;
            }
            break :blk try backing_allocator.alignedAlloc(u8, block_alignment, size);
        } else if (self.huge_page_size != 0) blk: {
            size = std.mem.alignForward(usize, size, self.huge_page_size);
            break :blk hugeBlock(size, self.huge_page_size) orelse
                try backing_allocator.alignedAlloc(u8, block_alignment, size);
        } else try backing_allocator.alignedAlloc(u8, block_alignment, size);
        const h: *BlockHeader = @ptrCast(@alignCast(mem.ptr));
        h.* = .{
            .next = self.blocks,
            .size = size,
            .huge = !carved and self.huge_page_size != 0 and std.mem.isAligned(@intFromPtr(mem.ptr), self.huge_page_size),
            .carved = carved,
        };
        self.blocks = h;
        self.allocated_bytes += size;
        self.block_count += 1;
        const id = self.numbered.load(.monotonic) + 1;
        self.registry.load(.monotonic).?.headers()[id].store(@intFromPtr(h), .monotonic);
        self.numbered.store(id, .release);
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

test "a concurrent arena serves many threads with exact usage" {
    const live_before = bytes_live.load(.monotonic);
    var a = Arena.init(64 * 1024);
    try a.makeConcurrent();
    const Worker = struct {
        fn run(arena: *Arena, total: *std.atomic.Value(usize)) void {
            var i: usize = 0;
            var sum: usize = 0;
            while (i < 20_000) : (i += 1) {
                const n = 8 + (i * 7) % 120;
                const p = arena.allocateAligned(n) catch unreachable;
                @memset(p[0..n], 0xAB);
                sum += std.mem.alignForward(usize, n, limits.arena_alignment);
            }
            _ = total.fetchAdd(sum, .monotonic);
        }
    };
    var total = std.atomic.Value(usize).init(0);
    var threads: [4]std.Thread = undefined;
    for (&threads) |*t| t.* = try std.Thread.spawn(.{}, Worker.run, .{ &a, &total });
    for (threads) |t| t.join();
    // Usage covers every byte handed out, plus only what shards gave up with old chunks.
    const used = a.usage();
    try std.testing.expect(used >= total.load(.monotonic));
    try std.testing.expect(used - total.load(.monotonic) < a.allocatedBytes() / 4);
    try std.testing.expect(used <= a.allocatedBytes());
    a.deinit();
    try std.testing.expectEqual(live_before, bytes_live.load(.monotonic));
}

test "arena references: every aligned allocation has one, and it stands for its address" {
    const live_before = bytes_live.load(.monotonic);
    var a = Arena.init(4096);
    var hint: usize = 0;
    try std.testing.expectEqual(@as(?u64, null), a.refOf(8, &hint)); // no block yet
    try std.testing.expectEqual(@as(u6, 9), a.refOffsetBits()); // 4096 / 8 offsets
    var ptrs: [3000]usize = undefined;
    for (&ptrs, 0..) |*p, i| {
        // Some past a quarter block (a block of their own), most small: past the registry's
        // first growth (16 numbers).
        const n: usize = if (i % 500 == 7) 5000 else 8 + (i * 13) % 200;
        p.* = @intFromPtr(try a.allocateAligned(n));
    }
    try std.testing.expect(a.blockNumbers() > 16);
    try std.testing.expectEqual(a.block_count, a.blockNumbers());
    var seen = std.AutoHashMap(u64, void).init(std.testing.allocator);
    defer seen.deinit();
    for (ptrs) |p| {
        const ref = a.refOf(p, &hint).?;
        try std.testing.expect(ref != 0);
        try std.testing.expect(ref >> a.refOffsetBits() <= a.blockNumbers());
        try std.testing.expectEqual(p, a.atRef(ref));
        try std.testing.expect(!seen.contains(ref));
        try seen.put(ref, {});
        // Without a hint (or a wrong one) the same answer.
        var cold: usize = 0;
        try std.testing.expectEqual(ref, a.refOf(p, &cold).?);
    }
    // Outside every block: none.
    var stack_word: usize = 0;
    try std.testing.expectEqual(@as(?u64, null), a.refOf(@intFromPtr(&stack_word), &hint));
    a.deinit();
    try std.testing.expectEqual(live_before, bytes_live.load(.monotonic));
}

test "arena references: huge-page blocks and a concurrent arena's shards" {
    var huge = Arena.init(4096);
    defer huge.deinit();
    huge.huge_page_size = 2 << 20;
    // Offsets reach across the whole rounded block.
    try std.testing.expectEqual(@as(u6, 18), huge.refOffsetBits());
    const first = try huge.allocateAligned(100);
    const far = try huge.allocateAligned(1000);
    var hint: usize = 0;
    var i: usize = 0;
    while (i < 1500) : (i += 1) _ = try huge.allocateAligned(1000);
    const last = try huge.allocateAligned(8);
    for ([_]usize{ @intFromPtr(first), @intFromPtr(far), @intFromPtr(last) }) |p| {
        try std.testing.expectEqual(p, huge.atRef(huge.refOf(p, &hint).?));
    }

    var a = Arena.init(64 * 1024);
    defer a.deinit();
    try a.makeConcurrent();
    const Worker = struct {
        fn run(arena: *Arena, out: []usize, wrong: *std.atomic.Value(u32)) void {
            var h: usize = 0;
            for (out, 0..) |*p, j| {
                p.* = @intFromPtr(arena.allocateAligned(16 + j % 64) catch unreachable);
                // Blocks made by other threads meanwhile do not disturb it.
                const ref = arena.refOf(p.*, &h) orelse {
                    _ = wrong.fetchAdd(1, .monotonic);
                    continue;
                };
                if (arena.atRef(ref) != p.*) _ = wrong.fetchAdd(1, .monotonic);
            }
        }
    };
    var out: [4][5000]usize = undefined;
    var wrong = std.atomic.Value(u32).init(0);
    var threads: [4]std.Thread = undefined;
    for (&threads, &out) |*t, *o| t.* = try std.Thread.spawn(.{}, Worker.run, .{ &a, o, &wrong });
    for (threads) |t| t.join();
    try std.testing.expectEqual(@as(u32, 0), wrong.load(.monotonic));
    for (out) |o| for (o) |p| try std.testing.expectEqual(p, a.atRef(a.refOf(p, &hint).?));
}

test "arena blocks carved from huge-page regions count as blocks of their own" {
    const live_before = bytes_live.load(.monotonic);
    var plain = Arena.init(1 << 20);
    defer plain.deinit();
    var carved = Arena.init(1 << 20);
    carved.thp_regions = true;
    // 200 blocks (past three 64 MiB regions), a few allocations of their own among them.
    var hint: usize = 0;
    var i: usize = 0;
    while (i < 200 * 8) : (i += 1) {
        const n: usize = if (i % 97 == 3) 300 * 1024 else 128 * 1024 - 64;
        const a = try plain.allocateAligned(n);
        const b = try carved.allocateAligned(n);
        a[n - 1] = 1;
        b[n - 1] = 1;
        try std.testing.expectEqual(@intFromPtr(b), carved.atRef(carved.refOf(@intFromPtr(b), &hint).?));
        try std.testing.expectEqual(plain.usage(), carved.usage());
    }
    try std.testing.expectEqual(plain.allocatedBytes(), carved.allocatedBytes());
    try std.testing.expectEqual(plain.block_count, carved.block_count);
    if (builtin.os.tag == .linux) {
        var regions: usize = 0;
        var r = carved.regions;
        while (r) |x| : (r = x.next) {
            regions += 1;
            try std.testing.expect(std.mem.isAligned(@intFromPtr(x.mem.ptr), thp_page));
        }
        // 63 blocks of 1 MiB and a header fit a region of 64 MiB.
        try std.testing.expectEqual(@as(usize, 4), regions);
        // Blocks of the block size are carved; those of their own come from the allocator.
        var blocks_carved: usize = 0;
        var h = carved.blocks;
        while (h) |x| : (h = x.next) {
            try std.testing.expectEqual(x.size == header_size + carved.block_size, x.carved);
            blocks_carved += @intFromBool(x.carved);
        }
        try std.testing.expect(blocks_carved > 190 and blocks_carved < carved.block_count);
    }
    carved.deinit();
    // Blocks are counted as the backing allocator's would be, regions not at all.
    plain.deinit();
    try std.testing.expectEqual(live_before, bytes_live.load(.monotonic));
}
