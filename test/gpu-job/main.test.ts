/**
 * The container entrypoint as a separate process against s3rver on 127.0.0.1: real environment parsing,
 * S3 client, JSON logs, signals and exit codes, with the fake pipeline (job/fake-job-entry.ts) so attempts
 * can be stalled and killed. A watcher checks, at every object event under the study's prefix and between
 * them, that a published manifest.json never lists a file that is not there.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FailureReportSchema } from "../../core/contracts/results-manifest.js";
import { EXIT_CODES } from "../../gpu-job/job/exit-codes.js";
import { S3RVER_CREDENTIALS, type S3rverHandle, startS3rver } from "../helpers/s3rver.js";
import {
  getObject,
  INGEST,
  jobEnv,
  listKeys,
  putObject,
  RESULTS,
  readPublished,
  resultsPrefixOf,
  sha256,
  studyIdFor,
} from "./job/job-fixtures.js";

const REPO = path.resolve(import.meta.dirname, "../..");
const FAKE_ENTRY = path.join(REPO, "test/gpu-job/job/fake-job-entry.ts");
const REAL_ENTRY = path.join(REPO, "gpu-job/main.ts");

let s3: S3rverHandle;
let scratch: string;
beforeAll(async () => {
  s3 = await startS3rver({ buckets: [INGEST, RESULTS] });
  scratch = await mkdtemp(path.join(tmpdir(), "gpu-job-main-"));
});
afterAll(async () => {
  await s3?.stop();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

interface Run {
  child: ChildProcess;
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
}

function start(entry: string, env: NodeJS.ProcessEnv, opts: { ipc?: boolean } = {}): Run {
  const child = spawn(process.execPath, ["--import", "tsx", entry], {
    cwd: REPO,
    env: {
      PATH: process.env.PATH,
      AWS_REGION: "us-east-1",
      AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
      // The SDK's Node 20 deprecation notice is not the job's business.
      AWS_SDK_JS_SUPPRESS_MAINTENANCE_MODE_MESSAGE: "1",
      NODE_NO_WARNINGS: "1",
      DEEPSC_S3_ENDPOINT: s3.endpoint,
      TMPDIR: scratch,
      ...env,
    },
    // The local stack starts its jobs with an IPC channel (cli/local-stack/job-runner.ts).
    stdio: opts.ipc ? ["ignore", "pipe", "pipe", "ipc"] : ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const done = new Promise<{
    code: number | null;
    signal: NodeJS.Signals | null;
    stdout: string;
    stderr: string;
  }>((resolve) => {
    // 'exit' and both output streams closed, rather than 'close': Node never emits that for a child whose
    // IPC channel this side disconnected.
    let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    let open = 2;
    const settle = () => {
      if (exited && open === 0) resolve({ ...exited, stdout, stderr });
    };
    for (const stream of [child.stdout, child.stderr])
      stream?.on("close", () => {
        open--;
        settle();
      });
    child.on("exit", (code, signal) => {
      exited = { code, signal };
      settle();
    });
  });
  return { child, done };
}

function jsonLines(stdout: string): Record<string, unknown>[] {
  return stdout
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

let seq = 100;
async function study(name = "scan.nii.gz", bytes = `volume-${seq}`) {
  const n = ++seq;
  const studyId = studyIdFor(n);
  const inputKey = `incoming/hospital-a/up-${n}/${name}`;
  await putObject(s3.client, INGEST, inputKey, bytes);
  return { studyId, inputKey, prefix: resultsPrefixOf(studyId), env: jobEnv(studyId, inputKey) };
}

type S3Event = { Records?: { eventName: string; s3: { object: { key: string } } }[] };
/**
 * Watch a results prefix: on every object event and every 20 ms, if manifest.json is there, every file it
 * lists must be there at its size. Violations are collected, not thrown, so the test can assert on them.
 */
function watchConsistency(prefix: string) {
  const violations: string[] = [];
  const puts: string[] = [];
  let checks = 0;
  let busy = false;
  const check = async () => {
    if (busy) return;
    busy = true;
    try {
      const raw = await getObject(s3.client, RESULTS, `${prefix}manifest.json`);
      checks++;
      if (raw === undefined) return;
      let manifest: { files: { path: string; size: number }[] };
      try {
        manifest = JSON.parse(raw.toString("utf8"));
      } catch {
        // s3rver writes an object's file in place, so a GET racing the PUT can see a prefix of it (real S3
        // PUTs are atomic). A torn read is not a published manifest; the next check sees the whole one.
        return;
      }
      const stored = await listKeys(s3.client, RESULTS, prefix);
      for (const f of manifest.files)
        if (stored.get(`${prefix}${f.path}`) !== f.size)
          violations.push(`manifest lists ${f.path}, not published`);
    } catch (e) {
      violations.push(`watch failed: ${(e as Error).message}`);
    } finally {
      busy = false;
    }
  };
  const listener = (ev: unknown) => {
    const rec = (ev as S3Event).Records?.[0];
    const key = rec === undefined ? "" : decodeURIComponent(rec.s3.object.key);
    if (!key.startsWith(prefix)) return;
    if (rec?.eventName.startsWith("ObjectCreated")) puts.push(key);
    void check();
  };
  s3.server.on("event", listener);
  const timer = setInterval(() => void check(), 20);
  return {
    violations,
    puts,
    checks: () => checks,
    async stop() {
      clearInterval(timer);
      (s3.server as unknown as { removeListener(e: string, l: unknown): void }).removeListener(
        "event",
        listener,
      );
      while (busy) await new Promise((r) => setTimeout(r, 5));
      await check();
    },
  };
}

async function until(
  cond: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 60_000,
): Promise<void> {
  const t0 = Date.now();
  while (!(await cond())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("gpu-job entrypoint (child process, s3rver)", () => {
  it("runs an upload end to end: exit 0, every output and the manifest published, JSON logs without upload names", async () => {
    const s = await study("DOE_JOHN_1970.nii.gz");
    const { code, stdout, stderr } = await start(FAKE_ENTRY, s.env).done;
    expect(code).toBe(0);
    const published = await readPublished(s3.client, s.prefix);
    expect(published?.manifest.files).toHaveLength(6);
    const lines = jsonLines(stdout);
    expect(lines.map((l) => l.message)).toEqual(
      expect.arrayContaining(["job starting", "input staged", "results published", "job finished"]),
    );
    expect(lines.every((l) => l.service === "deepsc-gpu-job" && l.studyId === s.studyId)).toBe(true);
    expect(stdout).not.toContain("DOE");
    expect(stderr).not.toContain("DOE");
  });

  it("killed mid-upload and started again: complete, consistent outputs, and never a manifest without its files", async () => {
    const s = await study();
    const calls = path.join(scratch, `calls-${s.studyId}`);
    const watch = watchConsistency(s.prefix);
    const env = { ...s.env, FAKE_ANALYZE_IMAGES: "40", FAKE_ANALYZE_CALLS: calls };

    // Attempt 1 stalls after 12 result uploads (a hung connection); the test kills it there.
    const first = start(FAKE_ENTRY, { ...env, FAKE_STALL_AFTER_UPLOADS: "12" });
    await until(() => watch.puts.length >= 12, "12 uploads");
    first.child.kill("SIGKILL");
    const r1 = await first.done;
    expect(r1.signal).toBe("SIGKILL");
    expect(await getObject(s3.client, RESULTS, `${s.prefix}manifest.json`)).toBeUndefined();
    expect((await listKeys(s3.client, RESULTS, s.prefix)).size).toBe(12);

    // Attempt 2 (Batch's retry) starts over and publishes everything.
    const r2 = await start(FAKE_ENTRY, env).done;
    expect(r2.code).toBe(0);
    const published = await readPublished(s3.client, s.prefix);
    expect(published?.manifest.files).toHaveLength(43);
    expect(published?.keys).toHaveLength(44);
    expect(watch.puts.at(-1)).toBe(`${s.prefix}manifest.json`);

    // Attempt 3 (a duplicate run) finds the complete result and does no work.
    const r3 = await start(FAKE_ENTRY, env).done;
    expect(r3.code).toBe(0);
    expect(jsonLines(r3.stdout).some((l) => l.message === "results already complete; nothing to do")).toBe(
      true,
    );
    expect((await readFile(calls, "utf8")).trim().split("\n")).toEqual(["ok", "ok"]);

    await watch.stop();
    expect(watch.checks()).toBeGreaterThan(10);
    expect(watch.violations).toEqual([]);
  }, 120_000);

  it("killed while the pipeline runs: nothing published; the rerun completes", async () => {
    const s = await study();
    const calls = path.join(scratch, `calls-${s.studyId}`);
    const hung = start(FAKE_ENTRY, { ...s.env, FAKE_ANALYZE_MODE: "hang", FAKE_ANALYZE_CALLS: calls });
    await until(async () => (await readFile(calls, "utf8").catch(() => "")).includes("hang"), "the pipeline");
    hung.child.kill("SIGKILL");
    // Killed while still running (the stuck pipeline kept it alive), not exited on its own.
    expect((await hung.done).signal).toBe("SIGKILL");
    expect((await listKeys(s3.client, RESULTS, s.prefix)).size).toBe(0);
    expect((await start(FAKE_ENTRY, s.env).done).code).toBe(0);
    expect((await readPublished(s3.client, s.prefix))?.manifest.files).toHaveLength(6);
  });

  it("SIGTERM (Spot reclaim, timeout) ends the attempt with 143 and a log line", async () => {
    const s = await study();
    const calls = path.join(scratch, `calls-${s.studyId}`);
    const hung = start(FAKE_ENTRY, { ...s.env, FAKE_ANALYZE_MODE: "hang", FAKE_ANALYZE_CALLS: calls });
    await until(async () => (await readFile(calls, "utf8").catch(() => "")).includes("hang"), "the pipeline");
    hung.child.kill("SIGTERM");
    const r = await hung.done;
    expect(r.code).toBe(EXIT_CODES.TERMINATED);
    expect(jsonLines(r.stdout).at(-1)).toMatchObject({ message: "terminated by signal", signal: "SIGTERM" });
  });

  it("started by the local stack: stops itself (143) when the stack is gone, and is not kept alive by it otherwise", async () => {
    const s = await study();
    const calls = path.join(scratch, `calls-${s.studyId}`);
    const hung = start(
      FAKE_ENTRY,
      { ...s.env, FAKE_ANALYZE_MODE: "hang", FAKE_ANALYZE_CALLS: calls },
      { ipc: true },
    );
    await until(async () => (await readFile(calls, "utf8").catch(() => "")).includes("hang"), "the pipeline");
    // What a SIGKILLed stack does to the channel: it closes.
    hung.child.disconnect();
    const r = await hung.done;
    expect(r.code).toBe(EXIT_CODES.TERMINATED);
    expect(jsonLines(r.stdout).at(-1)).toMatchObject({
      message: "terminated: the local stack that started it is gone",
    });
    // A job that finishes while the channel is open exits on its own.
    const ok = await start(FAKE_ENTRY, (await study()).env, { ipc: true }).done;
    expect(ok.code).toBe(0);
  });

  it("a rejected input exits 2 with failure.json", async () => {
    const s = await study();
    const r = await start(FAKE_ENTRY, { ...s.env, FAKE_ANALYZE_MODE: "reject" }).done;
    expect(r.code).toBe(EXIT_CODES.INPUT_REJECTED);
    const raw = await getObject(s3.client, RESULTS, `${s.prefix}failure.json`);
    expect(FailureReportSchema.parse(JSON.parse(raw!.toString("utf8"))).reasons[0]?.code).toBe(
      "TOO_FEW_SLICES",
    );
  });

  it("S3 unreachable exits 75 (EX_TEMPFAIL), which Batch retries", async () => {
    const s = await study();
    const r = await start(FAKE_ENTRY, { ...s.env, DEEPSC_S3_ENDPOINT: "http://127.0.0.1:9" }).done;
    expect(r.code).toBe(EXIT_CODES.TEMPORARY_FAILURE);
  });

  it("the real entrypoint with no job environment exits 78 and names what is missing", async () => {
    const r = await start(REAL_ENTRY, { DEEPSC_S3_ENDPOINT: undefined, TMPDIR: undefined }).done;
    expect(r.code).toBe(EXIT_CODES.CONFIGURATION_ERROR);
    // Powertools writes errors to stderr; Batch's log driver collects both streams.
    const err = jsonLines(r.stderr).find((l) => l.message === "invalid job configuration");
    expect(err?.level).toBe("ERROR");
    expect(err?.issues).toEqual([
      "DEEPSC_TENANT: is not set",
      "DEEPSC_STUDY_ID: is not set",
      "DEEPSC_INPUT_BUCKET: is not set",
      "DEEPSC_INPUT_KEY: is not set",
      "DEEPSC_RESULTS_BUCKET: is not set",
      "DEEPSC_RESULTS_PREFIX: is not set",
      "DEEPSC_UID_SALT: is not set",
    ]);
  });

  it("an invalid deployment setting with sound parameters exits 78 and leaves failure.json", async () => {
    const s = await study();
    const r = await start(REAL_ENTRY, { ...s.env, DEEPSC_UID_SALT: "short" }).done;
    expect(r.code).toBe(EXIT_CODES.CONFIGURATION_ERROR);
    const raw = await getObject(s3.client, RESULTS, `${s.prefix}failure.json`);
    const report = FailureReportSchema.parse(JSON.parse(raw!.toString("utf8")));
    expect(report).toMatchObject({ kind: "CONFIGURATION", exitCode: 78 });
    expect(report.reasons[0]).toMatchObject({ code: "INVALID_JOB_PARAMETERS" });
    expect(report.reasons[0]?.message).toContain("DEEPSC_UID_SALT");
    expect(report.reasons[0]?.message).not.toContain("short");
  });
});

describe("gpu-job entrypoint with the real pipeline (CPU provider)", () => {
  // A marker in every identifying DICOM field: none of it may reach the results or the logs.
  const MARKER = "ZZLEAKMARKER";

  it("analyses a DICOM phantom uploaded with the upload protocol: every output and the manifest published", async () => {
    const { runPhantom } = await import("../../core/phantom/run.js");
    const work = await mkdtemp(path.join(tmpdir(), "gpu-job-e2e-"));
    try {
      const phantom = await runPhantom({
        class: "covid",
        seed: 5,
        size: 128,
        slices: 40,
        sliceThickness: 5,
        format: "dicom",
        out: work,
        patient: { patientName: `${MARKER}^NAME`, patientId: MARKER, institutionName: MARKER },
      });
      const n = ++seq;
      const studyId = studyIdFor(n);
      const folder = `incoming/hospital-a/up-${n}`;
      const files: { key: string; size: number; sha256: string }[] = [];
      for (const file of phantom.dicomFiles ?? []) {
        const rel = path.relative(phantom.ctPath, path.resolve(phantom.ctPath, file));
        const body = await readFile(path.join(phantom.ctPath, rel));
        await putObject(s3.client, INGEST, `${folder}/${rel}`, body);
        files.push({ key: rel, size: body.length, sha256: sha256(body) });
      }
      await putObject(
        s3.client,
        INGEST,
        `${folder}/manifest.json`,
        JSON.stringify({ schemaVersion: "1.0", files }),
      );
      const env = jobEnv(studyId, `${folder}/manifest.json`);

      const r = await start(REAL_ENTRY, env).done;
      expect(r.code, r.stderr.slice(-2000)).toBe(0);
      const prefix = resultsPrefixOf(studyId);
      const published = await readPublished(s3.client, prefix);
      const paths = published?.manifest.files.map((f) => f.path) ?? [];
      for (const p of ["diagnosis.json", "lesions.nii.gz", "lungs.nii.gz", "evidence.nii.gz"])
        expect(paths, p).toContain(p);

      const diagnosis = JSON.parse(
        (await getObject(s3.client, RESULTS, `${prefix}diagnosis.json`))!.toString("utf8"),
      );
      expect(["covid19", "cap", "non_pneumonia"]).toContain(diagnosis.diagnosis.predictedClass);
      expect(diagnosis.model.executionProvider).toBe("cpu");
      expect(diagnosis.input.dims).toEqual([128, 128, 40]);
      const probs = Object.values(diagnosis.diagnosis.probabilities as Record<string, number>);
      expect(probs.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);

      // No identifying value in any published JSON/HTML or in the job's logs.
      for (const f of published?.manifest.files ?? []) {
        if (!/\.(json|html|txt|csv)$/.test(f.path)) continue;
        const body = (await getObject(s3.client, RESULTS, `${prefix}${f.path}`))!.toString("utf8");
        expect(body, f.path).not.toContain(MARKER);
      }
      expect(r.stdout + r.stderr).not.toContain(MARKER);
      const lines = jsonLines(r.stdout);
      expect(lines.some((l) => l.message === "pipeline progress" && l.stage === "inference")).toBe(true);
      expect(lines.find((l) => l.message === "input staged")).toMatchObject({ shape: "dicom", files: 40 });
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }, 240_000);
});
