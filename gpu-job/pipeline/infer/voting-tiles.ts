/**
 * Which tiles of an oblique scan's aligned view vote for the scan's class.
 *
 * On the LPS-aligned grid (preprocess/axis-align.ts) a tilted scan's field of view ends in slanted planes,
 * with air filled in beyond them. Where those planes cut the lungs, a tile shows lung ending on a slant,
 * which the model never saw in training (every training stack is axial and holds the lungs whole); it
 * reads that as pneumonia. On normal and CAP phantoms tilted 12-30 degrees such tiles voted COVID-19 at
 * 0.8-0.9 (bench/README.md, "Scans that are not a lung-filled axial stack"). So a tile whose slices hold lung
 * touching the edge of the field of view (AlignedScan.lungCutSlices) does not vote; the lesion mask is not
 * affected (every tile still segments). When no tile is left (a short scan at a steep angle), all vote,
 * as before.
 */
import type { AlignedScan } from "../preprocess/axis-align.js";
import type { ModelGrid } from "../preprocess/model-grid.js";

/**
 * One flag per tile start (tiles of `tileSlices` model slices on `grid`, the aligned view's model grid):
 * true where the tile votes for the scan's class.
 */
export function votingTiles(
  aligned: AlignedScan,
  grid: ModelGrid,
  starts: readonly number[],
  tileSlices: number,
): boolean[] {
  if (grid.view.axes.some((a, i) => a.native !== i || a.flipped))
    throw new Error("the aligned grid is expected to be LPS without permutation or flips");
  const cut = aligned.lungCutSlices;
  const votes = starts.map((start) => {
    // The aligned slices the tile's model slices are interpolated from.
    const last = Math.min(start + tileSlices, grid.depth) - 1;
    const from = Math.max(0, Math.floor(grid.zPositions[start] as number));
    const to = Math.min(cut.length - 1, Math.ceil(grid.zPositions[last] as number));
    for (let z = from; z <= to; z++) if (cut[z]) return false;
    return true;
  });
  return votes.some(Boolean) ? votes : starts.map(() => true);
}
