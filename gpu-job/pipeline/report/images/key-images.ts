/**
 * The report's images, rendered in memory: up to three axial key levels, one coronal view and the
 * peripheral-distribution chart, each with its stable file name under images/ and a caption built from
 * geometry and findings only (levels as patient-coordinate millimetres and slice numbers).
 */
import type { Findings } from "../../../../core/contracts/findings.js";
import type { Volume } from "../../../../core/contracts/volume.js";
import { voxelCentre } from "../../../../core/geometry/affine.js";
import { nativeIndex, type OrientedView, orientedView } from "../../preprocess/orientation.js";
import { SYNTHETIC_BANNER, withBanner } from "./banner.js";
import { renderPeripheralChart } from "./chart.js";
import { chooseKeyLevels, maskProfile } from "./key-levels.js";
import type { Raster } from "./raster.js";
import { renderSlice, type SlicePlane } from "./render-slice.js";

export const IMAGE_FILES = {
  axial: (rank: number) => `images/axial-${rank}.png`,
  coronal: "images/coronal.png",
  chart: "images/peripheral-distribution.png",
} as const;

/** Every name IMAGE_FILES can give (an earlier run's key images are recognised by it, and removed). */
export const KEY_IMAGE_FILE = /^images\/(axial-\d+|coronal|peripheral-distribution)\.png$/;

export interface KeyImage {
  /** Path relative to the results folder. */
  file: string;
  kind: "axial" | "coronal" | "chart";
  title: string;
  caption: string;
  raster: Raster;
}

export interface KeyImagesInput {
  volume: Volume;
  lesions: Uint8Array;
  lungs: Uint8Array;
  findings: Findings;
  /** The model was trained on synthetic data: every image then carries SYNTHETIC_BANNER above its pixels. */
  synthetic: boolean;
}

export function renderKeyImages(input: KeyImagesInput): KeyImage[] {
  const { volume } = input;
  const view = orientedView(volume);
  const levels = chooseKeyLevels(
    maskProfile(input.lesions, volume.dims),
    () => maskProfile(input.lungs, volume.dims),
    view,
  );
  const areaMm2 = view.spacing[0] * view.spacing[1];
  const slice = (plane: SlicePlane, index: number) =>
    renderSlice({ volume, lesions: input.lesions, lungs: input.lungs, view, plane, index });

  const images: KeyImage[] = levels.axial.map((level, r) => {
    const where = levelText(volume, view, 2, level.index);
    const caption =
      level.lesionVoxels > 0
        ? `Axial, ${where}: lesion area ${((level.lesionVoxels * areaMm2) / 100).toFixed(1)} cm² (rank ${r + 1} by lesion area). Lung window W 1500 / L -600; lesions orange, lung outline blue.`
        : `Axial, ${where}: no lesion found; the level with the largest lung area. Lung window W 1500 / L -600; lung outline blue.`;
    return {
      file: IMAGE_FILES.axial(r + 1),
      kind: "axial",
      title: `Axial key image ${r + 1}`,
      caption,
      raster: slice("axial", level.index),
    };
  });
  const through =
    levels.coronalThrough === "lesions"
      ? "through the lesions' centroid"
      : levels.coronalThrough === "lungs"
        ? "through the lungs' centroid (no lesion found)"
        : "through the middle of the volume";
  images.push({
    file: IMAGE_FILES.coronal,
    kind: "coronal",
    title: "Coronal view",
    caption: `Coronal, ${levelText(volume, view, 1, levels.coronal)}, ${through}; resampled to square pixels.`,
    raster: slice("coronal", levels.coronal),
  });
  const shares = input.findings.peripheral.shells.map((s) => s.share);
  images.push({
    file: IMAGE_FILES.chart,
    kind: "chart",
    title: "Peripheral distribution",
    caption:
      "Share of lesion volume within each depth under the pleura: this scan (solid blue) against the COVID-19 (red) and CAP (green) reference curves.",
    raster: renderPeripheralChart(shares),
  });
  if (input.synthetic) for (const im of images) im.raster = withBanner(im.raster, SYNTHETIC_BANNER);
  return images;
}

/** "z = -87.5 mm (slice 18 of 60)": the LPS coordinate of an oriented level and its native index (1-based). */
function levelText(volume: Volume, view: OrientedView, axis: 1 | 2, index: number): string {
  const at: [number, number, number] = [0, 0, 0];
  at[axis] = index;
  const n = nativeIndex(view, at[0], at[1], at[2]);
  const [nx, ny] = volume.dims;
  const native = [n % nx, Math.floor(n / nx) % ny, Math.floor(n / (nx * ny))] as const;
  const mm = voxelCentre(volume, native[0], native[1], native[2])[axis];
  const { native: a } = view.axes[axis];
  const name = axis === 2 ? "z" : "y";
  const unit = a === 2 ? "slice" : a === 1 ? "row" : "column";
  return `${name} = ${mm.toFixed(1)} mm (${unit} ${native[a]! + 1} of ${volume.dims[a]!})`;
}
