//! The C ABI for files: directory locks (file_lock.zig) and the write-ahead log (wal.zig),
//! under exports.zig's rules (statuses, checked handles, the scratch buffer, holdings); imported
//! by exports.zig, whose `memtable_add` the logged write calls.
const std = @import("std");
const limits = @import("limits.zig");
const holdings = @import("holdings.zig");
const file_lock = @import("file_lock.zig");
const wal_mod = @import("wal.zig");
const abi = @import("abi.zig");
const exports = @import("exports.zig");

const Status = limits.Status;
const code = abi.code;
const join = abi.join;
const put32 = abi.put32;
const asFileLock = abi.asFileLock;
const asWal = abi.asWal;
const memtable_add = exports.memtable_add;

// ---- files ---------------------------------------------------------------------------------

/// Locks the file whose UTF-8 path is buf[0..len] (created when missing) for this process:
/// a handle for `memtable_unlock_file`, or null with `fixed32 status ‖ fixed32 os_error` in
/// buf — `lock_held` when another holder has it (this process or another), `io_error` with the
/// errno (GetLastError on Windows) when the file cannot be opened or locked,
/// `invalid_argument` for an empty or too long path or one with a zero byte.
export fn memtable_lock_file(buf: [*]u8, cap: u32, len: u32) ?*anyopaque {
    if (cap < 8) return null;
    if (len == 0 or len > cap or len > file_lock.path_size_max or
        std.mem.indexOfScalar(u8, buf[0..len], 0) != null)
    {
        return lockFailed(buf, .invalid_argument, 0);
    }
    const l = file_lock.lock(buf[0..len]) catch |err| return switch (err) {
        error.Held => lockFailed(buf, .lock_held, 0),
        error.OutOfMemory => lockFailed(buf, .out_of_memory, 0),
        error.Io => lockFailed(buf, .io_error, file_lock.last_os_error),
    };
    holdings.hold(.file_lock, l) catch {
        l.unlock();
        return lockFailed(buf, .out_of_memory, 0);
    };
    return l;
}

fn lockFailed(buf: [*]u8, status: Status, os_error: u32) ?*anyopaque {
    put32(buf, 0, @bitCast(code(status)));
    put32(buf, 4, os_error);
    return null;
}

/// Releases a lock from `memtable_lock_file` (the file stays).
export fn memtable_unlock_file(h: ?*anyopaque) i32 {
    const l = asFileLock(h) orelse return code(.bad_handle);
    holdings.release(l);
    l.unlock();
    return code(.ok);
}

// ---- the write-ahead log ------------------------------------------------------------------

/// Creates (or empties) the log whose UTF-8 path is buf[0..len] and maps it for appending
/// (wal.zig): a handle, or null with `fixed32 status ‖ fixed32 os_error` in buf — `io_error`
/// with the errno when the file cannot be made (and on platforms other than Linux, with
/// os_error 0: the caller writes the log itself there), `invalid_argument` for an empty or
/// too long path or one with a zero byte.
export fn memtable_wal_open(buf: [*]u8, cap: u32, len: u32) ?*anyopaque {
    if (cap < 8) return null;
    if (len == 0 or len > cap or len > wal_mod.path_size_max or
        std.mem.indexOfScalar(u8, buf[0..len], 0) != null)
    {
        return lockFailed(buf, .invalid_argument, 0);
    }
    const w = wal_mod.open(buf[0..len]) catch |err| return switch (err) {
        error.OutOfMemory => lockFailed(buf, .out_of_memory, 0),
        error.Unsupported => lockFailed(buf, .io_error, 0),
        error.Io, error.Failed => lockFailed(buf, .io_error, wal_mod.last_os_error),
    };
    holdings.hold(.wal, w) catch {
        w.close() catch {};
        return lockFailed(buf, .out_of_memory, 0);
    };
    return w;
}

fn walStatus(err: wal_mod.Error) i32 {
    return code(if (err == error.OutOfMemory) .out_of_memory else .io_error);
}

/// A log failure after the memtable took the write: always `io_error` (ENOMEM when memory ran
/// out), so the caller can tell it from the add's own statuses.
fn loggedStatus(err: wal_mod.Error) i32 {
    if (err == error.OutOfMemory) wal_mod.last_os_error = @backingInt(std.posix.E.NOMEM);
    return code(.io_error);
}

/// Appends one record holding buf[0..len] (a WriteBatch). The log's size after it, or a
/// negative status: `io_error` (errno from `memtable_wal_os_error`; the log then takes no
/// more records), `out_of_memory`.
export fn memtable_wal_append(h: ?*anyopaque, buf: [*]const u8, cap: u32, len: u32) f64 {
    const w = asWal(h) orelse return @floatFromInt(code(.bad_handle));
    if (len > cap) return @floatFromInt(code(.invalid_argument));
    w.append(buf[0..len]) catch |err| return @floatFromInt(walStatus(err));
    return @floatFromInt(w.size);
}

/// `memtable_add`, then the write's record appended to the log `w` (one crossing per write).
/// `io_error` means the memtable holds the write and the log does not (errno from
/// `memtable_wal_os_error`); any other status, that nothing changed.
export fn memtable_add_logged(h: ?*anyopaque, wh: ?*anyopaque, buf: [*]u8, cap: u32, seq_hi: u32, seq_lo: u32, value_type: u32, klen: u32, vlen: u32) i32 {
    const w = asWal(wh) orelse return code(.bad_handle);
    const added = memtable_add(h, buf, cap, seq_hi, seq_lo, value_type, klen, vlen);
    if (added != code(.ok)) return added;
    const t: limits.ValueType = @fromBackingInt(@intCast(@as(u8, @intCast(value_type))));
    const value: ?[]const u8 = if (t == .deletion or t == .single_deletion) null else buf[klen..][0..vlen];
    w.appendSingle(join(seq_hi, seq_lo), @intCast(value_type), buf[0..klen], value) catch |err| return loggedStatus(err);
    return code(.ok);
}

/// The log's size in bytes, or a negative status.
export fn memtable_wal_size(h: ?*anyopaque) f64 {
    const w = asWal(h) orelse return @floatFromInt(code(.bad_handle));
    return @floatFromInt(w.size);
}

/// fdatasync: every record appended so far survives power loss. `io_error` (errno from
/// `memtable_wal_os_error`) when it fails.
export fn memtable_wal_sync(h: ?*anyopaque) i32 {
    const w = asWal(h) orelse return code(.bad_handle);
    w.sync() catch |err| return walStatus(err);
    return code(.ok);
}

/// Unmaps the log, truncates it to its records, closes it and frees the handle (also when the
/// truncation fails: then `io_error`, and the file keeps a zero tail).
export fn memtable_wal_close(h: ?*anyopaque) i32 {
    const w = asWal(h) orelse return code(.bad_handle);
    holdings.release(w);
    w.close() catch |err| return walStatus(err);
    return code(.ok);
}

/// The errno of the last failed log operation on this thread.
export fn memtable_wal_os_error() u32 {
    return wal_mod.last_os_error;
}

/// The soft limit on open files of this process (RLIMIT_NOFILE), or -1 when there is none or
/// it cannot be read here.
export fn memtable_open_files_limit() f64 {
    const n = file_lock.openFilesLimit() orelse return -1;
    return @floatFromInt(@min(n, 1 << 53));
}

/// Distinct native objects the calling thread holds handles to (memtables, iterators, …).
export fn memtable_thread_holdings() u32 {
    return @intCast(holdings.heldCount());
}
