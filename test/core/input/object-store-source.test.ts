import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { zipSync } from "fflate";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  relativeKeyProblem,
  summariseZodIssues,
  UploadManifestSchema,
} from "../../../core/contracts/upload-manifest.js";
import { CountingObjectStore } from "../../../core/input/counting-store.js";
import { FsObjectStore } from "../../../core/input/fs-object-store.js";
import { openObjectStoreInput } from "../../../core/input/object-store-source.js";
import { ObjectNotFoundError } from "../../../core/ports/object-store.js";
import { bytesOf, ctLikeBytes, expectRejected } from "../../helpers/input-fixtures.js";

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const PREFIX = "incoming/tenant-a/upload-1";
let base: string;
let store: FsObjectStore;

async function uploadFolder(files: Record<string, Uint8Array>, manifestFiles?: unknown[]) {
  for (const [k, v] of Object.entries(files)) await store.put(`${PREFIX}/${k}`, v);
  const listed =
    manifestFiles ?? Object.entries(files).map(([key, v]) => ({ key, size: v.length, sha256: sha256(v) }));
  await store.put(`${PREFIX}/manifest.json`, JSON.stringify({ schemaVersion: "1.0", files: listed }));
}

beforeEach(async () => {
  base = await mkdtemp(path.join(tmpdir(), "os-source-"));
  store = new FsObjectStore(base);
});
afterEach(async () => {
  await rm(base, { recursive: true, force: true });
});

describe("openObjectStoreInput: zip", () => {
  it("opens series.zip by ranges and counts every fetched byte", async () => {
    const a = ctLikeBytes(200_000, 1);
    const b = ctLikeBytes(200_000, 2);
    const zip = zipSync({ "s/a.dcm": [a, { level: 0 }], "s/b.dcm": [b, { level: 6 }] });
    await store.put(`${PREFIX}/series.zip`, zip);
    const src = await openObjectStoreInput(store, `${PREFIX}/series.zip`);
    expect(src.container).toBe("zip");
    expect(src.name).toBe("series.zip");
    expect(src.bytesTotal).toBe(zip.length);
    expect(src.entries.map((e) => [e.path, e.size])).toEqual([
      ["s/a.dcm", 200_000],
      ["s/b.dcm", 200_000],
    ]);
    const afterOpen = src.bytesRead();
    expect(afterOpen).toBeLessThanOrEqual(64 * 1024 + 22 + 20);
    for (const e of src.entries) await e.read(0, 8192);
    expect(src.bytesRead() - afterOpen).toBeLessThan(2 * (8192 + 4096));
    expect(sha256(await src.entries[1]!.read())).toBe(sha256(b));
    await src.close();
  });

  it("rejects an unsafe zip in the store like a local one", async () => {
    await store.put(`${PREFIX}/series.zip`, zipSync({ "x.zip": bytesOf("nested") }));
    await expectRejected(
      openObjectStoreInput(store, `${PREFIX}/series.zip`),
      "ARCHIVE_UNSAFE",
      /^Zip entry 1 .* is itself an archive/,
    );
  });

  it("an end record that under-counts the entries is ARCHIVE_UNSAFE, read from the tail alone", async () => {
    const files = Object.fromEntries(
      Array.from({ length: 40 }, (_, i) => [`s/${i}.dcm`, ctLikeBytes(50_000, i + 1)]),
    );
    const zip = zipSync(files, { level: 0 });
    const eocd = Buffer.from(zip).lastIndexOf(Buffer.from("PK\x05\x06", "latin1"));
    new DataView(zip.buffer, zip.byteOffset).setUint16(eocd + 8, 20, true);
    new DataView(zip.buffer, zip.byteOffset).setUint16(eocd + 10, 20, true);
    await store.put(`${PREFIX}/series.zip`, zip);
    const counting = new CountingObjectStore(store);
    await expectRejected(
      openObjectStoreInput(counting, `${PREFIX}/series.zip`),
      "ARCHIVE_UNSAFE",
      /corrupt central directory: its 20 records fill/,
    );
    // The 2 MB archive's tail (end records and directory) is all that was fetched.
    expect(counting.bytesRead()).toBeLessThanOrEqual(64 * 1024 + 22 + 20);
  });

  it("a zip key that does not exist is the store's ObjectNotFoundError, not a rejection", async () => {
    await expect(openObjectStoreInput(store, `${PREFIX}/series.zip`)).rejects.toBeInstanceOf(
      ObjectNotFoundError,
    );
  });
});

describe("openObjectStoreInput: NIfTI", () => {
  it.each(["volume.nii", "volume.nii.gz", "VOLUME.NII.GZ"])(
    "opens %s as one range-read entry",
    async (name) => {
      const bytes = ctLikeBytes(10_000, 3);
      await store.put(`${PREFIX}/${name}`, bytes);
      const src = await openObjectStoreInput(store, `${PREFIX}/${name}`);
      expect(src.container).toBe("file");
      expect(src.entries.map((e) => [e.path, e.size])).toEqual([[name, 10_000]]);
      expect(await src.entries[0]!.read(348, 352)).toEqual(bytes.slice(348, 352));
      expect(src.bytesRead()).toBe(4);
    },
  );

  it("an empty NIfTI object is EMPTY_INPUT", async () => {
    await store.put(`${PREFIX}/v.nii`, new Uint8Array(0));
    await expectRejected(openObjectStoreInput(store, `${PREFIX}/v.nii`), "EMPTY_INPUT");
  });
});

describe("openObjectStoreInput: manifest-listed files", () => {
  it("exposes exactly the listed files, relative to the manifest's folder", async () => {
    const files = { "IM1.dcm": ctLikeBytes(5000, 1), "sub/IM2.dcm": ctLikeBytes(6000, 2) };
    await uploadFolder(files);
    await store.put(`${PREFIX}/not-listed.dcm`, bytesOf("ignored"));
    const src = await openObjectStoreInput(store, `${PREFIX}/manifest.json`);
    expect(src.container).toBe("object-store");
    expect(src.name).toBe("upload-1");
    expect(src.entries.map((e) => [e.path, e.size])).toEqual([
      ["IM1.dcm", 5000],
      ["sub/IM2.dcm", 6000],
    ]);
    expect(src.bytesTotal).toBe(11_000);
    const manifestBytes = src.bytesRead();
    expect(await src.entries[1]!.read(10, 20)).toEqual(files["sub/IM2.dcm"].slice(10, 20));
    expect(src.bytesRead() - manifestBytes).toBe(10);
  });

  it("a listed file that is missing is TRUNCATED and named by its place in the manifest, not its key", async () => {
    const present = ctLikeBytes(100, 1);
    await uploadFolder({ "DOE_JANE/a.dcm": present }, [
      { key: "DOE_JANE/b.dcm", size: 100, sha256: "0".repeat(64) },
      { key: "DOE_JANE/a.dcm", size: 100, sha256: sha256(present) },
      { key: "DOE_JANE/c.dcm", size: 100, sha256: "0".repeat(64) },
    ]);
    const r = await expectRejected(
      openObjectStoreInput(store, `${PREFIX}/manifest.json`),
      "TRUNCATED",
      /lists 2 file\(s\) that are not in the upload: files\[0\], files\[2\]\./,
    );
    // Re-sending the manifest under this upload id would be the same, rejected study.
    expect(r.message).toContain("under a new upload id (POST /v1/uploads)");
    expect(r.message).not.toContain("DOE");
    expect(r.file).toBeUndefined();
  });

  it("a size mismatch is TRUNCATED with both sizes", async () => {
    const a = ctLikeBytes(100, 1);
    await uploadFolder({ "a.dcm": a }, [{ key: "a.dcm", size: 200, sha256: sha256(a) }]);
    await expectRejected(
      openObjectStoreInput(store, `${PREFIX}/manifest.json`),
      "TRUNCATED",
      /files\[0\] \(files\[0\] is 100 bytes, the manifest says 200\)/,
    );
  });

  it.each([
    ["not JSON", "{oops", /not valid UTF-8 JSON/],
    ["wrong version", JSON.stringify({ schemaVersion: "2.0", files: [] }), /schemaVersion/],
    [
      "traversal",
      JSON.stringify({ schemaVersion: "1.0", files: [{ key: "../x.dcm", size: 1, sha256: "a".repeat(64) }] }),
      /files\.0\.key: key contains a '\.\.' segment/,
    ],
    [
      "absolute",
      JSON.stringify({
        schemaVersion: "1.0",
        files: [{ key: "/etc/passwd", size: 1, sha256: "a".repeat(64) }],
      }),
      /absolute/,
    ],
    [
      "bad sha",
      JSON.stringify({ schemaVersion: "1.0", files: [{ key: "a.dcm", size: 1, sha256: "xyz" }] }),
      /sha256/,
    ],
  ])("an invalid manifest (%s) is UNSUPPORTED_FORMAT", async (_label, body, why) => {
    await store.put(`${PREFIX}/manifest.json`, body);
    await expectRejected(openObjectStoreInput(store, `${PREFIX}/manifest.json`), "UNSUPPORTED_FORMAT", why);
  });

  it("an empty file list is EMPTY_INPUT; too many files or bytes is TOO_LARGE", async () => {
    await uploadFolder({}, []);
    await expectRejected(openObjectStoreInput(store, `${PREFIX}/manifest.json`), "EMPTY_INPUT");
    const files = { "a.dcm": bytesOf("aaaa"), "b.dcm": bytesOf("bbbb"), "c.dcm": bytesOf("cccc") };
    await uploadFolder(files);
    await expectRejected(
      openObjectStoreInput(store, `${PREFIX}/manifest.json`, { maxEntries: 2 }),
      "TOO_LARGE",
    );
    await expectRejected(
      openObjectStoreInput(store, `${PREFIX}/manifest.json`, { maxTotalBytes: 11 }),
      "TOO_LARGE",
    );
  });
});

describe("openObjectStoreInput: other keys", () => {
  it("a key that is no upload shape is UNSUPPORTED_FORMAT", async () => {
    await store.put(`${PREFIX}/IM1.dcm`, bytesOf("x"));
    await expectRejected(
      openObjectStoreInput(store, `${PREFIX}/IM1.dcm`),
      "UNSUPPORTED_FORMAT",
      /manifest\.json/,
    );
  });
});

describe("UploadManifest schema", () => {
  it("accepts a valid manifest, lower-cases checksums and drops unknown fields", () => {
    const m = UploadManifestSchema.parse({
      schemaVersion: "1.0",
      files: [{ key: "a/b.dcm", size: 3, sha256: "AB".repeat(32), extra: 1 }],
      client: "x",
    });
    expect(m).toEqual({
      schemaVersion: "1.0",
      files: [{ key: "a/b.dcm", size: 3, sha256: "ab".repeat(32) }],
    });
  });

  it("rejects duplicate keys, negative or fractional sizes", () => {
    const f = { key: "a.dcm", size: 1, sha256: "a".repeat(64) };
    const dup = UploadManifestSchema.safeParse({ schemaVersion: "1.0", files: [f, f] });
    expect(dup.success).toBe(false);
    if (!dup.success) expect(summariseZodIssues(dup.error)).toMatch(/files\.1\.key: duplicate key$/);
    // "a" and "a/b" are two S3 objects but a file and a folder of one name on the job's disk.
    const nested = UploadManifestSchema.safeParse({
      schemaVersion: "1.0",
      files: [
        { ...f, key: "a/b.dcm" },
        { ...f, key: "a" },
        { ...f, key: "ab/c.dcm" },
      ],
    });
    expect(nested.success).toBe(false);
    if (!nested.success)
      expect(summariseZodIssues(nested.error)).toBe(
        "files.0.key: lies in a folder that is also listed as a file",
      );
    expect(
      UploadManifestSchema.safeParse({ schemaVersion: "1.0", files: [{ ...f, size: -1 }] }).success,
    ).toBe(false);
    expect(
      UploadManifestSchema.safeParse({ schemaVersion: "1.0", files: [{ ...f, size: 1.5 }] }).success,
    ).toBe(false);
  });

  it("relativeKeyProblem", () => {
    expect(relativeKeyProblem("a/b.dcm")).toBeUndefined();
    expect(relativeKeyProblem("a..b/c")).toBeUndefined();
    expect(relativeKeyProblem("a/./b")).toMatch(/'\.'/);
    expect(relativeKeyProblem("C:x")).toMatch(/absolute/);
    expect(relativeKeyProblem("x".repeat(1025))).toMatch(/1024/);
    // A segment no file system names (80 three-byte characters), though S3 would store it.
    expect(relativeKeyProblem(`DICOM/${"患者".repeat(43)}.dcm`)).toMatch(/segment longer than 255 bytes/);
    expect(relativeKeyProblem(`DICOM/${"x".repeat(255)}`)).toBeUndefined();
  });
});
