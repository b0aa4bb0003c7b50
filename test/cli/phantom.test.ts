/** `deepsc phantom` as a user runs it (the built bin): the options that move, turn or scale the patient. */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { PhantomTruthSchema } from "../../core/phantom/truth.js";
import { deepsc } from "../helpers/cli.js";

const work = mkdtempSync(join(tmpdir(), "deepsc-cli-phantom-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const small = [
  "--class",
  "normal",
  "--seed",
  "5",
  "--size",
  "32",
  "--slices",
  "4",
  "--format",
  "nifti",
  "--quiet",
];

describe("deepsc phantom", () => {
  it("--roll and --off-centre reach the phantom and its truth.json", () => {
    const out = join(work, "rolled");
    const r = deepsc(["phantom", ...small, "--roll=-12", "--off-centre", "20,-10", "--out", out]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(join(out, "ct.nii.gz"));
    const truth = PhantomTruthSchema.parse(
      JSON.parse(readFileSync(join(out, "truth", "truth.json"), "utf8")),
    );
    expect(truth.grid.patientRollDeg).toBe(-12);
    // The header stays axial; the field of view's centre lies (20, -10) mm from the chest's axis (at x = y = 0).
    expect(truth.grid.direction).toEqual([1, 0, 0, 0, 1, 0, 0, 0, 1]);
    const centre = (a: 0 | 1) =>
      truth.grid.origin[a] + ((truth.grid.dims[a] - 1) * truth.grid.spacing[a]) / 2;
    expect(centre(0)).toBeCloseTo(20, 6);
    expect(centre(1)).toBeCloseTo(-10, 6);
  });

  it("--circle pads the image outside its inscribed disc and says so in truth.json", () => {
    const out = join(work, "round");
    const r = deepsc(["phantom", ...small, "--circle", "--out", out]);
    expect(r.code).toBe(0);
    const truth = PhantomTruthSchema.parse(
      JSON.parse(readFileSync(join(out, "truth", "truth.json"), "utf8")),
    );
    expect(truth.grid.reconstructionCircle).toBe(true);
  });

  it("--habitus scales the body and says so in truth.json; a scale out of range is a usage error", () => {
    const out = join(work, "habitus");
    const r = deepsc(["phantom", ...small, "--habitus", "1.2,0.9,1.1", "--out", out]);
    expect(r.code).toBe(0);
    const truth = PhantomTruthSchema.parse(
      JSON.parse(readFileSync(join(out, "truth", "truth.json"), "utf8")),
    );
    expect(truth.grid.habitus).toEqual({ widthScale: 1.2, depthScale: 0.9, heightScale: 1.1 });
    const bad = deepsc(["phantom", ...small, "--habitus", "1,1,2", "--out", join(work, "bad-habitus")]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/habitus\.heightScale/);
    expect(bad.stderr).toMatch(/--habitus <w>,<d>,<h>/);
  });

  it("--effusion draws pleural fluid and records it in truth.json; too much fluid is a usage error", () => {
    const out = join(work, "effusion");
    const r = deepsc(["phantom", ...small, "--effusion", "400,150", "--out", out]);
    expect(r.code).toBe(0);
    const truth = PhantomTruthSchema.parse(
      JSON.parse(readFileSync(join(out, "truth", "truth.json"), "utf8")),
    );
    // Four slices hold only some of it; more on the right, as asked.
    expect(truth.effusion?.leftMl).toBeGreaterThan(0);
    expect(truth.effusion?.rightMl).toBeGreaterThan(truth.effusion?.leftMl as number);
    const bad = deepsc(["phantom", ...small, "--effusion", "2500", "--out", join(work, "bad-effusion")]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/effusionMl\.right/);
    expect(bad.stderr).toMatch(/--effusion <right>,<left>/);
  });

  it("--plane coronal writes a coronal series (head at the top); a plane with --oblique, or an unknown one, is a usage error", () => {
    const out = join(work, "coronal");
    const r = deepsc(["phantom", ...small, "--plane", "coronal", "--out", out]);
    expect(r.code).toBe(0);
    const truth = PhantomTruthSchema.parse(
      JSON.parse(readFileSync(join(out, "truth", "truth.json"), "utf8")),
    );
    expect(truth.grid.orientation).toBe("coronal");
    expect(truth.grid.direction).toEqual([1, 0, 0, 0, 0, 1, 0, -1, 0]);
    const both = deepsc([
      "phantom",
      ...small,
      "--plane",
      "sagittal",
      "--oblique",
      "10,0",
      "--out",
      join(work, "x"),
    ]);
    expect(both.code).toBe(1);
    expect(both.stderr).toMatch(/--plane and --oblique exclude each other/);
    const unknown = deepsc(["phantom", ...small, "--plane", "transverse", "--out", join(work, "y")]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/orientation/);
    expect(unknown.stderr).toMatch(/--plane axial\|coronal\|sagittal/);
  });

  it("--table, --metal and --emphysema draw a CT table, a pacemaker and air spaces and say so in truth.json, the anatomy unchanged", () => {
    const bare = join(work, "bare");
    const tabled = join(work, "table");
    expect(deepsc(["phantom", ...small, "--out", bare]).code).toBe(0);
    expect(deepsc(["phantom", ...small, "--table", "--out", tabled]).code).toBe(0);
    const truth = PhantomTruthSchema.parse(
      JSON.parse(readFileSync(join(tabled, "truth", "truth.json"), "utf8")),
    );
    expect(truth.grid.table).toBe(true);
    const plain = PhantomTruthSchema.parse(
      JSON.parse(readFileSync(join(bare, "truth", "truth.json"), "utf8")),
    );
    expect(plain.grid.table).toBeUndefined();
    // Same anatomy: the table is neither lung nor lesion.
    expect(truth.lungs).toEqual(plain.lungs);
    expect(truth.totals.lesionVolumeMl).toBe(plain.totals.lesionVolumeMl);
    const help = deepsc(["phantom", "--help"]);
    expect(help.stdout + help.stderr).toMatch(/--table\s+a CT table under the patient/);
    expect(help.stdout + help.stderr).toMatch(/--metal\s+a pacemaker under the left clavicle/);
    const metal = join(work, "metal");
    expect(deepsc(["phantom", ...small, "--metal", "--out", metal]).code).toBe(0);
    const metalTruth = PhantomTruthSchema.parse(
      JSON.parse(readFileSync(join(metal, "truth", "truth.json"), "utf8")),
    );
    expect(metalTruth.grid.metal).toBe(true);
    expect(metalTruth.grid.table).toBeUndefined();
    expect(help.stdout + help.stderr).toMatch(/--emphysema <share>\s+this share of the lungs/);
    const emphysema = join(work, "emphysema");
    // Not quiet: the summary line names the emphysema.
    const loud = small.filter((a) => a !== "--quiet");
    const run = deepsc(["phantom", ...loud, "--emphysema", "0.2", "--out", emphysema]);
    expect(run.code).toBe(0);
    expect(run.stderr).toMatch(/emphysema, [\d.]+ % of the lungs below -950 HU/);
    const emphysemaTruth = PhantomTruthSchema.parse(
      JSON.parse(readFileSync(join(emphysema, "truth", "truth.json"), "utf8")),
    );
    expect(emphysemaTruth.emphysema?.share).toBe(0.2);
    // 11 mm pixels are area averages: few of them stay below -950 HU.
    expect(emphysemaTruth.emphysema?.laa950Percent).toBeGreaterThan(0);
    expect(plain.emphysema).toBeUndefined();
    // Still lung: the same lungs and lesions as without.
    expect(emphysemaTruth.lungs).toEqual(plain.lungs);
    expect(emphysemaTruth.totals.lesionVolumeMl).toBe(plain.totals.lesionVolumeMl);
    const tooMuch = deepsc(["phantom", ...small, "--emphysema", "0.9", "--out", join(work, "too-much")]);
    expect(tooMuch.code).toBe(1);
    expect(tooMuch.stderr).toMatch(/emphysema/);
  });

  it("refuses a roll beyond 45 degrees with the usage (exit 1, a usage error)", () => {
    const r = deepsc(["phantom", ...small, "--roll", "60", "--out", join(work, "bad")]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/patientRollDeg/);
    expect(r.stderr).toMatch(/--roll <deg>/);
  });
});
