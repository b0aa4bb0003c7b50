import { describe, expect, it } from "vitest";
import { voxelCentre } from "../../../core/geometry/affine.js";
import { lungSideAt, Tissue } from "../../../core/phantom/anatomy.js";
import { gravityInAnatomy, planEffusion, underFluid } from "../../../core/phantom/effusion.js";
import { planPhantom, renderPhantom } from "../../../core/phantom/generate.js";
import { phantomGrid, scaledAboutChestCentre, turnedAboutChestAxis } from "../../../core/phantom/grid.js";
import { PhantomOptionsError, resolvePhantomOptions } from "../../../core/phantom/options.js";

const grid = phantomGrid(resolvePhantomOptions({ out: "unused", size: 64, slices: 10 }));
const UNIT = { widthScale: 1, depthScale: 1, heightScale: 1 };

describe("gravityInAnatomy", () => {
  it("is the anatomy's posterior axis for an upright, unscaled patient", () => {
    const down = gravityInAnatomy(grid, grid);
    for (const [n, v] of [0, 1, 0].entries()) expect(down[n]).toBeCloseTo(v, 12);
  });

  it("turns with the patient's roll: the table's plane, not the patient's, stays level", () => {
    // A patientRollDeg of r is rendered on the grid turned by -r (run.ts).
    const down = gravityInAnatomy(grid, turnedAboutChestAxis(grid, -20));
    const t = (20 * Math.PI) / 180;
    expect(Math.abs(down[0])).toBeCloseTo(Math.sin(t), 12);
    expect(down[1]).toBeCloseTo(Math.cos(t), 12);
    expect(down[2]).toBeCloseTo(0, 12);
  });

  it("stays posterior for a scaled body (a level plane of a scaled body is level in the anatomy)", () => {
    const down = gravityInAnatomy(
      grid,
      scaledAboutChestCentre(grid, { ...UNIT, widthScale: 1.2, depthScale: 0.8 }),
    );
    for (const [n, v] of [0, 1, 0].entries()) expect(down[n]).toBeCloseTo(v, 12);
  });
});

describe("planEffusion", () => {
  /**
   * Volume (mL) of a side's lung under the plan's fluid, sampled afresh on a 1 mm grid (not the 2 mm lung
   * model the plan was made on), over the posterior part of the chest where it lies.
   */
  const fluidMl = (plan: ReturnType<typeof planEffusion>, side: 1 | 2): number => {
    let n = 0;
    for (let z = -230.5; z < 120; z += 1)
      for (let y = 0.5; y < 110; y += 1)
        for (let x = side === 1 ? -159.5 : 0.5; side === 1 ? x < 0 : x < 160; x += 1)
          if (lungSideAt(x, y, z) === side && underFluid(plan, side, x, y, z)) n++;
    return n / 1000;
  };

  it("is undefined without fluid", () => {
    expect(planEffusion({ right: 0, left: 0 }, [0, 1, 0], UNIT)).toBeUndefined();
  });

  it("puts the asked volume of each side's lung under a level surface, posterior", () => {
    const plan = planEffusion({ right: 400, left: 0 }, [0, 1, 0], UNIT);
    expect(plan?.level.left).toBeNull();
    expect(Math.abs(fluidMl(plan, 1) / 400 - 1)).toBeLessThan(0.02);
    expect(fluidMl(plan, 2)).toBe(0);
    // Posterior: the level lies behind the lung's middle.
    expect(plan?.level.right).toBeGreaterThan(30);
  });

  it("counts a scaled body's millilitres: the anatomy holds the volume divided by the scales", () => {
    const h = { widthScale: 1.2, depthScale: 1, heightScale: 1.25 };
    const plan = planEffusion({ right: 600, left: 300 }, [0, 1, 0], h);
    expect(Math.abs((fluidMl(plan, 1) * 1.5) / 600 - 1)).toBeLessThan(0.02);
    expect(Math.abs((fluidMl(plan, 2) * 1.5) / 300 - 1)).toBeLessThan(0.02);
  });

  it("refuses fluid that would leave less than a third of a lung", () => {
    expect(() =>
      planEffusion({ right: 0, left: 2000 }, [0, 1, 0], { ...UNIT, widthScale: 0.7, depthScale: 0.7 }),
    ).toThrow(PhantomOptionsError);
  });
});

describe("rendered fluid", () => {
  it("holds no bronchus: under the level, where the lung was, only fluid", () => {
    // The airway tree is stamped over the body; before generator 1.1.1 it drew air-filled bronchi through
    // the fluid (650 voxels, 11 mL of airway here), which our lung stage took for lung with fluid round them.
    const g = phantomGrid(resolvePhantomOptions({ out: "unused", size: 192, slices: 60, sliceThickness: 5 }));
    const effusion = planEffusion({ right: 1200, left: 0 }, gravityInAnatomy(g, g), UNIT);
    const r = renderPhantom({ ...planPhantom("normal", 9107), effusion }, g, {
      noiseSd: 0,
      correlatedNoise: false,
      keepTissue: true,
    });
    const [nx, ny, nz] = g.dims;
    let fluid = 0;
    let airway = 0;
    for (let k = 0, v = 0; k < nz; k++)
      for (let j = 0; j < ny; j++)
        for (let i = 0; i < nx; i++, v++) {
          const [x, y, z] = voxelCentre(g, i, j, k);
          if (lungSideAt(x, y, z) !== 1 || !underFluid(effusion, 1, x, y, z)) continue;
          const t = r.tissue!.data[v];
          if (t === Tissue.PLEURAL_FLUID) fluid++;
          if (t === Tissue.AIRWAY_LUMEN || t === Tissue.AIRWAY_WALL) airway++;
        }
    expect(fluid).toBeGreaterThan(0);
    expect(airway).toBe(0);
  });
});
