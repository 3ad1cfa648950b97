/**
 * The realm's (thread's) native functions and its shared scratch buffer, set up by the first
 * memtable made in it and reused by every call after. The buffer carries nothing from one call
 * to the next: each call writes what it passes to native code, and reads what native code
 * wrote, before it returns.
 *
 * @module
 */
import { native, type NativeFunctions, Scratch } from "../ffi/native.ts";

const scratchInitialSize = 64 * 1024;
/**
 * The shared scratch buffer grows up to this size and keeps it; a call that needs more (a
 * large value or batch) gets a buffer of its own for that call, so no call leaves the
 * library holding more memory than before it.
 */
const scratchRetainMax = 1 << 20;

/** The library's functions (set by `initRealm`). */
export let fn: NativeFunctions;
/** The shared scratch buffer (set by `initRealm`). */
export let shared: Scratch;

/** Loads the library (when this realm has not) and makes the shared buffer. */
export function initRealm(): void {
  fn ??= native().fn;
  shared ??= new Scratch(scratchInitialSize);
}

/**
 * Bytes of the realm's shared scratch buffer (0 before the first memtable), for the tests that
 * prove a rejected or large call leaves it as it was. Not exported from mod.ts.
 */
export function sharedScratchBytes(): number {
  return shared === undefined ? 0 : shared.capacity;
}

/**
 * The shared scratch buffer when `need` bytes fit it (growing it up to `scratchRetainMax`),
 * else a buffer of its own for one call.
 */
export function scratchFor(need: number): Scratch {
  const s = shared;
  if (need <= s.capacity) return s;
  if (need <= scratchRetainMax) {
    s.reserve(need);
    return s;
  }
  return new Scratch(need);
}
