//! FFI-free benchmark: the workload of `bench/memtable.bench.ts` driven from Zig against the
//! same code, so the TypeScript path can be compared with the native one.
//!
//!     zig build bench -Doptimize=fast && zig-out/bin/memtable-bench [entries] [seed] [huge]
//!
//! `huge` maps the arena with 2 MiB transparent huge pages (the `hugePageSize` option).
//!
//! Random 16-byte keys with 100-byte values: put, get in another random order, a full scan,
//! and 1000-entry range scans from random seeks; then memory per entry.
const std = @import("std");
const limits = @import("limits.zig");
const coding = @import("coding.zig");
const mt_mod = @import("memtable/memtable.zig");

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

    const mt = try mt_mod.MemTable.create(.{ .write_buffer_size = 2 << 30, .huge_page_size = if (huge) 2 << 20 else 0 });
    defer _ = mt.unref();

    var t0 = std.Io.Clock.Timestamp.now(io, .awake);
    for (keys, 0..) |*k, i| try mt.add(i + 1, .value, k, &value);
    var ns = t0.untilNow(io).raw.toNanoseconds();
    const put_ns = perOp(ns, n);
    try out.print("native put      {d:>8.1} ns/op  ({d} entries)\n", .{ perOp(ns, n), n });

    var found: usize = 0;
    t0 = std.Io.Clock.Timestamp.now(io, .awake);
    for (order) |i| {
        if (mt.findNewest(&keys[i], limits.sequence_max)) |node| {
            found += coding.decodeEntry(node.entry()).value.len;
        }
    }
    ns = t0.untilNow(io).raw.toNanoseconds();
    if (found != n * value_size) return error.LookupMissed;
    const get_ns = perOp(ns, n);
    try out.print("native get      {d:>8.1} ns/op\n", .{perOp(ns, n)});

    // Made as the FFI makes it: `create` takes the range-tombstone fragments that hide covered
    // entries (none here, so the scan sees every entry) and a reference on the memtable.
    const it = try mt_mod.Iterator.create(mt, limits.sequence_max, .{});
    defer it.destroy();
    var scanned: usize = 0;
    var checksum: u64 = 0;
    t0 = std.Io.Clock.Timestamp.now(io, .awake);
    try it.seekToFirst();
    while (it.valid()) : (it.next()) {
        checksum +%= coding.decodeEntry(it.node().entry()).value[0];
        scanned += 1;
    }
    ns = t0.untilNow(io).raw.toNanoseconds();
    if (scanned != n) return error.ScanMissed;
    const scan_ns = perOp(ns, n);
    try out.print("native scan     {d:>8.1} ns/entry\n", .{perOp(ns, n)});

    const seeks = @min(n, 1000);
    t0 = std.Io.Clock.Timestamp.now(io, .awake);
    var s: usize = 0;
    while (s < seeks) : (s += 1) {
        try it.seek(&keys[order[s]]);
        var c: usize = 0;
        while (c < range_scan_length and it.valid()) : (c += 1) {
            checksum +%= coding.decodeEntry(it.node().entry()).value[0];
            it.next();
        }
    }
    ns = t0.untilNow(io).raw.toNanoseconds();
    const range_us = perOp(ns, seeks) / 1000.0;
    try out.print("native range    {d:>8.1} µs/scan of {d}\n", .{ range_us, range_scan_length });

    const usage: f64 = @floatFromInt(mt.memoryUsage());
    const per_entry = usage / @as(f64, @floatFromInt(n));
    try out.print("native memory   {d:>8.1} bytes/entry ({d:.1} over key+value), arena {d} bytes allocated, checksum {d}\n", .{
        per_entry, per_entry - (key_size + value_size), mt.arena.allocatedBytes(), checksum % 10,
    });
    try out.print("{{\"runtime\":\"zig\",\"impl\":\"{s}\",\"n\":{d},\"putNsPerOp\":{d:.1},\"getNsPerOp\":{d:.1},\"scanNsPerEntry\":{d:.1},\"rangeUsPerScan\":{d:.1},\"nativeBytesPerEntry\":{d:.1}}}\n", .{
        if (huge) "memtable-huge" else "memtable", n, put_ns, get_ns, scan_ns, range_us, per_entry,
    });
    try out.flush();
}

fn perOp(ns: i96, n: usize) f64 {
    return @as(f64, @floatFromInt(ns)) / @as(f64, @floatFromInt(n));
}
