/**
 * The `memtable` command line (cli.ts runs it): what RocksDB's `sst_dump` and `ldb` are reached
 * for, on this library's files and RocksDB's. `main` takes the arguments after the program
 * name, writes to standard output and standard error, and returns the exit code (see
 * `overview`): user errors are one message naming the command, never a stack trace.
 *
 * @module
 */
import { isatty } from "node:tty";
import { statSync } from "node:fs";
import {
  CorruptionError,
  MemTableError,
  MergeOperatorError,
  NativeLibraryError,
} from "../errors.ts";
import { logFileName } from "../db/manifest.ts";
import type { MergeOperator } from "../memtable/merge.ts";
import { type CommandSpec, limitOption, parseArguments, type Parsed, UsageError } from "./args.ts";
import { listDatabase, scanDatabase, stderrProgress, verifyDatabase } from "./database_commands.ts";
import {
  DatabaseView,
  mergeOperatorChoices,
  mergeOperatorFor,
  mergeOperatorOption,
  readConsistently,
  readDatabaseFiles,
} from "./database_view.ts";
import { keyArgument, LineWriter, OutputClosed, showBytes, writeError } from "./output.ts";
import { dumpFile, showProperties, verifyFile } from "./sst.ts";

/** The exit codes. */
export const exitCode = {
  ok: 0,
  usage: 1,
  data: 2,
  notFound: 3,
  failure: 4,
} as const;

const exitCodes = `Exit codes:
  0  success
  1  usage error: a wrong command line, a path that is missing or not what the command
     reads, a permission or the native library missing
  2  a data problem: corruption found (a checksum mismatch, a damaged block, MANIFEST or
     log, a table file missing or of the wrong size), or a file this reader cannot decode
  3  get: the key has no value
  4  any other failure (the message says what failed)`;

const overview =
  `memtable: inspect SST files and store directories (RocksDB databases), as RocksDB's
sst_dump and ldb do.

Usage: memtable <command> [options] <arguments>

Commands:
  dump FILE        the entries of an SST file: user key, sequence number, type, value
  props FILE       an SST file's footer and properties
  verify PATH      check an SST file, or every table file and live log of a directory
  ls DIR           a store directory: CURRENT, MANIFEST, table files per level, logs, OPTIONS
  get DIR KEY      the value of a key in a store directory
  scan DIR         the keys and values of a store directory, in key order
  help [COMMAND]   this text, or a command's

Run "memtable <command> --help" for a command's options.

Keys and values are shown quoted, printable ASCII as is and other bytes as \\xNN; with --hex,
as hex (0x...), and keys on the command line are then given as hex too.

Directories are only read: no LOCK is taken and nothing is written, so a directory can be
read while a store has it open (as it is at that moment). The unflushed writes in its live
logs are replayed into memory, as an open would.

${exitCodes}`;

interface Command {
  spec: CommandSpec;
  help: string;
  run(p: Parsed, out: LineWriter): number;
}

const rangeHelp = `  --from KEY       start at KEY (inclusive)
  --to KEY         stop before KEY (exclusive)
  --limit N        show at most N`;

const mergeHelp = `  --merge-operator NAME
                   fold Merge operands with a built-in operator: uint64add, stringappend
                   (delimiter ','), max or put; by default the one the OPTIONS file names,
                   when it is one of these`;

const commands: Record<string, Command> = {
  dump: {
    spec: { flags: ["hex", "json"], values: ["from", "to", "limit"], positional: ["file"] },
    help: `Usage: memtable dump FILE [--hex] [--json] [--from KEY] [--to KEY] [--limit N]

The point entries of the SST file FILE in internal-key order (user key ascending, newest
version first), then its range tombstones, one a line:
  'key' seq:5, type:Value => 'value'
  'key' seq:6, type:Deletion
  'start' seq:7, type:RangeDeletion => 'end'
Every block read is checked against its checksum.

Options:
  --hex            keys and values as hex (0x...); --from and --to are read as hex
  --json           one JSON object a line: {"key","seq","type","value"}, bytes as hex
${rangeHelp} lines`,
    run(p, out) {
      const hex = p.flags.has("hex");
      const o = {
        hex,
        json: p.flags.has("json"),
        from: optionalKey("dump", p, "from", hex),
        to: optionalKey("dump", p, "to", hex),
        limit: limitOption("dump", p),
      };
      dumpFile(sstFile("dump", p.positional[0]!), o, out);
      return exitCode.ok;
    },
  },
  props: {
    spec: { flags: ["json"], values: [], positional: ["file"] },
    help: `Usage: memtable props FILE [--json]

The footer (format version, checksum type) and the properties of the SST file FILE: entry
counts, block and key sizes, comparator, and every property as stored.

Options:
  --json           one JSON object`,
    run(p, out) {
      showProperties(sstFile("props", p.positional[0]!), p.flags.has("json"), out);
      return exitCode.ok;
    },
  },
  verify: {
    spec: { flags: ["progress"], values: [], positional: ["path"] },
    help: `Usage: memtable verify PATH [--progress]

PATH an SST file: reads every block and checks its checksum and that keys are in order
(what sst_dump --command=verify checks).
PATH a store directory: the same for every table file its MANIFEST lists (and that each is
there, of the size recorded), and every record of its live logs; a line per file, then a
summary. A torn last log record (what a crash mid-write leaves) is noted, not an error.

Exits 2 when anything is damaged, naming the file and the block or record.

Options:
  --progress       progress on standard error (the default when it is a terminal)`,
    run(p, out) {
      const path = p.positional[0]!;
      if (!statSync(path).isDirectory()) {
        const { entries } = verifyFile(path);
        out.line(`${path}: ok, ${entries} entries, every block's checksum matches`);
        return exitCode.ok;
      }
      const files = readDatabaseFiles("verify", path);
      const progress = p.flags.has("progress") || isatty(2) ? stderrProgress(isatty(2)) : undefined;
      return verifyDatabase(files, out, progress) === 0 ? exitCode.ok : exitCode.data;
    },
  },
  ls: {
    spec: { flags: ["hex", "json"], values: [], positional: ["dir"] },
    help: `Usage: memtable ls DIR [--hex] [--json]

What the store directory DIR holds: the MANIFEST CURRENT names (its next file number, last
sequence number and log number), its table files level by level (size, sequence numbers,
smallest and largest keys), its logs (size; for live ones, the write batches in them and
their sequence numbers), the OPTIONS file and any other files.

Options:
  --hex            keys as hex (0x...)
  --json           one JSON object`,
    run(p, out) {
      const o = { hex: p.flags.has("hex"), json: p.flags.has("json") };
      // Everything is read before the first line is written: a retry repeats nothing.
      readConsistently("ls", p.positional[0]!, (files) => listDatabase(files, o, out));
      return exitCode.ok;
    },
  },
  get: {
    spec: { flags: ["hex"], values: ["merge-operator"], positional: ["dir", "key"] },
    help: `Usage: memtable get DIR KEY [--hex] [--merge-operator NAME]

The value of KEY in the store directory DIR: its table files and the unflushed writes of
its live logs, as a store opened on it would read. Exits 3 when the key has no value.

Options:
  --hex            KEY is given as hex, the value shown as hex
${mergeHelp}`,
    run(p, out) {
      const hex = p.flags.has("hex");
      const [dir, keyText] = p.positional as [string, string];
      const key = keyArgument("get", "KEY", keyText, hex);
      const op = mergeOperatorOption("get", p.values.get("merge-operator"));
      using view = openView("get", dir, op);
      const value = view.get(key);
      const show = showBytes(hex);
      if (value === undefined) {
        writeError(`memtable get: ${show(key)} has no value in ${dir}\n`);
        return exitCode.notFound;
      }
      out.line(show(value));
      return exitCode.ok;
    },
  },
  scan: {
    spec: {
      flags: ["hex", "json", "reverse"],
      values: ["from", "to", "limit", "merge-operator"],
      positional: ["dir"],
    },
    help: `Usage: memtable scan DIR [--hex] [--json] [--from KEY] [--to KEY] [--limit N] [--reverse]
                     [--merge-operator NAME]

The keys of the store directory DIR with their values, in key order, one a line as
ldb scan shows them:
  'key' : 'value'
(table files and the unflushed writes of its live logs, as a store opened on it would read).

Options:
  --hex            keys and values as hex (0x...); --from and --to are read as hex
  --json           one JSON object a line: {"key","value"}, bytes as hex
${rangeHelp} pairs
  --reverse        in descending key order (the last N of the range, with --limit)
${mergeHelp}`,
    run(p, out) {
      const hex = p.flags.has("hex");
      const o = {
        hex,
        json: p.flags.has("json"),
        from: optionalKey("scan", p, "from", hex),
        to: optionalKey("scan", p, "to", hex),
        limit: limitOption("scan", p),
        reverse: p.flags.has("reverse"),
      };
      const op = mergeOperatorOption("scan", p.values.get("merge-operator"));
      using view = openView("scan", p.positional[0]!, op);
      scanDatabase(view, o, out);
      return exitCode.ok;
    },
  },
};

/**
 * The directory `dir` opened for reads; a warning on standard error when replay of its logs
 * stopped at damage (the writes after it are not read, as a store's open would not).
 */
function openView(command: string, dir: string, op: MergeOperator | undefined): DatabaseView {
  const view = readConsistently(
    command,
    dir,
    (files) => new DatabaseView(files, mergeOperatorFor(files, op)),
  );
  const stopped = view.recovery.stoppedAt;
  if (stopped !== undefined) {
    writeError(
      `memtable ${command}: warning: replay of ${logFileName(stopped.log)} stopped at byte ` +
        `${stopped.offset} (${stopped.reason}); writes after it are not read\n`,
    );
  }
  return view;
}

/** `path`, refused when it is a directory. */
function sstFile(command: string, path: string): string {
  if (statSync(path).isDirectory()) {
    throw new UsageError(
      command,
      `${path} is a directory; ${command} reads an SST file (for a store directory: ls, scan)`,
    );
  }
  return path;
}

function optionalKey(
  command: string,
  p: Parsed,
  name: string,
  hex: boolean,
): Uint8Array | undefined {
  const v = p.values.get(name);
  return v === undefined ? undefined : keyArgument(command, `--${name}`, v, hex);
}

/** The command called `name`, if there is one (never an Object.prototype member). */
function commandNamed(name: string): Command | undefined {
  return Object.hasOwn(commands, name) ? commands[name] : undefined;
}

/** Runs the command line `args` (without the program name); returns the exit code. */
export function main(args: readonly string[]): number {
  const out = new LineWriter(1);
  const [name, ...rest] = args;
  let command: string | undefined;
  try {
    if (name === undefined) {
      writeError(`${overview}\n`);
      return exitCode.usage;
    }
    if (name === "--help" || name === "-h") {
      out.line(overview);
      out.flush();
      return exitCode.ok;
    }
    if (name === "help") {
      const topic = rest[0];
      const c = topic === undefined ? undefined : commandNamed(topic);
      if (topic === undefined) out.line(overview);
      else if (c === undefined) throw new UsageError(undefined, `unknown command "${topic}"`);
      else out.line(`${c.help}\n\n${exitCodes}`);
      out.flush();
      return exitCode.ok;
    }
    const c = commandNamed(name);
    if (c === undefined) {
      throw new UsageError(
        undefined,
        name.startsWith("-")
          ? `unknown option ${name} before the command`
          : `unknown command "${name}" (one of ${Object.keys(commands).join(", ")}, help)`,
      );
    }
    command = name;
    const parsed = parseArguments(name, c.spec, rest);
    if (parsed.flags.has("help")) {
      out.line(`${c.help}\n\n${exitCodes}`);
      out.flush();
      return exitCode.ok;
    }
    const code = c.run(parsed, out);
    out.flush();
    return code;
  } catch (e) {
    try {
      out.flush();
    } catch {
      // The output is gone; the error still goes to standard error.
    }
    if (e instanceof OutputClosed) return exitCode.ok;
    const [code, message] = classify(e);
    const prefix = command === undefined ? "memtable" : `memtable ${command}`;
    const topic = e instanceof UsageError ? e.command ?? command : undefined;
    const hint = !(e instanceof UsageError)
      ? ""
      : `\nRun "memtable ${topic === undefined ? "" : `${topic} `}--help" for usage.`;
    writeError(`${prefix}: ${message}${hint}\n`);
    return code;
  }
}

/** The file errors that are the command line's (a wrong path), as they read. */
const fileErrors: Record<string, string> = {
  ENOENT: "no such file or directory",
  ENOTDIR: "a part of the path is not a directory",
  EISDIR: "it is a directory",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  ELOOP: "too many symbolic links",
  ENAMETOOLONG: "the name is too long",
};

/** The exit code and message of a failure (see `exitCodes`). */
function classify(e: unknown): [number, string] {
  if (!(e instanceof Error)) return [exitCode.failure, String(e)];
  // Errors raised inside the store's code name its calls; here the command is named instead.
  const message = e.message.replace(/^(?:Store|MemTable)\.\w+\(\): /, "");
  if (e instanceof UsageError) return [exitCode.usage, message];
  if (e instanceof CorruptionError) return [exitCode.data, `corruption: ${message}`];
  if (e instanceof MergeOperatorError) {
    const key = /key (.+?) has Merge entries/.exec(message)?.[1];
    const what = key === undefined
      ? message
      : `key ${key} has Merge entries, and the OPTIONS file names no built-in merge operator ` +
        `to fold them with`;
    return [
      exitCode.usage,
      `${what}: pass --merge-operator NAME, one of ${mergeOperatorChoices.join(", ")}`,
    ];
  }
  if (e instanceof NativeLibraryError) return [exitCode.usage, message];
  if (e instanceof MemTableError) return [exitCode.data, message];
  const { code, path } = e as { code?: unknown; path?: unknown };
  const reason = typeof code === "string" && Object.hasOwn(fileErrors, code)
    ? fileErrors[code]
    : undefined;
  if (reason !== undefined) {
    return [exitCode.usage, typeof path === "string" ? `cannot read ${path}: ${reason}` : message];
  }
  if (e.name === "NotCapable" || e.name === "PermissionDenied") return [exitCode.usage, message];
  if (e instanceof TypeError || e instanceof RangeError) return [exitCode.usage, message];
  return [exitCode.failure, `${e.name}: ${message}`];
}
