/**
 * Exclusive file locks, taken natively (`native/src/file_lock.zig`): what keeps two stores off
 * one directory, as RocksDB's `LOCK` file does. A lock belongs to the open file behind it, so a
 * second lock of the same file fails at once, whether it comes from this process (another
 * thread or store) or from another one — RocksDB's own processes included on Linux, whose
 * `fcntl` locks conflict with it. It ends with `release()`, when the thread that took it ends
 * (a terminated Worker), or when the process dies; the file stays.
 *
 * @module
 */
import { constants } from "node:os";
import { Status } from "./layout.ts";
import { type Handle, native, Scratch } from "./native.ts";

const lockFinalizer = new FinalizationRegistry<Handle>((h) => {
  native().fn.memtable_unlock_file(h);
});

/** Why a lock was not taken. */
export type LockFailure =
  | { reason: "held" }
  | { reason: "io"; osError: number; code: string | undefined }
  | { reason: "invalid" };

/** A lock held on one file. */
export class FileLock {
  readonly path: string;
  #h: Handle | null;

  private constructor(path: string, h: Handle) {
    this.path = path;
    this.#h = h;
    lockFinalizer.register(this, h, this);
  }

  /** Locks `path` (created when missing), or says why it could not. */
  static acquire(path: string): FileLock | LockFailure {
    const bytes = new TextEncoder().encode(path);
    const s = new Scratch(Math.max(bytes.length, 64));
    s.bytes.set(bytes);
    const h = native().fn.memtable_lock_file(s.arg, s.capacity, bytes.length);
    if (h !== null) return new FileLock(path, h);
    const status = s.view.getInt32(0, true);
    if (status === Status.lockHeld) return { reason: "held" };
    if (status === Status.ioError) {
      const osError = s.view.getUint32(4, true);
      return { reason: "io", osError, code: errnoName(osError) };
    }
    return { reason: "invalid" };
  }

  /** Whether this lock is still held. */
  get held(): boolean {
    return this.#h !== null;
  }

  /** Releases the lock (idempotent). */
  release(): void {
    const h = this.#h;
    if (h === null) return;
    this.#h = null;
    lockFinalizer.unregister(this);
    native().fn.memtable_unlock_file(h);
  }
}

/** The symbolic name of an errno value (`ENOENT`, …) where the platform reports errno. */
export function errnoName(n: number): string | undefined {
  for (const [name, value] of Object.entries(constants.errno)) if (value === n) return name;
  return undefined;
}

/** The soft limit on this process's open files, or undefined when there is none or unknown. */
export function openFilesLimit(): number | undefined {
  const n = native().fn.memtable_open_files_limit();
  return n < 0 ? undefined : n;
}

/**
 * Distinct native objects (memtables, iterators, locks, …) this thread holds handles to: what
 * the thread's end releases if it ends with them open.
 */
export function threadHoldings(): number {
  return native().fn.memtable_thread_holdings();
}
