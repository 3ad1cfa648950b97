//! FFI-free benchmark: the workload of `bench/memtable.bench.ts` driven from Zig against the
//! same code, so the TypeScript path can be compared with the native one.
//!
//!     zig build bench -Doptimize=fast && zig-out/bin/memtable-bench [entries] [seed] [huge]
//!
//! `huge` maps the arena with 2 MiB transparent huge pages (the `hugePageSize` option).
//!
//! Under callgrind each phase is its own dump (`callgrind.out.<pid>.1` put, `.2` get, `.3` scan,
//! `.4` range, `.5` the scan in batches, `.6` range scans in one batch each, `.7` gets copied out
//! as `MemTable.get()` has them, `.8` the same keys in groups, as `multiGet` reads them), so
//! instructions and cache misses per operation are deterministic counts:
//!
//!     valgrind --tool=callgrind --cache-sim=yes --collect-atstart=no \
//!         zig-out/bin/memtable-bench 200000 42
//!
//! Random 16-byte keys with 100-byte values: put, get in another random order, a full scan,
//! and 1000-entry range scans from random seeks; gets again, each copied out as the FFI's
//! `memtable_get` does, and in groups as `memtable_multi_get` does; then memory per entry.
const std = @import("std");
const limits = @import("limits.zig");
const coding = @import("coding.zig");
const mt_mod = @import("memtable/memtable.zig");
const scan_mod = @import("memtable/scan.zig");
const lookup = @import("memtable/lookup.zig");
const callgrind = std.valgrind.callgrind;

const key_size = 16;
const value_size = 100;
const range_scan_length = 1000;

pub fn main(init: std.process.Init) !void {
    const io = init.io;
    const gpa = init.gpa;
    var args = try init.minimal.args.iterateAllocator(gpa);
    defer args.deinit();
    _ = args.next();
    const n = if (args.next()) |a| try std.fmt.parseInt(usize, a, 10) else 1_000_000;
    const seed = if (args.next()) |a| try std.fmt.parseInt(u64, a, 10) else 42;
    const huge = if (args.next()) |a| std.mem.eql(u8, a, "huge") else false;

    var prng = std.Random.DefaultPrng.init(seed);
    const rnd = prng.random();
    const keys = try gpa.alloc([key_size]u8, n);
    defer gpa.free(keys);
    for (keys) |*k| rnd.bytes(k);
    var value: [value_size]u8 = undefined;
    rnd.bytes(&value);
    const order = try gpa.alloc(u32, n);
    defer gpa.free(order);
    for (order, 0..) |*o, i| o.* = @intCast(i);
    rnd.shuffle(u32, order);

    var out_buf: [4096]u8 = undefined;
    var w = std.Io.File.stdout().writerStreaming(io, &out_buf);
    const out = &w.interface;

    // As `new MemTable()` makes it: the point index on.
    const mt = try mt_mod.MemTable.create(.{ .write_buffer_size = 2 << 30, .huge_page_size = if (huge) 2 << 20 else 0, .point_index = true });
    defer _ = mt.unref();
    const work: Workload = .{ .io = io, .mt = mt, .keys = keys, .order = order, .value = &value };

    const put_ns = try work.puts();
    try out.print("native put      {d:>8.1} ns/op  ({d} entries)\n", .{ put_ns, n });
    const get_ns = try work.gets();
    try out.print("native get      {d:>8.1} ns/op\n", .{get_ns});
    // Made as the FFI makes it: `create` takes the range-tombstone fragments that hide covered
    // entries (none here, so the scan sees every entry) and a reference on the memtable.
    const it = try mt_mod.Iterator.create(mt, limits.sequence_max, .{});
    defer it.destroy();
    var checksum: u64 = 0;
    const scan_ns = try work.scan(it, &checksum);
    try out.print("native scan     {d:>8.1} ns/entry\n", .{scan_ns});
    const range_us = try work.rangeScans(it, &checksum);
    try out.print("native range    {d:>8.1} µs/scan of {d}\n", .{ range_us, range_scan_length });
    const batch_ns = try work.batchScan(gpa, it, &checksum);
    try out.print("native batches  {d:>8.1} ns/entry (the scan in batches of 1024, as MemTable.scan() reads)\n", .{batch_ns});
    const range_batch_us = try work.rangeBatches(gpa, &checksum);
    try out.print("native range b. {d:>8.1} µs/scan of {d} (one batch after the seek, as scan({{ lowerBound, limit }}))\n", .{ range_batch_us, range_scan_length });

    const copied_ns = try work.copiedGets(gpa);
    try out.print("native get c.   {d:>8.1} ns/op (each value copied out, as MemTable.get() calls)\n", .{copied_ns});
    const group_ns = try work.groupGets(gpa);
    try out.print("native multiGet {d:>8.1} ns/key (groups of {d}, as MemTable.multiGet() calls)\n", .{ group_ns, lookup.group_max });

    const usage: f64 = @floatFromInt(mt.memoryUsage());
    const per_entry = usage / @as(f64, @floatFromInt(n));
    try out.print("native memory   {d:>8.1} bytes/entry ({d:.1} over key+value), arena {d} bytes allocated, checksum {d}\n", .{
        per_entry, per_entry - (key_size + value_size), mt.arena.allocatedBytes(), checksum % 10,
    });
    try out.print("{{\"runtime\":\"zig\",\"impl\":\"{s}\",\"n\":{d},\"putNsPerOp\":{d:.1},\"getNsPerOp\":{d:.1},\"scanNsPerEntry\":{d:.1},\"rangeUsPerScan\":{d:.1},\"scanBatchNsPerEntry\":{d:.1},\"rangeBatchUsPerScan\":{d:.1},\"getCopiedNsPerOp\":{d:.1},\"multiGetNsPerKey\":{d:.1},\"nativeBytesPerEntry\":{d:.1}}}\n", .{
        if (huge) "memtable-huge" else "memtable", n, put_ns, get_ns, scan_ns, range_us, batch_ns, range_batch_us, copied_ns, group_ns, per_entry,
    });
    try out.flush();
}

/// The phases, each timed on its own: puts in key order of generation, gets in another random
/// order, a full scan, and range scans from random seeks.
const Workload = struct {
    io: std.Io,
    mt: *mt_mod.MemTable,
    keys: []const [key_size]u8,
    order: []const u32,
    value: *const [value_size]u8,

    /// Starts a phase: the clock, and callgrind's counts from zero (collection on).
    fn start(self: Workload) std.Io.Clock.Timestamp {
        callgrind.zeroStats();
        callgrind.toggleCollect();
        return std.Io.Clock.Timestamp.now(self.io, .awake);
    }

    /// Ends a phase: the nanoseconds since `t0`, and callgrind's counts dumped (collection off).
    fn stop(self: Workload, t0: std.Io.Clock.Timestamp) i96 {
        const ns = t0.untilNow(self.io).raw.toNanoseconds();
        callgrind.toggleCollect();
        callgrind.dumpStats();
        return ns;
    }

    fn puts(self: Workload) !f64 {
        const t0 = self.start();
        for (self.keys, 0..) |*k, i| try self.mt.add(i + 1, .value, k, self.value);
        return perOp(self.stop(t0), self.keys.len);
    }

    fn gets(self: Workload) !f64 {
        var found: usize = 0;
        const t0 = self.start();
        for (self.order) |i| {
            if (self.mt.findNewest(&self.keys[i], limits.sequence_max)) |node| {
                found += coding.decodeEntry(node.entry()).value.len;
            }
        }
        const ns = self.stop(t0);
        if (found != self.keys.len * value_size) return error.LookupMissed;
        return perOp(ns, self.keys.len);
    }

    /// ns per get through `lookup.get`, the records copied into one buffer (`memtable_get`).
    fn copiedGets(self: Workload, gpa: std.mem.Allocator) !f64 {
        const buf = try gpa.alloc(u8, 4096);
        defer gpa.free(buf);
        var found: usize = 0;
        const t0 = self.start();
        for (self.order) |i| {
            switch (try lookup.get(self.mt, &self.keys[i], .{ .snapshot = limits.sequence_max }, buf)) {
                .records => |r| found += r,
                else => return error.LookupFailed,
            }
        }
        const ns = self.stop(t0);
        if (found != self.keys.len) return error.LookupMissed;
        return perOp(ns, self.keys.len);
    }

    /// ns per key through `lookup.getGroup`, `group_max` keys at a time (`memtable_multi_get`).
    fn groupGets(self: Workload, gpa: std.mem.Allocator) !f64 {
        const buf = try gpa.alloc(u8, 32 * 1024);
        defer gpa.free(buf);
        var answered: usize = 0;
        var group: [lookup.group_max][]const u8 = undefined;
        const t0 = self.start();
        var at: usize = 0;
        while (at < self.order.len) {
            const g = @min(self.order.len - at, lookup.group_max);
            for (group[0..g], self.order[at..][0..g]) |*k, i| k.* = &self.keys[i];
            switch (try lookup.getGroup(self.mt, group[0..g], .{ .snapshot = limits.sequence_max }, buf)) {
                .answered => |a| {
                    if (a.keys != g) return error.LookupFailed;
                    answered += a.keys;
                },
                .corrupt => return error.LookupFailed,
            }
            at += g;
        }
        const ns = self.stop(t0);
        if (answered != self.keys.len) return error.LookupMissed;
        return perOp(ns, self.keys.len);
    }

    fn scan(self: Workload, it: *mt_mod.Iterator, checksum: *u64) !f64 {
        var scanned: usize = 0;
        const t0 = self.start();
        try it.seekToFirst();
        while (it.valid()) : (it.next()) {
            checksum.* +%= coding.decodeEntry(it.node().entry()).value[0];
            scanned += 1;
        }
        const ns = self.stop(t0);
        if (scanned != self.keys.len) return error.ScanMissed;
        return perOp(ns, self.keys.len);
    }

    /// ns per entry of a full scan copied out in batches of 1024 (`scan.scanBatch`).
    fn batchScan(self: Workload, gpa: std.mem.Allocator, it: *mt_mod.Iterator, checksum: *u64) !f64 {
        const max = 1024;
        const buf = try gpa.alloc(u8, scan_mod.metaSize(max) + 128 * 1024);
        defer gpa.free(buf);
        var scanned: usize = 0;
        const t0 = self.start();
        try it.seekToFirst();
        while (true) {
            const n = switch (try scan_mod.scanBatch(it, buf, max, false)) {
                .entries => |n| n,
                else => return error.ScanFailed,
            };
            if (n == 0) break;
            checksum.* +%= buf[std.mem.readInt(u32, buf[12..16], .little)];
            scanned += n;
        }
        const ns = self.stop(t0);
        if (scanned != self.keys.len) return error.ScanMissed;
        return perOp(ns, self.keys.len);
    }

    /// µs per range scan made as `scan({ lowerBound, limit })` makes it: an iterator with the
    /// range, positioned and read in one batch of `range_scan_length`.
    fn rangeBatches(self: Workload, gpa: std.mem.Allocator, checksum: *u64) !f64 {
        const buf = try gpa.alloc(u8, scan_mod.metaSize(range_scan_length) + 128 * 1024);
        defer gpa.free(buf);
        const seeks = @min(self.keys.len, 1000);
        const t0 = self.start();
        for (self.order[0..seeks]) |i| {
            const it = try mt_mod.Iterator.create(self.mt, limits.sequence_max, .{});
            defer it.destroy();
            try it.setRange(&self.keys[i], null);
            try it.seekToFirst();
            switch (try scan_mod.scanBatch(it, buf, range_scan_length, false)) {
                .entries => |n| if (n > 0) {
                    checksum.* +%= buf[std.mem.readInt(u32, buf[12..16], .little)];
                },
                else => return error.ScanFailed,
            }
        }
        return perOp(self.stop(t0), seeks) / 1000.0;
    }

    /// µs per scan of `range_scan_length` entries from a seek to a random key.
    fn rangeScans(self: Workload, it: *mt_mod.Iterator, checksum: *u64) !f64 {
        const seeks = @min(self.keys.len, 1000);
        const t0 = self.start();
        for (self.order[0..seeks]) |i| {
            try it.seek(&self.keys[i]);
            var c: usize = 0;
            while (c < range_scan_length and it.valid()) : (c += 1) {
                checksum.* +%= coding.decodeEntry(it.node().entry()).value[0];
                it.next();
            }
        }
        return perOp(self.stop(t0), seeks) / 1000.0;
    }
};

fn perOp(ns: i96, n: usize) f64 {
    return @as(f64, @floatFromInt(ns)) / @as(f64, @floatFromInt(n));
}
