/**
 * The local stack end to end, as an integrator uses it: `deepsc submit` (the built CLI) against
 * startLocalStack() on loopback (s3rver, dynalite, the status API's routes, the gpu-job entrypoint in a
 * child process). Real analyses of small phantoms, a rejected upload, tenant isolation, missing keys, a
 * job that fails its results check, and a restart with a job in flight.
 */
import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { API_KEYS_FILE } from "../../../cli/local-stack/api-keys.js";
import { gpuJobProcess, type JobLauncher } from "../../../cli/local-stack/job-runner.js";
import { startS3Server } from "../../../cli/local-stack/s3-server.js";
import { LOCAL_BUCKETS, type LocalStack, startLocalStack } from "../../../cli/local-stack/stack.js";
import { ResultsManifestSchema } from "../../../core/contracts/study.js";
import { runPhantom } from "../../../core/phantom/run.js";
import { S3ObjectStore } from "../../../lambdas/adapters/s3-object-store.js";
import { deepscAsync } from "../../helpers/cli.js";

/** What the tests read of the status API's answers. */
interface View {
  status: string;
  detail?: string;
  items?: unknown[];
  results?: Array<{ path: string; expiresAt: string }>;
}
const json = async (r: Response): Promise<View> => (await r.json()) as View;

const KEY_A = "tenant-a-key-0123456789";
const KEY_B = "tenant-b-key-0123456789";

let work: string;
let nifti: string;
let dicomDir: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "deepsc-local-stack-"));
  // Small but real: 128 px over 360 mm (the model's own pixel size), 5 mm slices through the chest.
  const small = { size: 128, slices: 40, sliceThickness: 5 } as const;
  nifti = (await runPhantom({ class: "covid", seed: 3, format: "nifti", out: join(work, "covid"), ...small }))
    .ctPath;
  dicomDir = (await runPhantom({ class: "cap", seed: 4, format: "dicom", out: join(work, "cap"), ...small }))
    .ctPath;
}, 120_000);

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

/** A data folder with two tenants' keys, as an integrator would write api-keys.json. */
async function dataDir(name: string): Promise<string> {
  const dir = join(work, name);
  await rm(dir, { recursive: true, force: true });
  await import("node:fs/promises").then((fs) => fs.mkdir(dir, { recursive: true }));
  await writeFile(
    join(dir, API_KEYS_FILE),
    JSON.stringify({
      keys: [
        { key: KEY_A, tenant: "hospital-a" },
        { key: KEY_B, tenant: "hospital-b" },
      ],
    }),
  );
  return dir;
}

describe("deepsc submit against the local stack", () => {
  let stack: LocalStack;
  beforeAll(async () => {
    stack = await startLocalStack({
      dataDir: await dataDir("data"),
      port: 0,
      s3Port: 0,
      launch: gpuJobProcess("ignore"),
    });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it("uploads a NIfTI, waits, and downloads every result checked against its sha256", async () => {
    const out = join(work, "results-nifti");
    const r = await deepscAsync([
      "submit",
      nifti,
      "--api",
      stack.apiUrl,
      "--key",
      KEY_A,
      "--wait",
      "--out",
      out,
    ]);
    expect(r.stderr).toMatch(/SUCCEEDED/);
    expect(r.code).toBe(0);
    const studyId = r.stdout.trim();
    expect(studyId).toMatch(/^[0-9a-f]{32}$/);
    const manifest = ResultsManifestSchema.parse(
      JSON.parse(await readFile(join(out, "manifest.json"), "utf8")),
    );
    const paths = manifest.files.map((f) => f.path);
    expect(paths).toEqual(expect.arrayContaining(["diagnosis.json", "lesions.nii.gz", "report.pdf"]));
    for (const f of manifest.files) {
      const bytes = await readFile(join(out, f.path));
      expect(createHash("sha256").update(bytes).digest("hex"), f.path).toBe(f.sha256);
    }
    const diagnosis = JSON.parse(await readFile(join(out, "diagnosis.json"), "utf8"));
    expect(diagnosis.diagnosis.predictedClass).toBe("covid19");
    expect(r.stderr).toMatch(/predicted covid19/);

    // The same study through the API: the tenant sees it, the other tenant gets a 404 as for no study.
    const mine = await fetch(`${stack.apiUrl}/v1/studies/${studyId}`, {
      headers: { authorization: `Bearer ${KEY_A}` },
    });
    expect(mine.status).toBe(200);
    const view = await json(mine);
    expect(view.status).toBe("SUCCEEDED");
    for (const f of view.results ?? [])
      expect(Date.parse(f.expiresAt) - Date.now()).toBeLessThanOrEqual(900_000);
    const theirs = await fetch(`${stack.apiUrl}/v1/studies/${studyId}`, { headers: { "x-api-key": KEY_B } });
    expect(theirs.status).toBe(404);
    expect(theirs.headers.get("content-type")).toBe("application/problem+json");
    const theirList = await json(
      await fetch(`${stack.apiUrl}/v1/studies`, { headers: { "x-api-key": KEY_B } }),
    );
    expect(theirList.items).toEqual([]);
  }, 180_000);

  it("zips a DICOM folder on the way and analyses it", async () => {
    const r = await deepscAsync(["submit", dicomDir, "--api", stack.apiUrl, "--key", KEY_B, "--wait"]);
    expect(r.stderr).toMatch(/zipped 40 file\(s\) into series\.zip/);
    expect(r.stderr).toMatch(/SUCCEEDED/);
    expect(r.code).toBe(0);
  }, 180_000);

  it("a rejected upload ends REJECTED with its reason code and exit 2", async () => {
    const junk = join(work, "junk");
    await import("node:fs/promises").then((fs) => fs.mkdir(junk, { recursive: true }));
    await writeFile(join(junk, "notes.txt"), "not a scan");
    const r = await deepscAsync(["submit", junk, "--api", stack.apiUrl, "--key", KEY_A, "--wait"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/REJECTED/);
    expect(r.stderr).toMatch(/NOT_DICOM/);
  }, 60_000);

  it("refuses a request without a key, or with an unknown one (401, problem+json), and submit says what to do", async () => {
    const none = await fetch(`${stack.apiUrl}/v1/studies`);
    expect(none.status).toBe(401);
    expect(none.headers.get("www-authenticate")).toMatch(/^Bearer/);
    expect((await json(none)).detail).toMatch(/Authorization: Bearer/);
    const wrong = await fetch(`${stack.apiUrl}/v1/studies`, {
      headers: { authorization: "Bearer not-a-key-of-this-stack" },
    });
    expect(wrong.status).toBe(401);
    const r = await deepscAsync(["submit", nifti, "--api", stack.apiUrl, "--key", "not-a-key-of-this-stack"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/401/);
  }, 30_000);
});

describe("the local stack's job runner", () => {
  it("fails a study whose job exits 0 without publishing results (RESULTS_MISSING), as job-events does", async () => {
    const silent: JobLauncher = async () => 0;
    const stack = await startLocalStack({
      dataDir: await dataDir("data-silent"),
      port: 0,
      s3Port: 0,
      launch: silent,
    });
    try {
      const r = await deepscAsync(["submit", nifti, "--api", stack.apiUrl, "--key", KEY_A, "--wait"]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/FAILED/);
      expect(r.stderr).toMatch(/RESULTS_MISSING/);
    } finally {
      await stack.close();
    }
  }, 60_000);

  it("runs a job again when a retryable exit code ends its first attempt", async () => {
    let attempts = 0;
    const real = gpuJobProcess("ignore");
    const flaky: JobLauncher = (env, signal) => (++attempts === 1 ? Promise.resolve(75) : real(env, signal));
    const stack = await startLocalStack({
      dataDir: await dataDir("data-flaky"),
      port: 0,
      s3Port: 0,
      launch: flaky,
    });
    try {
      const r = await deepscAsync(["submit", nifti, "--api", stack.apiUrl, "--key", KEY_A, "--wait"]);
      expect(r.code).toBe(0);
      expect(attempts).toBe(2);
    } finally {
      await stack.close();
    }
  }, 120_000);

  it("stops an attempt that runs past the job timeout and fails its study, as Batch's timeout does", async () => {
    const stuck: JobLauncher = (_env, signal) =>
      new Promise((resolve) => signal.addEventListener("abort", () => resolve(143), { once: true }));
    const stack = await startLocalStack({
      dataDir: await dataDir("data-stuck"),
      port: 0,
      s3Port: 0,
      launch: stuck,
      jobTimeoutMs: 500,
    });
    try {
      const r = await deepscAsync(["submit", nifti, "--api", stack.apiUrl, "--key", KEY_A, "--wait"]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/FAILED/);
      expect(r.stderr).toMatch(/JOB_FAILED: .*timed out after 0\.5 s/);
    } finally {
      await stack.close();
    }
  }, 60_000);

  it("ingests at start an upload whose event it never saw (the stack was down when it arrived)", async () => {
    const dir = await dataDir("data-missed");
    const first = await startLocalStack({
      dataDir: dir,
      port: 0,
      s3Port: 0,
      launch: gpuJobProcess("ignore"),
    });
    await first.close();
    // The upload lands while no stack listens: s3rver alone on the stack's objects.
    const s3 = await startS3Server({ directory: join(dir, "s3"), buckets: [LOCAL_BUCKETS.ingest] });
    await new S3ObjectStore(s3.newClient(), LOCAL_BUCKETS.ingest).put(
      "incoming/hospital-a/missed-upload/scan.nii.gz",
      await readFile(nifti),
    );
    await s3.close();
    const second = await startLocalStack({
      dataDir: dir,
      port: 0,
      s3Port: 0,
      launch: gpuJobProcess("ignore"),
    });
    try {
      await second.idle();
      const list = await json(
        await fetch(`${second.apiUrl}/v1/studies`, { headers: { authorization: `Bearer ${KEY_A}` } }),
      );
      expect(list.items).toEqual([
        expect.objectContaining({ uploadId: "missed-upload", status: "SUCCEEDED" }),
      ]);
    } finally {
      await second.close();
    }
  }, 120_000);

  it("keeps a job that was running when the stack stopped, and runs it at the next start", async () => {
    const dir = await dataDir("data-restart");
    let started!: () => void;
    const running = new Promise<void>((r) => {
      started = r;
    });
    // Runs until the stack stops it, as a long analysis would (SIGTERM: exit 143).
    const long: JobLauncher = (_env, signal) =>
      new Promise((resolve) => {
        started();
        signal.addEventListener("abort", () => resolve(143), { once: true });
      });
    const first = await startLocalStack({ dataDir: dir, port: 0, s3Port: 0, launch: long });
    const submitted = deepscAsync(["submit", nifti, "--api", first.apiUrl, "--key", KEY_A]);
    await running;
    const r = await submitted;
    expect(r.code).toBe(0);
    const studyId = r.stdout.trim();
    await first.close();

    const second = await startLocalStack({
      dataDir: dir,
      port: 0,
      s3Port: 0,
      launch: gpuJobProcess("ignore"),
    });
    try {
      await second.idle();
      const view = await json(
        await fetch(`${second.apiUrl}/v1/studies/${studyId}`, {
          headers: { authorization: `Bearer ${KEY_A}` },
        }),
      );
      expect(view.status).toBe("SUCCEEDED");
      expect((view.results ?? []).map((f) => f.path)).toContain("diagnosis.json");
    } finally {
      await second.close();
    }
  }, 120_000);
});
