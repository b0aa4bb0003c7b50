/**
 * The report's images, rendered in memory: up to three axial key levels, one coronal view and the
 * peripheral-distribution chart, each with its stable file name under images/ and a caption built from
 * geometry and findings only: each level as the patient coordinate of the shown plane's centre, and the
 * number a reader finds the image by in the input (the DICOM InstanceNumber, the NIfTI voxel index), or
 * none where the image is a reformat or the input numbers nothing uniquely.
 */
import type { Findings } from "../../../../core/contracts/findings.js";
import type { Vec3, Volume } from "../../../../core/contracts/volume.js";
import { voxelCentre } from "../../../../core/geometry/affine.js";
import { type OrientedView, orientedView } from "../../preprocess/orientation.js";
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
  /** What the volume's slices are in the input, for the images' numbers; without it no number is given. */
  origin?: SliceOrigin;
}

/**
 * The input behind the volume. DICOM: per volume slice k (position order, not file order), the source
 * image's InstanceNumber and, for a multi-frame instance, its 1-based frame. NIfTI: the volume is the
 * file's own voxel grid, so its indices are the file's.
 */
export type SliceOrigin =
  | { format: "nifti" }
  | {
      format: "dicom";
      instanceNumbers?: readonly (number | undefined)[];
      frameNumbers?: readonly (number | undefined)[];
    };

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

  const numbers = imageNumbers(input.origin, volume.dims[2]);
  const images: KeyImage[] = levels.axial.map((level, r) => {
    const where = levelText(volume, view, 2, level.index, input.origin, numbers);
    const caption =
      level.lesionVoxels > 0
        ? `Axial${where}: lesion area ${((level.lesionVoxels * areaMm2) / 100).toFixed(1)} cm² (rank ${r + 1} by lesion area). Lung window W 1500 / L -600; lesions orange, lung outline blue.`
        : `Axial${where}: no lesion found; the level with the largest lung area. Lung window W 1500 / L -600; lung outline blue.`;
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
    caption: `Coronal${levelText(volume, view, 1, levels.coronal, input.origin, numbers)}, ${through}; resampled to square pixels.`,
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

/**
 * The DICOM image number of each volume slice k: its InstanceNumber (", frame f" for a frame of a
 * multi-frame instance), when every slice has one and no two slices share it; otherwise none, since a
 * number that PACS shows for another image, or for several, would send a reader to the wrong one.
 */
function imageNumbers(origin: SliceOrigin | undefined, nz: number): string[] | undefined {
  if (origin?.format !== "dicom" || origin.instanceNumbers?.length !== nz) return undefined;
  const labels = origin.instanceNumbers.map((n, k) => {
    const f = origin.frameNumbers?.[k];
    return n === undefined
      ? undefined
      : f === undefined
        ? `InstanceNumber ${n}`
        : `InstanceNumber ${n}, frame ${f}`;
  });
  if (labels.some((l) => l === undefined) || new Set(labels).size !== nz) return undefined;
  return labels as string[];
}

const AXIS_ORDINAL = ["first", "second", "third"] as const;

/**
 * After the plane's name: ", InstanceNumber 46, z = -87.5 mm", " reformat (not a source image), y = 12.5
 * mm", ", NIfTI voxel k = 16 (...), z = ...". The coordinate is that of the shown plane's centre; where the
 * plane is oblique to the patient's axes, the caption says so and gives its span.
 */
function levelText(
  volume: Volume,
  view: OrientedView,
  axis: 1 | 2,
  index: number,
  origin: SliceOrigin | undefined,
  numbers: string[] | undefined,
): string {
  // The plane's centre and corners in oriented voxel coordinates, then in native ones.
  const other = axis === 2 ? ([0, 1] as const) : ([0, 2] as const);
  const at = (u: number, v: number): Vec3 => {
    const o: Vec3 = [0, 0, 0];
    o[axis] = index;
    o[other[0]] = u * (view.dims[other[0]] - 1);
    o[other[1]] = v * (view.dims[other[1]] - 1);
    const n: Vec3 = [0, 0, 0];
    for (let p = 0; p < 3; p++) {
      const { native, flipped } = view.axes[p]!;
      n[native] = flipped ? view.dims[p]! - 1 - o[p]! : o[p]!;
    }
    return n;
  };
  const mmAt = (u: number, v: number) => voxelCentre(volume, ...at(u, v))[axis];
  const centre = mmAt(0.5, 0.5);
  const corners = [mmAt(0, 0), mmAt(1, 0), mmAt(0, 1), mmAt(1, 1)];
  const lo = Math.min(...corners);
  const hi = Math.max(...corners);
  const name = axis === 2 ? "z" : "y";
  const mm = (v: number) => v.toFixed(1);
  const position =
    hi - lo < 0.05
      ? `${name} = ${mm(centre)} mm`
      : `${name} = ${mm(centre)} mm at the image centre (an oblique plane: ${name} ${mm(lo)} to ${mm(hi)} mm across it)`;

  const a = view.axes[axis].native;
  const k = Math.round(at(0.5, 0.5)[a]!);
  if (origin?.format === "nifti") {
    const letter = "ijk"[a];
    return `, NIfTI voxel ${letter} = ${k} (0-based, of ${volume.dims[a]} along the file's ${AXIS_ORDINAL[a]} axis), ${position}`;
  }
  if (origin?.format === "dicom" && a !== 2) return ` reformat (not a source image), ${position}`;
  const number = a === 2 ? numbers?.[k] : undefined;
  return number ? `, ${number}, ${position}` : `, ${position}`;
}
