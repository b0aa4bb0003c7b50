import { describe, expect, it } from "vitest";
import type { Mat3, Vec3, Volume } from "../../../../core/contracts/volume.js";
import { voxelCentre } from "../../../../core/geometry/affine.js";
import { axialOrder } from "../../../../gpu-job/pipeline/lungs/axial-order.js";

function volume(direction: Mat3, dims: Vec3 = [3, 4, 5], spacing: Vec3 = [0.7, 0.8, 2.5]): Volume {
  const data = new Int16Array(dims[0] * dims[1] * dims[2]).map((_, n) => n * 7 - 100);
  return { dims, spacing, origin: [10, -20, 30], direction, data };
}

function ijk(v: Volume, n: number): Vec3 {
  const [nx, ny] = v.dims;
  return [n % nx, Math.floor(n / nx) % ny, Math.floor(n / (nx * ny))];
}

const deg = (d: number) => (d * Math.PI) / 180;

describe("axialOrder", () => {
  it("leaves stacks whose k axis runs along the body alone (ascending, descending, transposed, 30 degrees)", () => {
    const c = Math.cos(deg(30));
    const s = Math.sin(deg(30));
    for (const d of [
      [1, 0, 0, 0, 1, 0, 0, 0, 1],
      [1, 0, 0, 0, 1, 0, 0, 0, -1],
      [0, 1, 0, 1, 0, 0, 0, 0, 1],
      [-1, 0, 0, 0, -1, 0, 0, 0, 1],
      [1, 0, 0, 0, c, -s, 0, s, c],
    ] as Mat3[])
      expect(axialOrder(volume(d))).toBeNull();
  });

  for (const [name, d] of [
    ["coronal (j head to feet, k front to back)", [1, 0, 0, 0, 0, 1, 0, -1, 0]],
    ["sagittal (i front to back, j head to feet, k left to right)", [0, 0, -1, 1, 0, 0, 0, -1, 0]],
    [
      "tilted 60 degrees about x",
      [1, 0, 0, 0, Math.cos(deg(60)), -Math.sin(deg(60)), 0, Math.sin(deg(60)), Math.cos(deg(60))],
    ],
  ] as Array<[string, Mat3]>)
    it(`copies a ${name} stack into LPS order voxel for voxel, each voxel where it was, and back`, () => {
      const v = volume(d);
      const a = axialOrder(v);
      expect(a).not.toBeNull();
      const o = a!.volume;
      expect(o.data.length).toBe(v.data.length);
      expect(o.data).toBeInstanceOf(Int16Array);
      // Every copied voxel sits at the same patient position with the same value.
      const where = new Map<number, Vec3>();
      for (let n = 0; n < v.data.length; n++) where.set(v.data[n]!, voxelCentre(v, ...ijk(v, n)));
      for (let n = 0; n < o.data.length; n++) {
        const p = voxelCentre(o, ...ijk(o, n));
        const q = where.get(o.data[n]!)!;
        for (let r = 0; r < 3; r++) expect(p[r]).toBeCloseTo(q[r]!, 9);
      }
      // The copy's k axis runs foot to head; its i axis towards the patient's left, j towards posterior.
      expect(o.direction[8]).toBeGreaterThan(0.5);
      expect(o.direction[0]).toBeGreaterThan(0.5);
      expect(o.direction[4]).toBeGreaterThan(0.4);
      // Back: a byte map of the copy lands on the voxels it came from.
      const map = Uint8Array.from(o.data, (x) => (x + 100) % 251);
      const back = a!.toNative(map);
      expect(Array.from(back)).toEqual(Array.from(v.data, (x) => (x + 100) % 251));
    });

  it("keeps float voxels float", () => {
    const v = volume([1, 0, 0, 0, 0, 1, 0, -1, 0]);
    const f: Volume = { ...v, data: Float32Array.from(v.data, (x) => x + 0.25) };
    const o = axialOrder(f)!.volume;
    expect(o.data).toBeInstanceOf(Float32Array);
    expect(Array.from(o.data).sort((x, y) => x - y)).toEqual(Array.from(f.data).sort((x, y) => x - y));
  });
});
