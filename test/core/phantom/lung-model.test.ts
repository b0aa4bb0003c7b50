/**
 * The reference lung model: its labels are the analytic lungs, its depth field is an exact Euclidean
 * distance to the nearest non-lung point (checked against brute force), and the zones split each lung's
 * height in thirds.
 */
import { describe, expect, it } from "vitest";
import { HEART, lungSideAt } from "../../../core/phantom/anatomy.js";
import {
  depthAt,
  getLungModel,
  inwardNormalAt,
  modelPoint,
  zoneOf,
} from "../../../core/phantom/lung-model.js";

describe("lung model", () => {
  const m = getLungModel();

  it("samples the analytic lungs on a 2 mm lattice, with plausible volumes", () => {
    for (let idx = 0; idx < m.label.length; idx += 997) {
      const [x, y, z] = modelPoint(m, idx);
      expect(m.label[idx]).toBe(lungSideAt(x, y, z));
    }
    expect(m.volumeMl.right).toBeGreaterThan(m.volumeMl.left);
    expect(m.volumeMl.right + m.volumeMl.left).toBeGreaterThan(4500);
    expect(m.volumeMl.right + m.volumeMl.left).toBeLessThan(7500);
    expect(getLungModel()).toBe(m);
  });

  it("keeps the heart out of the left lung (cardiac notch)", () => {
    expect(lungSideAt(HEART.x, HEART.y, HEART.z)).toBe(0);
    expect(lungSideAt(HEART.x + 40, HEART.y, HEART.z)).toBe(0);
    // Lateral to the heart the left lung is still there.
    expect(lungSideAt(120, 0, HEART.z)).toBe(2);
  });

  it("holds the exact distance to the nearest non-lung point (brute force on samples)", () => {
    const [nx, ny, nz] = m.dims;
    const outside: number[] = [];
    // Non-lung points next to a lung point: the nearest non-lung point is always one of them.
    for (let idx = 0; idx < m.label.length; idx++) {
      if (m.label[idx]) continue;
      const i = idx % nx;
      const j = Math.floor(idx / nx) % ny;
      const k = Math.floor(idx / (nx * ny));
      const near =
        (i > 0 && m.label[idx - 1]) ||
        (i < nx - 1 && m.label[idx + 1]) ||
        (j > 0 && m.label[idx - nx]) ||
        (j < ny - 1 && m.label[idx + nx]) ||
        (k > 0 && m.label[idx - nx * ny]) ||
        (k < nz - 1 && m.label[idx + nx * ny]);
      if (near) outside.push(idx);
    }
    const pts = outside.map((idx) => modelPoint(m, idx));
    let checked = 0;
    for (let idx = 12345; idx < m.label.length && checked < 40; idx += 15013) {
      if (!m.label[idx]) continue;
      const p = modelPoint(m, idx);
      let best = Infinity;
      for (const q of pts) best = Math.min(best, Math.hypot(p[0] - q[0], p[1] - q[1], p[2] - q[2]));
      expect(m.depth[idx]).toBeCloseTo(Math.max(0, best - m.step / 2), 3);
      checked++;
    }
    expect(checked).toBeGreaterThan(20);
    let max = 0;
    for (const d of m.depth) max = Math.max(max, d);
    expect(max).toBeGreaterThan(40);
    expect(max).toBeLessThan(80);
  });

  it("interpolates depth, is 0 outside, and its gradient points into the lung", () => {
    expect(depthAt(m, 0, 0, 0)).toBe(0);
    expect(depthAt(m, 1e4, 0, 0)).toBe(0);
    // Near the lateral chest wall of the right lung, inwards is towards +x.
    const n = inwardNormalAt(m, -135, 0, -30);
    expect(n[0]).toBeGreaterThan(0.7);
    expect(depthAt(m, -120, 0, -30)).toBeGreaterThan(depthAt(m, -135, 0, -30));
  });

  it("splits each lung's height into thirds", () => {
    const [lo, hi] = m.zRange.right;
    expect(zoneOf(m, 1, lo + 1)).toBe("lower");
    expect(zoneOf(m, 1, (lo + hi) / 2)).toBe("middle");
    expect(zoneOf(m, 1, hi - 1)).toBe("upper");
    expect(m.zRange.left[0]).toBeLessThan(m.zRange.left[1]);
  });
});
