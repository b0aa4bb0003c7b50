/** `deepsc analyze` as a user runs it (the built bin): exit codes, --json, what it prints. */
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DiagnosisSchema } from "../../core/contracts/diagnosis.js";
import { runPhantom } from "../../core/phantom/run.js";
import { cudaProviderInstalled } from "../../gpu-job/pipeline/model/session.js";
import { deepsc } from "../helpers/cli.js";

const work = mkdtempSync(join(tmpdir(), "deepsc-cli-analyze-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
let nifti: string;
let tooShort: string;

beforeAll(async () => {
  const base = {
    class: "cap",
    seed: 9301,
    size: 96,
    slices: 32,
    sliceThickness: 5,
    format: "nifti",
  } as const;
  nifti = (await runPhantom({ ...base, out: join(work, "cap") })).ctPath;
  tooShort = (await runPhantom({ ...base, slices: 2, out: join(work, "short") })).ctPath;
}, 120_000);

describe("deepsc analyze", () => {
  it("--json prints only diagnosis.json and writes the results with their manifest", () => {
    const out = join(work, "out-json");
    const r = deepsc(["analyze", nifti, "--out", out, "--device", "cpu", "--json"], { timeoutMs: 180_000 });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const d = DiagnosisSchema.parse(JSON.parse(r.stdout));
    expect(d.input.dims).toEqual([96, 96, 32]);
    // 360 mm over 96 pixels: 3.75 mm, coarser than the bundled model's 2.8125 mm input pixel.
    expect(d.warnings.find((w) => w.code === "COARSE_PIXELS")?.message).toMatch(
      /^In-plane pixels of 3\.75 mm are coarser than the model's 2\.81 mm/,
    );
    for (const f of ["diagnosis.json", "lesions.nii.gz", "lungs.nii.gz", "evidence.nii.gz", "manifest.json"])
      expect(existsSync(join(out, f)), f).toBe(true);
  });

  it("prints the prediction, the synthetic-model warning and the impression for people", () => {
    const r = deepsc(["analyze", nifti, "--out", join(work, "out-text"), "--quiet"], { timeoutMs: 180_000 });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /^predicted (covid19|cap|non_pneumonia) {2}\(covid19 0\.\d{3}, cap 0\.\d{3}, non_pneumonia 0\.\d{3}\)/,
    );
    expect(r.stdout).toMatch(/SYNTHETIC, not for clinical use/);
    expect(r.stdout).toMatch(/results in .*out-text\/: diagnosis\.json, .*manifest\.json/);
    expect(r.stdout).toMatch(/report {4}.*out-text\/report\.pdf \(and report\.html\)/);
  });

  it("exits 2 with the reason codes for a rejected input, and 1 for usage errors", () => {
    const r = deepsc(["analyze", tooShort, "--out", join(work, "out-short")]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/TOO_FEW_SLICES/);
    expect(existsSync(join(work, "out-short", "manifest.json"))).toBe(false);
    expect(deepsc(["analyze", nifti]).code).toBe(1);
    const bad = deepsc(["analyze", nifti, "--out", join(work, "x"), "--device", "tpu"]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/--device must be one of auto, cpu, cuda/);
  });

  it("says what to do when CUDA is demanded but not installed", () => {
    const r = deepsc(["analyze", nifti, "--out", join(work, "out-cuda"), "--device", "cuda", "--quiet"], {
      timeoutMs: 180_000,
    });
    // On a machine with the CUDA provider this runs; on CPU-only installs it must fail with instructions.
    if (r.code === 0) expect(r.stdout).toMatch(/on cuda/);
    else {
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/--onnxruntime-node-install=cuda12|--device cpu/);
      // Where the provider is not installed, ours is the only message: no native runtime error above it.
      if (!cudaProviderInstalled()) expect(r.stderr).not.toMatch(/onnxruntime_src|\[E:onnxruntime/);
    }
  });

  it("refuses a model whose weights do not match model.json's sha256, and a missing manifest", () => {
    const models = join(import.meta.dirname, "../../gpu-job/models");
    const manifest = JSON.parse(readFileSync(join(models, "model.json"), "utf8"));
    const dir = join(work, "tampered");
    mkdirSync(dir);
    copyFileSync(join(models, manifest.file), join(dir, manifest.file));
    writeFileSync(join(dir, "model.json"), JSON.stringify({ ...manifest, sha256: "0".repeat(64) }));
    const r = deepsc([
      "analyze",
      nifti,
      "--out",
      join(work, "out-model"),
      "--model",
      join(dir, "model.json"),
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/the weights are not the ones the manifest describes/);
    expect(existsSync(join(work, "out-model", "manifest.json"))).toBe(false);
    const missing = deepsc([
      "analyze",
      nifti,
      "--out",
      join(work, "out-model"),
      "--model",
      join(work, "none.json"),
    ]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/cannot read model manifest/);
  });
});
