import { describe, expect, it } from "vitest";
import { voxelToLps } from "../../../core/geometry/affine.js";
import { EMPHYSEMA_HU, emphysemaWeight, planEmphysema } from "../../../core/phantom/emphysema.js";
import { getLungModel, modelPoint } from "../../../core/phantom/lung-model.js";
import { resolvePhantomOptions } from "../../../core/phantom/options.js";
import { renderResolved } from "../../../core/phantom/run.js";
import { computeTruth } from "../../../core/phantom/truth.js";
import { differing } from "../../helpers/arrays.js";

describe("planEmphysema", () => {
  it("covers the requested share of the lung model's points, more of the upper zones, the same for the same seed", () => {
    const m = getLungModel();
    const plan = planEmphysema(3, 0.25);
    expect(planEmphysema(3, 0.25).spaces).toEqual(plan.spaces);
    expect(planEmphysema(4, 0.25).spaces).not.toEqual(plan.spaces);
    expect(plan.bullae).toBe(5);
    // Share of the model's lung points inside a space, per third of each lung's height.
    const inside = [0, 0, 0];
    const all = [0, 0, 0];
    for (let n = 0; n < m.label.length; n++) {
      const side = m.label[n];
      if (!side) continue;
      const [x, y, z] = modelPoint(m, n);
      const [lo, hi] = side === 1 ? m.zRange.right : m.zRange.left;
      const third = Math.min(2, Math.floor((3 * (z - lo)) / (hi - lo)));
      all[third]!++;
      if (emphysemaWeight(plan, x, y, z) >= 0.5) inside[third]!++;
    }
    const total = (inside[0]! + inside[1]! + inside[2]!) / (all[0]! + all[1]! + all[2]!);
    expect(total).toBeGreaterThan(0.23);
    expect(total).toBeLessThan(0.27);
    const [lower, middle, upper] = inside.map((c, t) => c / all[t]!);
    expect(upper).toBeGreaterThan(middle!);
    expect(middle).toBeGreaterThan(lower!);
    expect(upper).toBeGreaterThan(2 * lower!);
  });
});

describe("a phantom with options.emphysema", () => {
  // 256 px over 360 mm, 10 mm slices through the whole chest: quick, and every zone in view.
  const o = resolvePhantomOptions({
    out: "x",
    class: "covid",
    seed: 5,
    size: 256,
    slices: 30,
    sliceThickness: 10,
  });
  const plain = renderResolved(o);
  const emphysematous = renderResolved({ ...o, emphysema: 0.3 });
  const lungs = plain.rendered.lungs.data;
  const before = plain.rendered.ct.data;
  const after = emphysematous.rendered.ct.data;

  it("darkens lung parenchyma only: the rest of the image, the lungs' and the lesions' truth are the plain phantom's", () => {
    expect(differing(emphysematous.rendered.lungs.data, lungs)).toBe(0);
    expect(differing(emphysematous.rendered.lesions.data, plain.rendered.lesions.data)).toBe(0);
    let outside = 0;
    let darker = 0;
    let brighter = 0;
    for (let v = 0; v < before.length; v++) {
      if (!lungs[v]) {
        if (after[v] !== before[v]) outside++;
      } else if (after[v]! < before[v]!) darker++;
      else if (after[v]! > before[v]!) brighter++;
    }
    expect(outside).toBe(0);
    expect(brighter).toBe(0);
    expect(darker).toBeGreaterThan(0);
  });

  it("leaves lesions as they were where they lie on destroyed lung: the lesion's attenuation wins", () => {
    const lesions = plain.rendered.lesions.data;
    const g = plain.rendered.ct;
    const a = voxelToLps(g);
    const [nx, ny] = g.dims;
    let consolidatedOnSpace = 0;
    for (let v = 0; v < before.length; v++) {
      // Consolidation (> -100 HU in the plain image) inside an air space stays consolidation.
      if (!lesions[v] || before[v]! < -100) continue;
      const i = v % nx;
      const j = Math.floor(v / nx) % ny;
      const k = Math.floor(v / (nx * ny));
      const x = a[0]! * i + a[1]! * j + a[2]! * k + a[3]!;
      const y = a[4]! * i + a[5]! * j + a[6]! * k + a[7]!;
      const z = a[8]! * i + a[9]! * j + a[10]! * k + a[11]!;
      const plan = emphysematous.plan.emphysema!;
      if (emphysemaWeight(plan, x, y, z) < 1) continue;
      consolidatedOnSpace++;
      expect(Math.abs(after[v]! - before[v]!)).toBeLessThanOrEqual(80);
    }
    expect(consolidatedOnSpace).toBeGreaterThan(0);
  });

  it("records the share, the spaces and the image's LAA-950 in the truth", () => {
    const truth = computeTruth(emphysematous.rendered, {
      cls: "covid",
      seed: 5,
      lesions: emphysematous.plan.lesions,
      sliceThickness: 10,
      zDirection: "ascending",
      rotationDeg: { x: 0, y: 0 },
      emphysema: emphysematous.plan.emphysema!,
      files: {},
    });
    const e = truth.emphysema!;
    expect(e.share).toBe(0.3);
    expect(e.bullae).toBe(6);
    expect(e.centrilobularSpaces).toBe(emphysematous.plan.emphysema!.centrilobular);
    // Vessels, airways and lesions drawn over the spaces, and the spaces' edges, keep the index under the share.
    let lung = 0;
    let low = 0;
    for (let v = 0; v < after.length; v++)
      if (lungs[v]) {
        lung++;
        if (after[v]! < -950) low++;
      }
    expect(e.laa950Percent).toBeCloseTo((100 * low) / lung, 2);
    expect(e.laa950Percent).toBeGreaterThan(15);
    expect(e.laa950Percent).toBeLessThan(30);
    expect(EMPHYSEMA_HU).toBeLessThan(-950);
  });
});
