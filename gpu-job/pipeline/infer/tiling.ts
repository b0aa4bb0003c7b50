/** Where the sliding window's tiles go along z, and how their overlapping outputs are weighted. */

/** Start slices: every (tile - overlap) slices, the last tile flush with the end; one tile if the scan is shorter. */
export function tileStarts(depth: number, tile: number, overlap: number): number[] {
  if (depth <= tile) return [0];
  const stride = tile - overlap;
  const starts: number[] = [];
  for (let s = 0; s <= depth - tile; s += stride) starts.push(s);
  if (starts[starts.length - 1] !== depth - tile) starts.push(depth - tile);
  return starts;
}

/**
 * Blending weight of each slice of a tile: a Gaussian centred on the tile (sigma = tile * fraction),
 * normalised to a peak of 1 and floored (model.json's tile.blendingFloor) so edge slices still count where
 * only one tile covers them.
 */
export function gaussianWeights(tile: number, sigmaFraction: number, floor: number): Float32Array {
  const centre = (tile - 1) / 2;
  const sigma = Math.max(tile * sigmaFraction, 1e-6);
  const w = Array.from({ length: tile }, (_, z) => Math.exp(-0.5 * ((z - centre) / sigma) ** 2));
  const peak = Math.max(...w);
  return Float32Array.from(w, (v) => Math.max(v / peak, floor));
}
