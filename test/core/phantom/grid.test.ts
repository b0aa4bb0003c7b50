/**
 * The sampling grid and grid independence: one seed rendered axial 2.5 mm ascending, 5 mm descending and
 * on an oblique or a coronal grid must describe the same lungs and lesions (volumes within a few %, centres within a
 * fraction of a voxel), because the anatomy lives in mm and only the grid changes.
 */
import { beforeAll, describe, expect, it } from "vitest";
import type { Geometry, Vec3 } from "../../../core/contracts/volume.js";
import { column, cross, dot, norm, voxelCentre } from "../../../core/geometry/affine.js";
import { SCAN_CENTRE } from "../../../core/phantom/anatomy.js";
import { planPhantom, renderPhantom } from "../../../core/phantom/generate.js";
import { obliqueRotation, phantomGrid } from "../../../core/phantom/grid.js";
import { resolvePhantomOptions } from "../../../core/phantom/options.js";
import { computeTruth, type PhantomTruth } from "../../../core/phantom/truth.js";

function gridOf(opts: Record<string, unknown>): Geometry {
  return phantomGrid(resolvePhantomOptions({ out: "unused", ...opts }));
}

function centreOf(g: Geometry): Vec3 {
  return voxelCentre(g, (g.dims[0] - 1) / 2, (g.dims[1] - 1) / 2, (g.dims[2] - 1) / 2);
}

describe("phantomGrid", () => {
  it("defaults to 512 x 512 x 120, a 360 mm field of view and 2.5 mm slices, centred on the chest", () => {
    const g = gridOf({});
    expect(g.dims).toEqual([512, 512, 120]);
    expect(g.spacing).toEqual([360 / 512, 360 / 512, 2.5]);
    expect(g.direction).toEqual([1, 0, 0, 0, 1, 0, 0, 0, 1]);
    centreOf(g).forEach((v, c) => {
      expect(v).toBeCloseTo(SCAN_CENTRE[c]!, 9);
    });
    // First voxel: patient's right, anterior, inferior.
    expect(g.origin[0]).toBeCloseTo(-(511 * 360) / 512 / 2, 9);
    expect(g.origin[2]).toBeCloseTo(SCAN_CENTRE[2] - (119 * 2.5) / 2, 9);
  });

  it("moves the field of view's centre off the chest's axis in plane (offCentreMm), on any grid", () => {
    for (const extra of [{}, { orientation: { rotateXDeg: 12, rotateYDeg: -8 } }]) {
      const g = gridOf({ offCentreMm: [60, -40], ...extra });
      const c = centreOf(g);
      expect(c[0]).toBeCloseTo(SCAN_CENTRE[0] + 60, 9);
      expect(c[1]).toBeCloseTo(SCAN_CENTRE[1] - 40, 9);
      expect(c[2]).toBeCloseTo(SCAN_CENTRE[2], 9);
    }
    expect(() => gridOf({ offCentreMm: [250, 0] })).toThrow(/offCentreMm/);
  });

  it("honours spacing different from thickness, and an explicit pixel spacing", () => {
    const g = gridOf({ size: 64, slices: 10, sliceThickness: 5, spacing: 4, pixelSpacing: 0.5 });
    expect(g.spacing).toEqual([0.5, 0.5, 4]);
    expect(g.dims).toEqual([64, 64, 10]);
  });

  it("descending: k runs towards the feet, the same slab of space, first slice at the top", () => {
    const up = gridOf({ size: 32, slices: 20, zDirection: "ascending" });
    const down = gridOf({ size: 32, slices: 20, zDirection: "descending" });
    expect(column(down.direction, 2)).toEqual([0, 0, -1]);
    expect(voxelCentre(down, 0, 0, 0)[2]).toBeCloseTo(voxelCentre(up, 0, 0, 19)[2], 9);
    expect(voxelCentre(down, 0, 0, 19)[2]).toBeCloseTo(voxelCentre(up, 0, 0, 0)[2], 9);
    // Rows and columns keep their orientation: only the slice order flips.
    expect(column(down.direction, 0)).toEqual([1, 0, 0]);
    expect(column(down.direction, 1)).toEqual([0, 1, 0]);
  });

  it("oblique: rotated orthonormal axes about the same centre; the slice normal is the rotated z", () => {
    const g = gridOf({ size: 64, slices: 30, orientation: { rotateXDeg: 20, rotateYDeg: -10 } });
    const i = column(g.direction, 0);
    const j = column(g.direction, 1);
    const k = column(g.direction, 2);
    expect(norm(i)).toBeCloseTo(1, 12);
    expect(norm(j)).toBeCloseTo(1, 12);
    expect(dot(i, j)).toBeCloseTo(0, 12);
    cross(i, j).forEach((v, c) => {
      expect(v).toBeCloseTo(k[c]!, 12);
    });
    // About x by 20 degrees: the slice normal tilts towards -y (sin 20) before the y rotation.
    expect(k[1]).toBeCloseTo(-Math.sin((20 * Math.PI) / 180), 12);
    centreOf(g).forEach((v, c) => {
      expect(v).toBeCloseTo(SCAN_CENTRE[c]!, 9);
    });
    obliqueRotation(0, 0).forEach((v, c) => {
      expect(v).toBeCloseTo([1, 0, 0, 0, 1, 0, 0, 0, 1][c]!, 15);
    });
  });

  it("coronal and sagittal: the head at the top of the image, slices front to back / left to right, centred", () => {
    const coronal = gridOf({ size: 64, slices: 30, orientation: "coronal" });
    expect(coronal.direction).toEqual([1, 0, 0, 0, 0, 1, 0, -1, 0]);
    const sagittal = gridOf({ size: 64, slices: 30, orientation: "sagittal" });
    expect(sagittal.direction).toEqual([0, 0, -1, 1, 0, 0, 0, -1, 0]);
    for (const g of [coronal, sagittal])
      centreOf(g).forEach((v, c) => {
        expect(v).toBeCloseTo(SCAN_CENTRE[c]!, 9);
      });
    // Descending reverses the slices only.
    const back = gridOf({ size: 64, slices: 30, orientation: "coronal", zDirection: "descending" });
    expect(column(back.direction, 2)).toEqual([0, -1, 0]);
    expect(column(back.direction, 1)).toEqual([0, 0, -1]);
    expect(() => gridOf({ orientation: "transverse" })).toThrow(/orientation/);
  });
});

describe("grid independence of one seed's anatomy and lesions", () => {
  const seed = 2;
  const truths: Record<string, PhantomTruth> = {};
  beforeAll(() => {
    const plan = planPhantom("covid", seed);
    const cases: Record<string, Record<string, unknown>> = {
      axial: { size: 256, slices: 140, sliceThickness: 2.5 },
      descending5: { size: 256, slices: 70, sliceThickness: 5, zDirection: "descending" },
      // Larger field and coverage so the rotated grid still holds every lesion.
      oblique: {
        size: 256,
        slices: 160,
        sliceThickness: 2.5,
        pixelSpacing: 1.6,
        orientation: { rotateXDeg: 10, rotateYDeg: -6 },
      },
      // 360 mm of height and width in the image, 110 slices of 2.5 mm from front to back.
      coronal: { size: 256, slices: 110, sliceThickness: 2.5, orientation: "coronal" },
    };
    for (const [name, opts] of Object.entries(cases)) {
      const o = resolvePhantomOptions({ out: "unused", ...opts });
      const rotation =
        typeof o.orientation === "string"
          ? { x: 0, y: 0 }
          : { x: o.orientation.rotateXDeg, y: o.orientation.rotateYDeg };
      const r = renderPhantom(plan, phantomGrid(o), { noiseSd: 15, correlatedNoise: true });
      truths[name] = computeTruth(r, {
        cls: "covid",
        seed,
        lesions: plan.lesions,
        sliceThickness: o.sliceThickness,
        zDirection: o.zDirection,
        rotationDeg: rotation,
        ...(o.orientation === "coronal" ? { plane: "coronal" as const } : {}),
        files: {},
      });
    }
  });

  it("finds the same lesions, with volumes within 3 % and centres within 1 mm", () => {
    const ref = truths.axial!;
    expect(ref.lesions.length).toBeGreaterThanOrEqual(2);
    for (const name of ["descending5", "oblique", "coronal"]) {
      const t = truths[name]!;
      expect(t.lesions.map((l) => l.id)).toEqual(ref.lesions.map((l) => l.id));
      for (const [n, l] of t.lesions.entries()) {
        const r = ref.lesions[n]!;
        expect(Math.abs(l.volumeMl / r.volumeMl - 1), `${name} lesion ${l.id} volume`).toBeLessThan(0.03);
        const d = Math.hypot(...l.centreMm.map((v, c) => v - r.centreMm[c]!));
        // Finer than one voxel of either grid (1.4 mm in-plane, 2.5-5 mm slices).
        expect(d, `${name} lesion ${l.id} centre`).toBeLessThan(1);
        expect(l.side).toBe(r.side);
        expect(Math.abs(l.meanPleuralDepthMm - r.meanPleuralDepthMm)).toBeLessThan(0.5);
      }
      expect(Math.abs(t.totals.lesionVolumeMl / ref.totals.lesionVolumeMl - 1)).toBeLessThan(0.02);
      expect(Math.abs(t.lungs.totalMl / ref.lungs.totalMl - 1)).toBeLessThan(0.01);
    }
  });

  it("records the grid it was measured on", () => {
    expect(truths.descending5!.grid.zDirection).toBe("descending");
    expect(truths.descending5!.grid.dims).toEqual([256, 256, 70]);
    expect(truths.oblique!.grid.spacing[0]).toBe(1.6);
    expect(truths.oblique!.grid.orientation).toBe("oblique");
    expect(truths.oblique!.grid.rotationDeg).toEqual({ x: 10, y: -6 });
    expect(truths.axial!.grid.orientation).toBe("axial");
    expect(truths.coronal!.grid.orientation).toBe("coronal");
    expect(truths.coronal!.grid.rotationDeg).toEqual({ x: 0, y: 0 });
  });
});
