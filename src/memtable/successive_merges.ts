/**
 * RocksDB's `max_successive_merges` on the write path: when a key's newest versions already
 * are that many Merge operands, the next Merge is stored merged — as a Value when this
 * memtable holds the version below the operands, as one combined operand (`partialMerge`)
 * when it does not and the operator can combine them, else as given. It costs a lookup per
 * Merge.
 *
 * @module
 */
import { sequenceHigh, sequenceLow, type SequenceNumber } from "../coding/sequence.ts";
import { ValueType } from "../coding/value_type.ts";
import type { Handle } from "../ffi/native.ts";
import { decodeBatch, WriteBatch } from "../write/write_batch.ts";
import { type Bytes, bytesOf, sizeFor } from "./bytes.ts";
import { leadingMerges, lookup, readRun } from "./lookup.ts";
import { applyFullMerge, applyPartialMerges, type MergeOperator } from "./merge.ts";

/** The merge policy of one memtable: its operator and `maxSuccessiveMerges` (> 0). */
export interface SuccessiveMerges {
  readonly op: MergeOperator;
  readonly max: number;
}

/** The entry to store for a new Merge operand `value` of `key` at `seq`. */
export function successiveMerge(
  policy: SuccessiveMerges,
  h: Handle,
  seq: SequenceNumber,
  key: Bytes,
  value: Bytes | undefined,
): [ValueType, Bytes | undefined] {
  const what = "MemTable.add()";
  // Check the operand before anything runs on it.
  sizeFor(key, value, what);
  const found = lookup(h, key, sequenceHigh(seq), sequenceLow(seq), 0, what);
  if (found === undefined || leadingMerges(found) < policy.max) {
    return [ValueType.Merge, value];
  }
  const run = readRun(found)!;
  const keyBytes = bytesOf(key);
  const operands = [...run.operands, bytesOf(value ?? "")];
  if (run.base !== undefined) {
    return [ValueType.Value, applyFullMerge(policy.op, keyBytes, run.base.value, operands)];
  }
  const combined = applyPartialMerges(policy.op, keyBytes, operands);
  return combined === undefined ? [ValueType.Merge, value] : [ValueType.Merge, combined];
}

/**
 * `batch` (to be applied at `seq`, `seq + 1`, …) with each Merge record that reaches the
 * policy's bound replaced by what `successiveMerge` stores. Records are checked against the
 * memtable as it is before the batch, not against earlier records of the batch.
 */
export function collapseMerges(
  policy: SuccessiveMerges,
  h: Handle,
  batch: WriteBatch,
  seq: SequenceNumber,
): WriteBatch {
  const records = decodeBatch(batch.view());
  if (!records.some((r) => r.type === ValueType.Merge)) return batch;
  const out = new WriteBatch();
  const base = BigInt(seq);
  records.forEach((r, i) => {
    let type: ValueType = r.type;
    let value: Bytes = r.value;
    if (type === ValueType.Merge) {
      const at = base + BigInt(i);
      [type, value] = successiveMerge(
        policy,
        h,
        at <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(at) : at,
        r.key,
        value,
      ) as [ValueType, Bytes];
    }
    if (type === ValueType.Value) out.put(r.key, value);
    else if (type === ValueType.Merge) out.merge(r.key, value);
    else if (type === ValueType.Deletion) out.delete(r.key);
    else if (type === ValueType.SingleDeletion) out.singleDelete(r.key);
    else out.deleteRange(r.key, r.value);
  });
  return out;
}
