/**
 * Findings against phantom truth (core/phantom): the TRUTH lesion mask and lungs go in, zones and pleural
 * distances come from the lung stage (assignZones, pleuralDistanceMm), and the findings must reproduce
 * truth.json — lesion count exact for well-separated lesions (and equal to the number of touching groups
 * otherwise), lesion volumes within 5 % (they are the same voxels), subpleural shares within 0.05, side and
 * zone of every lesion, bilateral involvement; the output parses against FindingsSchema.
 *
 * Grids are coarse (128 x 128 at 2.8 mm, 4 mm slices: 1.6 M voxels) to keep the suite light; one phantom
 * goes through the files runPhantom writes (ct.nii.gz, truth/*.nii.gz, truth.json) and readNifti.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Findings, FindingsSchema, SHELL_DEPTHS_MM } from "../../../../core/contracts/findings.js";
import type { Geometry, Vec3, Volume } from "../../../../core/contracts/volume.js";
import type { InputEntry } from "../../../../core/input/source.js";
import { readNifti } from "../../../../core/nifti/read.js";
import { planPhantom, renderPhantom } from "../../../../core/phantom/generate.js";
import { phantomGrid } from "../../../../core/phantom/grid.js";
import { runPhantom } from "../../../../core/phantom/run.js";
import { computeTruth, type PhantomTruth, PhantomTruthSchema } from "../../../../core/phantom/truth.js";
import { computeFindings } from "../../../../gpu-job/pipeline/findings/index.js";
import { closerReference } from "../../../../gpu-job/pipeline/findings/peripheral.js";
import { pleuralDistanceMm } from "../../../../gpu-job/pipeline/lungs/pleural-distance.js";
import { assignZones } from "../../../../gpu-job/pipeline/lungs/zones.js";

type Cls = "covid" | "cap" | "normal";
const GRID = {
  size: 128,
  slices: 100,
  sliceThickness: 4,
  zDirection: "ascending",
  orientation: "axial",
} as const;

interface Case {
  truth: PhantomTruth;
  findings: Findings;
  /** Groups of truth lesions that touch each other (26-neighbourhood), as lists of truth ids. */
  groups: number[][];
}

function findingsFor(ct: Volume, lesionIds: Uint8Array, lungs: Uint8Array): Findings {
  const lesions = Uint8Array.from(lesionIds, (v) => (v > 0 ? 1 : 0));
  return computeFindings({
    hu: ct,
    lesions,
    lungs: {
      dims: ct.dims,
      spacing: ct.spacing,
      labels: lungs,
      zones: assignZones(lungs, ct),
      volumeMl: { right: 0, left: 0 },
      warnings: [],
      cutInPlane: false,
    },
    pleuralDistanceMm: pleuralDistanceMm(lungs, ct.dims, ct.spacing),
  });
}

/** Truth lesions whose instance labels touch (26-neighbours), grouped: the lesions a mask cannot tell apart. */
function touchingGroups(ids: Uint8Array, dims: Vec3, count: number): number[][] {
  const [nx, ny, nz] = dims;
  const parent = Array.from({ length: count + 1 }, (_, n) => n);
  const find = (a: number): number => {
    while (parent[a] !== a) a = parent[a]!;
    return a;
  };
  for (let k = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++) {
        const a = ids[i + nx * (j + ny * k)]!;
        if (a === 0) continue;
        for (let dk = 0; dk <= 1; dk++)
          for (let dj = -1; dj <= 1; dj++)
            for (let di = -1; di <= 1; di++) {
              if (dk === 0 && (dj < 0 || (dj === 0 && di <= 0))) continue; // forward half of the neighbourhood
              const [x, y, z] = [i + di, j + dj, k + dk];
              if (x < 0 || y < 0 || x >= nx || y >= ny || z >= nz) continue;
              const b = ids[x + nx * (y + ny * z)]!;
              if (b !== 0 && b !== a) parent[find(a)] = find(b);
            }
      }
  const groups = new Map<number, number[]>();
  for (let id = 1; id <= count; id++) groups.set(find(id), [...(groups.get(find(id)) ?? []), id]);
  return [...groups.values()];
}

const rendered = new Map<string, Case>();

/** Render (once per file) a phantom and compute its findings from the truth masks. */
function renderCase(cls: Cls, seed: number): Case {
  const key = `${cls}/${seed}`;
  const known = rendered.get(key);
  if (known) return known;
  const c = renderUncached(cls, seed);
  rendered.set(key, c);
  return c;
}

function renderUncached(cls: Cls, seed: number): Case {
  const grid = phantomGrid(GRID as Parameters<typeof phantomGrid>[0]);
  const plan = planPhantom(cls, seed);
  const r = renderPhantom(plan, grid, { noiseSd: 15, correlatedNoise: true });
  const truth = computeTruth(r, {
    cls,
    seed,
    lesions: plan.lesions,
    sliceThickness: GRID.sliceThickness,
    zDirection: GRID.zDirection,
    rotationDeg: { x: 0, y: 0 },
    files: {},
  });
  return {
    truth,
    findings: findingsFor(r.ct, r.lesions.data, r.lungs.data),
    groups: touchingGroups(r.lesions.data, grid.dims, plan.lesions.length),
  };
}

const distance = (a: readonly number[], b: readonly number[]) => Math.hypot(...a.map((v, n) => v - b[n]!));

/** The checks every phantom must pass, whether its lesions are separate or not. */
function expectTotalsMatch({ truth, findings: f }: Case): void {
  const t = truth.totals;
  expect(f.extent.right.lungVolumeMl).toBeCloseTo(truth.lungs.rightMl, 2);
  expect(f.extent.left.lungVolumeMl).toBeCloseTo(truth.lungs.leftMl, 2);
  if (t.lesionVolumeMl > 0) {
    expect(Math.abs(f.extent.lesionVolumeMl - t.lesionVolumeMl) / t.lesionVolumeMl).toBeLessThan(0.05);
  }
  expect(f.extent.lesionVolumeMl).toBeCloseTo(t.lesionVolumeMl, 2); // the same voxels: equal, not just close
  expect(f.extent.percentOfLung).toBeCloseTo(t.extentPercent.total, 1);
  expect(f.extent.right.percentOfLung).toBeCloseTo(t.extentPercent.right, 1);
  expect(f.extent.left.percentOfLung).toBeCloseTo(t.extentPercent.left, 1);
  expect(f.distribution.bilateral).toBe(t.bilateral);
  expect(f.lesions.ignoredSmall.count).toBe(0);
  expect(f.lesions.outsideLungsMl).toBe(0);
  if (t.lesionCount === 0) return;
  const truthShares = SHELL_DEPTHS_MM.map(
    (d) => t.subpleuralShare[String(d) as keyof typeof t.subpleuralShare],
  );
  f.peripheral.shells.forEach((s, n) => {
    expect(Math.abs(s.share! - truthShares[n]!), `share within ${s.depthMm} mm`).toBeLessThanOrEqual(0.05);
  });
  expect(Math.abs(f.peripheral.meanPleuralDistanceMm! - t.meanPleuralDepthMm!)).toBeLessThan(1.5);
  expect(f.peripheral.closerTo).toBe(closerReference(truthShares).closerTo);
  // Consolidation by HU (>= -300) also counts vessels crossing a lesion and the blend at the core's edge,
  // so it reads somewhat above the truth's "voxels in the consolidated core", never below it.
  const consolidation = f.attenuation.consolidationFraction!;
  const truthConsolidation = t.consolidationVolumeMl / t.lesionVolumeMl;
  expect(consolidation).toBeGreaterThanOrEqual(truthConsolidation - 0.02);
  expect(consolidation - truthConsolidation).toBeLessThan(0.12);
}

/** Separate lesions: one found lesion per truth lesion, matched by centroid, with its own numbers. */
function expectLesionsMatch({ truth, findings: f }: Case): void {
  expect(f.lesions.count).toBe(truth.totals.lesionCount);
  expect(f.lesions.right).toBe(truth.lesions.filter((l) => l.side === "right").length);
  for (const t of truth.lesions) {
    const found = f.lesions.listed.reduce((best, l) =>
      distance(l.centroidMm, t.centreMm) < distance(best.centroidMm, t.centreMm) ? l : best,
    );
    expect(distance(found.centroidMm, t.centreMm), `lesion ${t.id} centroid`).toBeLessThan(0.05);
    expect(Math.abs(found.volumeMl - t.volumeMl) / t.volumeMl, `lesion ${t.id} volume`).toBeLessThan(0.05);
    expect(found.volumeMl).toBeCloseTo(t.volumeMl, 2);
    expect(found.side, `lesion ${t.id} side`).toBe(t.side);
    expect(found.zone, `lesion ${t.id} zone`).toBe(t.zone);
    expect(found.meanHu).toBeCloseTo(t.meanHu, 0);
    expect(found.consolidationFraction - t.consolidationFraction).toBeGreaterThanOrEqual(-0.02);
    expect(found.consolidationFraction - t.consolidationFraction).toBeLessThan(0.15);
  }
  // truth.json's lower-zone share is per lesion (by its centroid zone): the same from the lesion list.
  const lowerMl = f.lesions.listed.filter((l) => l.zone === "lower").reduce((s, l) => s + l.volumeMl, 0);
  expect(lowerMl / f.extent.lesionVolumeMl).toBeCloseTo(truth.totals.lowerZoneShare, 2);
}

describe("findings on phantoms with well-separated lesions", () => {
  // Seeds whose lesions do not touch one another on this grid (checked below, not assumed).
  const cases: Array<[Cls, number, number]> = [
    ["covid", 5, 3],
    ["covid", 8, 5],
    ["cap", 4, 2],
  ];
  for (const [cls, seed, lesions] of cases) {
    describe(`${cls} seed ${seed}`, () => {
      let c: Case;
      beforeAll(() => {
        c = renderCase(cls, seed);
      });
      it("has the expected number of separate truth lesions", () => {
        expect(c.truth.totals.lesionCount).toBe(lesions);
        expect(c.groups.every((g) => g.length === 1)).toBe(true);
      });
      it("counts, measures and places every lesion as the truth does", () => expectLesionsMatch(c));
      it("matches the truth's totals: volume, extent, subpleural shares, bilateral, consolidation", () =>
        expectTotalsMatch(c));
      it("produces schema-valid, JSON-safe output", () => {
        expect(FindingsSchema.parse(JSON.parse(JSON.stringify(c.findings)))).toEqual(c.findings);
      });
    });
  }

  it("covid seed 8 reads as the COVID-19 pattern: multi-focal, bilateral, peripheral", () => {
    const { findings: f } = renderCase("covid", 8);
    expect(f.lesions.count).toBeGreaterThan(1);
    expect(f.distribution.bilateral).toBe(true);
    expect(f.peripheral.closerTo).toBe("covid19");
    expect(f.attenuation.ggoFraction!).toBeGreaterThan(0.75);
  });
});

describe("findings on a phantom whose lesions touch", () => {
  it("counts one lesion per group of touching truth lesions, and still matches the totals", () => {
    const c = renderCase("covid", 2);
    expect(c.groups.length).toBeLessThan(c.truth.totals.lesionCount);
    expect(c.findings.lesions.count).toBe(c.groups.length);
    const groupVolumes = c.groups
      .map((g) => g.reduce((s, id) => s + c.truth.lesions.find((l) => l.id === id)!.volumeMl, 0))
      .sort((a, b) => b - a);
    for (const [n, l] of c.findings.lesions.listed.entries())
      expect(l.volumeMl).toBeCloseTo(groupVolumes[n]!, 2);
    expectTotalsMatch(c);
  });
});

describe("findings on a normal phantom", () => {
  it("finds nothing, with the lungs measured and every share null", () => {
    const c = renderCase("normal", 1);
    expect(c.truth.totals.lesionCount).toBe(0);
    expect(c.findings.lesions.count).toBe(0);
    expect(c.findings.extent.percentOfLung).toBe(0);
    expect(c.findings.peripheral.shells.every((s) => s.share === null)).toBe(true);
    expect(c.findings.extent.severity.score).toBe(0);
    expectTotalsMatch(c);
    expect(FindingsSchema.parse(JSON.parse(JSON.stringify(c.findings)))).toEqual(c.findings);
  });
});

describe("findings from the files runPhantom writes", () => {
  const work = mkdtempSync(join(tmpdir(), "deepsc-findings-phantom-"));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  const entry = (path: string): InputEntry => {
    const bytes = readFileSync(path);
    return {
      path: "file.nii.gz",
      size: bytes.length,
      read: async (start = 0, end = bytes.length) => bytes.subarray(start, Math.min(end, bytes.length)),
    };
  };
  const mask = (v: Volume): Uint8Array => Uint8Array.from(v.data);
  const sameGrid = (a: Geometry, b: Geometry) => {
    expect(a.dims).toEqual(b.dims);
    for (const [n, s] of a.spacing.entries()) expect(s).toBeCloseTo(b.spacing[n]!, 4);
    for (const [n, o] of a.origin.entries()) expect(o).toBeCloseTo(b.origin[n]!, 3);
  };

  it("reproduces truth.json from ct.nii.gz, truth/lesions.nii.gz and truth/lungs.nii.gz", async () => {
    const out = join(work, "covid-5");
    const run = await runPhantom({
      ...GRID,
      size: 96,
      slices: 64,
      sliceThickness: 6.25,
      class: "covid",
      seed: 5,
      format: "nifti",
      out,
    });
    const truth = PhantomTruthSchema.parse(JSON.parse(readFileSync(run.truthFiles.json, "utf8")));
    const ct = (await readNifti(entry(run.ctPath))).volume;
    const lesions = (await readNifti(entry(run.truthFiles.lesions))).volume;
    const lungs = (await readNifti(entry(run.truthFiles.lungs))).volume;
    sameGrid(lesions, ct);
    sameGrid(lungs, ct);
    const findings = findingsFor(ct, mask(lesions), mask(lungs));
    const c: Case = { truth, findings, groups: truth.lesions.map((l) => [l.id]) };
    expectLesionsMatch(c);
    expectTotalsMatch(c);
  });
});
