import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UploadManifestSchema, uploadManifestDigest } from "../../../core/contracts/upload-manifest.js";
import { JobFailure } from "../../../gpu-job/job/failure.js";
import { S3JobStore } from "../../../gpu-job/job/s3-job-store.js";
import { stageIn } from "../../../gpu-job/job/stage-in.js";
import { type S3rverHandle, startS3rver } from "../../helpers/s3rver.js";

let s3: S3rverHandle;
let store: S3JobStore;
let work: string;
beforeAll(async () => {
  s3 = await startS3rver({ buckets: ["ingest"] });
  store = new S3JobStore(s3.client, "ingest");
  work = await mkdtemp(join(tmpdir(), "deepsc-stage-in-"));
});
afterAll(async () => {
  await s3?.stop();
  await rm(work, { recursive: true, force: true });
});

describe("stageIn with the ETag the ingest validated", () => {
  it("takes the object when it is still that version, and refuses a replacement as INPUT_CHANGED", async () => {
    const key = "incoming/acme/u1/scan.nii.gz";
    await store.put(key, "first version");
    const { etag } = await store.head(key);
    expect(etag).toMatch(/^[0-9a-f]{32}$/);
    const ok = await stageIn(store, key, await mkdtemp(join(work, "a-")), { expectedEtag: etag as string });
    expect(await readFile(ok.path, "utf8")).toBe("first version");

    await store.put(key, "second version, uploaded over the first");
    const err = await stageIn(store, key, await mkdtemp(join(work, "b-")), {
      expectedEtag: etag as string,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JobFailure);
    expect((err as JobFailure).code).toBe("INPUT_CHANGED");
    expect((err as Error).message).toMatch(/replaced after it was validated/);
  });

  it("checks a DICOM upload's manifest the same way", async () => {
    const manifestKey = "incoming/acme/u2/manifest.json";
    await store.put("incoming/acme/u2/a.dcm", "x");
    const sha = "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881";
    await store.put(manifestKey, JSON.stringify({ files: [{ key: "a.dcm", size: 1, sha256: sha }] }));
    const { etag } = await store.head(manifestKey);
    await store.put(
      manifestKey,
      JSON.stringify({ files: [{ key: "a.dcm", size: 1, sha256: sha }], note: 1 }),
    );
    const err = await stageIn(store, manifestKey, await mkdtemp(join(work, "c-")), {
      expectedEtag: etag as string,
    }).catch((e: unknown) => e);
    expect((err as JobFailure).code).toBe("INPUT_CHANGED");
  });

  it("pins a DICOM upload by what its manifest lists: the same list sent again passes, another is INPUT_CHANGED", async () => {
    const manifestKey = "incoming/acme/u3/manifest.json";
    await store.put("incoming/acme/u3/a.dcm", "x");
    const sha = "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881";
    const listed = { schemaVersion: "1.0", files: [{ key: "a.dcm", size: 1, sha256: sha }] };
    const digest = uploadManifestDigest(UploadManifestSchema.parse(listed));
    // Sent again, formatted otherwise: another ETag, the same files.
    await store.put(manifestKey, JSON.stringify(listed, null, 2));
    const ok = await stageIn(store, manifestKey, await mkdtemp(join(work, "d-")), {
      expectedManifestDigest: digest,
    });
    expect(ok.files).toBe(1);
    await store.put("incoming/acme/u3/b.dcm", "x");
    await store.put(
      manifestKey,
      JSON.stringify({ ...listed, files: [...listed.files, { key: "b.dcm", size: 1, sha256: sha }] }),
    );
    const err = await stageIn(store, manifestKey, await mkdtemp(join(work, "e-")), {
      expectedManifestDigest: digest,
    }).catch((e: unknown) => e);
    expect((err as JobFailure).code).toBe("INPUT_CHANGED");
    expect((err as Error).message).toMatch(/lists other files/);
  });
});
