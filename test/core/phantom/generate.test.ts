/**
 * Rendering: determinism, anatomical plausibility of the voxels on a small grid, lesions confined to
 * their lung, and per-class lesion behaviour (bilateral and peripheral COVID-19, fewer and deeper CAP,
 * none in normals) over a few seeds.
 */
import { beforeAll, describe, expect, it } from "vitest";
import type { Geometry } from "../../../core/contracts/volume.js";
import { voxelCentre } from "../../../core/geometry/affine.js";
import { BODY, LUNG_LEFT, LUNG_RIGHT, lungSideAt, Tissue } from "../../../core/phantom/anatomy.js";
import {
  type PhantomPlan,
  planPhantom,
  type RenderedPhantom,
  renderPhantom,
} from "../../../core/phantom/generate.js";
import { phantomGrid } from "../../../core/phantom/grid.js";
import type { PhantomClass } from "../../../core/phantom/lesions.js";
import { resolvePhantomOptions } from "../../../core/phantom/options.js";
import { computeTruth, type PhantomTruth } from "../../../core/phantom/truth.js";

/** 128 x 128 x 60 at 2.8 x 2.8 x 5 mm: the whole chest, quick to render. */
const SMALL: Geometry = phantomGrid(
  resolvePhantomOptions({ out: "unused", size: 128, slices: 60, sliceThickness: 5 }),
);

type Rendered = RenderedPhantom & { plan: PhantomPlan };

function render(cls: PhantomClass, seed: number, keepTissue = false): Rendered {
  const plan = planPhantom(cls, seed);
  return { ...renderPhantom(plan, SMALL, { noiseSd: 15, correlatedNoise: true, keepTissue }), plan };
}

function truthOf(r: Rendered): PhantomTruth {
  return computeTruth(r, {
    cls: r.plan.cls,
    seed: r.plan.seed,
    lesions: r.plan.lesions,
    sliceThickness: 5,
    zDirection: "ascending",
    rotationDeg: { x: 0, y: 0 },
    files: {},
  });
}

function mean(values: number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

describe("determinism", () => {
  it("same seed: byte-identical CT and masks; another seed: different voxels", () => {
    const a = render("covid", 21);
    const b = render("covid", 21);
    const c = render("covid", 22);
    expect(Buffer.from(a.ct.data.buffer).equals(Buffer.from(b.ct.data.buffer))).toBe(true);
    expect(Buffer.from(a.lesions.data).equals(Buffer.from(b.lesions.data))).toBe(true);
    expect(Buffer.from(a.lungs.data).equals(Buffer.from(b.lungs.data))).toBe(true);
    expect(Buffer.from(a.ct.data.buffer).equals(Buffer.from(c.ct.data.buffer))).toBe(false);
    expect(Buffer.from(a.lesions.data).equals(Buffer.from(c.lesions.data))).toBe(false);
    // The lungs are fixed anatomy: same for every seed.
    expect(Buffer.from(a.lungs.data).equals(Buffer.from(c.lungs.data))).toBe(true);
  });

  it("the anatomy of a seed does not depend on its class: a normal differs from its covid twin only in lesions", () => {
    const covid = render("covid", 23, true);
    const normal = render("normal", 23, true);
    const lesionTissue = new Set<number>([Tissue.LESION_GGO, Tissue.LESION_CONSOLIDATION]);
    let differing = 0;
    let outsideLesions = 0;
    for (let i = 0; i < covid.ct.data.length; i++) {
      if (covid.tissue!.data[i] !== normal.tissue!.data[i]) {
        differing++;
        if (!lesionTissue.has(covid.tissue!.data[i]!)) outsideLesions++;
      }
    }
    expect(differing).toBeGreaterThan(0);
    expect(outsideLesions).toBe(0);
  });
});

describe("anatomy on a small grid", () => {
  let r: Rendered;
  beforeAll(() => {
    r = render("covid", 5, true);
  });

  function huOf(pred: (tissue: number, idx: number) => boolean): number[] {
    const out: number[] = [];
    const t = r.tissue!.data;
    for (let i = 0; i < t.length; i++) if (pred(t[i]!, i)) out.push(r.ct.data[i]!);
    return out;
  }

  /**
   * Voxel i and its four in-plane neighbours are all tissue t: free of partial volume, which this coarse
   * grid's HU have (its pixels are area averages; the tissue map is what each centre belongs to).
   */
  function interior(t: number, i: number): boolean {
    const map = r.tissue!.data;
    const nx = r.ct.dims[0];
    return map[i - 1] === t && map[i + 1] === t && map[i - nx] === t && map[i + nx] === t;
  }

  it("lung parenchyma (vessels, airways and lesions excluded) is near -850 HU", () => {
    const lung = huOf((t) => t === Tissue.LUNG_RIGHT || t === Tissue.LUNG_LEFT);
    expect(lung.length).toBeGreaterThan(10_000);
    expect(Math.abs(mean(lung) + 850)).toBeLessThan(60);
  });

  it("air outside the body is near -1000 HU and the body is a 340 x 240 mm ellipse", () => {
    const air = huOf((t) => t === Tissue.AIR);
    expect(Math.abs(mean(air) + 1000)).toBeLessThan(10);
    // Widest extent of the body on the central slice.
    const [nx, ny] = SMALL.dims;
    const k = Math.floor(SMALL.dims[2] / 2);
    let minX = Infinity;
    let maxX = -Infinity;
    let minY = Infinity;
    let maxY = -Infinity;
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++) {
        if (r.tissue!.data[i + nx * (j + ny * k)] === Tissue.AIR) continue;
        const [x, y] = voxelCentre(SMALL, i, j, k);
        minX = Math.min(minX, x);
        maxX = Math.max(maxX, x);
        minY = Math.min(minY, y);
        maxY = Math.max(maxY, y);
      }
    }
    const px = SMALL.spacing[0];
    expect(Math.abs(maxX - minX - 2 * BODY.a)).toBeLessThan(2 * px);
    expect(Math.abs(maxY - minY - 2 * BODY.b)).toBeLessThan(2 * px);
  });

  it("has bone above +300 HU (ribs, spine, sternum), fat near -100 HU and soft tissue near +40 HU", () => {
    const bone = huOf((t) => t === Tissue.CORTICAL_BONE);
    expect(bone.length).toBeGreaterThan(2000);
    expect(mean(bone)).toBeGreaterThan(550);
    expect(huOf((_t, i) => r.ct.data[i]! > 300).length).toBeGreaterThan(2000);
    expect(Math.abs(mean(huOf((t, i) => t === Tissue.FAT && interior(t, i))) + 100)).toBeLessThan(10);
    expect(Math.abs(mean(huOf((t, i) => t === Tissue.MUSCLE && interior(t, i))) - 40)).toBeLessThan(10);
    // Vessels are mostly thinner than these 2.8 mm pixels: partial volume with the parenchyma (-850) around.
    const parenchyma = mean(huOf((t) => t === Tissue.LUNG_RIGHT || t === Tissue.LUNG_LEFT));
    expect(mean(huOf((t) => t === Tissue.VESSEL))).toBeGreaterThan(parenchyma + 400);
    // Partial volume on this coarse grid lifts small lumens a little above -1000 HU.
    expect(mean(huOf((t) => t === Tissue.AIRWAY_LUMEN))).toBeLessThan(-800);
  });

  it("labels the right lung 1 at negative x and the smaller left lung 2 at positive x", () => {
    const sums = { [LUNG_RIGHT]: { n: 0, x: 0 }, [LUNG_LEFT]: { n: 0, x: 0 } } as Record<
      number,
      { n: number; x: number }
    >;
    const [nx, ny, nz] = SMALL.dims;
    let idx = 0;
    for (let k = 0; k < nz; k++)
      for (let j = 0; j < ny; j++)
        for (let i = 0; i < nx; i++, idx++) {
          const side = r.lungs.data[idx]!;
          if (side === 0) continue;
          sums[side]!.n++;
          sums[side]!.x += voxelCentre(SMALL, i, j, k)[0];
          // The mask is the analytic lung at the voxel centre.
          const [x, y, z] = voxelCentre(SMALL, i, j, k);
          if (idx % 97 === 0) expect(lungSideAt(x, y, z)).toBe(side);
        }
    expect(sums[LUNG_RIGHT]!.x / sums[LUNG_RIGHT]!.n).toBeLessThan(-40);
    expect(sums[LUNG_LEFT]!.x / sums[LUNG_LEFT]!.n).toBeGreaterThan(40);
    expect(sums[LUNG_LEFT]!.n).toBeLessThan(sums[LUNG_RIGHT]!.n);
    const t = truthOf(r);
    expect(t.lungs.totalMl).toBeGreaterThan(4000);
    expect(t.lungs.totalMl).toBeLessThan(7500);
  });

  it("confines every lesion voxel to its own lung, and raises attenuation there", () => {
    const t = truthOf(r);
    expect(t.lesions.length).toBeGreaterThan(0);
    const sideOf = new Map(t.lesions.map((l) => [l.id, l.side === "right" ? LUNG_RIGHT : LUNG_LEFT]));
    let voxels = 0;
    for (let i = 0; i < r.lesions.data.length; i++) {
      const id = r.lesions.data[i]!;
      if (id === 0) continue;
      voxels++;
      expect(r.lungs.data[i]).toBe(sideOf.get(id));
    }
    expect(voxels).toBe(t.lesions.reduce((s, l) => s + l.voxels, 0));
    for (const l of t.lesions) {
      expect(l.meanHu).toBeGreaterThan(-760);
      expect(l.meanHu).toBeLessThan(100);
    }
  });
});

describe("lesions by class over several seeds", () => {
  const seeds = [1, 2, 3, 4, 5, 6];
  const truths: Record<"covid" | "cap", PhantomTruth[]> = { covid: [], cap: [] };
  beforeAll(() => {
    for (const cls of ["covid", "cap"] as const) {
      for (const seed of seeds) truths[cls].push(truthOf(render(cls, seed)));
    }
  });

  it("normal: no lesion voxels, no lesions in the truth", () => {
    const r = render("normal", 9);
    expect(r.lesions.data.every((v) => v === 0)).toBe(true);
    const t = truthOf(r);
    expect(t.lesions).toEqual([]);
    expect(t.totals.lesionVolumeMl).toBe(0);
    expect(t.totals.meanPleuralDepthMm).toBeNull();
  });

  it("covid: multi-focal and bilateral in most seeds, ground glass dominant", () => {
    const multi = truths.covid.filter((t) => t.totals.lesionCount >= 2).length;
    const bilateral = truths.covid.filter((t) => t.totals.bilateral).length;
    expect(multi).toBeGreaterThanOrEqual(seeds.length - 1);
    expect(bilateral).toBeGreaterThanOrEqual(seeds.length - 1);
    const ggo = truths.covid.reduce((s, t) => s + t.totals.ggoVolumeMl, 0);
    const all = truths.covid.reduce((s, t) => s + t.totals.lesionVolumeMl, 0);
    expect(ggo / all).toBeGreaterThan(0.85);
  });

  it("cap: one or two lesions with a consolidated core, in less lung than covid", () => {
    for (const t of truths.cap) {
      expect(t.totals.lesionCount).toBeGreaterThanOrEqual(1);
      expect(t.totals.lesionCount).toBeLessThanOrEqual(2);
      expect(t.totals.consolidationVolumeMl / t.totals.lesionVolumeMl).toBeGreaterThan(0.1);
      expect(t.totals.extentPercent.total).toBeLessThan(12);
    }
    const extent = (ts: PhantomTruth[]) => mean(ts.map((t) => t.totals.extentPercent.total));
    expect(extent(truths.cap)).toBeLessThan(extent(truths.covid));
  });

  it("covid lesions are peripheral; cap lesions lie deeper from the pleura", () => {
    const depth = (ts: PhantomTruth[]) => mean(ts.map((t) => t.totals.meanPleuralDepthMm!));
    const covidDepth = depth(truths.covid);
    const capDepth = depth(truths.cap);
    expect(covidDepth).toBeLessThan(18);
    expect(capDepth).toBeGreaterThan(covidDepth + 4);
    const shell14 = (ts: PhantomTruth[]) => mean(ts.map((t) => t.totals.subpleuralShare["14"]));
    expect(shell14(truths.covid)).toBeGreaterThan(shell14(truths.cap));
  });
});
