import { createReadStream } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { parseArgs } from "node:util";
import { type StudyView, TERMINAL_STATUSES } from "../../core/contracts/study.js";
import { RESULTS_MANIFEST_NAME } from "../../core/studies/keys.js";
import { digestFile } from "../../gpu-job/job/hash.js";
import { reasonLine } from "../describe-report.js";
import { ApiError, StatusApiClient } from "../submit/api-client.js";
import { DownloadError, downloadResults } from "../submit/download.js";
import { EmptyInputError, prepareUpload } from "../submit/prepare-upload.js";
import { UsageError } from "../usage.js";
import { HELP } from "./help.js";

/** How long the study may take to appear after the upload (the ingest validates it first). */
const APPEAR_TIMEOUT_MS = 5 * 60_000;
const POLL_MS = { first: 1_000, max: 10_000 } as const;

/**
 * `deepsc submit`: upload through the status API's presigned PUT, find the study the upload started, and
 * with --wait follow it to its end (and download its results with --out). Progress goes to stderr; stdout
 * gets the study id, so scripts can take it.
 */
export async function submitCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      api: { type: "string" },
      key: { type: "string" },
      wait: { type: "boolean", default: false },
      out: { type: "string" },
      timeout: { type: "string", default: "60" },
    },
  });
  if (positionals.length !== 1 || !values.api) throw new UsageError(HELP.submit);
  const timeoutMin = Number(values.timeout);
  if (!(timeoutMin > 0))
    throw new UsageError(`--timeout must be a positive number of minutes, not '${values.timeout}'`);
  // Checked now, not after an upload and an analysis of many minutes.
  if (values.out !== undefined && (await stat(values.out).catch(() => undefined))?.isDirectory() === false)
    throw new UsageError(`--out ${values.out} is a file; give a folder for the results`);
  const wait = values.wait || values.out !== undefined;
  const say = (line: string) => process.stderr.write(`${line}\n`);
  let client: StatusApiClient;
  try {
    client = new StatusApiClient(
      values.api,
      values.key !== undefined ? { kind: "key", key: values.key } : { kind: "sigv4" },
    );
  } catch (e) {
    throw new UsageError((e as Error).message);
  }

  try {
    const input = positionals[0] as string;
    let upload: Awaited<ReturnType<typeof prepareUpload>>;
    try {
      upload = await prepareUpload(input);
    } catch (e) {
      if (e instanceof EmptyInputError) throw new UsageError(e.message);
      throw e;
    }
    let uploadId: string;
    try {
      if (upload.zippedFiles > 0) say(`zipped ${upload.zippedFiles} file(s) into ${upload.file}`);
      const slot = await client.createUpload(upload.file, {
        bytes: upload.size,
        // The presigned URL is signed for exactly these bytes.
        sha256: (await digestFile(upload.path)).sha256,
      });
      uploadId = slot.uploadId;
      if (!slot.contentSigned)
        say(
          "the API does not sign an upload's size and checksum (a deployment from before they were): uploading all the same",
        );
      say(`uploading ${upload.file} (${(upload.size / 1e6).toFixed(1)} MB) as upload ${uploadId}`);
      await put(slot.url, slot.headers, upload.path, upload.size);
    } finally {
      await upload.cleanup();
    }

    const deadline = Date.now() + APPEAR_TIMEOUT_MS;
    let study: StudyView | undefined;
    for (let delay: number = POLL_MS.first; study === undefined; delay = Math.min(POLL_MS.max, delay * 1.5)) {
      study = (await client.listStudies()).items.find((s) => s.uploadId === uploadId);
      if (study !== undefined) break;
      if (Date.now() > deadline) {
        say(
          `the upload arrived but no study appeared within ${APPEAR_TIMEOUT_MS / 60_000} minutes: the ingest did not run (check the stack's log)`,
        );
        return 1;
      }
      await sleep(delay);
    }
    process.stdout.write(`${study.studyId}\n`);
    say(`study ${study.studyId}: ${study.status}`);
    if (!wait) {
      // Already ended without results (a rejected upload is often ended by the time it is found).
      if (!TERMINAL_STATUSES.includes(study.status) || study.status === "SUCCEEDED") return 0;
      for (const r of study.reasons ?? []) say(reasonLine(r));
      return 2;
    }

    const end = Date.now() + timeoutMin * 60_000;
    let last = study.status;
    for (
      let delay: number = POLL_MS.first;
      !TERMINAL_STATUSES.includes(study.status);
      delay = Math.min(POLL_MS.max, delay * 1.5)
    ) {
      if (Date.now() > end) {
        say(
          `still ${study.status} after ${timeoutMin} minutes; follow it with GET /v1/studies/${study.studyId}`,
        );
        return 1;
      }
      await sleep(delay);
      study = await pollingThrough(() => client.getStudy((study as StudyView).studyId), say);
      if (study.status !== last) {
        say(`study ${study.studyId}: ${study.status}`);
        last = study.status;
      }
    }
    if (study.status !== "SUCCEEDED") {
      for (const r of study.reasons ?? []) say(reasonLine(r));
      return 2;
    }
    if (values.out !== undefined) {
      const written = await downloadResults(study.results ?? [], values.out);
      say(`${written.length} result file(s) in ${values.out} (each checked against its sha256)`);
      await sayDiagnosis(values.out, say);
    }
    return 0;
  } catch (e) {
    if (e instanceof ApiError || e instanceof DownloadError) {
      say(`deepsc submit: ${e.message}`);
      return 1;
    }
    throw e;
  }
}

/**
 * PUT the file to a presigned URL, streamed (S3 takes no chunked uploads: the length is given), with the
 * headers the URL's signature covers.
 */
async function put(url: string, signed: Record<string, string>, path: string, size: number): Promise<void> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: "PUT",
      headers: { "content-length": String(size), ...signed },
      body: Readable.toWeb(createReadStream(path)) as ReadableStream,
      duplex: "half",
    } as RequestInit);
  } catch (e) {
    throw new ApiError(0, `the upload failed: ${(e as Error).message}`);
  }
  if (!res.ok)
    throw new ApiError(res.status, `the upload answered ${res.status}: ${(await res.text()).slice(0, 300)}`);
}

/** One line from the downloaded diagnosis.json, when there is one. */
async function sayDiagnosis(outDir: string, say: (line: string) => void): Promise<void> {
  try {
    const d = JSON.parse(await readFile(join(outDir, "diagnosis.json"), "utf8")) as {
      diagnosis?: { predictedClass?: string; probabilities?: Record<string, number> };
    };
    const p = d.diagnosis?.probabilities ?? {};
    const probs = Object.entries(p)
      .map(([k, v]) => `${k} ${v.toFixed(2)}`)
      .join(", ");
    say(
      `predicted ${d.diagnosis?.predictedClass} (${probs}); see ${join(outDir, RESULTS_MANIFEST_NAME)} for every file`,
    );
  } catch {
    // No diagnosis.json (another model's outputs): the files are there all the same.
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A poll that the API could not answer (restarting, a network blip) is tried again a few times. */
async function pollingThrough<T>(poll: () => Promise<T>, say: (line: string) => void): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await poll();
    } catch (e) {
      const transient = e instanceof ApiError && (e.status === 0 || e.status >= 500);
      if (!transient || attempt === POLL_RETRIES) throw e;
      say(`${(e as Error).message}; trying again`);
      await sleep(POLL_MS.max);
    }
  }
}

const POLL_RETRIES = 6;
