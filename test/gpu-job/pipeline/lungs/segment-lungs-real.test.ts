/**
 * segmentLungs on real CT from the shared corpus: the lung bases of a TotalSegmentator abdomen example
 * (NIfTI, 3 mm) and three 1 mm GE slices at the lung bases (DICOM). There is no reference mask, so the
 * checks are anatomical: two lungs of plausible volume on the correct sides, made of aerated lung
 * (mean HU, share of gas-like voxels), never touching air outside the body (no leak through the body
 * outline), no bowel gas or oesophageal air, present in the slices where lung is seen. The thresholds come
 * from the measured values (in comments) with margins; an overlay PNG of each is written as an artifact
 * and was inspected by eye (see the report in the test names' comments).
 *
 * Artifacts: $DEEPSC_TEST_ARTIFACTS/lungs/ (default: <os tmpdir>/deepsc-test-artifacts/lungs/).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import type { Volume } from "../../../../core/contracts/volume.js";
import { voxelToLps } from "../../../../core/geometry/affine.js";
import { validatePath } from "../../../../core/validation/validate-path.js";
import { segmentLungs } from "../../../../gpu-job/pipeline/lungs/segment-lungs.js";
import type { LungSegmentation } from "../../../../gpu-job/pipeline/lungs/types.js";
import { LUNG_LABEL } from "../../../../gpu-job/pipeline/lungs/types.js";
import { corpusPath } from "../../../helpers/corpus.js";
import { lungOverlayPng } from "./overlay-png.js";

const ARTIFACTS = join(process.env.DEEPSC_TEST_ARTIFACTS ?? join(tmpdir(), "deepsc-test-artifacts"), "lungs");

async function load(path: string): Promise<Volume> {
  // The path `deepsc convert` takes: validate (purpose convert accepts 3 slices), then the volume.
  const { report, volume } = await validatePath(path, { mode: "full", purpose: "convert" });
  expect(report.accepted, JSON.stringify(report.reasons)).toBe(true);
  return volume!;
}

interface LungFacts {
  voxels: number;
  meanHu: number;
  /** Share of voxels below -950 HU (gas-like). */
  gasShare: number;
  meanX: number;
  /** Slices (k) holding this lung. */
  slices: Set<number>;
}

/** Outside air: HU < -320 4-connected in-plane to the slice border (computed here independently). */
function outsideAir(v: Volume): Uint8Array {
  const [nx, ny, nz] = v.dims;
  const out = new Uint8Array(v.data.length);
  const stack: number[] = [];
  for (let k = 0; k < nz; k++) {
    const base = k * nx * ny;
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++)
        if (i === 0 || j === 0 || i === nx - 1 || j === ny - 1) stack.push(base + i + nx * j);
    while (stack.length) {
      const p = stack.pop()!;
      if (out[p] || v.data[p]! >= -320) continue;
      out[p] = 1;
      const q = p - base;
      const i = q % nx;
      const j = (q / nx) | 0;
      if (i > 0) stack.push(p - 1);
      if (i < nx - 1) stack.push(p + 1);
      if (j > 0) stack.push(p - nx);
      if (j < ny - 1) stack.push(p + nx);
    }
  }
  return out;
}

function facts(v: Volume, s: LungSegmentation, label: number): LungFacts {
  const [nx, ny, nz] = v.dims;
  const a = voxelToLps(v);
  const f: LungFacts = { voxels: 0, meanHu: 0, gasShare: 0, meanX: 0, slices: new Set() };
  for (let k = 0, p = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++, p++) {
        if (s.labels[p] !== label) continue;
        f.voxels++;
        f.meanHu += v.data[p]!;
        if (v.data[p]! < -950) f.gasShare++;
        f.meanX += a[0]! * i + a[1]! * j + a[2]! * k + a[3]!;
        f.slices.add(k);
      }
  f.meanHu /= f.voxels;
  f.gasShare /= f.voxels;
  f.meanX /= f.voxels;
  return f;
}

/** Lung voxels with an in-plane neighbour (8-neighbourhood) that is air outside the body. */
function touchingOutside(v: Volume, s: LungSegmentation): number {
  const [nx, ny, nz] = v.dims;
  const outside = outsideAir(v);
  let n = 0;
  for (let k = 0; k < nz; k++)
    for (let j = 1; j < ny - 1; j++)
      for (let i = 1; i < nx - 1; i++) {
        const p = i + nx * (j + ny * k);
        if (!s.labels[p]) continue;
        for (let dj = -1; dj <= 1; dj++) for (let di = -1; di <= 1; di++) if (outside[p + di + nx * dj]) n++;
      }
  return n;
}

describe("segmentLungs on real CT", () => {
  beforeAll(() => mkdirSync(ARTIFACTS, { recursive: true }));

  it("abdomen CT (NIfTI, 3 mm): both lung bases, right at lower x, no bowel gas, no leak", async () => {
    const v = await load(corpusPath("nifti/ct_abdomen_3mm.nii.gz"));
    const s = segmentLungs(v);
    const right = facts(v, s, LUNG_LABEL.right);
    const left = facts(v, s, LUNG_LABEL.left);
    // Measured: right 77 mL, left 46 mL (bases only: the scan starts below the domes' tops), mean HU
    // -733 and -719 (partial volume at 3 mm), 0.1 % of voxels under -950 HU, slices k 19-29 and 18-29
    // (the top of 30).
    expect(s.volumeMl.right).toBeGreaterThan(50);
    expect(s.volumeMl.right).toBeLessThan(110);
    expect(s.volumeMl.left).toBeGreaterThan(25);
    expect(s.volumeMl.left).toBeLessThan(75);
    expect(right.meanX).toBeLessThan(left.meanX - 100);
    for (const f of [right, left]) {
      expect(f.meanHu).toBeGreaterThan(-900);
      expect(f.meanHu).toBeLessThan(-600);
      // The colon and stomach gas of these slices is mostly below -950 HU; the lungs are not.
      expect(f.gasShare).toBeLessThan(0.1);
      // Only the upper slices (k runs upwards here): the bowel loops in k 0-15 stay out.
      expect(Math.min(...f.slices)).toBeGreaterThanOrEqual(15);
      expect(f.slices.has(29)).toBe(true);
    }
    expect(touchingOutside(v, s)).toBe(0);
    expect(s.warnings).toContain(
      "The right lung reaches the top of the field of view: its volume and zones cover only the part scanned.",
    );
    // Looked at: posterior crescents of both bases wrapping the liver (right, red, on the viewer's left)
    // and the spleen/stomach (left, green); colon gas and the body outline unlabelled.
    writeFileSync(join(ARTIFACTS, "ct_abdomen_3mm-k29.png"), lungOverlayPng(v, s.labels, 29, 4));
    writeFileSync(join(ARTIFACTS, "ct_abdomen_3mm-k25.png"), lungOverlayPng(v, s.labels, 25, 4));
  });

  it("three GE slices at the lung bases (DICOM, 1 mm): two lungs in every slice, oesophageal air out", async () => {
    const v = await load(corpusPath("dicom/real/ct-3slice"));
    expect(v.dims).toEqual([512, 512, 3]);
    const s = segmentLungs(v);
    const right = facts(v, s, LUNG_LABEL.right);
    const left = facts(v, s, LUNG_LABEL.left);
    // Measured: 24.6 and 24.4 mL (about 80 cm^2 per slice each), mean HU -780 and -778, 1.7 % of voxels
    // under -950 HU, mean x -103 and +71 mm.
    for (const f of [right, left]) {
      expect(f.voxels * 0.810547 * 0.810547 * 1e-3).toBeGreaterThan(18);
      expect(f.voxels * 0.810547 * 0.810547 * 1e-3).toBeLessThan(32);
      expect(f.meanHu).toBeGreaterThan(-900);
      expect(f.meanHu).toBeLessThan(-650);
      expect(f.gasShare).toBeLessThan(0.1);
      expect([...f.slices].sort()).toEqual([0, 1, 2]);
    }
    // The air bubble in the oesophagus (found by looking at the slices: about 35-55 voxels under -500 HU
    // around i 292, j 291, between the aorta and the left atrium) is air inside the body but not lung.
    for (let k = 0; k < 3; k++) {
      let air = 0;
      let labelled = 0;
      for (let j = 275; j < 310; j++)
        for (let i = 265; i < 305; i++) {
          const p = i + 512 * (j + 512 * k);
          if (v.data[p]! >= -500) continue;
          air++;
          if (s.labels[p]) labelled++;
        }
      expect(air).toBeGreaterThan(20);
      expect(labelled).toBe(0);
    }
    expect(right.meanX).toBeLessThan(-60);
    expect(left.meanX).toBeGreaterThan(40);
    expect(touchingOutside(v, s)).toBe(0);
    // Looked at: both basal crescents around the liver dome (right) and stomach/spleen (left), vessels
    // inside filled in, the oesophageal air bubble and the blanket folds outside the body unlabelled.
    writeFileSync(join(ARTIFACTS, "ct-3slice-k1.png"), lungOverlayPng(v, s.labels, 1, 1));
  });
});
