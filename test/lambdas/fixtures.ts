/**
 * Shared pieces of the Lambda integration tests: quiet Powertools instances, event builders, phantom uploads.
 */
import { createHash } from "node:crypto";
import { mkdtemp, readdir, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics } from "@aws-lambda-powertools/metrics";
import { HeadObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { runPhantom } from "../../core/phantom/run.js";

export function quietPowertools(service: string): { logger: Logger; metrics: Metrics } {
  // POWERTOOLS_METRICS_DISABLED keeps EMF blobs off the test output; the code paths still run.
  process.env.POWERTOOLS_METRICS_DISABLED = "true";
  return {
    logger: new Logger({ serviceName: service, logLevel: "SILENT" }),
    metrics: new Metrics({ namespace: "DeepSCTest", serviceName: service }),
  };
}

export function objectCreatedEvent(bucket: string, key: string, etag: string, size = 1): unknown {
  return {
    version: "0",
    id: `evt-${Math.random().toString(16).slice(2)}`,
    "detail-type": "Object Created",
    source: "aws.s3",
    account: "123456789012",
    time: new Date().toISOString(),
    region: "us-east-1",
    resources: [`arn:aws:s3:::${bucket}`],
    detail: {
      version: "0",
      bucket: { name: bucket },
      object: { key, size, etag, sequencer: "00" },
      "request-id": "r",
      requester: "123456789012",
      reason: "PutObject",
    },
  };
}

/** Put an object and return its ETag as S3 reports it (what the event would carry). */
export async function putObject(
  s3: S3Client,
  bucket: string,
  key: string,
  body: Uint8Array | string,
): Promise<string> {
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
  const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
  return head.ETag ?? "";
}

export interface PhantomFiles {
  zip: Uint8Array;
  /** DICOM slices in instance order. */
  slices: { name: string; bytes: Uint8Array }[];
}

let cached: Promise<PhantomFiles> | undefined;

/** One small phantom (64 x 64 x 24) as series.zip and as loose DICOM files, generated once per test file. */
export function phantomFiles(): Promise<PhantomFiles> {
  cached ??= (async () => {
    const root = await mkdtemp(path.join(tmpdir(), "lambda-phantom-"));
    const common = { class: "covid" as const, seed: 7, size: 64, slices: 24 };
    const zip = await runPhantom({ ...common, out: path.join(root, "zip"), format: "zip" });
    const dicom = await runPhantom({ ...common, out: path.join(root, "dicom"), format: "dicom" });
    const names = (await readdir(dicom.ctPath)).filter((n) => n.endsWith(".dcm")).sort();
    const slices = await Promise.all(
      names.map(async (name) => ({
        name,
        bytes: new Uint8Array(await readFile(path.join(dicom.ctPath, name))),
      })),
    );
    return { zip: new Uint8Array(await readFile(zip.ctPath)), slices };
  })();
  return cached;
}

export const sha256 = (b: Uint8Array | string) => createHash("sha256").update(b).digest("hex");

/** Upload DICOM slices then manifest.json (written last) under the upload folder; returns the manifest's ETag. */
export async function uploadDicomWithManifest(
  s3: S3Client,
  bucket: string,
  folder: string,
  slices: { name: string; bytes: Uint8Array }[],
): Promise<{ manifestKey: string; etag: string }> {
  for (const s of slices) await putObject(s3, bucket, `${folder}${s.name}`, s.bytes);
  const manifest = {
    schemaVersion: "1.0",
    files: slices.map((s) => ({ key: s.name, size: s.bytes.length, sha256: sha256(s.bytes) })),
  };
  const manifestKey = `${folder}manifest.json`;
  return { manifestKey, etag: await putObject(s3, bucket, manifestKey, JSON.stringify(manifest)) };
}
