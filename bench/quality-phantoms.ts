/**
 * The phantoms of issue 3's quality and geometry acceptance, shared by bench/model-quality.ts and
 * bench/oblique-views.ts: the model card's evaluation protocol, the geometry variants, and a cache in
 * /tmp/deepsc-bench/quality/ (generation is deterministic, so a rerun only pays for the analyses).
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PHANTOM_GENERATOR_VERSION, type PhantomOptions } from "../core/phantom/options.js";
import { runPhantom } from "../core/phantom/run.js";

export const QUALITY_CACHE = "/tmp/deepsc-bench/quality";

/** The model card's evaluation protocol (model/MODEL_CARD.md "Evaluation"). */
export const PROTOCOL = { size: 512, slices: 120, sliceThickness: 2.5, noiseSd: 15 } as const;

const oblique = { rotateXDeg: 12, rotateYDeg: -8 };
const anisotropic = { pixelSpacing: 0.9, sliceThickness: 3.3, slices: Math.round(300 / 3.3) };

export interface GeometryVariant {
  variant: string;
  options: Partial<PhantomOptions>;
  /** Not the acceptance: splits "anisotropic" into its in-plane and z parts, to show which moves the Dice. */
  diagnostic?: true;
}

/** Issue 3's geometry acceptance: the axial case and each distortion, alone and all three at once. */
export const GEOMETRY_VARIANTS: GeometryVariant[] = [
  { variant: "axial", options: {} },
  { variant: "descending", options: { zDirection: "descending" } },
  { variant: "oblique", options: { orientation: oblique } },
  { variant: "anisotropic", options: anisotropic },
  {
    variant: "descending+oblique+anisotropic",
    options: { zDirection: "descending", orientation: oblique, ...anisotropic },
  },
  { variant: "in-plane 0.9 mm only", options: { pixelSpacing: 0.9 }, diagnostic: true },
  {
    variant: "3.3 mm slices only",
    options: { sliceThickness: 3.3, slices: anisotropic.slices },
    diagnostic: true,
  },
];

/** A geometry variant's phantom options and cache name (COVID-19, DICOM, the protocol's grid). */
export function geometryPhantom(v: GeometryVariant, seed: number) {
  const options = { class: "covid" as const, seed, format: "dicom" as const, ...PROTOCOL, ...v.options };
  const slug = v.variant.replace(/[^a-z0-9+.]+/gi, "-");
  return { name: `geometry-${slug}-covid-${seed}`, options };
}

/**
 * Whether `dir` holds a complete phantom (truth.json is written last) from this generator version: a
 * cache from an older generator may hold other voxels for the same options.
 */
export function isCurrentPhantom(dir: string): boolean {
  const file = join(dir, "truth", "truth.json");
  if (!existsSync(file)) return false;
  const truth = JSON.parse(readFileSync(file, "utf8")) as { generator?: { version?: string } };
  return truth.generator?.version === PHANTOM_GENERATOR_VERSION;
}

/** Generate (or reuse) a phantom in the cache; returns its CT path and truth folder. */
export async function cachedPhantom(name: string, options: Omit<PhantomOptions, "out">) {
  const out = join(QUALITY_CACHE, name);
  const truthDir = join(out, "truth");
  const ct = options.format === "dicom" ? join(out, "dicom") : join(out, "ct.nii.gz");
  const optionsFile = join(out, "bench-options.json");
  const wanted = JSON.stringify(options);
  // The options file guards against a cache from other settings.
  if (isCurrentPhantom(out) && existsSync(optionsFile) && readFileSync(optionsFile, "utf8") === wanted)
    return { ct, truthDir };
  rmSync(out, { recursive: true, force: true });
  await runPhantom({ ...options, out });
  writeFileSync(optionsFile, wanted);
  return { ct, truthDir };
}
