//! Builds the memtable native library (`zig-out/lib/libmemtable.{so,dylib}` / `memtable.dll`),
//! its unit tests (`zig build test`) and the FFI-free benchmark (`zig build bench`).
//!
//! The Zig version is pinned in one place, `scripts/zig_version`, and installed from PyPI's
//! `ziglang` package by `scripts/setup.sh`; this file refuses any other version so a build
//! never silently changes compiler.
const std = @import("std");
const builtin = @import("builtin");

const zig_version_pinned = "0.17.1";

pub fn build(b: *std.Build) void {
    comptime {
        if (!std.mem.eql(u8, builtin.zig_version_string, zig_version_pinned)) {
            @compileError("memtable is built with Zig " ++ zig_version_pinned ++
                ", this is " ++ builtin.zig_version_string ++ " (run scripts/setup.sh)");
        }
    }
    const target = b.standardTargetOptions(.{});
    const optimize = b.standardOptimizeOption(.{});

    // Benchmark-only exports (in-process native loops that bench/boundary.ts compares the
    // TypeScript path with); never in a published build.
    const bench_exports = b.option(bool, "bench-exports", "add the benchmark-only exports") orelse false;
    const options = b.addOptions();
    options.addOption(bool, "bench_exports", bench_exports);

    const mod = b.createModule(.{
        .root_source_file = b.path("src/exports.zig"),
        .target = target,
        .optimize = optimize,
        .strip = optimize == .fast and !(b.option(bool, "symbols", "keep symbols in a ReleaseFast library (profiling)") orelse false),
    });
    mod.addOptions("build_options", options);
    const lib = b.addLibrary(.{ .name = "memtable", .linkage = .dynamic, .root_module = mod });
    b.installArtifact(lib);

    const test_mod = b.createModule(.{
        .root_source_file = b.path("src/tests.zig"),
        .target = target,
        .optimize = optimize,
    });
    test_mod.addOptions("build_options", options);
    const run_tests = b.addRunArtifact(b.addTest(.{ .root_module = test_mod }));
    run_tests.has_side_effects = true; // run (and count) the tests every time, not from cache
    b.step("test", "run the native unit tests").dependOn(&run_tests.step);

    const bench_mod = b.createModule(.{
        .root_source_file = b.path("src/bench.zig"),
        .target = target,
        .optimize = optimize,
        // Callgrind client requests (a no-op off valgrind): the bench dumps counts per phase.
        .valgrind = true,
    });
    const bench_exe = b.addExecutable(.{ .name = "memtable-bench", .root_module = bench_mod });
    const install_bench = b.addInstallArtifact(bench_exe, .{});
    b.step("bench", "build the FFI-free native benchmark (zig-out/bin/memtable-bench)").dependOn(&install_bench.step);
}
