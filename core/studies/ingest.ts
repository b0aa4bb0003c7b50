/**
 * Ingest: one "object created" in the ingest bucket -> at most one analysis job (DESIGN.md §3).
 *
 *   1. Only series-complete signals at the upload's root start work (a .zip, a .nii/.nii.gz, or the
 *      upload's manifest.json); DICOM files uploaded before their manifest are ignored.
 *   2. The studyId is derived from tenant, upload id, content checksums and model, so a repeated event
 *      names the same study.
 *   3. A conditional put claims the study (VALIDATING) with a lease; whoever loses the race stops.
 *   4. Header-only validation through byte-range reads; invalid -> REJECTED with the report's reasons.
 *   5. SubmitJob, then record `submitted = true` + jobId and QUEUED.
 *
 * Why a lease and not just "the claim exists": if SubmitJob throws (throttling, Batch outage), the event
 * must be retried (Lambda's asynchronous retries) and the retry must be able to submit, although the claim item already
 * exists. So the claim carries `submitted = false`, a random claim token and `leaseUntil`. A later event for
 * the same study may take over when the item is still VALIDATING, not submitted, and its lease has ended
 * (the failing holder releases it at once; a holder that crashed lets it run out). The takeover is itself
 * conditional on the old token, so of several concurrent retries exactly one proceeds. The lease must be
 * longer than the ingest function's timeout, so a live holder can never lose it. Before submitting, a
 * takeover looks the job up by its deterministic name, which covers a holder that died between SubmitJob
 * and recording it.
 *
 * An event that finds the claim unfinished and its lease still running cannot tell a live holder from one
 * that crashed or timed out, so it throws ClaimBusyError instead of calling itself a duplicate: Lambda
 * retries it, and a retry after the lease has ended takes the claim over. Answering "duplicate" there (as
 * this did once) consumed the crashed holder's own retries and left its study VALIDATING for good. The
 * lease is therefore short: the function's timeout plus a margin, ending before Lambda's last retry
 * (infra/runtime-contract.ts ingestLeaseSeconds).
 *
 * The study is created directly as VALIDATING: the claim and the start of validation are one write, and
 * RECEIVED is never observable through this path.
 */
import { posix } from "node:path";
import type { JobParameters, StudyReason, StudyRecord } from "../contracts/study.js";
import {
  RESEND_ADVICE,
  UPLOAD_MANIFEST_NAME,
  UploadManifestSchema,
  uploadManifestDigest,
} from "../contracts/upload-manifest.js";
import type { ValidationReport } from "../contracts/validation-report.js";
import { isInputRejected, reason } from "../errors.js";
import { type KnownUpload, openObjectStoreInput } from "../input/object-store-source.js";
import type { InputLimits } from "../input/source.js";
import type { JobSubmitter } from "../ports/job-submitter.js";
import {
  bareEtag,
  ObjectChangedError,
  type ObjectInfo,
  ObjectNotFoundError,
  type ObjectStore,
} from "../ports/object-store.js";
import type { StudyRepository } from "../ports/study-repository.js";
import { rejectionReport, validateSource } from "../validation/validate.js";
import { jobNameFor } from "./job-name.js";
import { type IncomingKey, parseIncomingKey, resultsPrefix } from "./keys.js";
import { deriveStudyId } from "./study-id.js";

/** A manifest larger than this is not read for the study id (validation rejects it as TOO_LARGE anyway). */
const MAX_MANIFEST_BYTES_FOR_ID = 16 * 1024 * 1024;

export interface IngestConfig {
  ingestBucket: string;
  resultsBucket: string;
  /** Model identity (model-manifest.ts modelIdentity: the image's model by version and sha256, or an S3 URI); part of the study id. */
  modelUri: string;
  /** How long a claim is exclusive; must exceed the ingest function's timeout. */
  leaseMs: number;
  limits?: Partial<InputLimits>;
  /**
   * The deployment's salt for hashed UIDs (series keys, UIDs in file names of rejection reasons), the same
   * one the job uses, so both name a series alike and the hashes cannot be checked against guessed UIDs.
   */
  uidSalt?: string;
}

export interface IngestDeps {
  /** The ingest bucket. */
  store: ObjectStore;
  studies: StudyRepository;
  jobs: JobSubmitter;
  now: () => Date;
  newToken: () => string;
}

/** The object an S3 event names. */
export interface CreatedObject {
  key: string;
  /** S3 ETag (quotes optional): with the key, what identifies a zip's or NIfTI's content. */
  etag: string;
}

/**
 * The study's claim is held by another invocation whose lease has not ended: retryable. Thrown rather than
 * returned so that the event is retried (Lambda's asynchronous retries) until the claim is finished or free.
 */
export class ClaimBusyError extends Error {
  override readonly name = "ClaimBusyError";
  constructor(
    readonly studyId: string,
    readonly leaseUntil: number,
  ) {
    super(
      `study ${studyId} is being validated by another invocation (claim leased until ${new Date(leaseUntil).toISOString()}); retry after that`,
    );
  }
}

export type IngestOutcome =
  | { kind: "ignored"; why: "outside-upload-layout" | "not-series-complete" | "superseded" }
  | { kind: "duplicate"; studyId: string; tenant: string; status: string }
  | { kind: "rejected"; studyId: string; tenant: string; codes: string[]; bytesRead: number }
  | {
      kind: "queued";
      studyId: string;
      tenant: string;
      jobId: string;
      resubmitted: boolean;
      bytesRead: number;
    };

export async function ingestUpload(
  event: CreatedObject,
  cfg: IngestConfig,
  deps: IngestDeps,
): Promise<IngestOutcome> {
  const named = parseIncomingKey(event.key);
  if (named === undefined) return { kind: "ignored", why: "outside-upload-layout" };
  if (named.trigger === undefined) return { kind: "ignored", why: "not-series-complete" };
  const { obj, stored } = await locateObject(deps.store, event);
  const upload = obj === event ? named : parseIncomingKey(obj.key);
  if (upload?.trigger === undefined)
    return { kind: "ignored", why: upload === undefined ? "outside-upload-layout" : "not-series-complete" };
  const { tenant } = upload;
  const etag = bareEtag(obj.etag);
  // An upload overwritten in place (a presigned PUT reused) fires one event per version; validating the
  // object that is there now for an older event named after the older bytes would give that study the
  // newer bytes (and start a second job on them). The newer version's own event does the work.
  if (stored?.etag !== undefined && stored.etag !== etag) return { kind: "ignored", why: "superseded" };

  const fingerprint = await contentFingerprint(obj.key, etag, upload, stored, deps.store);
  if (fingerprint === "superseded") return { kind: "ignored", why: "superseded" };
  const studyId = deriveStudyId({
    tenant,
    uploadId: upload.uploadId,
    content: fingerprint.content,
    model: cfg.modelUri,
  });

  const claimToken = deps.newToken();
  const lease = () => deps.now().getTime() + cfg.leaseMs;
  const claim = await deps.studies.claim({
    studyId,
    tenant,
    uploadId: upload.uploadId,
    inputKey: obj.key,
    modelUri: cfg.modelUri,
    claimToken,
    leaseUntil: lease(),
    now: deps.now().toISOString(),
  });
  const jobName = jobNameFor(tenant, studyId);
  let tookOver = false;
  if (!claim.claimed) {
    const { existing } = claim;
    if (!unfinished(existing)) return { kind: "duplicate", studyId, tenant, status: existing.status };
    const leaseUntil = existing.leaseUntil ?? 0;
    if (leaseUntil > deps.now().getTime()) throw new ClaimBusyError(studyId, leaseUntil);
    const newLease = lease();
    const won = await deps.studies.takeOver(
      studyId,
      existing.claimToken ?? "",
      claimToken,
      newLease,
      deps.now().toISOString(),
    );
    // Another retry took it over a moment ago and now holds a running lease.
    if (!won) throw new ClaimBusyError(studyId, newLease);
    tookOver = true;
  }

  try {
    const known: KnownUpload | undefined =
      stored === undefined
        ? undefined
        : {
            version: stored,
            ...(fingerprint.manifest !== undefined ? { manifest: fingerprint.manifest } : {}),
          };
    const report = await validateUpload(deps.store, obj.key, known, cfg.limits, cfg.uidSalt);
    if (!report.accepted) {
      const reasons: StudyReason[] = report.reasons.map((r) => ({ ...r }));
      await deps.studies.reject(
        studyId,
        claimToken,
        { reasons, bytesRead: report.bytesRead, bytesTotal: report.bytesTotal },
        deps.now().toISOString(),
      );
      return {
        kind: "rejected",
        studyId,
        tenant,
        codes: reasons.map((r) => r.code),
        bytesRead: report.bytesRead,
      };
    }

    // A takeover may follow a holder that submitted and died before recording it: never submit twice.
    const existingJob = tookOver ? await deps.jobs.findByName(jobName) : undefined;
    let jobId: string;
    if (existingJob !== undefined) {
      jobId = existingJob.jobId;
    } else {
      const parameters: JobParameters = {
        tenant,
        studyId,
        inputBucket: cfg.ingestBucket,
        inputKey: obj.key,
        resultsBucket: cfg.resultsBucket,
        resultsPrefix: resultsPrefix(tenant, studyId),
        // A DICOM upload is pinned by what its manifest lists (the same list re-sent is the same study), a zip or
        // NIfTI by its ETag.
        ...(upload.trigger === "manifest" && fingerprint.manifestDigest !== undefined
          ? { inputManifestDigest: fingerprint.manifestDigest }
          : { inputEtag: etag }),
      };
      ({ jobId } = await deps.jobs.submit({ jobName, parameters, tags: { tenant, studyId } }));
    }
    await deps.studies.recordSubmission(
      studyId,
      claimToken,
      { jobId, jobName, bytesRead: report.bytesRead, bytesTotal: report.bytesTotal },
      deps.now().toISOString(),
    );
    return {
      kind: "queued",
      studyId,
      tenant,
      jobId,
      resubmitted: existingJob === undefined && tookOver,
      bytesRead: report.bytesRead,
    };
  } catch (e) {
    // Whatever failed after the claim (a read during validation, SubmitJob, a write to the table), the study
    // stays VALIDATING and unsubmitted, and its lease ends now: Lambda's retry of this event (about a minute
    // later) takes over instead of finding it busy until the lease runs out, which spent that retry and sent
    // the event to the DLQ after a three-minute outage. A takeover looks the job up by name before submitting,
    // so a job submitted before a failed recordSubmission is never submitted twice.
    await deps.studies.releaseLease(studyId, claimToken, deps.now().toISOString()).catch(() => undefined);
    throw e;
  }
}

/**
 * The event's object and what is stored under its key now. EventBridge is documented to carry the key as
 * stored; should a key arrive form-encoded (as classic S3 notifications send it: "scan 1.nii.gz" as
 * "scan+1.nii.gz"), the decoded key is the object's when only it exists. A key that exists as given is
 * always taken as given.
 */
async function locateObject(
  store: ObjectStore,
  event: CreatedObject,
): Promise<{ obj: CreatedObject; stored: ObjectInfo | undefined }> {
  const stored = await headIfPresent(store, event.key);
  if (stored !== undefined) return { obj: event, stored };
  let decoded: string;
  try {
    decoded = decodeURIComponent(event.key.replace(/\+/g, " "));
  } catch {
    return { obj: event, stored };
  }
  if (decoded === event.key) return { obj: event, stored };
  const found = await headIfPresent(store, decoded);
  return found === undefined ? { obj: event, stored } : { obj: { ...event, key: decoded }, stored: found };
}

/** The object now stored under `key` (its ETag when the store keeps one), or undefined when it is gone. */
async function headIfPresent(store: ObjectStore, key: string): Promise<ObjectInfo | undefined> {
  try {
    return await store.head(key);
  } catch (e) {
    if (e instanceof ObjectNotFoundError) return undefined;
    throw e;
  }
}

/** A claim whose study is neither rejected nor submitted: its holder is at work, failed or vanished. */
function unfinished(existing: StudyRecord): boolean {
  return existing.status === "VALIDATING" && !existing.submitted;
}

/**
 * Content checksums for the study id. A DICOM upload is identified by its manifest's `key:sha256` list
 * (the client's own checksums of every file); a zip or NIfTI by the store's checksum of its bytes (else its
 * ETag). The version id is deliberately
 * left out: uploading identical bytes again is the same study, not a second analysis.
 *
 * The manifest is read once, pinned to the event's version, before the study is claimed: its bytes are what
 * validation parses (`manifest`), so it cannot change under a claimed study. Replaced since the event, it is
 * "superseded": the newer version's event (same files, same study id) does the work.
 */
async function contentFingerprint(
  key: string,
  objectEtag: string,
  upload: IncomingKey,
  stored: ObjectInfo | undefined,
  store: ObjectStore,
): Promise<{ content: string[]; manifest?: Uint8Array; manifestDigest?: string } | "superseded"> {
  // The store's checksum of the whole object where it keeps one for this version: S3's ETag of an SSE-KMS object
  // (the ingest bucket's encryption) differs for every upload of the same bytes, so only it makes identical
  // bytes sent again the same study. Otherwise the ETag (an MD5 where the store computes one, as s3rver does).
  const contentTag =
    stored?.checksum !== undefined && stored.etag === objectEtag
      ? `${stored.checksum}:size:${stored.size}`
      : `etag:${objectEtag}`;
  const byContent = (name: string) => ({ content: [name, contentTag] });
  // A manifest spelled otherwise is refused by its name; its study must not be the one the same list sent
  // as manifest.json will be.
  if (upload.trigger !== "manifest" || upload.rest !== UPLOAD_MANIFEST_NAME)
    return byContent(posix.basename(upload.rest));
  // Gone since the event: validation will say so; the ETag still names this exact manifest.
  if (stored === undefined || stored.size > MAX_MANIFEST_BYTES_FOR_ID) return byContent(UPLOAD_MANIFEST_NAME);
  let manifest: Uint8Array;
  try {
    manifest = await store.get(key, { ifMatch: objectEtag });
  } catch (e) {
    if (e instanceof ObjectChangedError) return "superseded";
    // Vanished: validation will say why; the ETag still names this exact manifest.
    if (e instanceof ObjectNotFoundError) return byContent(UPLOAD_MANIFEST_NAME);
    throw e;
  }
  try {
    const parsed = UploadManifestSchema.safeParse(JSON.parse(new TextDecoder().decode(manifest)));
    if (parsed.success)
      return {
        content: parsed.data.files.map((f) => `${f.key}:${f.sha256}`),
        manifest,
        manifestDigest: uploadManifestDigest(parsed.data),
      };
  } catch (e) {
    if (!(e instanceof SyntaxError)) throw e;
  }
  // Unparseable: validation will say why; the ETag still names this exact manifest.
  return { ...byContent(UPLOAD_MANIFEST_NAME), manifest };
}

/** Validations of one event, each from a fresh listing, before files that keep changing are UPLOAD_CHANGED. */
const LISTING_ATTEMPTS = 3;

/**
 * Header-only validation over range reads; every expected problem comes back as a rejected report. A file
 * the manifest lists that is overwritten (a client's retried PUT has a new ETag even for the same bytes) or
 * deleted after the listing starts the validation again from a fresh listing, here, under this invocation's
 * claim: handing it to a retry could leave the study claimed for good if a newer manifest supersedes the
 * event meanwhile. The job checks every file's sha256 against the manifest whatever happens here.
 */
async function validateUpload(
  store: ObjectStore,
  key: string,
  known: KnownUpload | undefined,
  limits: Partial<InputLimits> | undefined,
  uidSalt: string | undefined,
): Promise<ValidationReport> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await validateListing(store, key, known, limits, uidSalt);
    } catch (e) {
      if (!(e instanceof ObjectChangedError || e instanceof ObjectNotFoundError)) throw e;
      if (attempt < LISTING_ATTEMPTS) continue;
      return rejectionReport(
        [
          reason(
            "UPLOAD_CHANGED",
            `Files that ${UPLOAD_MANIFEST_NAME} lists kept changing while the upload was validated (${LISTING_ATTEMPTS} tries). ${RESEND_ADVICE}`,
          ),
        ],
        "header-only",
        uidSalt,
      );
    }
  }
}

/** One validation from one listing (validateUpload). */
async function validateListing(
  store: ObjectStore,
  key: string,
  known: KnownUpload | undefined,
  limits: Partial<InputLimits> | undefined,
  uidSalt: string | undefined,
): Promise<ValidationReport> {
  let source: Awaited<ReturnType<typeof openObjectStoreInput>>;
  try {
    // Reads are pinned to the version the event named (and HEAD confirmed): see openObjectStoreInput.
    source = await openObjectStoreInput(store, key, limits, known);
  } catch (e) {
    if (isInputRejected(e)) return rejectionReport(e.reasons, "header-only", uidSalt);
    // The event is stale: the object was deleted after it fired. Retrying cannot help.
    if (e instanceof ObjectNotFoundError)
      return rejectionReport(
        [reason("EMPTY_INPUT", "The uploaded file no longer exists: it was deleted after it arrived.")],
        "header-only",
        uidSalt,
      );
    throw e;
  }
  try {
    return (
      await validateSource(source, {
        mode: "header-only",
        purpose: "analysis",
        ...(limits ? { limits } : {}),
        ...(uidSalt !== undefined ? { uidSalt } : {}),
      })
    ).report;
  } finally {
    await source.close();
  }
}
