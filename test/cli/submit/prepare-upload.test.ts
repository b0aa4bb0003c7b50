import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { unzipSync } from "fflate";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EmptyInputError, prepareUpload } from "../../../cli/submit/prepare-upload.js";

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "deepsc-prepare-"));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe("prepareUpload", () => {
  it("zips a DICOM folder with its relative paths and removes the zip on cleanup", async () => {
    const dir = join(work, "series");
    await mkdir(join(dir, "sub"), { recursive: true });
    const a = Buffer.alloc(300_000, 7);
    await writeFile(join(dir, "IM1.dcm"), a);
    await writeFile(join(dir, "sub", "IM2.dcm"), "second");
    const up = await prepareUpload(dir);
    expect(up.file).toBe("series.zip");
    expect(up.zippedFiles).toBe(2);
    const entries = unzipSync(await readFile(up.path));
    expect(Object.keys(entries).sort()).toEqual(["IM1.dcm", "sub/IM2.dcm"]);
    expect(Buffer.from(entries["IM1.dcm"] as Uint8Array).equals(a)).toBe(true);
    expect(Buffer.from(entries["sub/IM2.dcm"] as Uint8Array).toString()).toBe("second");
    await up.cleanup();
    await expect(stat(up.path)).rejects.toThrow();
  });

  it("sends zips and NIfTI volumes as they are, under the name the API presigns", async () => {
    for (const [name, file] of [
      ["study.ZIP", "series.zip"],
      ["scan.nii.gz", "scan.nii.gz"],
      ["t1.nii", "scan.nii"],
    ] as const) {
      const path = join(work, name);
      await writeFile(path, "bytes");
      const up = await prepareUpload(path);
      expect(up.file).toBe(file);
      expect(up.path).toBe(path);
      expect(up.zippedFiles).toBe(0);
      await up.cleanup();
      expect((await stat(path)).size).toBe(5);
    }
  });

  it("zips a single DICOM file, and refuses an empty folder", async () => {
    const single = join(work, "one.dcm");
    await writeFile(single, "x");
    const up = await prepareUpload(single);
    expect(Object.keys(unzipSync(await readFile(up.path)))).toEqual(["one.dcm"]);
    await up.cleanup();
    await mkdir(join(work, "empty"));
    await expect(prepareUpload(join(work, "empty"))).rejects.toThrow(EmptyInputError);
  });
});
