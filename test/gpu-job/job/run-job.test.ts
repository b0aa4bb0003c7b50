/**
 * runJob against a real S3 protocol server (s3rver on 127.0.0.1) with a fake pipeline: the upload shapes in,
 * every output and the manifest out, reruns, interrupted and failed attempts, and the failure classes.
 */

import { mkdtemp, readdir, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FailureReportSchema } from "../../../core/contracts/results-manifest.js";
import { parseJobEnv } from "../../../gpu-job/job/params.js";
import { type JobDeps, type JobLogger, runJob } from "../../../gpu-job/job/run-job.js";
import { S3JobStore } from "../../../gpu-job/job/s3-job-store.js";
import type { JobStore } from "../../../gpu-job/job/store.js";
import { ModelOutputError } from "../../../gpu-job/pipeline/infer/sliding-window.js";
import { createS3Client } from "../../../lambdas/adapters/s3-object-store.js";
import { S3RVER_CREDENTIALS, type S3rverHandle, startS3rver } from "../../helpers/s3rver.js";
import { type FakeCall, fakeAnalyze } from "./fake-analyze.js";
import {
  getObject,
  INGEST,
  jobEnv,
  listKeys,
  MODELS,
  putObject,
  RESULTS,
  readPublished,
  resultsPrefixOf,
  sha256,
  studyIdFor,
} from "./job-fixtures.js";

const REPO = path.resolve(import.meta.dirname, "../../..");

let s3: S3rverHandle;
beforeAll(async () => {
  s3 = await startS3rver({ buckets: [INGEST, RESULTS, MODELS] });
});
afterAll(async () => {
  await s3?.stop();
});

interface LogLine {
  level: string;
  message: string;
  fields: Record<string, unknown>;
}
function memoryLogger(): JobLogger & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  const at =
    (level: string) =>
    (message: string, fields: Record<string, unknown> = {}) => {
      lines.push({ level, message, fields });
    };
  return { lines, info: at("info"), warn: at("warn"), error: at("error") };
}

function deps(over: Partial<JobDeps> = {}): JobDeps & { logger: ReturnType<typeof memoryLogger> } {
  return {
    storeFor: (bucket) => new S3JobStore(s3.client, bucket),
    analyze: fakeAnalyze(),
    logger: memoryLogger(),
    ...over,
  } as JobDeps & { logger: ReturnType<typeof memoryLogger> };
}

let seq = 0;
/** A fresh study with a NIfTI-shaped upload (the fake pipeline does not parse it). */
async function niftiStudy(bytes: Uint8Array | string = `nifti-bytes-${seq}`) {
  const n = ++seq;
  const studyId = studyIdFor(n);
  const inputKey = `incoming/hospital-a/up-${n}/scan.nii.gz`;
  await putObject(s3.client, INGEST, inputKey, bytes);
  return { studyId, inputKey, prefix: resultsPrefixOf(studyId), env: jobEnv(studyId, inputKey) };
}

async function failureOf(prefix: string) {
  const raw = await getObject(s3.client, RESULTS, `${prefix}failure.json`);
  return raw === undefined ? undefined : FailureReportSchema.parse(JSON.parse(raw.toString("utf8")));
}

describe("runJob: publishing results", () => {
  it("stages a NIfTI upload in, runs the pipeline once and publishes every output with the manifest last", async () => {
    const study = await niftiStudy();
    const calls: FakeCall[] = [];
    const d = deps({ analyze: fakeAnalyze({ calls, images: 4 }) });
    const puts: string[] = [];
    const listener = (ev: unknown) => {
      const rec = (ev as { Records?: { eventName: string; s3: { object: { key: string } } }[] }).Records?.[0];
      if (rec?.eventName.startsWith("ObjectCreated")) puts.push(decodeURIComponent(rec.s3.object.key));
    };
    s3.server.on("event", listener);
    const scratch = await mkdtemp(path.join(tmpdir(), "job-scratch-"));
    const outcome = await runJob(parseJobEnv({ ...study.env, TMPDIR: scratch }), d);
    expect(outcome).toMatchObject({ status: "succeeded", exitCode: 0, files: 7 });

    // The pipeline saw the staged copy under a generic name, the CPU provider and the salt.
    expect(calls).toHaveLength(1);
    expect(path.basename(calls[0]!.input)).toBe("input.nii.gz");
    expect(calls[0]!.options).toMatchObject({ device: "cpu", uidSalt: "test-salt-0123456789abcdef" });
    expect(calls[0]!.options?.model).toBeUndefined();

    const published = await readPublished(s3.client, study.prefix);
    expect(published?.manifest.files.map((f) => f.path)).toEqual([
      "diagnosis.json",
      "images/axial-000.png",
      "images/axial-001.png",
      "images/axial-002.png",
      "images/axial-003.png",
      "lesions.nii.gz",
      "report.html",
    ]);
    expect(published?.keys).toEqual(
      [
        ...published!.manifest.files.map((f) => `${study.prefix}${f.path}`),
        `${study.prefix}manifest.json`,
      ].sort(),
    );
    // manifest.json was the last object written under the prefix.
    const mine = puts.filter((k) => k.startsWith(study.prefix));
    expect(mine).toHaveLength(8);
    expect(mine.at(-1)).toBe(`${study.prefix}manifest.json`);
    expect(d.logger.lines.find((l) => l.message === "results published")?.fields).toMatchObject({
      files: 7,
      staleRemoved: 0,
    });
    // The attempt's scratch folder is gone.
    expect(await readdir(scratch)).toEqual([]);
    (s3.server as unknown as { removeListener(e: string, l: unknown): void }).removeListener(
      "event",
      listener,
    );
  });

  it("does no work the second time: a complete manifest means exit 0 without rerunning", async () => {
    const study = await niftiStudy();
    await runJob(parseJobEnv(study.env), deps());
    const before = await readPublished(s3.client, study.prefix);
    const calls: FakeCall[] = [];
    const d = deps({ analyze: fakeAnalyze({ calls }) });
    const again = await runJob(parseJobEnv(study.env), d);
    expect(again).toEqual({ status: "already-complete", exitCode: 0, files: 6 });
    expect(calls).toHaveLength(0);
    expect(await readPublished(s3.client, study.prefix)).toEqual(before);
  });

  it("withdraws a manifest whose files are incomplete, reruns, and republishes a consistent result", async () => {
    const study = await niftiStudy();
    await runJob(parseJobEnv(study.env), deps());
    const store = new S3JobStore(s3.client, RESULTS);
    await store.delete(`${study.prefix}images/axial-001.png`);
    const calls: FakeCall[] = [];
    const d = deps({ analyze: fakeAnalyze({ calls }) });
    const outcome = await runJob(parseJobEnv(study.env), d);
    expect(outcome.status).toBe("succeeded");
    expect(calls).toHaveLength(1);
    expect(d.logger.lines.some((l) => l.message === "withdrawing an incomplete earlier manifest")).toBe(true);
    expect((await readPublished(s3.client, study.prefix))?.manifest.files).toHaveLength(6);
  });

  it("replaces what an interrupted attempt left: stale outputs deleted, partial ones overwritten", async () => {
    const study = await niftiStudy();
    // An earlier attempt of another pipeline version died mid-upload: a truncated file and one the new run
    // does not produce, no manifest.
    await putObject(s3.client, RESULTS, `${study.prefix}lesions.nii.gz`, "trunc");
    await putObject(s3.client, RESULTS, `${study.prefix}images/axial-099.png`, "old");
    const d = deps();
    const outcome = await runJob(parseJobEnv(study.env), d);
    expect(outcome.status).toBe("succeeded");
    const published = await readPublished(s3.client, study.prefix);
    expect(published?.keys).not.toContain(`${study.prefix}images/axial-099.png`);
    expect(published?.manifest.files.find((f) => f.path === "lesions.nii.gz")?.size).toBe(5000);
    expect(d.logger.lines.find((l) => l.message === "results published")?.fields.staleRemoved).toBe(1);
  });

  it("stores each output with its content type", async () => {
    const study = await niftiStudy();
    await runJob(parseJobEnv(study.env), deps());
    const { HeadObjectCommand } = await import("@aws-sdk/client-s3");
    const head = async (k: string) =>
      (await s3.client.send(new HeadObjectCommand({ Bucket: RESULTS, Key: `${study.prefix}${k}` })))
        .ContentType;
    expect(await head("diagnosis.json")).toBe("application/json");
    expect(await head("lesions.nii.gz")).toBe("application/gzip");
    expect(await head("images/axial-000.png")).toBe("image/png");
    expect(await head("manifest.json")).toBe("application/json");
  });
});

describe("runJob: DICOM uploads (manifest.json + listed files)", () => {
  async function dicomStudy(
    files: Record<string, string>,
    declared?: Record<string, { size: number; sha256: string }>,
  ) {
    const n = ++seq;
    const studyId = studyIdFor(n);
    const folder = `incoming/hospital-a/up-${n}`;
    for (const [k, v] of Object.entries(files)) await putObject(s3.client, INGEST, `${folder}/${k}`, v);
    const manifest = {
      schemaVersion: "1.0",
      files: Object.entries(files).map(([key, v]) => ({
        key,
        size: declared?.[key]?.size ?? Buffer.byteLength(v),
        sha256: declared?.[key]?.sha256 ?? sha256(v),
      })),
    };
    const inputKey = `${folder}/manifest.json`;
    await putObject(s3.client, INGEST, inputKey, JSON.stringify(manifest));
    return { studyId, inputKey, prefix: resultsPrefixOf(studyId), env: jobEnv(studyId, inputKey) };
  }

  it("downloads exactly the listed files (hidden ones skipped, sub-folders kept) and analyses the folder", async () => {
    const study = await dicomStudy({ "a/IM1.dcm": "slice-1", "a/IM2.dcm": "slice-22", ".DS_Store": "junk" });
    const calls: FakeCall[] = [];
    const outcome = await runJob(parseJobEnv(study.env), deps({ analyze: fakeAnalyze({ calls }) }));
    expect(outcome.status).toBe("succeeded");
    expect(path.basename(calls[0]!.input)).toBe("series");
    expect(calls[0]!.inputFiles).toEqual(["a/IM1.dcm", "a/IM2.dcm"]);
    expect(await readPublished(s3.client, study.prefix)).toBeDefined();
  });

  it("refuses files that no longer match the manifest's sha256: exit 2, INPUT_CHANGED, no manifest", async () => {
    const study = await dicomStudy(
      { "IM1.dcm": "slice-1", "IM2.dcm": "slice-2" },
      { "IM2.dcm": { size: 7, sha256: sha256("slice-X") } },
    );
    const calls: FakeCall[] = [];
    const outcome = await runJob(parseJobEnv(study.env), deps({ analyze: fakeAnalyze({ calls }) }));
    expect(outcome).toMatchObject({
      status: "failed",
      exitCode: 2,
      retryable: false,
      codes: ["INPUT_CHANGED"],
    });
    expect(calls).toHaveLength(0);
    expect(await getObject(s3.client, RESULTS, `${study.prefix}manifest.json`)).toBeUndefined();
    expect(await failureOf(study.prefix)).toMatchObject({ kind: "INPUT_REJECTED", exitCode: 2 });
  });

  it("reports listed files that were deleted after validation as INPUT_MISSING", async () => {
    const study = await dicomStudy({ "IM1.dcm": "slice-1" });
    await new S3JobStore(s3.client, INGEST).delete(study.inputKey.replace("manifest.json", "IM1.dcm"));
    const outcome = await runJob(parseJobEnv(study.env), deps());
    expect(outcome).toMatchObject({ exitCode: 2, codes: ["INPUT_MISSING"] });
  });

  it("rejects an upload manifest that does not parse with UNSUPPORTED_FORMAT", async () => {
    const n = ++seq;
    const inputKey = `incoming/hospital-a/up-${n}/manifest.json`;
    await putObject(s3.client, INGEST, inputKey, '{"schemaVersion":"1.0","files":[{"key":"../x"}]}');
    const outcome = await runJob(parseJobEnv(jobEnv(studyIdFor(n), inputKey)), deps());
    expect(outcome).toMatchObject({ exitCode: 2, codes: ["UNSUPPORTED_FORMAT"] });
  });
});

describe("runJob: failures", () => {
  it("a rejected input is permanent: exit 2, failure.json with the reason codes, no manifest", async () => {
    const study = await niftiStudy();
    const d = deps({ analyze: fakeAnalyze({ mode: "reject" }) });
    const outcome = await runJob(parseJobEnv(study.env), d);
    expect(outcome).toEqual({ status: "failed", exitCode: 2, retryable: false, codes: ["TOO_FEW_SLICES"] });
    expect(await failureOf(study.prefix)).toEqual({
      schemaVersion: 1,
      kind: "INPUT_REJECTED",
      exitCode: 2,
      reasons: [{ code: "TOO_FEW_SLICES", message: "The series has 3 slices; at least 16 are needed." }],
    });
    expect(await getObject(s3.client, RESULTS, `${study.prefix}manifest.json`)).toBeUndefined();
  });

  it("an unexpected error is internal: exit 1, a generic failure.json, and no message or path in the log", async () => {
    const study = await niftiStudy();
    const d = deps({ analyze: fakeAnalyze({ mode: "crash" }) });
    const outcome = await runJob(parseJobEnv(study.env), d);
    expect(outcome).toMatchObject({ exitCode: 1, retryable: false, codes: ["INTERNAL_ERROR"] });
    const failure = await failureOf(study.prefix);
    expect(failure?.kind).toBe("INTERNAL");
    expect(failure?.reasons[0]?.message).not.toMatch(/decoder|input/);
    const logged = JSON.stringify(d.logger.lines);
    expect(logged).not.toContain("decoder exploded");
    expect(logged).not.toContain("input.nii.gz");
    expect(d.logger.lines.at(-1)).toMatchObject({ level: "error", fields: { errorName: "Error" } });
  });

  it("a later success removes the failure.json of an earlier failed run", async () => {
    const study = await niftiStudy();
    await runJob(parseJobEnv(study.env), deps({ analyze: fakeAnalyze({ mode: "crash" }) }));
    expect(await failureOf(study.prefix)).toBeDefined();
    await runJob(parseJobEnv(study.env), deps());
    expect(await failureOf(study.prefix)).toBeUndefined();
    expect(await readPublished(s3.client, study.prefix)).toBeDefined();
  });

  it("an upload that vanished before the job ran is INPUT_MISSING (permanent)", async () => {
    const n = ++seq;
    const env = jobEnv(studyIdFor(n), `incoming/hospital-a/up-${n}/gone.zip`);
    const outcome = await runJob(parseJobEnv(env), deps());
    expect(outcome).toMatchObject({ exitCode: 2, codes: ["INPUT_MISSING"] });
  });

  it("S3 unreachable is transient: exit 75 and nothing written", async () => {
    const study = await niftiStudy();
    // Nothing listens on port 9 of 127.0.0.1: every request is refused at the socket.
    const dead = createS3Client({
      endpoint: "http://127.0.0.1:9",
      region: "us-east-1",
      forcePathStyle: true,
      credentials: S3RVER_CREDENTIALS,
    });
    try {
      const d = deps({ storeFor: (b) => new S3JobStore(dead, b) });
      const outcome = await runJob(parseJobEnv(study.env), d);
      expect(outcome).toEqual({ status: "failed", exitCode: 75, retryable: true, codes: ["TRANSIENT"] });
      expect(d.logger.lines.at(-1)).toMatchObject({ level: "warn", fields: { exitCode: 75 } });
    } finally {
      dead.destroy();
    }
    expect(await failureOf(study.prefix)).toBeUndefined();
  });

  it("S3 throttling in the middle of stage-out is transient, leaves no manifest, and the rerun completes", async () => {
    const study = await niftiStudy();
    let uploads = 0;
    const flaky = (bucket: string) => slowingDownUploads(bucket, () => ++uploads === 3);
    const first = await runJob(
      parseJobEnv(study.env),
      deps({ storeFor: flaky, analyze: fakeAnalyze({ images: 8 }) }),
    );
    expect(first).toMatchObject({ exitCode: 75, retryable: true });
    expect(await getObject(s3.client, RESULTS, `${study.prefix}manifest.json`)).toBeUndefined();
    expect((await listKeys(s3.client, RESULTS, study.prefix)).size).toBeGreaterThan(0);
    const second = await runJob(parseJobEnv(study.env), deps({ analyze: fakeAnalyze({ images: 8 }) }));
    expect(second.status).toBe("succeeded");
    expect((await readPublished(s3.client, study.prefix))?.manifest.files).toHaveLength(11);
  });

  it("a transient failure on the job's last attempt leaves failure.json (STORAGE_UNAVAILABLE); an earlier one does not", async () => {
    const study = await niftiStudy();
    // Each attempt's store slows down its first upload only.
    const throttledOnce = (bucket: string) => {
      let uploads = 0;
      return slowingDownUploads(bucket, () => ++uploads === 1);
    };
    const run = (attempt: string) =>
      runJob(
        parseJobEnv({ ...study.env, AWS_BATCH_JOB_ATTEMPT: attempt, DEEPSC_JOB_ATTEMPTS: "3" }),
        deps({ storeFor: throttledOnce, analyze: fakeAnalyze({ images: 2 }) }),
      );
    expect(await run("2")).toEqual({ status: "failed", exitCode: 75, retryable: true, codes: ["TRANSIENT"] });
    expect(await failureOf(study.prefix)).toBeUndefined();
    expect(await run("3")).toEqual({
      status: "failed",
      exitCode: 75,
      retryable: true,
      codes: ["STORAGE_UNAVAILABLE"],
    });
    expect(await failureOf(study.prefix)).toMatchObject({
      kind: "TRANSIENT",
      exitCode: 75,
      reasons: [{ code: "STORAGE_UNAVAILABLE" }],
    });
  });

  it("a pipeline that returns without writing manifest.json is an internal error, nothing published", async () => {
    const study = await niftiStudy();
    const outcome = await runJob(
      parseJobEnv(study.env),
      deps({ analyze: async (_i, outDir) => ({ outDir, files: [], diagnosis: null }) }),
    );
    expect(outcome).toMatchObject({ exitCode: 1 });
    expect(await getObject(s3.client, RESULTS, `${study.prefix}manifest.json`)).toBeUndefined();
  });
});

describe("runJob: model from S3 (DEEPSC_MODEL_URI=s3://...)", () => {
  const modelDir = path.join(REPO, "gpu-job/models");
  async function uploadModel(prefix: string, tamper = false) {
    const manifest = JSON.parse(await readFile(path.join(modelDir, "model.json"), "utf8")) as {
      file: string;
      variants?: Record<string, { file: string }>;
    };
    await putObject(s3.client, MODELS, `${prefix}/model.json`, JSON.stringify(manifest));
    for (const f of [manifest.file, ...Object.values(manifest.variants ?? {}).map((v) => v.file)]) {
      const bytes = await readFile(path.join(modelDir, f));
      if (tamper && f === manifest.file) bytes[bytes.length - 1]! ^= 1;
      await putObject(s3.client, MODELS, `${prefix}/${f}`, bytes);
    }
  }

  it("fetches model.json and its weights, verifies them and hands the local model.json to the pipeline", async () => {
    await uploadModel("deepsc/v1");
    const study = await niftiStudy();
    const calls: FakeCall[] = [];
    let seenModel: string | undefined;
    const analyze = fakeAnalyze({ calls });
    const d = deps({
      analyze: async (input, out, o) => {
        // While the pipeline runs, the staged weights are next to model.json and are the right bytes.
        seenModel = o?.model;
        const m = JSON.parse(await readFile(o!.model!, "utf8")) as { file: string; sha256: string };
        expect(sha256(await readFile(path.join(path.dirname(o!.model!), m.file)))).toBe(m.sha256);
        return analyze(input, out, o);
      },
    });
    const outcome = await runJob(
      parseJobEnv({ ...study.env, DEEPSC_MODEL_URI: "s3://models/deepsc/v1/model.json" }),
      d,
    );
    expect(outcome.status).toBe("succeeded");
    expect(path.basename(seenModel ?? "")).toBe("model.json");
    expect(d.logger.lines.find((l) => l.message === "model fetched and verified")?.fields).toMatchObject({
      model: "deepsc-covid",
    });
  });

  it("refuses weights that do not match model.json: exit 78, MODEL_CHECKSUM_MISMATCH, the pipeline never runs", async () => {
    await uploadModel("deepsc/tampered", true);
    const study = await niftiStudy();
    const calls: FakeCall[] = [];
    const outcome = await runJob(
      parseJobEnv({ ...study.env, DEEPSC_MODEL_URI: "s3://models/deepsc/tampered/model.json" }),
      deps({ analyze: fakeAnalyze({ calls }) }),
    );
    expect(outcome).toMatchObject({ exitCode: 78, retryable: false, codes: ["MODEL_CHECKSUM_MISMATCH"] });
    expect(calls).toHaveLength(0);
    expect(await failureOf(study.prefix)).toMatchObject({ kind: "CONFIGURATION", exitCode: 78 });
  });

  it("a model whose outputs overflow is MODEL_OUTPUT_INVALID (exit 78, not retried), nothing published", async () => {
    const study = await niftiStudy();
    const outcome = await runJob(
      parseJobEnv(study.env),
      deps({
        analyze: async () => {
          throw new ModelOutputError("model output class_logits holds Infinity (value 0)");
        },
      }),
    );
    expect(outcome).toMatchObject({ exitCode: 78, retryable: false, codes: ["MODEL_OUTPUT_INVALID"] });
    expect(await failureOf(study.prefix)).toMatchObject({
      kind: "CONFIGURATION",
      reasons: [{ code: "MODEL_OUTPUT_INVALID" }],
    });
  });

  it("a model URI that names nothing is MODEL_INVALID (exit 78)", async () => {
    const study = await niftiStudy();
    const outcome = await runJob(
      parseJobEnv({ ...study.env, DEEPSC_MODEL_URI: "s3://models/nope/model.json" }),
      deps(),
    );
    expect(outcome).toMatchObject({ exitCode: 78, codes: ["MODEL_INVALID"] });
  });
});

/** The results store over s3rver, whose file uploads answer S3's 503 SlowDown whenever `slowDown()` says so. */
function slowingDownUploads(bucket: string, slowDown: () => boolean): JobStore {
  const real = new S3JobStore(s3.client, bucket);
  return {
    bucket,
    list: (p) => real.list(p),
    head: (k) => real.head(k),
    get: (k) => real.get(k),
    getRange: (k, a, b) => real.getRange(k, a, b),
    put: (k, b, t) => real.put(k, b, t),
    openRead: (k) => real.openRead(k),
    delete: (k) => real.delete(k),
    putFile: async (key, file, o) => {
      if (slowDown())
        throw Object.assign(new Error("Please reduce your request rate."), {
          name: "SlowDown",
          $metadata: { httpStatusCode: 503 },
        });
      return real.putFile(key, file, o);
    },
  };
}
