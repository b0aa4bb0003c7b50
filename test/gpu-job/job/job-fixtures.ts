/** Shared setup of the gpu-job tests: job environments, uploads in s3rver, and reading results back. */
import { createHash } from "node:crypto";
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { JOB_PARAMETER_ENV } from "../../../core/contracts/study.js";
import { JOB_ENV } from "../../../infra/runtime-contract.js";

export const TENANT = "hospital-a";
export const INGEST = "ingest";
export const RESULTS = "results";
export const MODELS = "models";
export const SALT = "test-salt-0123456789abcdef";

export function studyIdFor(n: number): string {
  return createHash("sha256").update(`study-${n}`).digest("hex").slice(0, 32);
}

export function resultsPrefixOf(studyId: string): string {
  return `results/${TENANT}/${studyId}/`;
}

/** The container environment Batch would give a job for `inputKey` (plus overrides; undefined deletes). */
export function jobEnv(
  studyId: string,
  inputKey: string,
  overrides: Record<string, string | undefined> = {},
): NodeJS.ProcessEnv {
  const env: Record<string, string | undefined> = {
    [JOB_PARAMETER_ENV.tenant]: TENANT,
    [JOB_PARAMETER_ENV.studyId]: studyId,
    [JOB_PARAMETER_ENV.inputBucket]: INGEST,
    [JOB_PARAMETER_ENV.inputKey]: inputKey,
    [JOB_PARAMETER_ENV.resultsBucket]: RESULTS,
    [JOB_PARAMETER_ENV.resultsPrefix]: resultsPrefixOf(studyId),
    [JOB_ENV.ingestBucket]: INGEST,
    [JOB_ENV.resultsBucket]: RESULTS,
    [JOB_ENV.modelUri]: "image",
    [JOB_ENV.executionProvider]: "cpu",
    [JOB_ENV.uidSalt]: SALT,
    ...overrides,
  };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
  return env as NodeJS.ProcessEnv;
}

export async function putObject(client: S3Client, bucket: string, key: string, body: Uint8Array | string) {
  await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
}

export async function getObject(client: S3Client, bucket: string, key: string): Promise<Buffer | undefined> {
  try {
    const res = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return Buffer.from((await res.Body?.transformToByteArray()) ?? new Uint8Array());
  } catch (e) {
    if ((e as { name?: string }).name === "NoSuchKey") return undefined;
    throw e;
  }
}

export async function listKeys(
  client: S3Client,
  bucket: string,
  prefix: string,
): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  let token: string | undefined;
  do {
    const page = await client.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
    );
    for (const o of page.Contents ?? []) if (o.Key !== undefined) out.set(o.Key, o.Size ?? 0);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token !== undefined);
  return out;
}

export const sha256 = (b: Uint8Array | string) => createHash("sha256").update(b).digest("hex");

/**
 * Download the published results of a study and check them against their manifest: every listed file is
 * there with its size and sha256. Returns the manifest and the keys present, or undefined when there is no
 * manifest. Throws when a manifest is published without its files.
 */
export async function readPublished(
  client: S3Client,
  prefix: string,
): Promise<
  | {
      manifest: { files: { path: string; sha256: string; size: number; contentType?: string }[] };
      keys: string[];
    }
  | undefined
> {
  const raw = await getObject(client, RESULTS, `${prefix}manifest.json`);
  if (raw === undefined) return undefined;
  const manifest = JSON.parse(raw.toString("utf8")) as {
    files: { path: string; sha256: string; size: number; contentType?: string }[];
  };
  for (const f of manifest.files) {
    const body = await getObject(client, RESULTS, `${prefix}${f.path}`);
    if (body === undefined) throw new Error(`manifest lists ${f.path}, which is not published`);
    if (body.length !== f.size || sha256(body) !== f.sha256)
      throw new Error(`published ${f.path} does not match the manifest`);
  }
  return { manifest, keys: [...(await listKeys(client, RESULTS, prefix)).keys()].sort() };
}
