import { describe, expect, it } from "vitest";
import type { Geometry, Mat3 } from "../../../../core/contracts/volume.js";
import { voxelToLps } from "../../../../core/geometry/affine.js";
import { bodyRollDeg, lungRollDeg } from "../../../../gpu-job/pipeline/lungs/lung-axis.js";

/**
 * Two elliptic lungs (right at -x, left at +x; 60 x 90 mm each, 150 mm apart) rolled by `roll` degrees
 * about z, drawn on a 1 mm grid with the given direction matrix.
 */
function lungs(
  roll: number,
  direction: Mat3 = [1, 0, 0, 0, 1, 0, 0, 0, 1],
): { labels: Uint8Array; g: Geometry } {
  const n = 300;
  const g: Geometry = { dims: [n, n, 4], spacing: [1, 1, 5], origin: [0, 0, 0], direction };
  // Centre the grid on LPS (0, 0) whatever the axes' signs.
  const a0 = voxelToLps(g);
  const c = (n - 1) / 2;
  g.origin = [-(a0[0]! * c + a0[1]! * c), -(a0[4]! * c + a0[5]! * c), 0];
  const a = voxelToLps(g);
  const t = (roll * Math.PI) / 180;
  const labels = new Uint8Array(n * n * 4);
  for (let k = 0, v = 0; k < 4; k++)
    for (let j = 0; j < n; j++)
      for (let i = 0; i < n; i++, v++) {
        const x = a[0]! * i + a[1]! * j + a[3]!;
        const y = a[4]! * i + a[5]! * j + a[7]!;
        // Back into the patient's upright frame.
        const u = Math.cos(t) * x + Math.sin(t) * y;
        const w = -Math.sin(t) * x + Math.cos(t) * y;
        for (const [label, cx] of [
          [1, -75],
          [2, 75],
        ] as const)
          if (((u - cx) / 30) ** 2 + (w / 45) ** 2 <= 1) labels[v] = label;
      }
  return { labels, g };
}

describe("lungRollDeg", () => {
  it("reads 0 for upright lungs and the roll for rolled ones, in LPS whatever the voxel axes", () => {
    expect(lungRollDeg(lungs(0).labels, lungs(0).g)).toBeCloseTo(0, 1);
    for (const roll of [-20, 10, 25]) {
      const l = lungs(roll);
      expect(lungRollDeg(l.labels, l.g)).toBeCloseTo(roll, 0);
      // i to the patient's right and j anterior: the same anatomy, the same roll.
      const f = lungs(roll, [-1, 0, 0, 0, -1, 0, 0, 0, 1]);
      expect(lungRollDeg(f.labels, f.g)).toBeCloseTo(roll, 0);
    }
  });

  it("has no answer without both lungs", () => {
    const l = lungs(10);
    const rightOnly = l.labels.map((v) => (v === 2 ? 0 : v));
    expect(lungRollDeg(rightOnly, l.g)).toBeNull();
    expect(lungRollDeg(new Uint8Array(l.labels.length), l.g)).toBeNull();
  });
});

describe("bodyRollDeg", () => {
  const OUTSIDE = 2;
  /** A 260 x 180 mm elliptic body (inside lungs()'s 300 mm grid) rolled by `roll`: OUTSIDE around it, 0 inside. */
  function body(roll: number, g: Geometry): Uint8Array {
    const a = voxelToLps(g);
    const [nx, ny, nz] = g.dims;
    const t = (roll * Math.PI) / 180;
    const state = new Uint8Array(nx * ny * nz);
    for (let k = 0, v = 0; k < nz; k++)
      for (let j = 0; j < ny; j++)
        for (let i = 0; i < nx; i++, v++) {
          const x = a[0]! * i + a[1]! * j + a[3]!;
          const y = a[4]! * i + a[5]! * j + a[7]!;
          const u = Math.cos(t) * x + Math.sin(t) * y;
          const w = -Math.sin(t) * x + Math.cos(t) * y;
          if ((u / 130) ** 2 + (w / 90) ** 2 > 1) state[v] = OUTSIDE;
        }
    return state;
  }

  it("reads the body's roll from its outline", () => {
    const { g } = lungs(0);
    expect(bodyRollDeg(body(0, g), OUTSIDE, g)).toBeCloseTo(0, 0);
    expect(bodyRollDeg(body(15, g), OUTSIDE, g)).toBeCloseTo(15, 0);
    expect(
      bodyRollDeg(new Uint8Array(g.dims[0] * g.dims[1] * g.dims[2]).fill(OUTSIDE), OUTSIDE, g),
    ).toBeNull();
  });

  it("does not turn when one lung loses its back (pleural fluid), though the lungs' axis does", () => {
    const { labels, g } = lungs(0);
    const a = voxelToLps(g);
    const [nx, ny] = g.dims;
    // The right lung's back 30 mm gone, as under a layer of fluid.
    const lost = labels.map((l, v) => {
      const i = v % nx;
      const j = Math.floor(v / nx) % ny;
      return l === 1 && a[4]! * i + a[5]! * j + a[7]! > 15 ? 0 : l;
    });
    expect(Math.abs(lungRollDeg(lost, g)!)).toBeGreaterThan(3);
    expect(bodyRollDeg(body(0, g), OUTSIDE, g)).toBeCloseTo(0, 0);
  });
});
