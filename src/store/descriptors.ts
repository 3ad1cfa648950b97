/**
 * File-system steps of a Store and the process's file descriptors: an operating-system error
 * becomes a `StoreError` that says what could not be done, and a step that finds the process
 * out of descriptors (EMFILE/ENFILE) has the store's table cache close some of its own and runs
 * once more before it gives up with advice.
 *
 * @module
 */
import { StoreError } from "../errors.ts";
import { descriptorAdvice, isOutOfDescriptors, type TableCache } from "../table/table_cache.ts";

/**
 * Runs a file-system step of `what`; an operating-system error (one with a `code`) becomes a
 * StoreError that says what could not be done, with the error as its cause.
 */
export function fsStep<T>(what: string, doing: string, step: () => T): T {
  try {
    return step();
  } catch (e) {
    if (typeof (e as { code?: unknown }).code !== "string") throw e;
    const advice = isOutOfDescriptors(e) ? `: ${descriptorAdvice()}` : "";
    throw new StoreError(`${what}: ${doing}: ${(e as Error).message}${advice}`, { cause: e });
  }
}

/**
 * Runs `step`; when the process is out of file descriptors, has the table cache close some of
 * its own and runs it once more. Out of them still, a StoreError that says what to do.
 */
export function withDescriptors<T>(tables: TableCache, step: () => T): T {
  try {
    return step();
  } catch (e) {
    shedOrThrow(tables, e);
  }
  try {
    return step();
  } catch (e) {
    throw afterRetry(tables, e);
  }
}

/** `withDescriptors` for a step that returns a promise (a flush in the Worker). */
export async function withDescriptorsAsync<T>(
  tables: TableCache,
  step: () => Promise<T> | T,
): Promise<T> {
  try {
    return await step();
  } catch (e) {
    shedOrThrow(tables, e);
  }
  try {
    return await step();
  } catch (e) {
    throw afterRetry(tables, e);
  }
}

/** Rethrows `e` unless it is a lack of descriptors the cache could free some for. */
function shedOrThrow(tables: TableCache, e: unknown): void {
  if (!isOutOfDescriptors(e)) throw e;
  if (tables.shed() === 0) throw outOfDescriptors(tables, e);
}

/** What a step that failed again after the cache shed descriptors throws. */
function afterRetry(tables: TableCache, e: unknown): unknown {
  return isOutOfDescriptors(e) ? outOfDescriptors(tables, e) : e;
}

function outOfDescriptors(tables: TableCache, e: unknown): StoreError {
  return new StoreError(
    `the process is out of file descriptors (${(e as Error).message}) even after this store ` +
      `closed what it could: ${descriptorAdvice(tables.bound)}`,
    { cause: e },
  );
}
