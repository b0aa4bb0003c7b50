/** Helpers of the report tests: read DICOM with dcmjs, run dciodvfy and the pydicom read-back. */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

const dcmjs = createRequire(import.meta.url)("dcmjs") as {
  data: {
    DicomMessage: { readFile(b: ArrayBuffer): { dict: Record<string, unknown> } };
    DicomMetaDictionary: { naturalizeDataset(d: Record<string, unknown>): Record<string, unknown> };
  };
};

// biome-ignore lint/suspicious/noExplicitAny: naturalized DICOM datasets are untyped trees.
export type Natural = Record<string, any>;

export function readDicom(path: string): Natural {
  const b = readFileSync(path);
  const msg = dcmjs.data.DicomMessage.readFile(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  return dcmjs.data.DicomMetaDictionary.naturalizeDataset(msg.dict);
}

export function toolAvailable(cmd: string, args: string[] = []): boolean {
  return spawnSync(cmd, args, { stdio: "ignore" }).error === undefined;
}

/** dciodvfy's verdict: its Error and Warning lines (it prints to stderr). */
export function dciodvfy(path: string): { errors: string[]; warnings: string[]; output: string } {
  const r = spawnSync("dciodvfy", [path], { encoding: "utf8" });
  if (r.error) throw r.error;
  const output = `${r.stdout}${r.stderr}`;
  const lines = output.split("\n");
  return {
    errors: lines.filter((l) => /^Error/.test(l)),
    warnings: lines.filter((l) => /^Warning/.test(l)),
    output,
  };
}

export interface SegCheck {
  sopClass: string;
  modality: string;
  segmentationType: string;
  numberOfFrames: number;
  rows: number;
  columns: number;
  frameSlices: number[];
  sameStudy: boolean;
  sameFrameOfReference: boolean;
  referencesSourceSeries: boolean;
  newSeries: boolean;
  referencedInstances: number;
  sourceInstances: number;
  segmentLabel: string;
  category: string;
  type: string;
  patientName: string;
  patientId: string;
  maskVoxels: number;
  segVoxels: number;
  identical: boolean;
  problems: string[];
}

/** check_seg.py: pydicom + nibabel read-back of a SEG against its source folder and the lesion NIfTI. */
export function pythonSegCheck(seg: string, sourceDir: string, lesionsNifti: string): SegCheck {
  const r = spawnSync(
    "/usr/bin/python3",
    [join(import.meta.dirname, "check_seg.py"), seg, sourceDir, lesionsNifti],
    {
      encoding: "utf8",
      maxBuffer: 16 * 1024 * 1024,
    },
  );
  if (r.status !== 0) throw new Error(`check_seg.py failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as SegCheck;
}

export const HAVE_DCIODVFY = toolAvailable("dciodvfy");
export const HAVE_PYDICOM =
  spawnSync("/usr/bin/python3", ["-c", "import pydicom, nibabel, numpy"], { stdio: "ignore" }).status === 0;
