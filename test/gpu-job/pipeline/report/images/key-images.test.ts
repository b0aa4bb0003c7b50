/**
 * The key images' captions (gpu-job/pipeline/report/images/key-images.ts): the number a reader finds the
 * image by in the input (the DICOM source image's InstanceNumber, checked against the source files; the
 * NIfTI voxel index, checked against nibabel's affine) and the coordinate of the shown plane's centre,
 * also on an oblique grid; a coronal view of an axial DICOM series is a reformat and has no image number.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Findings } from "../../../../../core/contracts/findings.js";
import type { Volume } from "../../../../../core/contracts/volume.js";
import { voxelCentre } from "../../../../../core/geometry/affine.js";
import { runPhantom } from "../../../../../core/phantom/run.js";
import type { DicomSource } from "../../../../../core/validation/dicom-source.js";
import { validatePath } from "../../../../../core/validation/validate-path.js";
import {
  type KeyImage,
  renderKeyImages,
  type SliceOrigin,
} from "../../../../../gpu-job/pipeline/report/images/key-images.js";
import { HAVE_PYDICOM, readDicom } from "../dicom-helpers.js";

const work = mkdtempSync(join(tmpdir(), "deepsc-key-images-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const PHANTOM = { class: "covid", seed: 5, size: 48, slices: 20, sliceThickness: 5, noiseSd: 0 } as const;
const FINDINGS = {
  peripheral: { shells: [0.1, 0.3, 0.5, 0.7, 0.8].map((share, i) => ({ depthMm: 7 * (i + 1), share })) },
} as unknown as Findings;

/** A ball of lesion in voxel space (off-centre, so the coronal level is not the middle row). */
function ball(v: Volume, c: [number, number, number], r: number): Uint8Array {
  const [nx, ny, nz] = v.dims;
  const m = new Uint8Array(nx * ny * nz);
  for (let k = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++)
        if (Math.hypot(i - c[0], j - c[1], (k - c[2]) * 2) <= r) m[i + nx * (j + ny * k)] = 1;
  return m;
}

function render(volume: Volume, origin: SliceOrigin | undefined): KeyImage[] {
  const [nx, ny, nz] = volume.dims;
  const lesions = ball(volume, [nx * 0.3, ny * 0.6, nz * 0.25], 8);
  return renderKeyImages({
    volume,
    lesions,
    lungs: lesions,
    findings: FINDINGS,
    synthetic: true,
    ...(origin ? { origin } : {}),
  });
}

const captions = (ims: KeyImage[], kind: KeyImage["kind"]) =>
  ims.filter((im) => im.kind === kind).map((im) => im.caption);
const coordinate = (caption: string, name: "z" | "y") => {
  const m = new RegExp(`\\b${name} = (-?\\d+\\.\\d) mm`).exec(caption);
  if (!m) throw new Error(`no ${name} in: ${caption}`);
  return Number(m[1]);
};

let descending: { dir: string; volume: Volume; source: DicomSource };
let nifti: { path: string; volume: Volume };

beforeAll(async () => {
  const d = await runPhantom({
    ...PHANTOM,
    out: join(work, "down"),
    format: "dicom",
    zDirection: "descending",
  });
  const o = await validatePath(d.ctPath, { mode: "full", purpose: "convert" });
  if (!o.volume || !o.dicomSource) throw new Error("phantom not accepted");
  descending = { dir: d.ctPath, volume: o.volume, source: o.dicomSource };
  const n = await runPhantom({ ...PHANTOM, out: join(work, "nii"), format: "nifti" });
  const on = await validatePath(n.ctPath, { mode: "full", purpose: "convert" });
  if (!on.volume) throw new Error("phantom not accepted");
  nifti = { path: n.ctPath, volume: on.volume };
}, 120_000);

describe("key image captions on a descending DICOM series", () => {
  const origin = (): SliceOrigin => ({
    format: "dicom",
    instanceNumbers: descending.source.instanceNumbers ?? [],
    frameNumbers: descending.source.frameNumbers,
  });

  it("name the source image by its InstanceNumber, whose file lies at the caption's z", () => {
    // Independently of the reader: each source file's InstanceNumber and ImagePositionPatient z.
    const zOf = new Map<number, number>();
    for (const f of readdirSync(descending.dir)) {
      const ds = readDicom(join(descending.dir, f));
      zOf.set(Number(ds.InstanceNumber), Number(ds.ImagePositionPatient[2]));
    }
    const axial = captions(render(descending.volume, origin()), "axial");
    expect(axial.length).toBeGreaterThan(0);
    let differs = false;
    for (const c of axial) {
      const m = /^Axial, InstanceNumber (\d+), z = (-?\d+\.\d) mm:/.exec(c);
      expect(m, c).not.toBeNull();
      const n = Number(m?.[1]);
      const z = Number(m?.[2]);
      expect(zOf.get(n), c).toBeCloseTo(z, 1);
      // The volume slice shown (position order) is not the image number in a descending series.
      const [nx, ny, nz] = descending.volume.dims;
      const k = Array.from({ length: nz }, (_, k) => k).find(
        (k) => Math.abs(voxelCentre(descending.volume, (nx - 1) / 2, (ny - 1) / 2, k)[2] - z) < 0.05,
      );
      expect(k, c).toBeDefined();
      if (k !== undefined && k + 1 !== n) differs = true;
      expect(c).not.toMatch(/slice \d+ of/);
    }
    expect(differs).toBe(true);
  });

  it("call the coronal view a reformat without an image number, at the y of its row", () => {
    const [coronal] = captions(render(descending.volume, origin()), "coronal");
    expect(coronal).toMatch(/^Coronal reformat \(not a source image\), y = -?\d+\.\d mm, through/);
    expect(coronal).not.toMatch(/InstanceNumber|slice|row \d/);
    const y = coordinate(coronal ?? "", "y");
    const rows = Array.from({ length: descending.volume.dims[1] }, (_, j) =>
      Number(voxelCentre(descending.volume, 0, j, 0)[1].toFixed(1)),
    );
    expect(rows).toContain(y);
  });

  it("give no number when InstanceNumbers are missing or shared", () => {
    const nz = descending.volume.dims[2];
    for (const instanceNumbers of [Array(nz).fill(1), Array(nz).fill(undefined)]) {
      for (const c of captions(render(descending.volume, { format: "dicom", instanceNumbers }), "axial"))
        expect(c).toMatch(/^Axial, z = -?\d+\.\d mm:/);
    }
  });
});

describe.skipIf(!HAVE_PYDICOM)("key image captions on a NIfTI file", () => {
  it("give the 0-based voxel index along the file's slice axis, at the z nibabel's affine gives it", () => {
    const [nx, ny] = nifti.volume.dims;
    for (const c of captions(render(nifti.volume, { format: "nifti" }), "axial")) {
      const m =
        /^Axial, NIfTI voxel k = (\d+) \(0-based, of 20 along the file's third axis\), z = (-?\d+\.\d) mm:/.exec(
          c,
        );
      expect(m, c).not.toBeNull();
      const r = spawnSync(
        "/usr/bin/python3",
        [
          "-c",
          "import sys, nibabel as nib; a = nib.load(sys.argv[1]).affine; " +
            "print((a @ [float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), 1])[2])",
          nifti.path,
          String((nx - 1) / 2),
          String((ny - 1) / 2),
          m?.[1] ?? "",
        ],
        { encoding: "utf8" },
      );
      expect(Number(r.stdout), c).toBeCloseTo(Number(m?.[2]), 1);
    }
  });
});

describe("key image captions on an oblique grid", () => {
  it("give the z of the shown plane's centre, not of a corner, and say the plane is oblique", () => {
    // The phantom's grid turned 20 degrees about x, then 15 degrees about y.
    const a = (20 * Math.PI) / 180;
    const b = (15 * Math.PI) / 180;
    const rx = [1, 0, 0, 0, Math.cos(a), Math.sin(a), 0, -Math.sin(a), Math.cos(a)];
    const ry = [Math.cos(b), 0, -Math.sin(b), 0, 1, 0, Math.sin(b), 0, Math.cos(b)];
    const mul = (p: number[], q: number[]) =>
      Array.from({ length: 9 }, (_, n) => {
        const r = Math.floor(n / 3);
        const c = n % 3;
        return p[r * 3]! * q[c]! + p[r * 3 + 1]! * q[3 + c]! + p[r * 3 + 2]! * q[6 + c]!;
      });
    const volume: Volume = {
      ...nifti.volume,
      direction: mul(ry, rx) as Volume["direction"],
    };
    const [nx, ny] = volume.dims;
    const axial = captions(render(volume, { format: "nifti" }), "axial");
    expect(axial.length).toBeGreaterThan(0);
    for (const c of axial) {
      const k = Number(/voxel k = (\d+)/.exec(c)?.[1]);
      const centre = voxelCentre(volume, (nx - 1) / 2, (ny - 1) / 2, k)[2];
      const corner = voxelCentre(volume, 0, 0, k)[2];
      expect(Math.abs(centre - corner)).toBeGreaterThan(5);
      expect(coordinate(c, "z"), c).toBeCloseTo(centre, 1);
      expect(c).toMatch(
        /z = -?\d+\.\d mm at the image centre \(an oblique plane: z -?\d+\.\d to -?\d+\.\d mm across it\)/,
      );
    }
  });
});
