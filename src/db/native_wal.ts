/**
 * The write-ahead log written natively (`native/src/wal.zig`, Linux): records copied into a
 * memory-mapped window of the log, so a write is in the operating system's hands when the call
 * returns without a system call of its own; and a point write's memtable insert and its log
 * record in one FFI call (`applyAndLog`). Syncs are fdatasync, on a descriptor of this side's
 * own for `syncAsync` (the runtime's file-system pool runs it off the thread; group commit as
 * in wal.ts). Elsewhere `NativeLog.open` answers undefined and the Store writes the log with
 * `WalWriter`.
 *
 * @module
 */
import { closeSync, openSync } from "node:fs";
import { dirname } from "node:path";
import { syncDirectory } from "../table/file.ts";
import process from "node:process";
import { sequenceHigh, sequenceLow } from "../coding/sequence.ts";
import { ValueType } from "../coding/value_type.ts";
import { errnoName } from "../ffi/file_lock.ts";
import { Status } from "../ffi/layout.ts";
import { type Handle, native, Scratch } from "../ffi/native.ts";
import { statusError } from "../ffi/status.ts";
import { type Bytes, sizeFor, writeKey, writeValue } from "../memtable/bytes.ts";
import { type MemTable, nativeHandleOf } from "../memtable/memtable.ts";
import { scratchFor } from "../memtable/realm.ts";
import {
  applyThenLog,
  GroupSync,
  type Log,
  LogWriteError,
  RecordEncoder,
  WalWriter,
} from "./wal.ts";

const walFinalizer = new FinalizationRegistry<Handle>((h) => {
  native().fn.memtable_wal_close(h);
});

/** A log written natively (see the module notes). */
export class NativeLog implements Log {
  readonly path: string;
  readonly number: number;
  #h: Handle | null;
  /** A descriptor of the same file, for fdatasync off the thread. */
  #fd: number;
  #size = 0;
  readonly #group: GroupSync;
  readonly #encoder = new RecordEncoder();

  private constructor(path: string, number: number, h: Handle, fd: number) {
    this.path = path;
    this.number = number;
    this.#h = h;
    this.#fd = fd;
    this.#group = new GroupSync(fd);
    walFinalizer.register(this, h, this);
  }

  /**
   * Creates the log `number` at `path` (emptied if it exists), or undefined where logs are not
   * written natively (not Linux). An operating-system error is thrown with its `code`.
   */
  static open(path: string, number: number): NativeLog | undefined {
    if (process.platform !== "linux") return undefined;
    const bytes = new TextEncoder().encode(path);
    const s = new Scratch(Math.max(bytes.length, 64));
    s.bytes.set(bytes);
    const h = native().fn.memtable_wal_open(s.arg, s.capacity, bytes.length);
    if (h === null) {
      const status = s.view.getInt32(0, true);
      const osError = s.view.getUint32(4, true);
      if (status === Status.ioError && osError === 0) return undefined;
      throw osFailure(status, osError, `cannot create ${path}`);
    }
    let fd: number;
    try {
      fd = openSync(path, "r+");
    } catch (e) {
      native().fn.memtable_wal_close(h);
      throw e;
    }
    return new NativeLog(path, number, h, fd);
  }

  #live(): Handle {
    if (this.#h === null) throw new Error(`${this.path}: the log is closed`);
    return this.#h;
  }

  /** Bytes in the log (asked of the native writer: appends do not report it, to save a call). */
  get size(): number {
    return this.#h === null ? this.#size : native().fn.memtable_wal_size(this.#h);
  }

  get syncedSize(): number {
    return this.#group.synced;
  }

  get syncs(): number {
    return this.#group.syncs;
  }

  add(payload: Uint8Array): void {
    const s = scratchFor(payload.length);
    s.bytes.set(payload);
    const r = native().fn.memtable_wal_append(this.#live(), s.arg, s.capacity, payload.length);
    if (r < 0) throw this.#failure(r);
  }

  applyAndLog(mt: MemTable, seq: number, type: ValueType, key: Bytes, value?: Bytes): void {
    // A range deletion (its checks are the memtable's), or a merge the memtable may fold into
    // its predecessors (logged as written, wal.ts): applied, then logged, in two calls.
    if (
      type === ValueType.RangeDeletion || (type === ValueType.Merge && mt.maxSuccessiveMerges > 0)
    ) {
      return applyThenLog(this, this.#encoder, mt, seq, type, key, value);
    }
    const what = "MemTable.add()";
    const h = nativeHandleOf(mt);
    const s = scratchFor(sizeFor(key, value, what));
    const k = writeKey(s, key, what);
    const v = writeValue(s, k, value, what);
    const f = native().fn;
    const w = this.#live();
    const rc = f.memtable_add_logged(
      h,
      w,
      s.arg,
      s.capacity,
      sequenceHigh(seq),
      sequenceLow(seq),
      type,
      k,
      v,
    );
    if (rc === Status.ioError) throw new LogWriteError(this.#failure(rc)); // the memtable has it
    if (rc !== 0) throw statusError(rc, what, key);
  }

  #failure(status: number): Error {
    const osError = native().fn.memtable_wal_os_error();
    return osFailure(status, status === Status.ioError ? osError : 0, `cannot write ${this.path}`);
  }

  sync(): void {
    const rc = native().fn.memtable_wal_sync(this.#live());
    if (rc !== 0) throw this.#failure(rc);
    this.#group.syncedUpTo(this.size);
  }

  syncAsync(): Promise<void> {
    return this.#group.sync(this.size);
  }

  close(): void {
    const h = this.#h;
    if (h === null) return;
    this.#size = this.size;
    this.#h = null;
    walFinalizer.unregister(this);
    closeSync(this.#fd);
    this.#fd = -1;
    const rc = native().fn.memtable_wal_close(h);
    if (rc !== 0) {
      throw osFailure(rc, native().fn.memtable_wal_os_error(), `cannot close ${this.path}`);
    }
  }

  async closeAsync(): Promise<void> {
    await this.#group.idle();
    this.close();
  }
}

/** An Error with the errno's `code`, as node:fs reports them. */
function osFailure(status: number, osError: number, doing: string): Error {
  if (status !== Status.ioError) return statusError(status, doing);
  const code = errnoName(osError);
  const e = new Error(`${code ?? `errno ${osError}`}: ${doing}`) as Error & { code?: string };
  if (code !== undefined) e.code = code;
  return e;
}

/** Creates the log `number` at `path`: written natively where it can be, else by WalWriter. */
export function openLog(path: string, number: number): Log {
  const log = NativeLog.open(path, number) ?? WalWriter.open(path, number);
  try {
    syncDirectory(dirname(path)); // its name survives power loss before its first sync
  } catch (e) {
    log.close();
    throw e;
  }
  return log;
}
