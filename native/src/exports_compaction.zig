//! The C ABI of the native compaction job (compaction.zig), under exports.zig's rules
//! (statuses, checked handles, holdings); imported by exports.zig.
//!
//! A job is made (`memtable_compaction_new`), given its snapshots, operator and input files
//! (run by run, newest first), then stepped: each `memtable_compaction_next` that answers 1
//! has an output ready (`memtable_compaction_output`, `memtable_compaction_read`) until the
//! next call; 0 means the job is done (`memtable_compaction_stats`).
const std = @import("std");
const limits = @import("limits.zig");
const holdings = @import("holdings.zig");
const compaction = @import("compaction.zig");
const reader = @import("sst_reader.zig");
const filter = @import("filter.zig");
const abi = @import("abi.zig");

const code = abi.code;
const put32 = abi.put32;
const put64 = abi.put64;
const tooSmall = abi.tooSmall;

fn asJob(h: ?*anyopaque) ?*compaction.Job {
    const p = h orelse return null;
    const j: *compaction.Job = @ptrCast(@alignCast(p));
    return if (j.magic == compaction.job_magic) j else null;
}

/// A compaction job: `block_size` bytes per data block (≥ 1), a restart every
/// `restart_interval` entries (≥ 1), outputs cut once they reach `target_file_size` bytes
/// (≥ 1, an integer below 2^53), `bottommost` 0 or 1. Null when out of memory or an argument
/// is out of range; `millibits_per_key` gives the outputs bloom filters as `memtable_sst_new`.
export fn memtable_compaction_new(block_size: u32, restart_interval: u32, target_file_size: f64, bottommost: u32, millibits_per_key: u32) ?*anyopaque {
    if (block_size == 0 or restart_interval == 0 or bottommost > 1) return null;
    if (millibits_per_key != 0 and (millibits_per_key < filter.millibits_per_key_min or
        millibits_per_key > filter.millibits_per_key_max)) return null;
    if (!(target_file_size >= 1) or target_file_size > 9007199254740991 or @floor(target_file_size) != target_file_size) return null;
    const j = compaction.Job.create(block_size, restart_interval, @intFromFloat(target_file_size), bottommost == 1, millibits_per_key) catch return null;
    holdings.hold(.compaction, j) catch {
        j.destroy();
        return null;
    };
    return j;
}

/// Adds `n` live snapshot sequence numbers, fixed64 LE at buf[0..8n].
export fn memtable_compaction_add_snapshots(h: ?*anyopaque, buf: [*]u8, cap: u32, n: u32) i32 {
    const j = asJob(h) orelse return code(.bad_handle);
    if (j.started or @as(u64, n) * 8 > cap) return code(.invalid_argument);
    // Every value checked and the room made first: a rejected call adds none of them.
    var i: usize = 0;
    while (i < n) : (i += 1) {
        if (std.mem.readInt(u64, buf[i * 8 ..][0..8], .little) > limits.sequence_max) return code(.invalid_argument);
    }
    j.snapshots.ensureUnusedCapacity(j.gpa, n) catch return code(.out_of_memory);
    i = 0;
    while (i < n) : (i += 1) j.snapshots.appendAssumeCapacity(std.mem.readInt(u64, buf[i * 8 ..][0..8], .little));
    return code(.ok);
}

/// Folds merge runs with the built-in operator `kind`, as `memtable_sst_set_merge_operator`.
export fn memtable_compaction_set_merge_operator(h: ?*anyopaque, kind: u32, buf: [*]u8, cap: u32, len: u32) i32 {
    const j = asJob(h) orelse return code(.bad_handle);
    if (j.started or len > cap) return code(.invalid_argument);
    j.setMergeOperator(@fromBackingInt(@intCast(kind)), buf[0..len]) catch |err| return switch (err) {
        error.OutOfMemory => code(.out_of_memory),
        error.Invalid => code(.invalid_argument),
    };
    return code(.ok);
}

/// Opens the input file whose UTF-8 path is buf[0..len] as the next file of the last run, or
/// (`new_run` 1) the first of a new one. Its footer, index, properties and range tombstones are
/// read and verified now; no descriptor stays open. `io_error` (the errno as fixed32 in buf),
/// `corruption`, or `invalid_argument` for a file this reader does not read (compressed blocks,
/// XXH3 checksums, delta-encoded or user-key index, an ingested file) or a started job.
export fn memtable_compaction_add_file(h: ?*anyopaque, new_run: u32, buf: [*]u8, cap: u32, len: u32) i32 {
    const j = asJob(h) orelse return code(.bad_handle);
    if (j.started or len > cap or cap < 4 or new_run > 1) return code(.invalid_argument);
    j.addTable(buf[0..len], new_run == 1) catch |err| return failed(buf, err);
    return code(.ok);
}

fn failed(buf: [*]u8, err: reader.Error) i32 {
    return switch (err) {
        error.OutOfMemory => code(.out_of_memory),
        error.Corruption => code(.corruption),
        error.Unsupported => code(.invalid_argument),
        error.Io => blk: {
            put32(buf, 0, reader.last_os_error);
            break :blk code(.io_error);
        },
    };
}

/// Runs the job to its next finished output: 1 when one is ready (until the next call), 0 when
/// the job is done, or a status (`io_error` with the errno as fixed32 in buf[0..4] when
/// `cap` ≥ 4, `corruption` for a damaged input); after a failure the job only frees.
export fn memtable_compaction_next(h: ?*anyopaque, buf: [*]u8, cap: u32) i32 {
    const j = asJob(h) orelse return code(.bad_handle);
    if (j.failed) return code(.invalid_argument);
    const more = j.step() catch |err| {
        j.failed = true;
        if (err == error.Io and cap < 4) return code(.io_error);
        return failed(buf, err);
    };
    return @intFromBool(more);
}

/// The ready output's figures, fixed64 LE: file size, smallest seq, largest seq, entries.
export fn memtable_compaction_output(h: ?*anyopaque, buf: [*]u8, cap: u32) i32 {
    const j = asJob(h) orelse return code(.bad_handle);
    const w = j.ready orelse return code(.invalid_argument);
    if (cap < 32) return tooSmall(buf, cap, 32);
    const s = w.b.stats;
    put64(buf, 0, w.bytes().len);
    put64(buf, 8, s.smallest_seq);
    put64(buf, 16, s.largest_seq);
    put64(buf, 24, w.entryCount());
    return 32;
}

/// Copies the ready output's bytes from `offset` into buf (as many as fit); returns the count.
export fn memtable_compaction_read(h: ?*anyopaque, buf: [*]u8, cap: u32, offset: f64) i32 {
    const j = asJob(h) orelse return code(.bad_handle);
    const w = j.ready orelse return code(.invalid_argument);
    const file = w.bytes();
    if (!(offset >= 0) or offset > @as(f64, @floatFromInt(file.len))) return code(.invalid_argument);
    const from: usize = @intFromFloat(offset);
    const n = @min(@as(usize, cap), file.len - from, @as(usize, std.math.maxInt(i32)));
    @memcpy(buf[0..n], file[from..][0..n]);
    return @intCast(n);
}

/// The job's figures, fixed64 LE: input entries (each version once), output entries.
export fn memtable_compaction_stats(h: ?*anyopaque, buf: [*]u8, cap: u32) i32 {
    const j = asJob(h) orelse return code(.bad_handle);
    if (cap < 16) return tooSmall(buf, cap, 16);
    put64(buf, 0, j.input_entries);
    put64(buf, 8, j.output_entries);
    return 16;
}

/// Frees the job (its inputs' memory and any output not read).
export fn memtable_compaction_free(h: ?*anyopaque) i32 {
    const j = asJob(h) orelse return code(.bad_handle);
    holdings.release(j);
    j.destroy();
    return code(.ok);
}

test "the compaction exports answer bad handles, bad arguments and calls out of order with statuses" {
    var buf: [64]u8 = @splat(0);
    try std.testing.expectEqual(code(.bad_handle), memtable_compaction_next(null, &buf, buf.len));
    try std.testing.expectEqual(code(.bad_handle), memtable_compaction_free(null));
    try std.testing.expect(memtable_compaction_new(0, 16, 1 << 20, 0, 0) == null);
    try std.testing.expect(memtable_compaction_new(4096, 16, 0.5, 0, 0) == null);
    try std.testing.expect(memtable_compaction_new(4096, 16, 1 << 20, 2, 0) == null);
    try std.testing.expect(memtable_compaction_new(4096, 16, 1 << 20, 0, 1) == null);
    const h = memtable_compaction_new(4096, 16, 1 << 20, 0, 0).?;
    defer _ = memtable_compaction_free(h);
    // A snapshot above the largest sequence number is refused, and the ones before it with it.
    std.mem.writeInt(u64, buf[0..8], 5, .little);
    std.mem.writeInt(u64, buf[8..16], limits.sequence_max + 1, .little);
    try std.testing.expectEqual(code(.invalid_argument), memtable_compaction_add_snapshots(h, &buf, buf.len, 2));
    try std.testing.expectEqual(@as(usize, 0), asJob(h).?.snapshots.items.len);
    try std.testing.expectEqual(code(.ok), memtable_compaction_add_snapshots(h, &buf, buf.len, 1));
    try std.testing.expectEqual(@as(usize, 1), asJob(h).?.snapshots.items.len);
    // No output is ready before a step; a missing file is an I/O error with its errno.
    try std.testing.expectEqual(code(.invalid_argument), memtable_compaction_output(h, &buf, buf.len));
    try std.testing.expectEqual(code(.invalid_argument), memtable_compaction_add_file(h, 1, &buf, buf.len, buf.len + 1));
    const missing = "/nonexistent/000001.sst";
    @memcpy(buf[0..missing.len], missing);
    try std.testing.expectEqual(code(.io_error), memtable_compaction_add_file(h, 1, &buf, buf.len, missing.len));
    try std.testing.expect(std.mem.readInt(u32, buf[0..4], .little) != 0);
    // No inputs: the job is done at once, with nothing written.
    try std.testing.expectEqual(@as(i32, 0), memtable_compaction_next(h, &buf, buf.len));
    try std.testing.expectEqual(@as(i32, 16), memtable_compaction_stats(h, &buf, buf.len));
    try std.testing.expectEqual(@as(u64, 0), std.mem.readInt(u64, buf[0..8], .little));
    try std.testing.expectEqual(code(.invalid_argument), memtable_compaction_add_snapshots(h, &buf, buf.len, 1));
}
