/**
 * The command line (cli.ts) as a user runs it, a subprocess on the runtime the test runs on
 * (`bun cli.ts …`, `deno run --allow-read --allow-ffi --allow-env cli.ts …`): dump, props and
 * verify of SST files RocksDB wrote and this library wrote, against `sst_dump`; a damaged copy
 * fails verify with exit code 2 naming the block; a store directory with table files and
 * unflushed log writes lists, verifies and reads as `ldb scan` reads it, unchanged by the reads
 * and while a store holds it; usage errors exit 1 with one message and no stack trace.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { Store, stringAppend } from "../mod.ts";
import { SstFileWriter } from "../table.ts";
import { exitCode } from "../src/cli/main.ts";
import { readConsistently } from "../src/cli/database_view.ts";
import { dbBenchFill } from "./helpers.ts";
// The entry point itself, for the type check (importing it runs nothing: it runs as the main
// module only).
import "../cli.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const cliPath = `${root}cli.ts`;
const fixtures = `${root}tests/fixtures/sst`;
const isDeno = "Deno" in globalThis;

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function spawn(command: string, args: string[]): Run {
  const r = spawnSync(command, args, {
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1" } as Record<string, string>,
    maxBuffer: 1 << 28,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * For the tests that start the command line many times: each start costs 50–250 ms, more with
 * the safety-checked library while the other lane's suite runs, so the runner's 5 s default is
 * no measure of them (the first test of this file met it at 5.0 s in a run where it took 2.0 s
 * in the other lane).
 */
const spawning = { timeout: 120_000 };

/** Runs the command line with `args` on this runtime. */
function cli(...args: string[]): Run {
  return isDeno
    ? spawn(process.execPath, [
      "run",
      "--allow-read",
      "--allow-ffi",
      "--allow-env",
      cliPath,
      ...args,
    ])
    : spawn(process.execPath, [cliPath, ...args]);
}

/** Runs the command line; it must exit `status`. */
function expect(status: number, ...args: string[]): Run {
  const r = cli(...args);
  assert.equal(r.status, status, `memtable ${args.join(" ")}:\n${r.stdout}\n${r.stderr}`);
  return r;
}

const noStack = (r: Run) =>
  assert.doesNotMatch(r.stderr, /^\s+at /m, `no stack trace:\n${r.stderr}`);

/** `sst_dump --command=scan --output_hex` of `file`: `[hexKey, seq, type, hexValue]`. */
function sstDump(file: string): [string, number, number, string][] {
  const r = spawn("sst_dump", [`--file=${file}`, "--command=scan", "--output_hex"]);
  assert.equal(r.status, 0, r.stderr);
  return [...r.stdout.matchAll(/^'([0-9A-F]*)' seq:(\d+), type:(\d+) => ([0-9A-F]*)$/gm)].map(
    (m) => [m[1]!, Number(m[2]), Number(m[3]), m[4]!],
  );
}

const typeCodes: Record<string, number> = {
  Deletion: 0,
  Value: 1,
  Merge: 2,
  SingleDeletion: 7,
  RangeDeletion: 15,
};

/** `memtable dump --hex` of `file`, point entries as `sstDump` gives them. */
function dumpHex(file: string): [string, number, number, string][] {
  const out = expect(exitCode.ok, "dump", "--hex", file).stdout;
  return [...out.matchAll(/^0x([0-9A-F]*) seq:(\d+), type:(\w+)(?: => 0x([0-9A-F]*))?$/gm)]
    .filter((m) => m[3] !== "RangeDeletion")
    .map((m) => [m[1]!, Number(m[2]), typeCodes[m[3]!]!, m[4] ?? ""]);
}

test(
  "memtable --help, help COMMAND and COMMAND --help exit 0 and document the commands and exit codes",
  spawning,
  () => {
    const help = expect(exitCode.ok, "--help").stdout;
    for (const c of ["dump", "props", "verify", "ls", "get", "scan"]) {
      assert.match(help, new RegExp(`^  ${c} `, "m"), `--help lists ${c}`);
      const own = expect(exitCode.ok, c, "--help").stdout;
      assert.match(own, new RegExp(`^Usage: memtable ${c} `, "m"));
      assert.match(own, /^Exit codes:/m);
      assert.equal(expect(exitCode.ok, "help", c).stdout, own);
    }
    assert.match(help, /^ {2}2 {2}a data problem/m);
    assert.equal(expect(exitCode.ok, "help").stdout, help);
  },
);

test(
  "memtable usage errors exit 1 with one message naming the command, no stack trace",
  spawning,
  () => {
    const legacy = mkdtempSync(join(tmpdir(), "memtable-cli-"));
    writeFileSync(join(legacy, "MANIFEST.json"), "{}");
    const cases: [string[], RegExp][] = [
      [[], /^Usage: memtable <command>/m],
      [["bogus"], /^memtable: unknown command "bogus"/],
      [["dump"], /^memtable dump: missing FILE\nRun "memtable dump --help" for usage\.$/m],
      [["dump", "a.sst", "b.sst"], /^memtable dump: unexpected argument "b\.sst"/],
      [["dump", "--colour", "a.sst"], /^memtable dump: unknown option --colour/],
      [["dump", "--limit", "x", "a.sst"], /^memtable dump: --limit must be a non-negative integer/],
      [["dump", "--from"], /^memtable dump: option --from needs a value/],
      [["dump", "--hex", "--from", "zz", "a.sst"], /^memtable dump: --from "zz" is not hex/],
      [
        ["props", `${root}tests/fixtures/nonexistent.sst`],
        /^memtable props: cannot read .*nonexistent\.sst: no such file/,
      ],
      [["dump", fixtures], /^memtable dump: .* is a directory; dump reads an SST file/],
      [["ls", fixtures], /^memtable ls: .* is not a database directory: it has no CURRENT file/],
      [["help", "bogus"], /^memtable: unknown command "bogus"/],
      [
        ["scan", legacy],
        /^memtable scan: .* is not a database directory: it is a store of this library's earlier format \(MANIFEST\.json\): Store\.open\(\) converts it/,
      ],
    ];
    try {
      for (const [args, message] of cases) {
        const r = expect(exitCode.usage, ...args);
        assert.match(r.stderr, message, `memtable ${args.join(" ")}`);
        noStack(r);
      }
    } finally {
      rmSync(legacy, { recursive: true, force: true });
    }
  },
);

test(
  "memtable dump, props and verify of RocksDB's SST files read what sst_dump reads",
  spawning,
  () => {
    for (const name of ["g1_tiny_crc32c_fv5", "g2_mixed_crc32c_fv5", "g4_multiblock_crc32c_fv5"]) {
      const file = `${fixtures}/${name}.sst`;
      const want = sstDump(file);
      assert.ok(want.length > 0);
      assert.deepEqual(dumpHex(file), want, name);
      // The JSON lines hold the range tombstones too, as the fixture's expectations list them.
      const expected = readFileSync(`${fixtures}/${name}.expected.jsonl`, "utf8").trim().split("\n")
        .map((l) => JSON.parse(l));
      const names: Record<string, string> = {
        put: "Value",
        delete: "Deletion",
        merge: "Merge",
        single_delete: "SingleDeletion",
        range_delete: "RangeDeletion",
      };
      const json = expect(exitCode.ok, "dump", "--json", file).stdout.trim().split("\n").map((l) =>
        JSON.parse(l)
      );
      assert.deepEqual(json, expected.map((e) => ({ ...e, type: names[e.type] })), name);
      const props = JSON.parse(expect(exitCode.ok, "props", "--json", file).stdout);
      const sst = spawn("sst_dump", [`--file=${file}`, "--show_properties", "--command=none"]);
      assert.equal(props.numEntries, Number(/# entries: (\d+)/.exec(sst.stdout)![1]));
      assert.equal(props.numDataBlocks, Number(/# data blocks: (\d+)/.exec(sst.stdout)![1]));
      assert.equal(props.comparator, "leveldb.BytewiseComparator");
      assert.match(expect(exitCode.ok, "props", file).stdout, /^data blocks +\d+, \d+ bytes$/m);
      assert.match(
        expect(exitCode.ok, "verify", file).stdout,
        new RegExp(`: ok, ${want.length} entries, every block's checksum matches`),
      );
    }
    const multi = `${fixtures}/g4_multiblock_crc32c_fv5.sst`;
    const all = dumpHex(multi);
    const from = all[10]![0];
    const to = all[20]![0];
    assert.deepEqual(
      dumpHex(multi).slice(10, 15),
      [
        ...expect(exitCode.ok, "dump", "--hex", "--from", from, "--to", to, "--limit", "5", multi)
          .stdout
          .matchAll(/^0x([0-9A-F]*) seq:(\d+), type:(\w+) => 0x([0-9A-F]*)$/gm),
      ]
        .map((m) => [m[1]!, Number(m[2]), typeCodes[m[3]!]!, m[4]!]),
    );
    const text = expect(
      0,
      "dump",
      "--from",
      "k05",
      "--to",
      "k06",
      `${fixtures}/g2_mixed_crc32c_fv5.sst`,
    );
    assert.equal(text.stdout, "'k05' seq:0, type:Value => 'bin\\x00\\xFF'\n");
  },
);

test(
  "memtable dump and verify of an SST file the library writes; a damaged copy fails verify with exit code 2 naming the block",
  spawning,
  () => {
    const dir = mkdtempSync(join(tmpdir(), "memtable-cli-"));
    try {
      const file = join(dir, "bulk.sst");
      const w = new SstFileWriter(file, { blockSize: 256 });
      for (let i = 0; i < 500; i++) w.put(`key${String(i).padStart(4, "0")}`, `value ${i} \\ 'q'`);
      w.finish();
      const out = expect(exitCode.ok, "dump", "--limit", "2", file).stdout;
      assert.equal(
        out,
        "'key0000' seq:0, type:Value => 'value 0 \\\\ \\'q\\''\n" +
          "'key0001' seq:0, type:Value => 'value 1 \\\\ \\'q\\''\n",
      );
      assert.deepEqual(dumpHex(file), sstDump(file));
      assert.match(expect(exitCode.ok, "verify", file).stdout, /ok, 500 entries/);
      const bytes = new Uint8Array(readFileSync(file));
      bytes[Math.floor(bytes.length / 3)]! ^= 0x40; // inside a data block past the first
      const damaged = join(dir, "damaged.sst");
      writeFileSync(damaged, bytes);
      const r = expect(exitCode.data, "verify", damaged);
      assert.match(
        r.stderr,
        /^memtable verify: corruption: .*damaged\.sst: data block [1-9]\d* at offset \d+: checksum mismatch\n$/,
      );
      noStack(r);
      const d = expect(exitCode.data, "dump", damaged);
      assert.match(d.stderr, /checksum mismatch/);
      assert.ok(d.stdout.startsWith("'key0000'"), "the entries before the damaged block are shown");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

/** Every file of `dir` with its bytes' hash: what a read must leave as it was. */
function fingerprint(dir: string): string[] {
  return readdirSync(dir).sort().map((f) =>
    `${f} ${createHash("sha256").update(readFileSync(join(dir, f))).digest("hex")}`
  );
}

/** `ldb scan --hex` of a copy of `dir` (ldb opens it for writing). */
function ldbScan(dir: string, extra: string[] = []): string[] {
  const copy = `${dir}-ldb`;
  rmSync(copy, { recursive: true, force: true });
  cpSync(dir, copy, { recursive: true });
  const r = spawn("ldb", [`--db=${copy}`, "scan", "--hex", ...extra]);
  rmSync(copy, { recursive: true, force: true });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split("\n").filter((l) => l.startsWith("0x"));
}

const writer = `${root}tests/fixtures/store_writer.ts`;

/** Runs tests/fixtures/store_writer.ts `ops` on `dir`: writes left in its log, no flush. */
function writeUnflushed(dir: string, ...ops: string[]): void {
  const args = isDeno
    ? [
      "run",
      "--allow-read",
      "--allow-write",
      "--allow-ffi",
      "--allow-env",
      writer,
      "ops",
      dir,
      ...ops,
    ]
    : [writer, "ops", dir, ...ops];
  const r = spawn(process.execPath, args);
  assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  assert.match(r.stdout, /^done \d+/m);
}

test(
  "memtable ls, verify, get and scan of a store directory read its table files and unflushed log writes as ldb scan reads them, and read while a store holds it",
  {
    timeout: 300_000,
  },
  async () => {
    const root = mkdtempSync(join(tmpdir(), "memtable-cli-"));
    const dir = join(root, "db");
    try {
      const store = Store.open({ dir, flushInWorker: false, mergeOperator: stringAppend(",") });
      for (let i = 0; i < 300; i++) store.put(`k${String(i).padStart(3, "0")}`, `v${i}`);
      await store.flush();
      store.put("k000", "second");
      await store.flush();
      await store.close();
      writeUnflushed(dir, "put:k005=new", "del:k006", "range:k010..k020", "put:zz=from the log");
      assert.ok(readdirSync(dir).some((f) => f.endsWith(".log")));
      const ls = JSON.parse(expect(exitCode.ok, "ls", "--json", dir).stdout);
      assert.equal(ls.levels[0].files.length, 2);
      assert.deepEqual(ls.levels[0].files.map((f: { smallestSeq: number }) => f.smallestSeq), [
        1,
        301,
      ]);
      const live = ls.logs.filter((l: { live: boolean }) => l.live);
      assert.equal(live.length, 1);
      assert.equal(live[0].batches, 4);
      assert.equal(live[0].first, 302);
      assert.equal(live[0].last, 305);
      assert.equal(ls.options.fields.merge_operator, "StringAppendOperator");
      const text = expect(exitCode.ok, "ls", dir).stdout;
      assert.match(text, /^CURRENT +MANIFEST-\d{6}/m);
      assert.match(text, /^level 0 +2 files/m);
      assert.match(
        text,
        /^ {2}\d{6}\.sst {2}\d+ bytes {2}seq 1\.\.300 {2}'k000' @1 Value \.\. 'k299' @300 Value$/m,
      );
      assert.match(text, /^ {2}\d{6}\.log {2}\d+ bytes {2}live, 4 batches, seq 302\.\.305$/m);

      assert.equal(expect(exitCode.ok, "get", dir, "k005").stdout, "'new'\n");
      assert.equal(expect(exitCode.ok, "get", dir, "k000").stdout, "'second'\n");
      assert.equal(expect(exitCode.ok, "get", "--hex", dir, "0x6B303037").stdout, "0x7637\n");
      const gone = expect(exitCode.notFound, "get", dir, "k006");
      assert.match(gone.stderr, /^memtable get: 'k006' has no value in /);
      expect(exitCode.notFound, "get", dir, "k015"); // under the range tombstone

      const want = ldbScan(dir);
      assert.equal(want.length, 300 - 1 - 10 + 1);
      assert.deepEqual(expect(exitCode.ok, "scan", "--hex", dir).stdout.trim().split("\n"), want);
      assert.equal(
        expect(exitCode.ok, "scan", "--from", "k008", "--to", "k022", "--limit", "4", dir).stdout,
        "'k008' : 'v8'\n'k009' : 'v9'\n'k020' : 'v20'\n'k021' : 'v21'\n",
      );
      assert.equal(
        expect(exitCode.ok, "scan", "--reverse", "--limit", "2", dir).stdout,
        "'zz' : 'from the log'\n'k299' : 'v299'\n",
      );

      const verify = expect(exitCode.ok, "verify", "--progress", dir);
      assert.match(verify.stdout, /^\d{6}\.sst {2}level 0 {2}300 entries {2}ok$/m);
      assert.match(verify.stdout, /^\d{6}\.log {2}log {2}4 batches {2}ok$/m);
      assert.match(verify.stdout, /^verified 2 table files \(301 entries\) and 1 live log: ok$/m);
      assert.match(verify.stderr, /^verify: 100% 3\/3 files/m);
      assert.doesNotMatch(
        expect(exitCode.ok, "verify", dir).stderr,
        /verify:/,
        "no progress off a terminal",
      );

      // Merge operands in the log: folded with the operator the OPTIONS file names, or the one given.
      writeUnflushed(dir, "merge:m=a", "merge:m=b");
      assert.equal(expect(exitCode.ok, "get", dir, "m").stdout, "'a,b'\n");
      assert.equal(expect(exitCode.ok, "get", "--merge-operator", "put", dir, "m").stdout, "'b'\n");
      // A directory whose OPTIONS file names no operator: the read says what to pass.
      const bare = join(root, "bare");
      cpSync(dir, bare, { recursive: true });
      for (const f of readdirSync(bare).filter((f) => f.startsWith("OPTIONS-"))) {
        const text = readFileSync(join(bare, f), "utf8");
        writeFileSync(join(bare, f), text.replace(/merge_operator=\S+/, "merge_operator=nullptr"));
      }
      const noOperator = expect(exitCode.usage, "get", bare, "m");
      assert.match(
        noOperator.stderr,
        /^memtable get: key "m" has Merge entries, and the OPTIONS file names no built-in merge operator to fold them with: pass --merge-operator NAME, one of uint64add, stringappend, max, put\n/,
      );
      noStack(noOperator);
      assert.equal(
        expect(exitCode.ok, "get", "--merge-operator", "stringappend", bare, "m").stdout,
        "'a,b'\n",
      );
      const refused = expect(exitCode.usage, "get", "--merge-operator", "nope", dir, "m");
      assert.match(
        refused.stderr,
        /^memtable get: --merge-operator "nope" is not a built-in operator/,
      );

      // While a store holds the directory (its LOCK taken): read as it is.
      const held = Store.open({ dir, flushInWorker: false, mergeOperator: stringAppend(",") });
      try {
        held.put("k001", "while held");
        assert.equal(expect(exitCode.ok, "get", dir, "k001").stdout, "'while held'\n");
        assert.match(expect(exitCode.ok, "ls", dir).stdout, /^level 0 /m);
      } finally {
        await held.close();
      }

      // A damaged table file: verify names it and the block, exits 2, and checks the rest.
      const damagedDir = join(root, "damaged");
      cpSync(dir, damagedDir, { recursive: true });
      const ssts = readdirSync(damagedDir).filter((f) => f.endsWith(".sst")).sort();
      const victim = join(damagedDir, ssts[0]!);
      const bytes = new Uint8Array(readFileSync(victim));
      bytes[20]! ^= 0xff;
      writeFileSync(victim, bytes);
      const bad = expect(exitCode.data, "verify", damagedDir);
      assert.match(
        bad.stdout,
        new RegExp(
          `^${ssts[0]} {2}level \\d {2}FAILED: .*data block 0 at offset 0: checksum mismatch$`,
          "m",
        ),
      );
      assert.match(bad.stdout, /: 1 problem$/m);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  },
);

test("memtable reads of a store directory leave every file as it was", spawning, async () => {
  const root = mkdtempSync(join(tmpdir(), "memtable-cli-"));
  const dir = join(root, "db");
  try {
    const store = Store.open({ dir, flushInWorker: false });
    store.put("a", "1");
    await store.flush();
    await store.close();
    writeUnflushed(dir, "put:b=2", "del:a");
    const before = fingerprint(dir);
    expect(exitCode.ok, "ls", dir);
    expect(exitCode.ok, "ls", "--json", dir);
    expect(exitCode.ok, "verify", "--progress", dir);
    expect(exitCode.notFound, "get", dir, "a");
    assert.equal(expect(exitCode.ok, "get", dir, "b").stdout, "'2'\n");
    assert.equal(expect(exitCode.ok, "scan", dir).stdout, "'b' : '2'\n");
    for (const f of readdirSync(dir).filter((f) => f.endsWith(".sst"))) {
      expect(exitCode.ok, "dump", join(dir, f));
      expect(exitCode.ok, "props", join(dir, f));
      expect(exitCode.ok, "verify", join(dir, f));
    }
    assert.deepEqual(fingerprint(dir), before);

    // A damaged log record: replay stops there (a warning says so), verify fails naming it.
    const damaged = join(root, "damaged");
    cpSync(dir, damaged, { recursive: true });
    const log = readdirSync(damaged).find((f) => f.endsWith(".log"))!;
    const bytes = new Uint8Array(readFileSync(join(damaged, log)));
    bytes[12]! ^= 0xff; // inside the first record's payload
    writeFileSync(join(damaged, log), bytes);
    const get = expect(exitCode.notFound, "get", damaged, "b");
    assert.match(
      get.stderr,
      new RegExp(
        `^memtable get: warning: replay of ${log} stopped at byte 0 \\(.+\\); writes after it are not read$`,
        "m",
      ),
    );
    assert.equal(
      expect(exitCode.ok, "get", damaged, "a").stdout,
      "'1'\n",
      "the table file's value",
    );
    const verify = expect(exitCode.data, "verify", damaged);
    assert.match(
      verify.stdout,
      new RegExp(`^${log} {2}log {2}FAILED: .*${log}: record at byte 0: `, "m"),
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test(
  "memtable ls, verify and scan of a database db_bench wrote (levels below 0, Snappy, an unflushed log) read what ldb scan reads",
  spawning,
  () => {
    const root = mkdtempSync(join(tmpdir(), "memtable-cli-"));
    const dir = join(root, "db");
    try {
      dbBenchFill(dir, "snappy");
      const before = fingerprint(dir);
      const ls = JSON.parse(expect(exitCode.ok, "ls", "--json", dir).stdout);
      const deeper = ls.levels.filter((l: { level: number; files: unknown[] }) =>
        l.level > 0 && l.files.length > 0
      );
      assert.ok(deeper.length > 0, "table files below level 0");
      assert.ok(ls.logs.some((l: { live: boolean; batches: number }) => l.live && l.batches > 0));
      // The files per level as `ldb manifest_dump` lists them: `number:size[smallest .. largest]`.
      const manifest = readFileSync(join(dir, "CURRENT"), "utf8").trim();
      const dumped = spawn("ldb", ["manifest_dump", `--path=${join(dir, manifest)}`]);
      assert.equal(dumped.status, 0, dumped.stderr);
      const ldbLevels = new Map<number, string[]>();
      let level = -1;
      for (const line of dumped.stdout.split("\n")) {
        const header = /^--- level (\d+) ---/.exec(line);
        if (header !== null) level = Number(header[1]);
        const file = /^ (\d+:\d+\[\d+ \.\. \d+\])/.exec(line);
        if (file !== null) ldbLevels.set(level, [...(ldbLevels.get(level) ?? []), file[1]!].sort());
      }
      for (const l of ls.levels as { level: number; files: Record<string, number>[] }[]) {
        assert.deepEqual(
          l.files.map((f) => `${f.number}:${f.size}[${f.smallestSeq} .. ${f.largestSeq}]`).sort(),
          ldbLevels.get(l.level) ?? [],
          `level ${l.level}`,
        );
      }
      // A table file RocksDB compressed with Snappy and checksummed with XXH3 dumps as sst_dump does.
      const sst = join(dir, `${String(deeper[0].files[0].number).padStart(6, "0")}.sst`);
      assert.deepEqual(dumpHex(sst), sstDump(sst));
      const want = ldbScan(dir);
      assert.ok(want.length > 10_000, `${want.length} keys`);
      assert.deepEqual(expect(exitCode.ok, "scan", "--hex", dir).stdout.trim().split("\n"), want);
      const [k, v] = want[want.length >> 1]!.split(" : ") as [string, string];
      assert.equal(expect(exitCode.ok, "get", "--hex", dir, k).stdout, `${v}\n`);
      const verify = expect(exitCode.ok, "verify", dir);
      const files = ls.levels.reduce((n: number, l: { files: unknown[] }) => n + l.files.length, 0);
      assert.match(
        verify.stdout,
        new RegExp(`^verified ${files} table files \\(\\d+ entries\\)`, "m"),
      );
      assert.deepEqual(fingerprint(dir), before, "nothing in the directory changed");
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  },
);

test("readConsistently() reads again when a store replaced the MANIFEST meanwhile, and only then", async () => {
  const root = mkdtempSync(join(tmpdir(), "memtable-cli-"));
  const dir = join(root, "db");
  const opened: Store[] = [];
  try {
    const first = Store.open({ dir, flushInWorker: false });
    first.put("a", "1");
    await first.close();
    const seen: string[] = [];
    const count = readConsistently("ls", dir, (files) => {
      seen.push(files.current);
      if (seen.length === 1) {
        opened.push(Store.open({ dir, flushInWorker: false })); // writes a new MANIFEST
        throw new Error("a table file the MANIFEST listed is gone");
      }
      return [...files.state.levels[0]!.keys()].length;
    });
    assert.equal(count, 1);
    assert.equal(seen.length, 2);
    assert.notEqual(seen[0], seen[1], "the second read has the new MANIFEST");
    // Without a new MANIFEST, the failure is the answer.
    let calls = 0;
    assert.throws(
      () =>
        readConsistently("ls", dir, () => {
          calls++;
          throw new Error("damaged");
        }),
      /damaged/,
    );
    assert.equal(calls, 1);
  } finally {
    for (const s of opened) await s.close();
    rmSync(root, { recursive: true, force: true });
  }
});
