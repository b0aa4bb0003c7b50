import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Vec3 } from "../../../core/contracts/volume.js";
import { isInputRejected } from "../../../core/errors.js";
import { column, cross, normalize, voxelCentre } from "../../../core/geometry/affine.js";
import { ANALYSIS_POLICY, CONVERT_POLICY } from "../../../core/validation/policy.js";
import { slicesOf } from "../../../core/validation/slices.js";
import { buildStack, MAX_DROPPED_NAMED } from "../../../core/validation/stack-geometry.js";
import { fakeHeader, fakeStack } from "../../helpers/fake-headers.js";

const slices = (headers: ReturnType<typeof fakeStack>) => headers.flatMap(slicesOf);
const rejectionOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    if (isInputRejected(e)) return e.reasons;
    throw e;
  }
  return [];
};
const timedHeader = (o: { acquisition: number; acquisitionSeconds: number }) => ({
  acquisitionNumber: o.acquisition,
  acquisitionSeconds: o.acquisitionSeconds,
});
const codes = (fn: () => unknown): string[] => rejectionOf(fn).map((r) => r.code);

describe("buildStack", () => {
  it("sorts ascending along the normal and reports descending file order", () => {
    const headers = fakeStack(30, [-100, -120, 50], [0, 0, -2.5]);
    const stack = buildStack(slices(headers), ANALYSIS_POLICY);
    expect(stack.zDirection).toBe("descending");
    expect(stack.geometry.dims).toEqual([4, 4, 30]);
    expect(stack.geometry.spacing[2]).toBeCloseTo(2.5, 9);
    // First voxel is the lowest slice: z = 50 - 29 * 2.5.
    expect(stack.geometry.origin).toEqual([-100, -120, 50 - 29 * 2.5]);
    expect(column(stack.geometry.direction, 2)).toEqual([0, 0, 1]);
    expect(stack.slices.map((s) => s.header.instanceNumber)).toEqual(
      Array.from({ length: 30 }, (_, k) => 30 - k),
    );
  });

  it("maps every voxel centre onto its slice's ImagePositionPatient for any orientation and order", () => {
    fc.assert(
      fc.property(
        fc.double({ min: -Math.PI, max: Math.PI, noNaN: true }),
        fc.double({ min: -0.6, max: 0.6, noNaN: true }),
        fc.double({ min: 0.5, max: 6, noNaN: true }),
        fc.boolean(),
        fc.integer({ min: 2, max: 40 }),
        (yaw, pitch, spacing, reverse, n) => {
          // Row and column directions from two rotations; the normal follows from them.
          const row: Vec3 = normalize([
            Math.cos(yaw),
            Math.sin(yaw) * Math.cos(pitch),
            Math.sin(yaw) * Math.sin(pitch),
          ]);
          const col0: Vec3 = [
            -Math.sin(yaw),
            Math.cos(yaw) * Math.cos(pitch),
            Math.cos(yaw) * Math.sin(pitch),
          ];
          const col = normalize(col0);
          const normal = normalize(cross(row, col));
          const step: Vec3 = [normal[0] * spacing, normal[1] * spacing, normal[2] * spacing];
          const headers = fakeStack(n, [10, -20, 30], reverse ? [-step[0], -step[1], -step[2]] : step, {
            orientation: [...row, ...col] as [number, number, number, number, number, number],
            pixelSpacing: [0.8, 0.6],
          });
          const stack = buildStack(slices(headers), CONVERT_POLICY);
          stack.slices.forEach((s, k) => {
            const p = voxelCentre(stack.geometry, 0, 0, k);
            for (const [a, v] of s.info.position!.entries()) expect(p[a]).toBeCloseTo(v, 6);
            const q = voxelCentre(stack.geometry, 3, 2, k);
            const expected = s.info.position!.map((v, a) => v + row[a]! * 3 * 0.6 + col[a]! * 2 * 0.8);
            for (const [a, v] of expected.entries()) expect(q[a]).toBeCloseTo(v, 6);
          });
          expect(stack.geometry.spacing).toEqual([0.6, 0.8, expect.closeTo(spacing, 9)]);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("rejects a gap larger than 1.5 x the median spacing, naming the slice", () => {
    const headers = fakeStack(30, [0, 0, 0], [0, 0, 2.5]).filter((h) => h.instanceNumber !== 12);
    expect(codes(() => buildStack(slices(headers), ANALYSIS_POLICY))).toEqual(["SLICE_GAP"]);
    try {
      buildStack(slices(headers), ANALYSIS_POLICY);
    } catch (e) {
      if (!isInputRejected(e)) throw e;
      expect(e.reasons[0]!.slice).toBe(11);
    }
  });

  it("accepts jitter within tolerance and rejects non-uniform spacing beyond it", () => {
    const jitter = fakeStack(25, [0, 0, 0], [0, 0, 5]);
    jitter[7]!.frames[0]!.position![2] += 0.4; // 0.4 mm < 10 % of 5 mm
    expect(codes(() => buildStack(slices(jitter), ANALYSIS_POLICY))).toEqual([]);
    const uneven = fakeStack(25, [0, 0, 0], [0, 0, 1]);
    uneven.forEach((h, k) => {
      if (k >= 10) h.frames[0]!.position![2] = 10 + (k - 10) * 1.3; // 1.3 mm steps after 1 mm steps
    });
    expect(codes(() => buildStack(slices(uneven), ANALYSIS_POLICY))).toContain("NON_UNIFORM_SPACING");
  });

  it("keeps the latest acquisition at a repeated position and reports the dropped slice", () => {
    const headers = fakeStack(25, [0, 0, 0], [0, 0, 2], { acquisition: 1 });
    const repeat = fakeHeader({ position: [0, 0, 20], instance: 99, acquisition: 2 });
    const stack = buildStack(slices([...headers, repeat]), ANALYSIS_POLICY);
    expect(stack.dropped).toHaveLength(1);
    expect(stack.dropped[0]!.header.acquisitionNumber).toBe(1);
    expect(stack.slices[10]!.header.instanceNumber).toBe(99);
    const named = stack.warnings.filter((w) => w.code === "DUPLICATES_DROPPED");
    expect(named).toHaveLength(1);
    expect(named[0]!.file).toBe(stack.dropped[0]!.header.file);
    expect(named[0]!.message).toMatch(/acquisition 1\b.*20\.00 mm/);
  });

  it("names every dropped file up to MAX_DROPPED_NAMED, then counts the rest in one warning", () => {
    const first = fakeStack(40, [0, 0, 0], [0, 0, 2], { acquisition: 1 });
    const second = fakeStack(40, [0, 0, 0], [0, 0, 2], { acquisition: 2 });
    second.forEach((h, k) => {
      h.file = `repeat-${k}.dcm`;
    });
    const stack = buildStack(slices([...first, ...second]), ANALYSIS_POLICY);
    expect(stack.dropped).toHaveLength(40);
    const warnings = stack.warnings.filter((w) => w.code === "DUPLICATES_DROPPED");
    expect(warnings).toHaveLength(MAX_DROPPED_NAMED + 1);
    const files = warnings.slice(0, MAX_DROPPED_NAMED).map((w) => w.file);
    expect(new Set(files).size).toBe(MAX_DROPPED_NAMED);
    // The latest acquisition was kept, so the named files are the first acquisition's.
    expect(files.every((f) => f !== undefined && !f.startsWith("repeat-"))).toBe(true);
    expect(warnings.at(-1)).toMatchObject({
      message: expect.stringMatching(/^20 more slice\(s\).*40 in all/),
    });
    expect(warnings.at(-1)?.file).toBeUndefined();
  });

  it("keeps the later acquisition even when its position rounds slightly below the earlier one", () => {
    const headers = fakeStack(25, [0, 0, 0], [0, 0, 2], { acquisition: 1 });
    const repeat = fakeHeader({ position: [0, 0, 19.995], instance: 99, acquisition: 2 });
    const stack = buildStack(slices([...headers, repeat]), ANALYSIS_POLICY);
    expect(stack.slices[10]!.header.acquisitionNumber).toBe(2);
    expect(stack.dropped.map((s) => s.header.acquisitionNumber)).toEqual([1]);
  });

  it("rejects direction cosines that are not orthogonal unit vectors, or overflow", () => {
    const skewed = fakeStack(25, [0, 0, 0], [0, 0, 2], { orientation: [1, 0, 0, 0.3, 0.95, 0] });
    expect(codes(() => buildStack(slices(skewed), ANALYSIS_POLICY))).toEqual(["MISSING_GEOMETRY"]);
    const huge = fakeStack(25, [0, 0, 0], [0, 0, 2], { orientation: [1e200, 0, 0, 0, 1e200, 0] });
    expect(codes(() => buildStack(slices(huge), ANALYSIS_POLICY))).toEqual(["MISSING_GEOMETRY"]);
  });

  it("rejects two different images at one position within one acquisition", () => {
    const headers = fakeStack(25, [0, 0, 0], [0, 0, 2]);
    const dup = fakeHeader({ position: [0, 0, 20], instance: 50, sopInstanceUid: "9.9.9" });
    expect(codes(() => buildStack(slices([...headers, dup]), ANALYSIS_POLICY))).toEqual(["DUPLICATE_SLICES"]);
  });

  it("rejects a different image at a slice's position within one acquisition even when its time differs (scanners time each slice)", () => {
    const timed = (k: number) => ({ acquisition: 1, acquisitionSeconds: 43200 + 0.5 * k });
    const headers = fakeStack(25, [0, 0, 0], [0, 0, 2]).map((h, k) => ({ ...h, ...timedHeader(timed(k)) }));
    // Slice 20's image put at slice 6's position: same acquisition number, its own time.
    const foreign = fakeHeader({ position: [0, 0, 12], instance: 60, sopInstanceUid: "9.9.9", ...timed(20) });
    expect(codes(() => buildStack(slices([...headers, foreign]), ANALYSIS_POLICY))).toEqual([
      "DUPLICATE_SLICES",
    ]);
    // A repeat at that position a minute later keeps the latest, as a repeated acquisition.
    const repeat = fakeHeader({ position: [0, 0, 12], instance: 61, sopInstanceUid: "9.9.8", ...timed(120) });
    const stack = buildStack(slices([...headers, repeat]), ANALYSIS_POLICY);
    expect(stack.slices[6]!.header.sopInstanceUid).toBe("9.9.8");
    expect(stack.warnings.map((w) => w.code)).toContain("DUPLICATES_DROPPED");
  });

  it("rejects a series whose every slice has one position as DUPLICATE_SLICES, not as too few slices", () => {
    const headers = Array.from({ length: 24 }, (_, k) =>
      fakeHeader({ position: [0, 0, 5], instance: k + 1, acquisition: 1, acquisitionSeconds: 100 + k }),
    );
    expect(codes(() => buildStack(slices(headers), ANALYSIS_POLICY))).toEqual(["DUPLICATE_SLICES"]);
  });

  it("rejects slice spacing that drifts along the series although each step is within the tolerance", () => {
    // 60 steps of 5 mm, then 59 of 5.45 mm: every step within 10 % of the median, slice 60 13 mm off.
    const z = Array.from({ length: 120 }, (_, k) => (k <= 60 ? 5 * k : 300 + 5.45 * (k - 60)));
    const headers = z.map((d, k) => fakeHeader({ position: [0, 0, d], instance: k + 1 }));
    const reasons = rejectionOf(() => buildStack(slices(headers), ANALYSIS_POLICY));
    expect(reasons.map((r) => r.code)).toEqual(["NON_UNIFORM_SPACING"]);
    expect(reasons[0]!.message).toMatch(/^Slice 60 lies 13\.\d\d mm from where/);
    // Jitter around a uniform step stays accepted.
    const jitter = Array.from({ length: 120 }, (_, k) =>
      fakeHeader({ position: [0, 0, 1.25 * k + (k % 3) * 0.01], instance: k + 1 }),
    );
    expect(buildStack(slices(jitter), ANALYSIS_POLICY).geometry.spacing[2]).toBeCloseTo(1.25, 3);
  });

  it("rejects a volume longer than any body along an axis (wrong spacing or units)", () => {
    const wide = fakeStack(25, [0, 0, 0], [0, 0, 2], { pixelSpacing: [1000, 1000] });
    expect(codes(() => buildStack(slices(wide), ANALYSIS_POLICY))).toEqual(["MISSING_GEOMETRY"]);
    const tall = fakeStack(25, [0, 0, 0], [0, 0, 500]);
    const reasons = rejectionOf(() => buildStack(slices(tall), ANALYSIS_POLICY));
    expect(reasons.map((r) => r.code)).toEqual(["MISSING_GEOMETRY"]);
    expect(reasons[0]!.message).toContain("12500 mm along its third axis (25 x 500.0 mm)");
    // A whole-body scan's length passes.
    expect(buildStack(slices(fakeStack(800, [0, 0, 0], [0, 0, 2.5])), ANALYSIS_POLICY).slices).toHaveLength(
      800,
    );
  });

  it("says a degenerate ImageOrientationPatient is the problem, not PixelSpacing", () => {
    const flat = fakeStack(25, [0, 0, 0], [0, 0, 2], { orientation: [1, 0, 0, 1, 0, 0] });
    const reasons = rejectionOf(() => buildStack(slices(flat), ANALYSIS_POLICY));
    expect(reasons.map((r) => r.code)).toEqual(["MISSING_GEOMETRY"]);
    expect(reasons[0]!.message).toMatch(/ImageOrientationPatient/);
    expect(reasons[0]!.message).not.toMatch(/PixelSpacing/);
  });

  it("treats the same SOP instance sent twice as one slice", () => {
    const headers = fakeStack(25, [0, 0, 0], [0, 0, 2]);
    const again = { ...headers[5]!, file: "copy/IM0006" };
    const stack = buildStack(slices([...headers, again]), ANALYSIS_POLICY);
    expect(stack.slices).toHaveLength(25);
  });

  it("keeps a gantry-tilt shear in the affine with a warning, and rejects extreme shear", () => {
    const tilt = (20 * Math.PI) / 180;
    const headers = fakeStack(25, [0, 0, 0], [0, 2.5 * Math.tan(tilt), 2.5]);
    const stack = buildStack(slices(headers), ANALYSIS_POLICY);
    expect(stack.tiltDeg).toBeCloseTo(20, 6);
    expect(stack.warnings.map((w) => w.code)).toContain("GANTRY_TILT");
    const last = voxelCentre(stack.geometry, 0, 0, 24);
    expect(last[1]).toBeCloseTo(24 * 2.5 * Math.tan(tilt), 6);
    expect(last[2]).toBeCloseTo(60, 6);
    const steep = fakeStack(25, [0, 0, 0], [0, 2.5 * Math.tan((40 * Math.PI) / 180), 2.5]);
    expect(codes(() => buildStack(slices(steep), ANALYSIS_POLICY))).toContain("GANTRY_TILT");
  });

  it("judges tilt by the positions, not by GantryDetectorTilt: an unsheared stack with the tag set is no tilt", () => {
    // Scanners that tilt the image plane itself write positions along the plane's normal and the tag too.
    const headers = fakeStack(25, [0, 0, 0], [0, 0, 2.5]).map((h) => ({ ...h, gantryTilt: 40 }));
    const stack = buildStack(slices(headers), ANALYSIS_POLICY);
    expect(stack.tiltDeg).toBe(0);
    expect(stack.warnings.map((w) => w.code)).not.toContain("GANTRY_TILT");
  });

  it("rejects missing geometry, naming the file", () => {
    const headers = fakeStack(25, [0, 0, 0], [0, 0, 2]);
    delete headers[3]!.frames[0]!.position;
    expect(codes(() => buildStack(slices(headers), ANALYSIS_POLICY))).toEqual(["MISSING_GEOMETRY"]);
    const noSpacing = fakeStack(25, [0, 0, 0], [0, 0, 2]);
    delete noSpacing[0]!.frames[0]!.pixelSpacing;
    expect(codes(() => buildStack(slices(noSpacing), ANALYSIS_POLICY))).toEqual(["MISSING_GEOMETRY"]);
  });

  it("rejects too few slices for analysis but converts them", () => {
    const headers = fakeStack(5, [0, 0, 0], [0, 0, 2.5]);
    expect(codes(() => buildStack(slices(headers), ANALYSIS_POLICY))).toEqual(["TOO_FEW_SLICES"]);
    expect(buildStack(slices(headers), CONVERT_POLICY).geometry.dims[2]).toBe(5);
  });

  it("rejects mixed pixel spacing and a zig-zag stack as inconsistent", () => {
    const headers = fakeStack(25, [0, 0, 0], [0, 0, 2]);
    headers[4]!.frames[0]!.pixelSpacing = [0.9, 0.9];
    expect(codes(() => buildStack(slices(headers), ANALYSIS_POLICY))).toEqual(["INCONSISTENT_SERIES"]);
    const zig = fakeStack(25, [0, 0, 0], [0, 0, 2]);
    zig[10]!.frames[0]!.position![0] += 15;
    expect(codes(() => buildStack(slices(zig), ANALYSIS_POLICY))).toEqual(["INCONSISTENT_SERIES"]);
  });
});
