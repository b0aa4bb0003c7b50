/** turnedAboutZ: the same voxels turned about the LPS z axis through a point (patient roll, both ways). */
import { describe, expect, it } from "vitest";
import type { Geometry, Mat3, Vec3 } from "../../../core/contracts/volume.js";
import { invert3, multiply3, transpose3, turnedAboutZ, voxelCentre } from "../../../core/geometry/affine.js";

const g: Geometry = {
  dims: [40, 30, 10],
  spacing: [0.8, 0.8, 2.5],
  origin: [-16, -12, -40],
  direction: [
    1, 0, 0, 0, 0.9950041652780258, -0.09983341664682815, 0, 0.09983341664682815, 0.9950041652780258,
  ],
};

describe("turnedAboutZ", () => {
  const centre: Vec3 = [3, -5, 7];
  it("turns every voxel centre by the angle about z through the centre, x towards y", () => {
    const t = turnedAboutZ(g, 30, centre);
    expect(t.dims).toEqual(g.dims);
    expect(t.spacing).toEqual(g.spacing);
    const a = (30 * Math.PI) / 180;
    for (const [i, j, k] of [
      [0, 0, 0],
      [39, 29, 9],
      [12, 7, 3],
    ] as const) {
      const p = voxelCentre(g, i, j, k);
      const q = voxelCentre(t, i, j, k);
      const [dx, dy] = [p[0] - centre[0], p[1] - centre[1]];
      expect(q[0]).toBeCloseTo(centre[0] + Math.cos(a) * dx - Math.sin(a) * dy, 9);
      expect(q[1]).toBeCloseTo(centre[1] + Math.sin(a) * dx + Math.cos(a) * dy, 9);
      expect(q[2]).toBeCloseTo(p[2], 9);
    }
  });

  it("is undone by the opposite turn, and keeps the axes orthonormal", () => {
    const back = turnedAboutZ(turnedAboutZ(g, -17, centre), 17, centre);
    back.origin.forEach((v, r) => {
      expect(v).toBeCloseTo(g.origin[r]!, 9);
    });
    back.direction.forEach((v, r) => {
      expect(v).toBeCloseTo(g.direction[r]!, 9);
    });
    const d = turnedAboutZ(g, -17, centre).direction;
    const col = (c: number) => [d[c]!, d[3 + c]!, d[6 + c]!];
    for (let c = 0; c < 3; c++) expect(Math.hypot(...col(c))).toBeCloseTo(1, 12);
    expect(col(0).reduce((s, v, r) => s + v * col(1)[r]!, 0)).toBeCloseTo(0, 12);
  });
});

describe("invert3, multiply3, transpose3", () => {
  it("inverts a general 3x3: the product with the inverse is the identity", () => {
    const m: Mat3 = [2, -1, 0.5, 0.3, 1.7, -2, 1, 0.2, 3];
    const p = multiply3(m, invert3(m));
    const identity = [1, 0, 0, 0, 1, 0, 0, 0, 1];
    for (const [n, v] of p.entries()) expect(v).toBeCloseTo(identity[n]!, 12);
    expect(transpose3(m)).toEqual([2, 0.3, 1, -1, 1.7, 0.2, 0.5, -2, 3]);
  });

  it("refuses a singular matrix", () => {
    expect(() => invert3([1, 2, 3, 2, 4, 6, 0, 1, 1])).toThrow(/singular/);
  });
});
