/**
 * Masks are mostly zero: a 32-bit view lets a raster loop step over four zero bytes at once. The view
 * exists only when the array is 4-byte aligned; loops check `words` at indices that are multiples of 4 and
 * skip only when the four voxels lie in the same row (so row bookkeeping stays exact).
 */
export function zeroWordView(a: Uint8Array): Uint32Array | undefined {
  if (a.byteOffset % 4 !== 0) return undefined;
  return new Uint32Array(a.buffer, a.byteOffset, a.length >>> 2);
}
