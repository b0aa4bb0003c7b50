/**
 * `deepsc phantom`: plan, render and write a synthetic chest CT with its ground truth.
 *
 * Layout under `out`:
 *   dicom/IM000001.dcm ...    format dicom (one file per slice, instance order = k order)
 *   series.zip                format zip (the same files at the zip's root)
 *   ct.nii.gz                 format nifti (int16 HU)
 *   truth/lesions.nii.gz            0/1 lesion mask
 *   truth/lesion-instances.nii.gz   lesion instance labels 1..n (ids of truth.json)
 *   truth/lungs.nii.gz              1 right lung, 2 left lung
 *   truth/truth.json                written last: its presence means the phantom is complete
 * Every mask is on the CT's own grid and affine.
 */
import { mkdir, readdir, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type { Geometry, LabelVolume } from "../contracts/volume.js";
import {
  type DicomIdentity,
  type WrittenSeries,
  writeCtSeriesToDir,
  writeCtSeriesToZip,
} from "../dicom/write-series.js";
import { writeNifti } from "../nifti/write.js";
import { writeFileAtomic } from "../util/write-file-atomic.js";
import { gravityInAnatomy, planEffusion } from "./effusion.js";
import { planEmphysema } from "./emphysema.js";
import {
  outsideInscribedCircle,
  type PhantomPlan,
  planPhantom,
  type RenderedPhantom,
  renderPhantom,
  renderSteps,
} from "./generate.js";
import { phantomGrid, scaledAboutChestCentre, turnedAboutChestAxis } from "./grid.js";
import { HU_MIN } from "./noise.js";
import {
  isDefaultHabitus,
  PHANTOM_GENERATOR_VERSION,
  type PhantomOptions,
  type ResolvedPhantomOptions,
  resolvePhantomOptions,
} from "./options.js";
import { placeTable } from "./table.js";
import { computeTruth, type PhantomTruth } from "./truth.js";

export interface PhantomResult {
  class: "covid" | "cap" | "normal";
  seed: number;
  format: "dicom" | "zip" | "nifti";
  outDir: string;
  /** The CT: the series folder (out/dicom), out/series.zip or out/ct.nii.gz. */
  ctPath: string;
  /** DICOM only: the slice files (folder) or entry names (zip), in instance order. */
  dicomFiles?: string[];
  transferSyntaxUid?: string;
  truthFiles: { json: string; lesions: string; lesionInstances: string; lungs: string };
  /** Every path written, truth.json last. */
  paths: string[];
  /** The content of truth.json. */
  truth: PhantomTruth;
  /** One line for people: class, grid, lesion count and extent (no identifying data). */
  summary: string;
}

const SERIES_FILE = /^IM\d{6}\.dcm(\.part)?$/;
const NIFTI_DESCRIPTION = "DeepSC phantom (synthetic)";

/**
 * Plan and render a phantom from resolved options on its grid (phantomGrid(o)), in memory. A rolled
 * patient (patientRollDeg) is sampled on the grid turned against the roll, and another habitus on the grid
 * scaled against it, and both are declared on the upright unscaled one, so the images, and the truth voxel
 * for voxel, show the anatomy rolled or scaled under an axial header. `anatomyGrid` is the grid sampled:
 * its voxel-to-millimetre map gives each voxel's place in the unscaled anatomy (for the truth's depths).
 */
export function renderResolved(
  o: ResolvedPhantomOptions,
  grid: Geometry = phantomGrid(o),
  onProgress?: (done: number, total: number) => void,
): { plan: PhantomPlan; rendered: RenderedPhantom; anatomyGrid: Geometry } {
  const turned = o.patientRollDeg === 0 ? grid : turnedAboutChestAxis(grid, -o.patientRollDeg);
  const renderGrid = isDefaultHabitus(o.habitus) ? turned : scaledAboutChestCentre(turned, o.habitus);
  const effusion = planEffusion(o.effusionMl, gravityInAnatomy(grid, renderGrid), o.habitus);
  const plan = {
    ...planPhantom(o.class, o.seed),
    ...(effusion ? { effusion } : {}),
    ...(o.emphysema > 0 ? { emphysema: planEmphysema(o.seed, o.emphysema) } : {}),
  };
  const rendered = renderPhantom(
    plan,
    renderGrid,
    {
      noiseSd: o.noiseSd,
      correlatedNoise: o.correlatedNoise,
      ...(o.reconstructionCircle ? { outOfView: outsideInscribedCircle(grid) } : {}),
      ...(o.table ? { table: placeTable(grid, o.habitus, o.patientRollDeg) } : {}),
      ...(o.metal ? { pacemaker: true } : {}),
    },
    onProgress,
  );
  if (renderGrid !== grid)
    for (const v of [rendered.ct, rendered.lungs, rendered.lesions]) {
      v.origin = [...grid.origin];
      v.direction = [...grid.direction];
    }
  return { plan, rendered, anatomyGrid: renderGrid };
}

/**
 * Generate one phantom. Throws PhantomOptionsError for invalid options, EncoderUnavailable when JPEG
 * Lossless is asked for without dcmtk; file-system errors propagate as they are.
 */
export async function runPhantom(
  options: PhantomOptions,
  onProgress?: (done: number, total: number) => void,
): Promise<PhantomResult> {
  const o = resolvePhantomOptions(options);
  const grid = phantomGrid(o);
  const nz = grid.dims[2];
  const renderUnits = renderSteps(grid);
  const total = renderUnits + nz + 4;
  let done = 0;
  const step = (units = 1): void => {
    done += units;
    onProgress?.(Math.min(done, total), total);
  };

  const { plan, rendered, anatomyGrid } = renderResolved(o, grid, () => step());

  const out = o.out;
  const truthDir = join(out, "truth");
  await mkdir(truthDir, { recursive: true });
  // truth.json marks a complete phantom: an earlier one must not vouch for files this run may not finish.
  await rm(join(truthDir, "truth.json"), { force: true });
  const paths: string[] = [];
  let ct: string;
  let written: WrittenSeries | undefined;
  const rotation =
    typeof o.orientation === "string"
      ? { x: 0, y: 0 }
      : { x: o.orientation.rotateXDeg, y: o.orientation.rotateYDeg };
  const plane = o.orientation === "coronal" || o.orientation === "sagittal" ? o.orientation : undefined;
  const seriesOptions = {
    identity: o.patient satisfies DicomIdentity,
    // Same phantom (class, seed, grid, pixel storage) -> same UIDs; any other grid is another series.
    uidSeed: [
      "deepsc-phantom",
      PHANTOM_GENERATOR_VERSION,
      o.class,
      o.seed,
      grid.dims.join("x"),
      grid.spacing.join("x"),
      o.sliceThickness,
      o.zDirection,
      rotation.x,
      rotation.y,
      o.rescale,
      o.noiseSd,
      o.correlatedNoise,
      // Only when set, so the UIDs of every centred phantom stay what they were.
      ...(o.offCentreMm[0] !== 0 || o.offCentreMm[1] !== 0 ? [`off-centre ${o.offCentreMm.join(",")}`] : []),
      ...(o.patientRollDeg !== 0 ? [`roll ${o.patientRollDeg}`] : []),
      ...(plane ? [plane] : []),
      ...(o.reconstructionCircle ? ["reconstruction circle"] : []),
      ...(o.table ? ["table"] : []),
      ...(o.metal ? ["pacemaker"] : []),
      ...(o.emphysema > 0 ? [`emphysema ${o.emphysema}`] : []),
      ...(isDefaultHabitus(o.habitus) ? [] : [`habitus ${Object.values(o.habitus).join(",")}`]),
      ...(o.effusionMl.right > 0 || o.effusionMl.left > 0
        ? [`effusion ${o.effusionMl.right},${o.effusionMl.left}`]
        : []),
    ].join("/"),
    transferSyntax: o.transferSyntax,
    rescale: o.rescale,
    seriesNumber: 2,
    sliceThickness: o.sliceThickness,
    softwareVersions: `deepsc-phantom ${PHANTOM_GENERATOR_VERSION}`,
    convolutionKernel: o.correlatedNoise ? "STANDARD" : "SHARP",
    ...(o.reconstructionCircle ? { pixelPaddingHu: HU_MIN } : {}),
  };
  const fileStep = (): void => step();
  let ctRelative: string;
  if (o.format === "dicom") {
    ct = join(out, "dicom");
    ctRelative = "dicom";
    await removeStaleSlices(ct);
    written = await writeCtSeriesToDir(rendered.ct, ct, seriesOptions, fileStep);
    paths.push(...written.files);
  } else if (o.format === "zip") {
    ct = join(out, "series.zip");
    ctRelative = "series.zip";
    written = await writeCtSeriesToZip(
      rendered.ct,
      ct,
      { ...seriesOptions, compression: o.zipCompression },
      fileStep,
    );
    paths.push(ct);
  } else {
    ct = join(out, "ct.nii.gz");
    ctRelative = "ct.nii.gz";
    await writeNifti(rendered.ct, ct, { datatype: "int16", description: NIFTI_DESCRIPTION });
    paths.push(ct);
    step(nz);
  }

  const truthFiles = {
    json: join(truthDir, "truth.json"),
    lesions: join(truthDir, "lesions.nii.gz"),
    lesionInstances: join(truthDir, "lesion-instances.nii.gz"),
    lungs: join(truthDir, "lungs.nii.gz"),
  };
  await writeNifti(binary(rendered.lesions), truthFiles.lesions, {
    datatype: "uint8",
    description: NIFTI_DESCRIPTION,
  });
  step();
  await writeNifti(rendered.lesions, truthFiles.lesionInstances, {
    datatype: "uint8",
    description: NIFTI_DESCRIPTION,
  });
  step();
  await writeNifti(rendered.lungs, truthFiles.lungs, { datatype: "uint8", description: NIFTI_DESCRIPTION });
  step();
  paths.push(truthFiles.lesions, truthFiles.lesionInstances, truthFiles.lungs);

  const truth = computeTruth(rendered, {
    cls: o.class,
    seed: o.seed,
    lesions: plan.lesions,
    sliceThickness: o.sliceThickness,
    zDirection: o.zDirection,
    rotationDeg: rotation,
    ...(plane ? { plane } : {}),
    patientRollDeg: o.patientRollDeg,
    reconstructionCircle: o.reconstructionCircle,
    table: o.table,
    metal: o.metal,
    ...(plan.emphysema ? { emphysema: plan.emphysema } : {}),
    anatomyGrid,
    habitus: o.habitus,
    files: {
      ct: ctRelative,
      lesions: "truth/lesions.nii.gz",
      lesionInstances: "truth/lesion-instances.nii.gz",
      lungs: "truth/lungs.nii.gz",
    },
  });
  await writeFileAtomic(
    dirname(truthFiles.json),
    basename(truthFiles.json),
    `${JSON.stringify(truth, null, 2)}\n`,
  );
  paths.push(truthFiles.json);
  step();

  const result: PhantomResult = {
    class: o.class,
    seed: o.seed,
    format: o.format,
    outDir: out,
    ctPath: ct,
    truthFiles,
    paths,
    truth,
    summary: describeTruth(truth),
  };
  if (written) {
    result.dicomFiles = written.files;
    result.transferSyntaxUid = written.transferSyntaxUid;
  }
  return result;
}

function describeTruth(t: PhantomTruth): string {
  const [nx, ny, nz] = t.grid.dims;
  const [sx, , sz] = t.grid.spacing;
  const lesions =
    t.totals.lesionCount === 0
      ? "no lesions"
      : `${t.totals.lesionCount} lesion${t.totals.lesionCount > 1 ? "s" : ""}, ` +
        `${t.totals.lesionVolumeMl.toFixed(0)} mL (${t.totals.extentPercent.total.toFixed(1)} % of the lungs; ` +
        `right ${t.totals.extentPercent.right.toFixed(1)} %, left ${t.totals.extentPercent.left.toFixed(1)} %)`;
  return (
    `synthetic ${t.class} phantom, seed ${t.seed}: ${nx}x${ny}x${nz} at ${sx.toFixed(3)} x ${sz} mm ` +
    `(${t.grid.orientation}, ${t.grid.zDirection}); lungs ${(t.lungs.totalMl / 1000).toFixed(2)} L; ${lesions}` +
    (t.effusion
      ? `; pleural fluid right ${t.effusion.rightMl.toFixed(0)} mL, left ${t.effusion.leftMl.toFixed(0)} mL`
      : "") +
    (t.emphysema ? `; emphysema, ${t.emphysema.laa950Percent.toFixed(1)} % of the lungs below -950 HU` : "")
  );
}

/** The 0/1 lesion mask from the instance labels. */
function binary(labels: LabelVolume): LabelVolume {
  const data = new Uint8Array(labels.data.length);
  for (let i = 0; i < data.length; i++) data[i] = labels.data[i]! > 0 ? 1 : 0;
  return {
    dims: [...labels.dims],
    spacing: [...labels.spacing],
    origin: [...labels.origin],
    direction: [...labels.direction],
    data,
  };
}

/**
 * A previous phantom in the same folder may have had more slices: remove files of our own naming pattern
 * only (never anything else a user put there), so the folder holds exactly one series.
 */
async function removeStaleSlices(dir: string): Promise<void> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return;
    throw e;
  }
  await Promise.all(names.filter((n) => SERIES_FILE.test(n)).map((n) => rm(join(dir, n), { force: true })));
}
