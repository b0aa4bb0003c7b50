/**
 * Phantom generation in two steps:
 *   planPhantom(class, seed)   -> everything that exists in mm: stamps (bones, airways, vessels, aorta)
 *                                 and lesions. Grid-independent, deterministic.
 *   renderPhantom(plan, grid)  -> voxels: HU volume, lung labels, lesion instance labels (and, on
 *                                 request, the internal tissue map), all on the same grid.
 * Rendering samples every analytic shape at voxel centres. It visits each voxel once for the base
 * anatomy, then only the voxels inside each stamp's or lesion's bounding box. Coarse pixels get their HU
 * rendered finer and area-averaged (supersample.ts). No I/O here.
 */
import type { Geometry, LabelVolume, Vec3, Volume } from "../contracts/volume.js";
import { voxelToLps } from "../geometry/affine.js";
import {
  baseTissueAt,
  LUNG_LEFT,
  LUNG_RIGHT,
  lungParenchymaHu,
  TISSUE_HU,
  Tissue,
  type TissueCode,
} from "./anatomy.js";
import { type EffusionPlan, underFluid } from "./effusion.js";
import { type EmphysemaPlan, emphysematousHu, emphysemaWeight } from "./emphysema.js";
import {
  LESION_BOUNDARY,
  LESION_HALO,
  type LesionPlan,
  lesionBounds,
  lesionField,
  lesionLevel,
  lesionWeight,
  type PhantomClass,
  planLesions,
} from "./lesions.js";
import { paintPacemaker } from "./metal.js";
import { addNoise, HU_MIN } from "./noise.js";
import { createRng } from "./rng.js";
import { mediastinumStamps, ribStamps, spineStamps, sternumStamps } from "./skeleton.js";
import { type Stamp, stampBounds } from "./stamps.js";
import { averageInto, fineSlabGrid, slabs, supersamplingFactor } from "./supersample.js";
import { type PlacedTable, paintTable } from "./table.js";
import { airwaySegments, airwayStamps, type Segment, vesselSegments, vesselStamps } from "./vessels.js";

export interface PhantomPlan {
  cls: PhantomClass;
  seed: number;
  /** Painted in order over the base anatomy. */
  stamps: Stamp[];
  lesions: LesionPlan[];
  vessels: Segment[];
  airways: Segment[];
  /** Pleural fluid (effusion.ts), set by the renderer's caller: it depends on the grid's roll and the body. */
  effusion?: EffusionPlan;
  /** Air spaces in the lung (emphysema.ts; options.emphysema), set by the renderer's caller. */
  emphysema?: EmphysemaPlan;
}

/** The anatomy of a seed is shared by all classes: only the lesions depend on the class. */
export function planPhantom(cls: PhantomClass, seed: number): PhantomPlan {
  const vessels = [
    ...vesselSegments(createRng(seed, "vessels", "right"), LUNG_RIGHT),
    ...vesselSegments(createRng(seed, "vessels", "left"), LUNG_LEFT),
  ];
  const airways = airwaySegments(createRng(seed, "airways"));
  const bones = createRng(seed, "bones");
  const stamps = [
    ...mediastinumStamps(),
    ...spineStamps(bones),
    ...ribStamps(bones),
    ...sternumStamps(),
    ...vesselStamps(vessels),
    ...airwayStamps(airways),
  ];
  return { cls, seed, stamps, lesions: planLesions(cls, seed), vessels, airways };
}

export interface RenderOptions {
  noiseSd: number;
  correlatedNoise: boolean;
  /** Also return the internal tissue map (tests; costs one byte per voxel). */
  keepTissue?: boolean;
  /**
   * Pixels outside the reconstructed field of view (nx * ny, 1 = out of view; reconstructionCircle): they
   * get the HU floor (-1024, as many scanners write there) in every slice and no lung or lesion label.
   */
  outOfView?: Uint8Array;
  /** A CT table painted under the body before the noise (table.ts; options.table). */
  table?: PlacedTable;
  /** A pacemaker and its streaks painted before the noise (metal.ts; options.metal). */
  pacemaker?: boolean;
}

/** The pixels outside the disc inscribed in a grid's nx x ny image (pixel centres beyond its radius). */
export function outsideInscribedCircle(grid: Geometry): Uint8Array {
  const [nx, ny] = grid.dims;
  const ci = (nx - 1) / 2;
  const cj = (ny - 1) / 2;
  // Radius in mm: half the image's shorter side.
  const r = Math.min(nx * grid.spacing[0], ny * grid.spacing[1]) / 2;
  const mask = new Uint8Array(nx * ny);
  for (let j = 0; j < ny; j++)
    for (let i = 0; i < nx; i++) {
      const x = (i - ci) * grid.spacing[0];
      const y = (j - cj) * grid.spacing[1];
      if (x * x + y * y > r * r) mask[i + nx * j] = 1;
    }
  return mask;
}

export interface RenderedPhantom {
  /** HU, int16, clamped to [-1024, 3071]. */
  ct: Volume & { data: Int16Array };
  /** 0 background, 1 right lung, 2 left lung. */
  lungs: LabelVolume;
  /** 0 background, lesion id 1..n (instance labels, lesion ∩ its lung). */
  lesions: LabelVolume;
  /** Voxels of each lesion (index id - 1) inside its consolidated core. */
  lesionCoreVoxels: number[];
  /** Voxels of pleural fluid (plan.effusion) per side: right, left. */
  fluidVoxels: [number, number];
  tissue?: LabelVolume;
}

/** Voxel-index <-> mm mapping of a grid, precomputed for the inner loops. */
class GridMap {
  readonly a: number[];
  private readonly inv: number[];
  constructor(readonly g: Geometry) {
    this.a = voxelToLps(g);
    const m = this.a;
    // Inverse of the 3x3 part by cofactors (the direction may be a reflection: descending slices).
    const [a, b, c, d, e, f, gg, h, i] = [m[0]!, m[1]!, m[2]!, m[4]!, m[5]!, m[6]!, m[8]!, m[9]!, m[10]!];
    const det = a * (e * i - f * h) - b * (d * i - f * gg) + c * (d * h - e * gg);
    this.inv = [
      (e * i - f * h) / det,
      (c * h - b * i) / det,
      (b * f - c * e) / det,
      (f * gg - d * i) / det,
      (a * i - c * gg) / det,
      (c * d - a * f) / det,
      (d * h - e * gg) / det,
      (b * gg - a * h) / det,
      (a * e - b * d) / det,
    ];
  }

  /** Inclusive voxel-index box covering the mm box, clipped to the grid; undefined if it misses. */
  indexBox(lo: Vec3, hi: Vec3): [number, number, number, number, number, number] | undefined {
    const min = [Infinity, Infinity, Infinity];
    const max = [-Infinity, -Infinity, -Infinity];
    for (let c = 0; c < 8; c++) {
      const x = (c & 1 ? hi[0] : lo[0]) - this.a[3]!;
      const y = (c & 2 ? hi[1] : lo[1]) - this.a[7]!;
      const z = (c & 4 ? hi[2] : lo[2]) - this.a[11]!;
      for (let r = 0; r < 3; r++) {
        const v = this.inv[3 * r]! * x + this.inv[3 * r + 1]! * y + this.inv[3 * r + 2]! * z;
        if (v < min[r]!) min[r] = v;
        if (v > max[r]!) max[r] = v;
      }
    }
    const box: number[] = [];
    for (let r = 0; r < 3; r++) {
      const lo2 = Math.max(0, Math.floor(min[r]!));
      const hi2 = Math.min(this.g.dims[r]! - 1, Math.ceil(max[r]!));
      if (lo2 > hi2) return undefined;
      box.push(lo2, hi2);
    }
    return box as [number, number, number, number, number, number];
  }
}

/** Progress steps renderPhantom reports for `grid`: two per slice (render, noise), two more, one per slice supersampled. */
export function renderSteps(grid: Geometry): number {
  return 2 * grid.dims[2] + 2 + (supersamplingFactor(grid) > 1 ? grid.dims[2] : 0);
}

export function renderPhantom(
  plan: PhantomPlan,
  grid: Geometry,
  opts: RenderOptions,
  onProgress?: (done: number, total: number) => void,
): RenderedPhantom {
  const [nx, ny, nz] = grid.dims;
  const total = renderSteps(grid);
  let done = 0;
  const tick = (): void => onProgress?.(++done, total);

  const layers = renderLayers(plan, grid, tick, opts.outOfView);
  const hu = layers.hu;
  // Coarse pixels: the HU again, finer, area-averaged over each pixel (core/phantom/supersample.ts).
  const f = supersamplingFactor(grid);
  if (f > 1)
    for (const [k0, nk] of slabs(grid, f)) {
      averageInto(renderLayers(plan, fineSlabGrid(grid, f, k0, nk)).hu, f, nx, ny, nk, hu, k0);
      for (let k = 0; k < nk; k++) tick();
    }
  if (opts.pacemaker) paintPacemaker(hu, grid, plan.seed);
  if (opts.table) paintTable(hu, opts.table);
  addNoise(hu, nx, ny, nz, opts.noiseSd, opts.correlatedNoise, [plan.seed, "noise"], tick);
  if (opts.outOfView) padOutOfView(opts.outOfView, hu, layers.lung);

  const geometry = (): Geometry => ({
    dims: [...grid.dims],
    spacing: [...grid.spacing],
    origin: [...grid.origin],
    direction: [...grid.direction],
  });
  const out: RenderedPhantom = {
    ct: { ...geometry(), data: hu },
    lungs: { ...geometry(), data: layers.lung },
    lesions: { ...geometry(), data: layers.lesion },
    lesionCoreVoxels: layers.core,
    fluidVoxels: layers.fluidVoxels,
  };
  if (opts.keepTissue) out.tissue = { ...geometry(), data: layers.tissue };
  return out;
}

/** Padding and no lung in the out-of-view pixels of every slice (lesions were never labelled there). */
function padOutOfView(outOfView: Uint8Array, hu: Int16Array, lung: Uint8Array): void {
  const plane = outOfView.length;
  for (let v = 0; v < hu.length; v++)
    if (outOfView[v % plane]) {
      hu[v] = HU_MIN;
      lung[v] = 0;
    }
}

/**
 * Noise-free HU, tissue, lung and lesion labels of a grid, sampled at its voxel centres; no lesion label
 * in `outOfView` pixels.
 */
function renderLayers(
  plan: PhantomPlan,
  grid: Geometry,
  tick: () => void = () => {},
  outOfView?: Uint8Array,
): {
  hu: Int16Array;
  tissue: Uint8Array;
  lung: Uint8Array;
  lesion: Uint8Array;
  core: number[];
  fluidVoxels: [number, number];
} {
  const n = grid.dims[0] * grid.dims[1] * grid.dims[2];
  const hu = new Int16Array(n);
  const tissue = new Uint8Array(n);
  const lung = new Uint8Array(n);
  const lesion = new Uint8Array(n);
  const map = new GridMap(grid);
  const fluidVoxels: [number, number] = [0, 0];
  renderBase(map, hu, tissue, lung, tick, plan, fluidVoxels);
  const soft = 0.5 * Math.max(grid.spacing[0], grid.spacing[1]);
  for (const s of plan.stamps) renderStamp(map, s, soft, hu, tissue, lung);
  tick();
  const core = plan.lesions.map((l) =>
    renderLesion(map, l, hu, tissue, lung, lesion, plan.emphysema, outOfView),
  );
  tick();
  return { hu, tissue, lung, lesion, core, fluidVoxels };
}

const HU_OF = new Int16Array(256);
for (const [code, value] of Object.entries(TISSUE_HU)) HU_OF[Number(code)] = value;

function renderBase(
  map: GridMap,
  hu: Int16Array,
  tissue: Uint8Array,
  lung: Uint8Array,
  tick: () => void,
  plan: Pick<PhantomPlan, "effusion" | "emphysema">,
  fluidVoxels: [number, number],
): void {
  const { effusion, emphysema } = plan;
  const [nx, ny, nz] = map.g.dims;
  const a = map.a;
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      let x = a[1]! * j + a[2]! * k + a[3]!;
      let y = a[5]! * j + a[6]! * k + a[7]!;
      let z = a[9]! * j + a[10]! * k + a[11]!;
      let idx = nx * (j + ny * k);
      for (let i = 0; i < nx; i++, idx++) {
        let t = baseTissueAt(x, y, z);
        if ((t === Tissue.LUNG_RIGHT || t === Tissue.LUNG_LEFT) && underFluid(effusion, t, x, y, z)) {
          fluidVoxels[t - 1]!++;
          t = Tissue.PLEURAL_FLUID;
        }
        tissue[idx] = t;
        if (t === Tissue.LUNG_RIGHT || t === Tissue.LUNG_LEFT) {
          lung[idx] = t;
          hu[idx] = Math.round(parenchymaHu(emphysema, x, y, z));
        } else {
          hu[idx] = HU_OF[t]!;
        }
        x += a[0]!;
        y += a[4]!;
        z += a[8]!;
      }
    }
    tick();
  }
}

/** Noise-free parenchyma at anatomy point (x, y, z): the lung's, or less where emphysema destroyed it. */
function parenchymaHu(emphysema: EmphysemaPlan | undefined, x: number, y: number, z: number): number {
  const base = lungParenchymaHu(y);
  return emphysema ? emphysematousHu(base, emphysemaWeight(emphysema, x, y, z)) : base;
}

/** Paint one stamp. `soft` is the half-width (mm) of the anti-aliased edge of soft stamps. */
function renderStamp(
  map: GridMap,
  s: Stamp,
  soft: number,
  hu: Int16Array,
  tissue: Uint8Array,
  lung: Uint8Array,
): void {
  const h = s.soft ? soft : 0;
  const { lo, hi } = stampBounds(s, h);
  const box = map.indexBox(lo, hi);
  if (!box) return;
  const [i0, i1, j0, j1, k0, k1] = box;
  const [nx, ny] = map.g.dims;
  const a = map.a;
  const r = s.r;
  const outer = r + h;
  const outer2 = outer * outer;
  const r2 = r * r;
  const target = s.hu;
  const code: TissueCode = s.tissue;
  const where = s.where === "lung" ? 1 : s.where === "nonLung" ? 2 : 0;
  // Capsule terms; unused for cylinders.
  let ax = 0;
  let ay = 0;
  let az = 0;
  let bx = 0;
  let by = 0;
  let bz = 0;
  let len2 = 0;
  if (s.kind === "capsule") {
    [ax, ay, az] = s.a;
    bx = s.b[0] - ax;
    by = s.b[1] - ay;
    bz = s.b[2] - az;
    len2 = bx * bx + by * by + bz * bz;
  }
  for (let k = k0; k <= k1; k++) {
    for (let j = j0; j <= j1; j++) {
      let x = a[0]! * i0 + a[1]! * j + a[2]! * k + a[3]!;
      let y = a[4]! * i0 + a[5]! * j + a[6]! * k + a[7]!;
      let z = a[8]! * i0 + a[9]! * j + a[10]! * k + a[11]!;
      let idx = i0 + nx * (j + ny * k);
      for (let i = i0; i <= i1; i++, idx++, x += a[0]!, y += a[4]!, z += a[8]!) {
        let d2: number;
        if (s.kind === "capsule") {
          const px = x - ax;
          const py = y - ay;
          const pz = z - az;
          let t = len2 > 0 ? (px * bx + py * by + pz * bz) / len2 : 0;
          t = t < 0 ? 0 : Math.min(t, 1);
          const dx = px - t * bx;
          const dy = py - t * by;
          const dz = pz - t * bz;
          d2 = dx * dx + dy * dy + dz * dz;
        } else {
          if (z < s.z0 || z > s.z1) continue;
          const dx = x - s.x;
          const dy = y - s.y;
          d2 = dx * dx + dy * dy;
        }
        if (d2 >= outer2) continue;
        const t0 = tissue[idx]!;
        // Nothing is stamped into pleural fluid: the lung under an effusion is pushed aside and its bronchi
        // go with it. Airways are "body" stamps (the trachea lies outside the lungs), and before this they
        // drew air-filled tubes floating in the fluid, which a lung mask rightly takes for lung.
        if (t0 === Tissue.AIR || t0 === Tissue.PLEURAL_FLUID) continue;
        if (where === 1 ? lung[idx] === 0 : where === 2 ? lung[idx] !== 0 : false) continue;
        let w = 1;
        if (h > 0) {
          w = (outer - Math.sqrt(d2)) / (2 * h);
          if (w > 1) w = 1;
        } else if (d2 > r2) continue;
        const cur = hu[idx]!;
        hu[idx] = Math.round(cur + w * (target - cur));
        if (w >= 0.5) tissue[idx] = code;
      }
    }
  }
}

/**
 * Paint one lesion inside its own lung. The mask takes voxels with field <= 1 not already owned by an
 * earlier lesion; attenuation rises towards the lesion's level on parenchyma only (vessels and airways
 * keep theirs: vessels stay visible in ground glass, air bronchograms in consolidation), taking the denser
 * of overlapping lesions. Returns how many of its mask voxels lie in the consolidated core.
 */
function renderLesion(
  map: GridMap,
  lesion: LesionPlan,
  hu: Int16Array,
  tissue: Uint8Array,
  lung: Uint8Array,
  labels: Uint8Array,
  emphysema: EmphysemaPlan | undefined,
  outOfView?: Uint8Array,
): number {
  const { lo, hi } = lesionBounds(lesion);
  const box = map.indexBox(lo, hi);
  if (!box) return 0;
  const [i0, i1, j0, j1, k0, k1] = box;
  const [nx, ny] = map.g.dims;
  const a = map.a;
  let coreVoxels = 0;
  for (let k = k0; k <= k1; k++) {
    for (let j = j0; j <= j1; j++) {
      let x = a[0]! * i0 + a[1]! * j + a[2]! * k + a[3]!;
      let y = a[4]! * i0 + a[5]! * j + a[6]! * k + a[7]!;
      let z = a[8]! * i0 + a[9]! * j + a[10]! * k + a[11]!;
      let idx = i0 + nx * (j + ny * k);
      for (let i = i0; i <= i1; i++, idx++, x += a[0]!, y += a[4]!, z += a[8]!) {
        if (lung[idx] !== lesion.side) continue;
        const f = lesionField(lesion, x, y, z);
        if (f >= LESION_HALO) continue;
        const inCore = f <= lesion.coreFraction;
        if (f <= LESION_BOUNDARY && labels[idx] === 0 && !outOfView?.[i + nx * j]) {
          labels[idx] = lesion.id;
          if (inCore) coreVoxels++;
        }
        const t = tissue[idx]!;
        const parenchyma =
          t === Tissue.LUNG_RIGHT ||
          t === Tissue.LUNG_LEFT ||
          t === Tissue.LESION_GGO ||
          t === Tissue.LESION_CONSOLIDATION;
        if (!parenchyma) continue;
        const base = parenchymaHu(emphysema, x, y, z);
        const value = Math.round(base + lesionWeight(f) * (lesionLevel(lesion, f) - base));
        if (value > hu[idx]!) hu[idx] = value;
        if (f <= LESION_BOUNDARY && t !== Tissue.LESION_CONSOLIDATION) {
          tissue[idx] = inCore ? Tissue.LESION_CONSOLIDATION : Tissue.LESION_GGO;
        }
      }
    }
  }
  return coreVoxels;
}
