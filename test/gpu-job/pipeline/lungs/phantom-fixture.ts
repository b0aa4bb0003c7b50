/** Small phantoms rendered in memory (no files) for the lung tests, with their truth lung labels. */
import type { Geometry } from "../../../../core/contracts/volume.js";
import type { RenderedPhantom } from "../../../../core/phantom/generate.js";
import { phantomGrid } from "../../../../core/phantom/grid.js";
import type { PhantomClass } from "../../../../core/phantom/lesions.js";
import { type PhantomOptions, resolvePhantomOptions } from "../../../../core/phantom/options.js";
import { renderResolved } from "../../../../core/phantom/run.js";

export type GridOptions = Omit<PhantomOptions, "out" | "class" | "seed">;

/**
 * 128 x 128 in-plane (2.8 mm pixels over the default 360 mm field of view), 5 mm slices, 76 slices:
 * 380 mm of coverage centred on the chest, so both lungs lie wholly inside, apex to costophrenic recesses,
 * with the trachea above the apices.
 */
export const SMALL_GRID: GridOptions = { size: 128, slices: 76, sliceThickness: 5 };

export function gridOf(options: GridOptions = SMALL_GRID): Geometry {
  return phantomGrid(resolvePhantomOptions({ out: "unused", ...options }));
}

export function renderSmall(
  cls: PhantomClass,
  seed: number,
  options: GridOptions = SMALL_GRID,
): RenderedPhantom {
  return renderResolved(resolvePhantomOptions({ out: "unused", ...options, class: cls, seed })).rendered;
}

/** Dice overlap of label `value` between two label arrays. */
export function dice(a: Uint8Array, b: Uint8Array, value: number): number {
  let inter = 0;
  let na = 0;
  let nb = 0;
  for (let v = 0; v < a.length; v++) {
    const x = a[v] === value;
    const y = b[v] === value;
    if (x) na++;
    if (y) nb++;
    if (x && y) inter++;
  }
  return na + nb === 0 ? 1 : (2 * inter) / (na + nb);
}
