import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { zipSync } from "fflate";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isInputRejected } from "../../../core/errors.js";
import { openLocalInput } from "../../../core/input/open-local.js";
import { bytesOf, expectRejected } from "../../helpers/input-fixtures.js";

const CORPUS = path.resolve(import.meta.dirname, "../../../../shared/corpus");
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "open-local-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("openLocalInput", () => {
  it("opens a folder as a folder source", async () => {
    const folder = path.join(dir, "series");
    await mkdir(folder);
    await writeFile(path.join(folder, "1.dcm"), "one");
    const src = await openLocalInput(folder);
    expect(src.container).toBe("folder");
    expect(src.entries.map((e) => e.path)).toEqual(["1.dcm"]);
  });

  it("opens a real DICOM file as a single-file source named by its base name", async () => {
    const file = path.join(CORPUS, "dicom/syntax/CT1_ELE.dcm");
    const bytes = new Uint8Array(await readFile(file));
    const src = await openLocalInput(file);
    expect(src.container).toBe("file");
    expect(src.name).toBe("CT1_ELE.dcm");
    expect(src.entries.map((e) => [e.path, e.size])).toEqual([["CT1_ELE.dcm", bytes.length]]);
    expect(await src.entries[0]!.read(128, 132)).toEqual(bytesOf("DICM"));
    // Buffer.equals, not toEqual: deep-equal on half a megabyte of bytes takes seconds.
    expect(Buffer.from(await src.entries[0]!.read()).equals(bytes)).toBe(true);
    expect(src.bytesRead()).toBe(4 + bytes.length);
    expect(src.bytesTotal).toBe(bytes.length);
    await src.close();
  });

  it("detects a zip by its magic whatever its name, and by a .zip name", async () => {
    const zip = zipSync({ "a.dcm": bytesOf("aaaa") });
    await writeFile(path.join(dir, "upload.bin"), zip);
    const byMagic = await openLocalInput(path.join(dir, "upload.bin"));
    expect(byMagic.container).toBe("zip");
    expect(byMagic.entries.map((e) => e.path)).toEqual(["a.dcm"]);
    await byMagic.close();

    // Named .zip but not a zip: opened as a zip and rejected as such, not read as a DICOM.
    await writeFile(path.join(dir, "fake.zip"), "hello");
    await expectRejected(
      openLocalInput(path.join(dir, "fake.zip")),
      "UNSUPPORTED_FORMAT",
      /^The input is not a zip archive/,
    );
  });

  it("does not treat .nii.gz or gzip content as a zip", async () => {
    const gz = path.join(dir, "vol.nii.gz");
    await writeFile(gz, Uint8Array.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0]));
    const src = await openLocalInput(gz);
    expect(src.container).toBe("file");
  });

  it("an empty file is EMPTY_INPUT and an oversized one TOO_LARGE", async () => {
    await writeFile(path.join(dir, "empty.dcm"), "");
    await expectRejected(openLocalInput(path.join(dir, "empty.dcm")), "EMPTY_INPUT");
    await writeFile(path.join(dir, "big.dcm"), "0123456789");
    await expectRejected(openLocalInput(path.join(dir, "big.dcm"), { maxTotalBytes: 5 }), "TOO_LARGE");
  });

  it("a missing path is a usage error naming the path, not a rejection", async () => {
    const missing = path.join(dir, "no-such-input");
    const error = await openLocalInput(missing).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect(isInputRejected(error)).toBe(false);
    expect((error as Error).message).toContain(missing);
  });
});
