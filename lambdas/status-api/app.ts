/**
 * The status API's routes (DESIGN.md §3), independent of Lambda wiring:
 *   GET  /v1/studies/{id}                          one study of the caller's tenant (+ result URLs when SUCCEEDED)
 *   GET  /v1/studies?status=&limit=&nextToken=     the tenant's studies, newest first
 *   POST /v1/uploads                               a new upload id and a presigned PUT for its series.zip
 *                                                  (or, with {"file": "scan.nii.gz"}, its NIfTI volume)
 * Another tenant's study answers exactly like a missing one (404), so ids cannot be probed across tenants.
 * Every error is application/problem+json.
 */
import { createHash, randomUUID } from "node:crypto";
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";
import {
  type CreateUploadRequest,
  CreateUploadRequestSchema,
  type CreateUploadResponse,
  currentReason,
  ListStudiesQuerySchema,
  MAX_PRESIGN_SECONDS,
  MAX_PRESIGNED_PUT_BYTES,
  type Problem,
  ResultsManifestSchema,
  StudyIdSchema,
  type StudyList,
  type StudyRecord,
  type StudyView,
  UPLOAD_FILE_NAMES,
} from "../../core/contracts/study.js";
import { summariseZodIssues } from "../../core/contracts/upload-manifest.js";
import { ObjectNotFoundError, type ObjectStore } from "../../core/ports/object-store.js";
import { InvalidCursorError, type StudyRepository } from "../../core/ports/study-repository.js";
import type { UrlSigner } from "../../core/ports/url-signer.js";
import { RESULTS_MANIFEST_NAME, resultsPrefix, uploadKey } from "../../core/studies/keys.js";
import { tenantFromPrincipal } from "./tenant.js";

export interface StatusApiConfig {
  ingestBucket: string;
  resultsBucket: string;
  tenantRolePrefix: string;
  /** Seconds presigned URLs live; clamped to MAX_PRESIGN_SECONDS. */
  urlExpiresIn: number;
}

export interface StatusApiDeps {
  studies: StudyRepository;
  /** The results bucket (to read a study's results manifest). */
  results: ObjectStore;
  signer: UrlSigner;
  now: () => Date;
}

/** Result of one request, for the handler's log line (no ids beyond tenant and studyId). */
export interface RouteLog {
  route: string;
  tenant?: string;
  studyId?: string;
  status: number;
}

const PROBLEM_BASE = "urn:deepsc:problem:";

export class HttpProblem extends Error {
  constructor(
    readonly status: number,
    readonly kind: string,
    readonly title: string,
    readonly detail: string,
    /** Headers the status requires (405: Allow). */
    readonly headers: Record<string, string> = {},
  ) {
    super(detail);
  }
}

const notFound = (detail: string) => new HttpProblem(404, "not-found", "Not Found", detail);
const badRequest = (detail: string) => new HttpProblem(400, "bad-request", "Bad Request", detail);

/** A path segment, percent-decoded; a broken escape (`%E0%A4%A`) is the caller's error, not ours. */
function decodePathSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw badRequest("The path is not valid percent-encoding (RFC 3986).");
  }
}

export function problemResponse(p: HttpProblem, instance?: string): APIGatewayProxyResult {
  const body: Problem = {
    type: `${PROBLEM_BASE}${p.kind}`,
    title: p.title,
    status: p.status,
    detail: p.detail,
    ...(instance !== undefined ? { instance } : {}),
  };
  return {
    statusCode: p.status,
    headers: { ...p.headers, "content-type": "application/problem+json", "cache-control": "no-store" },
    body: JSON.stringify(body),
  };
}

function json(statusCode: number, body: unknown): APIGatewayProxyResult {
  // no-store: responses carry presigned URLs and must not sit in shared caches.
  return {
    statusCode,
    headers: { "content-type": "application/json", "cache-control": "no-store" },
    body: JSON.stringify(body),
  };
}

const STUDY_PATH = /^\/v1\/studies\/([^/]+)\/?$/;
const STUDIES_PATH = /^\/v1\/studies\/?$/;
const UPLOADS_PATH = /^\/v1\/uploads\/?$/;

export async function routeRequest(
  event: APIGatewayProxyEvent,
  cfg: StatusApiConfig,
  deps: StatusApiDeps,
): Promise<{ response: APIGatewayProxyResult; log: RouteLog }> {
  const path = event.path ?? "";
  const method = (event.httpMethod ?? "").toUpperCase();
  const log: RouteLog = { route: `${method} ${event.resource ?? "?"}`, status: 500 };
  try {
    const tenant = tenantFromPrincipal(event.requestContext?.identity?.userArn, {
      rolePrefix: cfg.tenantRolePrefix,
      accountId: event.requestContext?.accountId,
    });
    if (tenant === undefined)
      throw new HttpProblem(
        403,
        "forbidden",
        "Forbidden",
        "The caller's IAM principal is not a tenant role of this API.",
      );
    log.tenant = tenant;

    let response: APIGatewayProxyResult;
    const study = STUDY_PATH.exec(path);
    if (study !== null) {
      requireMethod(method, "GET");
      const id = decodePathSegment(study[1] ?? "");
      // Only a well-formed id goes into the log: the path segment is the caller's free text (a name, say).
      if (StudyIdSchema.safeParse(id).success) log.studyId = id;
      response = json(200, await getStudy(tenant, id, cfg, deps));
    } else if (STUDIES_PATH.test(path)) {
      requireMethod(method, "GET");
      response = json(200, await listStudies(tenant, event.queryStringParameters ?? {}, deps));
    } else if (UPLOADS_PATH.test(path)) {
      requireMethod(method, "POST");
      response = json(201, await createUpload(tenant, uploadRequest(event.body), cfg, deps));
    } else {
      throw notFound(`No route for ${method} ${path}.`);
    }
    log.status = response.statusCode;
    return { response, log };
  } catch (e) {
    if (!(e instanceof HttpProblem)) throw e;
    log.status = e.status;
    return { response: problemResponse(e, path), log };
  }
}

function requireMethod(method: string, allowed: string): void {
  if (method !== allowed)
    throw new HttpProblem(
      405,
      "method-not-allowed",
      "Method Not Allowed",
      `Use ${allowed} on this resource.`,
      {
        allow: allowed,
      },
    );
}

export function toStudyView(r: StudyRecord): StudyView {
  return {
    studyId: r.studyId,
    uploadId: r.uploadId,
    status: r.status,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
    // Older records named files by path: only what currentReason lets through leaves.
    reasons: r.reasons.map(currentReason),
  };
}

async function getStudy(
  tenant: string,
  id: string,
  cfg: StatusApiConfig,
  deps: StatusApiDeps,
): Promise<StudyView> {
  if (!StudyIdSchema.safeParse(id).success)
    throw badRequest("A study id is 32 lowercase hexadecimal characters.");
  const record = await deps.studies.get(id);
  // Another tenant's study is indistinguishable from a missing one.
  if (record === undefined || record.tenant !== tenant) throw notFound(`Study ${id} does not exist.`);
  const view = toStudyView(record);
  if (record.status === "SUCCEEDED") view.results = await resultUrls(tenant, id, cfg, deps);
  return view;
}

async function resultUrls(tenant: string, studyId: string, cfg: StatusApiConfig, deps: StatusApiDeps) {
  const prefix = resultsPrefix(tenant, studyId);
  let raw: Uint8Array;
  try {
    raw = await deps.results.get(`${prefix}${RESULTS_MANIFEST_NAME}`);
  } catch (e) {
    // job-events only records SUCCEEDED once the manifest exists; its absence now is an operator problem.
    if (e instanceof ObjectNotFoundError)
      throw new HttpProblem(
        500,
        "results-unavailable",
        "Results Unavailable",
        "The study's results manifest is missing.",
      );
    throw e;
  }
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(raw));
  } catch {
    json = undefined;
  }
  const manifest = ResultsManifestSchema.safeParse(json);
  if (!manifest.success)
    throw new HttpProblem(
      500,
      "results-unavailable",
      "Results Unavailable",
      "The study's results manifest is malformed.",
    );
  const expiresIn = Math.min(cfg.urlExpiresIn, MAX_PRESIGN_SECONDS);
  const expiresAt = new Date(deps.now().getTime() + expiresIn * 1000).toISOString();
  const files = [
    ...manifest.data.files,
    // The manifest itself is part of the results (it carries every file's checksum).
    { path: RESULTS_MANIFEST_NAME, sha256: createHash("sha256").update(raw).digest("hex"), size: raw.length },
  ];
  return Promise.all(
    files.map(async (f) => ({
      path: f.path,
      sha256: f.sha256,
      ...(f.size !== undefined ? { size: f.size } : {}),
      url: await deps.signer.presignGet(cfg.resultsBucket, `${prefix}${f.path}`, expiresIn),
      expiresAt,
    })),
  );
}

async function listStudies(
  tenant: string,
  query: Record<string, string | undefined>,
  deps: StatusApiDeps,
): Promise<StudyList> {
  const q = ListStudiesQuerySchema.safeParse(query);
  if (!q.success) throw badRequest(`Invalid query: ${summariseZodIssues(q.error)}.`);
  const token = q.data.nextToken === undefined ? undefined : openToken(q.data.nextToken, q.data.status);
  try {
    const page = await deps.studies.listByTenant(tenant, {
      limit: q.data.limit,
      ...(q.data.status !== undefined ? { status: q.data.status } : {}),
      ...(token !== undefined ? { cursor: token } : {}),
    });
    const items = page.items.map(toStudyView);
    return page.cursor === undefined
      ? { items }
      : { items, nextToken: sealToken(page.cursor, q.data.status) };
  } catch (e) {
    if (e instanceof InvalidCursorError) throw badRequest(e.message);
    throw e;
  }
}

/**
 * nextToken: base64url of {c: repository cursor, s: status filter}. Opaque to clients; it binds the status
 * filter so a token cannot be replayed against a different query (the repository checks the tenant).
 */
function sealToken(cursor: string, status: string | undefined): string {
  return Buffer.from(JSON.stringify({ c: cursor, s: status ?? null }), "utf8").toString("base64url");
}

function openToken(token: string, status: string | undefined): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
  } catch {
    throw badRequest("nextToken is not a valid token.");
  }
  const t = parsed as { c?: unknown; s?: unknown } | null;
  if (typeof t !== "object" || t === null || typeof t.c !== "string")
    throw badRequest("nextToken is not a valid token.");
  if ((t.s ?? null) !== (status ?? null))
    throw badRequest("nextToken belongs to a query with another status filter.");
  return t.c;
}

/** POST /v1/uploads's optional JSON body; no body (or an empty one) asks for a series.zip. */
function uploadRequest(raw: string | null): CreateUploadRequest {
  let value: unknown = {};
  if (raw !== null && raw.trim() !== "") {
    try {
      value = JSON.parse(raw);
    } catch {
      throw badRequest('The body must be JSON, e.g. {"file": "scan.nii.gz"}, or empty.');
    }
  }
  const parsed = CreateUploadRequestSchema.safeParse(value);
  if (!parsed.success)
    throw badRequest(
      `"file" must be one of ${UPLOAD_FILE_NAMES.join(", ")}, "bytes" a whole number from 1 to ${MAX_PRESIGNED_PUT_BYTES} (one PUT), "sha256" 64 lower-case hex digits, and nothing else may be given.`,
    );
  return parsed.data;
}

async function createUpload(
  tenant: string,
  request: CreateUploadRequest,
  cfg: StatusApiConfig,
  deps: StatusApiDeps,
): Promise<CreateUploadResponse> {
  const uploadId = randomUUID();
  const key = uploadKey(tenant, uploadId, request.file); // series.zip when none is asked for
  const expiresIn = Math.min(cfg.urlExpiresIn, MAX_PRESIGN_SECONDS);
  const { url, headers } = await deps.signer.presignPut(cfg.ingestBucket, key, expiresIn, {
    ...(request.bytes !== undefined ? { bytes: request.bytes } : {}),
    ...(request.sha256 !== undefined ? { sha256: request.sha256 } : {}),
  });
  return {
    uploadId,
    key,
    method: "PUT",
    url,
    headers,
    expiresAt: new Date(deps.now().getTime() + expiresIn * 1000).toISOString(),
  };
}
