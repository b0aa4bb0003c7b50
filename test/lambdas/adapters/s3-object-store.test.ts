import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { HeadObjectCommand, type HeadObjectCommandOutput, S3Client } from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import { zipSync } from "fflate";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openObjectStoreInput } from "../../../core/input/object-store-source.js";
import {
  ObjectChangedError,
  type ObjectInfo,
  ObjectNotFoundError,
  type ObjectStore,
} from "../../../core/ports/object-store.js";
import { S3ObjectStore } from "../../../lambdas/adapters/s3-object-store.js";
import { ctLikeBytes, expectRejected } from "../../helpers/input-fixtures.js";
import { type S3rverHandle, startS3rver } from "../../helpers/s3rver.js";

const BUCKET = "uploads";
const CORPUS = path.resolve(import.meta.dirname, "../../../../shared/corpus");
const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const text = (b: Uint8Array) => new TextDecoder().decode(b);

let s3: S3rverHandle;
let store: S3ObjectStore;

beforeAll(async () => {
  s3 = await startS3rver({ buckets: [BUCKET] });
  store = new S3ObjectStore(s3.client, BUCKET);
});
afterAll(async () => {
  await s3?.stop();
});

describe("S3ObjectStore against s3rver", () => {
  it("put then get/head/getRange round-trips bytes exactly (no checksum framing stored)", async () => {
    expect(await s3.client.config.requestChecksumCalculation()).toBe("WHEN_REQUIRED");
    expect(await s3.client.config.responseChecksumValidation()).toBe("WHEN_REQUIRED");
    const body = ctLikeBytes(300_000, 42);
    await store.put("incoming/t/u/a.dcm", body, "application/dicom");
    // The ETag without S3's quotes: for a single PUT, the MD5 of the bytes.
    const md5 = createHash("md5").update(body).digest("hex");
    expect(await store.head("incoming/t/u/a.dcm")).toEqual({
      key: "incoming/t/u/a.dcm",
      size: body.length,
      etag: md5,
    });
    expect(sha256(await store.get("incoming/t/u/a.dcm"))).toBe(sha256(body));
    expect(await store.getRange("incoming/t/u/a.dcm", 1000, 1010)).toEqual(body.slice(1000, 1010));
    expect((await store.getRange("incoming/t/u/a.dcm", 299_995, 400_000)).length).toBe(5);
    expect((await store.getRange("incoming/t/u/a.dcm", 300_000, 300_010)).length).toBe(0);
    expect((await store.getRange("incoming/t/u/a.dcm", 7, 7)).length).toBe(0);
    await store.put("results/t/s/diagnosis.json", '{"schemaVersion":"1.0"}', "application/json");
    expect(text(await store.get("results/t/s/diagnosis.json"))).toBe('{"schemaVersion":"1.0"}');
  });

  it("lists a prefix across pages, in key order", async () => {
    const keys = Array.from({ length: 1005 }, (_, i) => `list/p/${String(i).padStart(5, "0")}.dcm`);
    for (let i = 0; i < keys.length; i += 50)
      await Promise.all(keys.slice(i, i + 50).map((k) => store.put(k, "x")));
    await store.put("list/q/other.dcm", "y");
    const listed = await store.list("list/p/");
    expect(listed.length).toBe(1005); // more than one ListObjectsV2 page of 1000 (needs the DES shim)
    expect(listed.map((o) => o.key)).toEqual(keys);
    expect(listed.every((o) => o.size === 1)).toBe(true);
    expect(await store.list("list/none/")).toEqual([]);
  });

  it("missing keys are ObjectNotFoundError from head, get and getRange", async () => {
    await expect(store.head("nope/x")).rejects.toBeInstanceOf(ObjectNotFoundError);
    await expect(store.get("nope/x")).rejects.toBeInstanceOf(ObjectNotFoundError);
    await expect(store.getRange("nope/x", 0, 10)).rejects.toBeInstanceOf(ObjectNotFoundError);
  });
});

describe("S3ObjectStore reads pinned to one version (ifMatch)", () => {
  it("reads the version named and refuses another with ObjectChangedError, sending If-Match", async () => {
    const key = "pinned/t/u/series.zip";
    await store.put(key, "first version");
    const first = await store.head(key);
    // The header goes on the wire (S3 answers a mismatch with 412); s3rver ignores it, so the adapter also
    // compares the ETag the response names.
    const ifMatchSent: (string | undefined)[] = [];
    s3.client.middlewareStack.add(
      (next) => async (args) => {
        const req = args.request as { headers?: Record<string, string> };
        ifMatchSent.push(req.headers?.["if-match"]);
        return next(args);
      },
      { step: "finalizeRequest", name: "captureIfMatch" },
    );
    try {
      expect(text(await store.getRange(key, 0, 5, { ifMatch: first.etag! }))).toBe("first");
      expect(text(await store.get(key, { ifMatch: first.etag! }))).toBe("first version");
      expect(ifMatchSent).toEqual([`"${first.etag}"`, `"${first.etag}"`]);
      await store.put(key, "second version");
      await expect(store.getRange(key, 0, 5, { ifMatch: first.etag! })).rejects.toBeInstanceOf(
        ObjectChangedError,
      );
      await expect(store.get(key, { ifMatch: first.etag! })).rejects.toBeInstanceOf(ObjectChangedError);
      // Without a pin, whatever is there now.
      expect(text(await store.getRange(key, 0, 6))).toBe("second");
    } finally {
      s3.client.middlewareStack.remove("captureIfMatch");
    }
  });
});

/** The store, with `after(key)` run once right after the first call of `method` for `key` returns. */
function interfering(
  method: "head" | "list",
  trigger: string,
  after: () => Promise<void>,
): ObjectStore & { fired: boolean } {
  const wrapped = {
    fired: false,
    list: async (prefix: string) => {
      const out = await store.list(prefix);
      if (method === "list" && !wrapped.fired && prefix === trigger) {
        wrapped.fired = true;
        await after();
      }
      return out;
    },
    head: async (key: string): Promise<ObjectInfo> => {
      const out = await store.head(key);
      if (method === "head" && !wrapped.fired && key === trigger) {
        wrapped.fired = true;
        await after();
      }
      return out;
    },
    getRange: store.getRange.bind(store),
    get: store.get.bind(store),
    put: store.put.bind(store),
  };
  return wrapped;
}

describe("openObjectStoreInput over S3: an upload overwritten while it is read", () => {
  it("a zip replaced after its HEAD is UPLOAD_CHANGED, not read as a mix of two versions", async () => {
    const key = "race/t/u1/series.zip";
    await store.put(key, zipSync({ "a.dcm": ctLikeBytes(5000, 1) }));
    const racing = interfering("head", key, () => store.put(key, zipSync({ "b.dcm": ctLikeBytes(6000, 2) })));
    await expectRejected(
      openObjectStoreInput(racing, key),
      "UPLOAD_CHANGED",
      /replaced while it was being validated/,
    );
    expect(racing.fired).toBe(true);
  });

  it("a listed file overwritten after the listing is the store's ObjectChangedError (the caller lists again)", async () => {
    const prefix = "race/t/u2/";
    const a = ctLikeBytes(4000, 1);
    const b = ctLikeBytes(4000, 2);
    await store.put(`${prefix}a.dcm`, a);
    await store.put(`${prefix}b.dcm`, b);
    await store.put(
      `${prefix}manifest.json`,
      JSON.stringify({
        schemaVersion: "1.0",
        files: [
          { key: "a.dcm", size: a.length, sha256: sha256(a) },
          { key: "b.dcm", size: b.length, sha256: sha256(b) },
        ],
      }),
    );
    // Same size, other bytes: only the version tells.
    const racing = interfering("list", prefix, () => store.put(`${prefix}b.dcm`, ctLikeBytes(4000, 3)));
    const src = await openObjectStoreInput(racing, `${prefix}manifest.json`);
    expect(text(await src.entries[0]!.read(0, 4))).toBe(text(a.slice(0, 4)));
    await expect(src.entries[1]!.read(0, 4)).rejects.toBeInstanceOf(ObjectChangedError);
  });

  it("a version the caller has already seen is the one read: a NIfTI replaced since is UPLOAD_CHANGED", async () => {
    const key = "race/t/u3/scan.nii";
    await store.put(key, ctLikeBytes(1000, 4));
    const seen = await store.head(key);
    await store.put(key, ctLikeBytes(1000, 5));
    const src = await openObjectStoreInput(store, key, {}, { version: seen });
    await expectRejected(src.entries[0]!.read(0, 348), "UPLOAD_CHANGED");
  });
});

describe("openObjectStoreInput over S3", () => {
  const entries: Record<string, Uint8Array> = {};
  for (let i = 0; i < 20; i++)
    entries[`series/IM${String(i).padStart(4, "0")}.dcm`] = ctLikeBytes(500_000, i + 1);

  it.each([
    ["stored", 0],
    ["deflated", 6],
  ] as const)(
    "prefix reads of every entry of a %s 20 x 500 KB zip fetch under a tenth of it",
    async (label, level) => {
      const zip = zipSync(
        Object.fromEntries(Object.entries(entries).map(([k, v]) => [k, [v, { level }]])) as Parameters<
          typeof zipSync
        >[0],
      );
      const key = `incoming/t/${label}/series.zip`;
      await store.put(key, zip);
      const src = await openObjectStoreInput(store, key);
      expect(src.entries.length).toBe(20);
      for (const e of src.entries) {
        expect(e.size).toBe(500_000);
        expect(await e.read(0, 16_384)).toEqual(entries[e.path]!.slice(0, 16_384));
      }
      expect(src.bytesRead()).toBeLessThan(zip.length * 0.1);
      // And a full read of one entry is exact.
      expect(sha256(await src.entries[7]!.read())).toBe(sha256(entries[src.entries[7]!.path]!));
      await src.close();
    },
  );

  it("a manifest-listed folder of real DICOM files reads back exactly", async () => {
    const dir = path.join(CORPUS, "dicom/real/ct-3slice");
    const names = ["01.dcm", "02.dcm", "03.dcm"];
    const files = await Promise.all(
      names.map(async (n) => new Uint8Array(await readFile(path.join(dir, n)))),
    );
    const prefix = "incoming/tenant-a/upload-7";
    await Promise.all(names.map((n, i) => store.put(`${prefix}/${n}`, files[i]!)));
    const manifest = {
      schemaVersion: "1.0",
      files: names.map((n, i) => ({ key: n, size: files[i]!.length, sha256: sha256(files[i]!) })),
    };
    await store.put(`${prefix}/manifest.json`, JSON.stringify(manifest), "application/json");

    const src = await openObjectStoreInput(store, `${prefix}/manifest.json`);
    expect(src.container).toBe("object-store");
    expect(src.entries.map((e) => e.path)).toEqual(names);
    const afterManifest = src.bytesRead();
    for (const e of src.entries) expect(text(await e.read(128, 132))).toBe("DICM");
    expect(src.bytesRead() - afterManifest).toBe(12);
    for (const [i, e] of src.entries.entries()) expect(sha256(await e.read())).toBe(sha256(files[i]!));
  });

  it("a manifest listing a file that never arrived is TRUNCATED", async () => {
    const prefix = "incoming/tenant-a/upload-8";
    await store.put(`${prefix}/01.dcm`, "x");
    await store.put(
      `${prefix}/manifest.json`,
      JSON.stringify({
        schemaVersion: "1.0",
        files: [
          { key: "01.dcm", size: 1, sha256: "a".repeat(64) },
          { key: "02.dcm", size: 1, sha256: "b".repeat(64) },
        ],
      }),
    );
    await expectRejected(
      openObjectStoreInput(store, `${prefix}/manifest.json`),
      "TRUNCATED",
      /not in the upload: files\[1\]\./,
    );
  });
});

/**
 * S3's stored checksums: s3rver keeps none (the test above shows HEAD with ChecksumMode still answers there),
 * so S3's answers come from aws-sdk-client-mock on a client of their own.
 */
describe("S3ObjectStore.head: the object's full-object checksum", () => {
  const client = new S3Client({
    region: "us-east-1",
    credentials: { accessKeyId: "a", secretAccessKey: "b" },
  });
  const s3Mock = mockClient(client);
  afterAll(() => s3Mock.restore());
  const headAnswering = async (answer: HeadObjectCommandOutput) => {
    s3Mock.reset();
    s3Mock.on(HeadObjectCommand).resolves(answer);
    const info = await new S3ObjectStore(client, BUCKET).head("incoming/t/u/series.zip");
    expect(s3Mock.commandCalls(HeadObjectCommand)[0]!.args[0].input.ChecksumMode).toBe("ENABLED");
    return info;
  };
  const base = { $metadata: {}, ContentLength: 10, ETag: '"kms-etag"' };

  it("reports S3's CRC64NVME (or a client's full-object checksum) with its algorithm", async () => {
    expect(
      await headAnswering({ ...base, ChecksumCRC64NVME: "AAAAAAAAAAA=", ChecksumType: "FULL_OBJECT" }),
    ).toEqual({
      key: "incoming/t/u/series.zip",
      size: 10,
      etag: "kms-etag",
      checksum: "crc64nvme:AAAAAAAAAAA=",
    });
    expect(
      (await headAnswering({ ...base, ChecksumCRC32: "sOO8/Q==", ChecksumType: "FULL_OBJECT" })).checksum,
    ).toBe("crc32:sOO8/Q==");
  });

  it("reports none for a multipart upload's composite checksum, which depends on its part sizes", async () => {
    expect(
      (await headAnswering({ ...base, ChecksumSHA256: "q1w2e3r4t5y6=-3", ChecksumType: "COMPOSITE" }))
        .checksum,
    ).toBeUndefined();
    expect((await headAnswering({ ...base, ChecksumCRC32: "sOO8/Q==-2" })).checksum).toBeUndefined();
    expect((await headAnswering(base)).checksum).toBeUndefined();
  });
});
