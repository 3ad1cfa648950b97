/** Keys shared by bench/concurrency.ts and its Workers (a module with no side effects). */

/** Key i: 16 pseudo-random bytes (splitmix32 of i), the same in every Worker. */
export function keyOf(i: number, out: Uint8Array): Uint8Array {
  for (let w = 0; w < 4; w++) {
    let z = (i * 4 + w + 0x9e3779b9) | 0;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    z ^= z >>> 16;
    out[w * 4] = z;
    out[w * 4 + 1] = z >>> 8;
    out[w * 4 + 2] = z >>> 16;
    out[w * 4 + 3] = z >>> 24;
  }
  return out;
}
