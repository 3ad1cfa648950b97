//! Holdings: the native references that each thread's JavaScript holds through handles
//! (memtables, iterators, sequence allocators, native flushes and compactions, file locks), recorded per thread
//! so that a thread which ends while still holding some gives them back. A Worker that is
//! terminated (`Worker.terminate()`), or that exits with objects still open, runs no
//! JavaScript again: no `close()`, no finalizer. Its thread does end, though, and the
//! thread-exit hook releases what the thread's table still lists.
//!
//! Contract:
//! - Every export that hands a reference to JavaScript records it with `hold` (before
//!   returning the handle; a failed `hold` undoes the whole call), and every export that
//!   takes one back calls `release` first. A thread's table is touched by that thread only,
//!   and by its own exit hook, so it needs no lock.
//! - The exit hook is registered once per process: `pthread_key_create` where the process has
//!   POSIX threads (resolved weakly from the process's C library: this library links none),
//!   `FlsAlloc` on Windows. Before registering it, the library pins itself in memory
//!   (`RTLD_NODELETE` / `GET_MODULE_HANDLE_EX_FLAG_PIN`): a runtime that closes the library
//!   when a Worker ends must not leave the hook pointing at unmapped code. Where either step
//!   is unavailable, holdings are still recorded but nothing is released at thread exit (as
//!   before this module existed).
//! - The main thread's table is never released: the process ends with it.
//! - Bookkeeping memory is not counted in `arena.bytes_live` (it is not the user's data).
const std = @import("std");
const builtin = @import("builtin");
const arena_mod = @import("arena.zig");
const mt_mod = @import("memtable/memtable.zig");
const seq_mod = @import("sequence.zig");
const sst = @import("sst.zig");
const file_lock = @import("file_lock.zig");
const wal_mod = @import("wal.zig");
const compaction = @import("compaction.zig");

pub const Kind = enum(u8) { memtable, iterator, sequence_allocator, sst_builder, file_lock, wal, compaction };

const Held = struct { kind: Kind, count: u32 };

const Table = struct {
    map: std.AutoHashMapUnmanaged(usize, Held) = .empty,
};

const gpa = arena_mod.backing_allocator;

threadlocal var table: ?*Table = null;

/// Adds one reference of `object` to this thread's holdings.
pub fn hold(kind: Kind, object: *anyopaque) error{OutOfMemory}!void {
    try reserve();
    holdReserved(kind, object);
}

/// Makes room for one more `holdReserved` on this thread.
pub fn reserve() error{OutOfMemory}!void {
    const t = table orelse try newTable();
    try t.map.ensureUnusedCapacity(gpa, 1);
}

/// `hold` after a `reserve`: cannot fail.
pub fn holdReserved(kind: Kind, object: *anyopaque) void {
    const t = table.?;
    const entry = t.map.getOrPutAssumeCapacity(@intFromPtr(object));
    if (entry.found_existing) {
        std.debug.assert(entry.value_ptr.kind == kind);
        entry.value_ptr.count += 1;
    } else {
        entry.value_ptr.* = .{ .kind = kind, .count = 1 };
    }
}

/// Drops one reference of `object` from this thread's holdings (the caller releases the
/// reference itself). A reference this thread does not hold is left alone: it belongs to a
/// share token or to another thread.
pub fn release(object: *anyopaque) void {
    const t = table orelse return;
    const entry = t.map.getEntry(@intFromPtr(object)) orelse return;
    std.debug.assert(entry.value_ptr.count >= 1);
    entry.value_ptr.count -= 1;
    if (entry.value_ptr.count == 0) t.map.removeByPtr(entry.key_ptr);
}

/// Distinct objects this thread holds (for tests and diagnostics).
pub fn heldCount() usize {
    const t = table orelse return 0;
    return t.map.count();
}

fn newTable() error{OutOfMemory}!*Table {
    const t = try gpa.create(Table);
    t.* = .{};
    table = t;
    registerExitHook(t);
    return t;
}

/// Releases everything this thread's table lists and frees the table: what the thread-exit
/// hook runs (and what tests call in place of a thread exit).
pub fn releaseThread() void {
    const t = table orelse return;
    table = null;
    drain(t);
}

fn drain(t: *Table) void {
    var it = t.map.iterator();
    while (it.next()) |entry| {
        const object: *anyopaque = @ptrFromInt(entry.key_ptr.*);
        var n = entry.value_ptr.count;
        while (n > 0) : (n -= 1) releaseOne(entry.value_ptr.kind, object);
    }
    t.map.deinit(gpa);
    gpa.destroy(t);
}

fn releaseOne(kind: Kind, object: *anyopaque) void {
    switch (kind) {
        .memtable => _ = @as(*mt_mod.MemTable, @ptrCast(@alignCast(object))).unref(),
        .iterator => @as(*mt_mod.Iterator, @ptrCast(@alignCast(object))).destroy(),
        .sequence_allocator => _ = @as(*seq_mod.SequenceAllocator, @ptrCast(@alignCast(object))).unref(),
        .sst_builder => @as(*sst.SstBuilder, @ptrCast(@alignCast(object))).destroy(),
        .file_lock => @as(*file_lock.FileLock, @ptrCast(@alignCast(object))).unlock(),
        .wal => @as(*wal_mod.Wal, @ptrCast(@alignCast(object))).close() catch {},
        .compaction => @as(*compaction.Job, @ptrCast(@alignCast(object))).destroy(),
    }
}

// ---- the thread-exit hook ---------------------------------------------------------------------

/// 0: not set up, 1: being set up, 2: the hook is registered, 3: no hook on this platform.
var hook_state = std.atomic.Value(u32).init(0);

fn registerExitHook(t: *Table) void {
    if (hook_state.load(.acquire) < 2) setUpOnce();
    if (hook_state.load(.acquire) != 2) return;
    platform.setThreadValue(t);
}

fn setUpOnce() void {
    if (hook_state.cmpxchgStrong(0, 1, .acquire, .acquire)) |seen| {
        // Another thread is setting up: wait for its verdict (a few system calls).
        var s = seen;
        while (s == 1) : (s = hook_state.load(.acquire)) std.atomic.spinLoopHint();
        return;
    }
    const ok = platform.pinLibrary() and platform.createKey();
    hook_state.store(if (ok) 2 else 3, .release);
}

fn onThreadExit(value: ?*anyopaque) void {
    const t: *Table = @ptrCast(@alignCast(value orelse return));
    if (table == t) table = null;
    drain(t);
}

const platform = if (builtin.os.tag == .windows) windows else posix;

const posix = struct {
    const Destructor = *const fn (?*anyopaque) callconv(.c) void;
    const DlInfo = extern struct { fname: ?[*:0]const u8, fbase: ?*anyopaque, sname: ?[*:0]const u8, saddr: ?*anyopaque };
    /// Resolved when the library is loaded, from the process's C library (null if absent).
    /// A test binary links statically, without one: there they are null.
    fn weak(comptime T: type, comptime name: []const u8) ?T {
        if (builtin.is_test) return null;
        return @extern(?T, .{ .name = name, .linkage = .weak });
    }
    const key_create = weak(*const fn (*c_uint, ?Destructor) callconv(.c) c_int, "pthread_key_create");
    const set_specific = weak(*const fn (c_uint, ?*const anyopaque) callconv(.c) c_int, "pthread_setspecific");
    const dladdr = weak(*const fn (?*const anyopaque, *DlInfo) callconv(.c) c_int, "dladdr");
    const dlopen = weak(*const fn (?[*:0]const u8, c_int) callconv(.c) ?*anyopaque, "dlopen");

    const rtld_now: c_int = 2;
    const rtld_noload: c_int = if (builtin.os.tag.isDarwin()) 0x10 else 4;
    const rtld_nodelete: c_int = if (builtin.os.tag.isDarwin()) 0x80 else 0x1000;

    var key: c_uint = 0;

    fn destructor(value: ?*anyopaque) callconv(.c) void {
        onThreadExit(value);
    }

    /// Marks this library as never to be unloaded (dlopen of itself with RTLD_NODELETE).
    fn pinLibrary() bool {
        const da = dladdr orelse return false;
        const open = dlopen orelse return false;
        var info: DlInfo = undefined;
        if (da(@ptrCast(&destructor), &info) == 0) return false;
        const name = info.fname orelse return false;
        return open(name, rtld_now | rtld_noload | rtld_nodelete) != null;
    }

    fn createKey() bool {
        const create = key_create orelse return false;
        if (set_specific == null) return false;
        return create(&key, destructor) == 0;
    }

    fn setThreadValue(t: *Table) void {
        _ = set_specific.?(key, t);
    }
};

const windows = struct {
    const win = std.os.windows;
    const FlsCallback = *const fn (?*anyopaque) callconv(.winapi) void;
    extern "kernel32" fn FlsAlloc(callback: ?FlsCallback) callconv(.winapi) u32;
    extern "kernel32" fn FlsSetValue(index: u32, value: ?*anyopaque) callconv(.winapi) win.BOOL;
    extern "kernel32" fn GetModuleHandleExW(flags: u32, name: ?*const anyopaque, module: *?*anyopaque) callconv(.winapi) win.BOOL;

    const fls_out_of_indexes: u32 = 0xFFFF_FFFF;
    const flag_pin: u32 = 0x1;
    const flag_from_address: u32 = 0x4;

    var index: u32 = fls_out_of_indexes;

    fn callback(value: ?*anyopaque) callconv(.winapi) void {
        onThreadExit(value);
    }

    fn pinLibrary() bool {
        if (builtin.is_test) return false;
        var module: ?*anyopaque = null;
        return GetModuleHandleExW(flag_pin | flag_from_address, @ptrCast(&callback), &module) != .FALSE;
    }

    fn createKey() bool {
        index = FlsAlloc(callback);
        return index != fls_out_of_indexes;
    }

    fn setThreadValue(t: *Table) void {
        _ = FlsSetValue(index, t);
    }
};

test "holdings count references per object and release them all at thread end" {
    const live_before = arena_mod.bytes_live.load(.monotonic);
    const Worker = struct {
        fn run() !void {
            const mt = try mt_mod.MemTable.create(.{ .write_buffer_size = 1 << 20 });
            try hold(.memtable, mt);
            _ = mt.ref(); // a second handle to the same memtable in this thread
            try hold(.memtable, mt);
            const it = try mt_mod.Iterator.create(mt, 100, .{});
            try hold(.iterator, it);
            try std.testing.expectEqual(@as(usize, 2), heldCount());
            // One handle closed normally.
            release(mt);
            _ = mt.unref();
            try std.testing.expectEqual(@as(usize, 2), heldCount());
            // The thread ends with the rest open: what the exit hook does.
            releaseThread();
            try std.testing.expectEqual(@as(usize, 0), heldCount());
        }
    };
    var failed = false;
    const thread = try std.Thread.spawn(.{}, struct {
        fn f(out: *bool) void {
            Worker.run() catch {
                out.* = true;
            };
        }
    }.f, .{&failed});
    thread.join();
    try std.testing.expect(!failed);
    try std.testing.expectEqual(live_before, arena_mod.bytes_live.load(.monotonic));
}

test "release leaves alone references this thread does not hold" {
    var x: u64 = 0;
    release(&x);
    try std.testing.expectEqual(@as(usize, 0), heldCount());
}
