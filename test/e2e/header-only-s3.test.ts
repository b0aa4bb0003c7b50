/**
 * Header-only validation over S3 byte ranges (what the ingest Lambda does), against a real S3 protocol
 * server (s3rver on 127.0.0.1): a manifest-listed DICOM folder and a series.zip of 512x512 slices are
 * validated while reading a small fraction of their bytes, with the same verdict and geometry as a full read.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openObjectStoreInput } from "../../core/input/object-store-source.js";
import { runPhantom } from "../../core/phantom/run.js";
import { validateSource } from "../../core/validation/validate.js";
import { validatePath } from "../../core/validation/validate-path.js";
import { S3ObjectStore } from "../../lambdas/adapters/s3-object-store.js";
import { type S3rverHandle, startS3rver } from "../helpers/s3rver.js";

const work = mkdtempSync(join(tmpdir(), "deepsc-s3-"));
let s3: S3rverHandle;
let store: S3ObjectStore;
let folder = "";
let zip = "";

async function put(key: string, body: Uint8Array | string) {
  await s3.client.send(new PutObjectCommand({ Bucket: "ingest", Key: key, Body: body }));
}

async function uploadFolder(prefix: string, files: string[]) {
  const manifest = { schemaVersion: "1.0", files: [] as { key: string; size: number; sha256: string }[] };
  for (const f of files) {
    const body = readFileSync(join(folder, f));
    await put(`${prefix}/${f}`, body);
    manifest.files.push({
      key: f,
      size: body.length,
      sha256: createHash("sha256").update(body).digest("hex"),
    });
  }
  await put(`${prefix}/manifest.json`, JSON.stringify(manifest));
}

beforeAll(async () => {
  s3 = await startS3rver({ buckets: ["ingest"] });
  store = new S3ObjectStore(s3.client, "ingest");
  const opts = { class: "covid", seed: 21, size: 512, slices: 30, sliceThickness: 5 } as const;
  folder = (await runPhantom({ ...opts, out: join(work, "dicom"), format: "dicom" })).ctPath;
  zip = (await runPhantom({ ...opts, out: join(work, "zip"), format: "zip" })).ctPath;
  await uploadFolder("incoming/t1/u1", readdirSync(folder).sort());
  await put("incoming/t1/u2/series.zip", readFileSync(zip));
});

afterAll(async () => {
  await s3?.stop();
  rmSync(work, { recursive: true, force: true });
});

async function headerOnly(key: string) {
  const source = await openObjectStoreInput(store, key);
  try {
    return (await validateSource(source, { mode: "header-only", purpose: "analysis" })).report;
  } finally {
    await source.close();
  }
}

describe("header-only validation through S3 range reads", () => {
  for (const [label, key] of [
    ["manifest + DICOM files", "incoming/t1/u1/manifest.json"],
    ["series.zip", "incoming/t1/u2/series.zip"],
  ] as const) {
    it(`${label}: accepted, reading at most 5 % of the bytes, with the full read's geometry`, async () => {
      const report = await headerOnly(key);
      const full = (
        await validatePath(label === "series.zip" ? zip : folder, { mode: "full", purpose: "analysis" })
      ).report;
      expect(report.reasons).toEqual([]);
      expect(report.accepted).toBe(true);
      expect(report.bytesRead / report.bytesTotal).toBeLessThanOrEqual(0.05);
      expect(report.bytesRead).toBeGreaterThan(0);
      expect(report.series?.dims).toEqual(full.series?.dims);
      expect(report.series?.spacing).toEqual(full.series?.spacing);
      expect(report.series?.origin).toEqual(full.series?.origin);
      expect(report.series?.direction).toEqual(full.series?.direction);
      expect(report.warnings.map((w) => w.code)).toContain("HEADER_ONLY");
    });
  }

  it("rejects a series with a missing slice from headers alone", async () => {
    const files = readdirSync(folder).sort();
    await uploadFolder(
      "incoming/t1/u3",
      files.filter((_, i) => i !== 14),
    );
    const report = await headerOnly("incoming/t1/u3/manifest.json");
    expect(report.accepted).toBe(false);
    expect(report.reasons.map((r) => r.code)).toContain("SLICE_GAP");
    expect(report.bytesRead / report.bytesTotal).toBeLessThanOrEqual(0.05);
  });
});
