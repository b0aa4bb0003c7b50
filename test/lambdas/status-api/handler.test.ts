/** Status API Lambda against dynalite and s3rver; presigned URLs are fetched from s3rver for real. */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import path from "node:path";
import type { APIGatewayProxyEvent } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REASON_CODES } from "../../../core/contracts/reason-codes.js";
import { ProblemSchema, StudyListSchema, StudySchema } from "../../../core/contracts/study.js";
import { parseIncomingKey } from "../../../core/studies/keys.js";
import { deriveStudyId } from "../../../core/studies/study-id.js";
import { DynamoStudyRepository } from "../../../lambdas/adapters/dynamo-study-repository.js";
import { S3ObjectStore } from "../../../lambdas/adapters/s3-object-store.js";
import { routeRequest } from "../../../lambdas/status-api/app.js";
import { createStatusApiHandler, type StatusApiHandler } from "../../../lambdas/status-api/handler.js";
import { renderOpenApiDocument } from "../../../lambdas/status-api/openapi.js";
import { S3UrlSigner } from "../../../lambdas/status-api/s3-url-signer.js";
import { tenantFromPrincipal } from "../../../lambdas/status-api/tenant.js";
import { type DynaliteHandle, startDynalite } from "../../helpers/dynalite.js";
import { type S3rverHandle, startS3rver } from "../../helpers/s3rver.js";
import { putObject, quietPowertools, sha256 } from "../fixtures.js";

const INGEST = "ingest";
const RESULTS = "results";
const ACCOUNT = "123456789012";
let s3: S3rverHandle;
let db: DynaliteHandle;
let repo: DynamoStudyRepository;
let api: StatusApiHandler;

beforeAll(async () => {
  [s3, db] = await Promise.all([startS3rver({ buckets: [INGEST, RESULTS] }), startDynalite()]);
  repo = new DynamoStudyRepository(db.client, await db.createStudiesTable());
  api = createStatusApiHandler({
    config: {
      ingestBucket: INGEST,
      resultsBucket: RESULTS,
      tenantRolePrefix: "deepsc-tenant-",
      urlExpiresIn: 3600,
    },
    studies: repo,
    results: new S3ObjectStore(s3.client, RESULTS),
    signer: new S3UrlSigner(s3.client),
    now: () => new Date(),
    ...quietPowertools("status-api-test"),
  });
});
afterAll(async () => {
  await Promise.all([s3?.stop(), db?.stop()]);
});

function request(
  tenant: string | null,
  method: string,
  p: string,
  query: Record<string, string> | null = null,
  requestBody: string | null = null,
) {
  const userArn =
    tenant === null ? null : `arn:aws:sts::${ACCOUNT}:assumed-role/deepsc-tenant-${tenant}/session-1`;
  return {
    httpMethod: method,
    path: p,
    resource: p,
    queryStringParameters: query,
    pathParameters: null,
    headers: {},
    body: requestBody,
    requestContext: { accountId: ACCOUNT, identity: { userArn } },
  } as unknown as APIGatewayProxyEvent;
}

let seq = 0;
/** A study with a given status; createdAt spaced so the tenant index order is known. */
async function seedStudy(
  tenant: string,
  status: "QUEUED" | "SUCCEEDED" | "REJECTED" = "QUEUED",
  reasons: { code: "SLICE_GAP" | "TRUNCATED"; message: string; file?: string }[] = [
    { code: "SLICE_GAP", message: "gap" },
  ],
): Promise<string> {
  const uploadId = `u-${++seq}`;
  const studyId = deriveStudyId({ tenant, uploadId, content: ["etag:x"], model: "m" });
  const now = new Date(Date.UTC(2026, 0, 1, 0, 0, seq)).toISOString();
  await repo.claim({
    studyId,
    tenant,
    uploadId,
    inputKey: "k",
    modelUri: "m",
    claimToken: "t",
    leaseUntil: 1,
    now,
  });
  if (status === "REJECTED") {
    await repo.reject(studyId, "t", { reasons, bytesRead: 1, bytesTotal: 2 }, now);
  } else {
    await repo.recordSubmission(studyId, "t", { jobId: "j", jobName: "n", bytesRead: 1, bytesTotal: 2 }, now);
    if (status === "SUCCEEDED") await repo.advance(studyId, { status: "SUCCEEDED", attempt: 1 }, now);
  }
  return studyId;
}

const body = (r: { body: string }) => JSON.parse(r.body) as unknown;

describe("status API", () => {
  it("gives a study to its tenant and a 404 problem to every other tenant", async () => {
    const id = await seedStudy("acme", "REJECTED");
    const own = await api(request("acme", "GET", `/v1/studies/${id}`));
    expect(own.statusCode).toBe(200);
    const study = StudySchema.parse(body(own));
    expect(study).toMatchObject({
      studyId: id,
      status: "REJECTED",
      reasons: [{ code: "SLICE_GAP", message: "gap" }],
    });
    expect(study.results).toBeUndefined();

    const other = await api(request("globex", "GET", `/v1/studies/${id}`));
    const missing = await api(request("acme", "GET", `/v1/studies/${"f".repeat(32)}`));
    for (const r of [other, missing]) {
      expect(r.statusCode).toBe(404);
      expect(r.headers?.["content-type"]).toBe("application/problem+json");
      expect(ProblemSchema.parse(body(r)).status).toBe(404);
    }
    // Same answer whether the study is someone else's or does not exist: no probing across tenants.
    expect((body(other) as { title: string }).title).toBe((body(missing) as { title: string }).title);
  });

  it("logs a requested study id only when it is one (the path segment is the caller's free text)", async () => {
    const id = await seedStudy("acme", "REJECTED");
    const deps = {
      studies: repo,
      results: new S3ObjectStore(s3.client, RESULTS),
      signer: new S3UrlSigner(s3.client),
      now: () => new Date(),
    };
    const cfg = {
      ingestBucket: INGEST,
      resultsBucket: RESULTS,
      tenantRolePrefix: "deepsc-tenant-",
      urlExpiresIn: 60,
    };
    // API Gateway's resource is the route's template; only the path holds what the caller typed.
    const named = await routeRequest(
      { ...request("acme", "GET", "/v1/studies/DOE_JANE_19600101"), resource: "/v1/studies/{id}" },
      cfg,
      deps,
    );
    expect(named.response.statusCode).toBe(400);
    expect(JSON.stringify(named.log)).not.toContain("DOE_JANE");
    expect((await routeRequest(request("acme", "GET", `/v1/studies/${id}`), cfg, deps)).log.studyId).toBe(id);
  });

  it("never returns what an older record says of a file by its path; a position reference stays", async () => {
    // As versions before 2026-11-29 stored them: the path in `file` and, often, in the message.
    const id = await seedStudy("acme", "REJECTED", [
      {
        code: "TRUNCATED",
        message: "DOE_JANE_19600101/IM7.dcm is shorter than the 524288 bytes it had when listed.",
        file: "DOE_JANE_19600101/IM7.dcm",
      },
      { code: "SLICE_GAP", message: "gap", file: "#8" },
      { code: "SLICE_GAP", message: "gap" },
    ]);
    const r = await api(request("acme", "GET", `/v1/studies/${id}`));
    expect(r.statusCode).toBe(200);
    expect(r.body).not.toContain("DOE_JANE");
    expect(StudySchema.parse(body(r)).reasons).toEqual([
      { code: "TRUNCATED", message: REASON_CODES.TRUNCATED },
      { code: "SLICE_GAP", message: "gap", file: "#8" },
      { code: "SLICE_GAP", message: "gap" },
    ]);
  });

  it("serves presigned result URLs (at most 15 minutes) that really download the files", async () => {
    const id = await seedStudy("acme", "SUCCEEDED");
    const prefix = `results/acme/${id}/`;
    const diagnosis = JSON.stringify({ schemaVersion: "1.0", diagnosis: { predictedClass: "covid19" } });
    const lesions = new Uint8Array([0x1f, 0x8b, 8, 0, 1, 2, 3, 4, 5]);
    await putObject(s3.client, RESULTS, `${prefix}diagnosis.json`, diagnosis);
    await putObject(s3.client, RESULTS, `${prefix}lesions.nii.gz`, lesions);
    const manifest = {
      files: [
        { path: "diagnosis.json", sha256: sha256(diagnosis), size: diagnosis.length },
        { path: "lesions.nii.gz", sha256: sha256(lesions), size: lesions.length },
      ],
    };
    await putObject(s3.client, RESULTS, `${prefix}manifest.json`, JSON.stringify(manifest));

    const res = await api(request("acme", "GET", `/v1/studies/${id}`));
    expect(res.statusCode).toBe(200);
    const study = StudySchema.parse(body(res));
    expect(study.results?.map((f) => f.path)).toEqual(["diagnosis.json", "lesions.nii.gz", "manifest.json"]);
    for (const f of study.results ?? []) {
      const url = new URL(f.url);
      // Configured 3600 s, clamped to 900 s.
      expect(Number(url.searchParams.get("X-Amz-Expires"))).toBe(900);
      expect(Date.parse(f.expiresAt) - Date.now()).toBeLessThanOrEqual(900_000);
      const got = new Uint8Array(await (await fetch(f.url)).arrayBuffer());
      expect(sha256(got)).toBe(f.sha256);
    }
    const dl = await fetch(study.results![0]!.url);
    expect(await dl.text()).toBe(diagnosis);
  });

  it("lists a tenant's studies newest first with opaque pagination and a status filter", async () => {
    const mine = [];
    for (let i = 0; i < 5; i++) mine.push(await seedStudy("paged", i % 2 === 0 ? "QUEUED" : "REJECTED"));
    await seedStudy("intruder");
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const res = await api(
        request("paged", "GET", "/v1/studies", { limit: "2", ...(token ? { nextToken: token } : {}) }),
      );
      expect(res.statusCode).toBe(200);
      const page = StudyListSchema.parse(body(res));
      expect(page.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.items.map((s) => s.studyId));
      token = page.nextToken;
      pages++;
    } while (token !== undefined && pages < 10);
    expect(seen).toEqual([...mine].reverse());

    const queued = StudyListSchema.parse(
      body(await api(request("paged", "GET", "/v1/studies", { status: "QUEUED" }))),
    );
    expect(queued.items.map((s) => s.studyId)).toEqual([mine[4], mine[2], mine[0]]);

    // A token is bound to its tenant and its filter.
    const first = StudyListSchema.parse(
      body(await api(request("paged", "GET", "/v1/studies", { limit: "1" }))),
    );
    const stolen = await api(request("intruder", "GET", "/v1/studies", { nextToken: first.nextToken! }));
    expect(stolen.statusCode).toBe(400);
    const refiltered = await api(
      request("paged", "GET", "/v1/studies", { nextToken: first.nextToken!, status: "QUEUED" }),
    );
    expect(refiltered.statusCode).toBe(400);
    // A token whose cursor is edited to hold an empty key (DynamoDB refuses it with a ValidationException,
    // which was a 500) is the caller's 400. The token wraps the cursor: {c: base64url(cursor), s: filter}.
    const b64 = (o: unknown) => Buffer.from(JSON.stringify(o), "utf8").toString("base64url");
    const unb64 = (t: string) => JSON.parse(Buffer.from(t, "base64url").toString("utf8"));
    const outer = unb64(first.nextToken!) as { c: string; s: string | null };
    const cursor = unb64(outer.c) as Record<string, string>;
    for (const name of Object.keys(cursor)) {
      const edited = b64({ ...outer, c: b64({ ...cursor, [name]: "" }) });
      const r = await api(request("paged", "GET", "/v1/studies", { nextToken: edited }));
      expect(r.statusCode, name).toBe(400);
    }
  });

  it("creates an upload with a presigned PUT that stores the object under the tenant's incoming folder", async () => {
    const res = await api(request("acme", "POST", "/v1/uploads"));
    expect(res.statusCode).toBe(201);
    const up = body(res) as { uploadId: string; key: string; url: string; method: string; expiresAt: string };
    expect(up.key).toBe(`incoming/acme/${up.uploadId}/series.zip`);
    expect(Number(new URL(up.url).searchParams.get("X-Amz-Expires"))).toBe(900);
    const put = await fetch(up.url, { method: "PUT", body: "zip bytes" });
    expect(put.status).toBe(200);
    const stored = await new S3ObjectStore(s3.client, INGEST).get(up.key);
    expect(new TextDecoder().decode(stored)).toBe("zip bytes");
  });

  it("signs the size and SHA-256 the body gives into the PUT, as headers the client must send (S3 then takes those bytes only)", async () => {
    const bytes = new TextEncoder().encode("zip bytes, signed");
    const digest = createHash("sha256").update(bytes).digest();
    const res = await api(
      request(
        "acme",
        "POST",
        "/v1/uploads",
        null,
        JSON.stringify({ bytes: bytes.length, sha256: digest.toString("hex") }),
      ),
    );
    expect(res.statusCode).toBe(201);
    const up = body(res) as { key: string; url: string; headers: Record<string, string> };
    expect(up.headers).toEqual({
      "content-length": String(bytes.length),
      "x-amz-checksum-sha256": digest.toString("base64"),
    });
    // Signed as headers, not hoisted into the query: S3 compares them with the request it gets.
    const query = new URL(up.url).searchParams;
    expect(query.get("X-Amz-SignedHeaders")).toBe("content-length;host;x-amz-checksum-sha256");
    expect(query.has("x-amz-checksum-sha256")).toBe(false);
    expect((await fetch(up.url, { method: "PUT", body: bytes, headers: up.headers })).status).toBe(200);
    expect(await new S3ObjectStore(s3.client, INGEST).get(up.key)).toEqual(bytes);
    // Without them, only the host is signed (and headers is empty).
    const plain = body(await api(request("acme", "POST", "/v1/uploads"))) as { url: string; headers: object };
    expect(new URL(plain.url).searchParams.get("X-Amz-SignedHeaders")).toBe("host");
    expect(plain.headers).toEqual({});
    for (const bad of ['{"bytes": 0}', '{"bytes": 1.5}', `{"bytes": ${6 * 1024 ** 3}}`, '{"sha256": "ABC"}'])
      expect((await api(request("acme", "POST", "/v1/uploads", null, bad))).statusCode, bad).toBe(400);
  });

  it("presigns a NIfTI volume's PUT when the body asks for one, under a key the ingest Lambda starts on", async () => {
    const res = await api(request("acme", "POST", "/v1/uploads", null, '{"file": "scan.nii.gz"}'));
    expect(res.statusCode).toBe(201);
    const up = body(res) as { uploadId: string; key: string; url: string };
    expect(up.key).toBe(`incoming/acme/${up.uploadId}/scan.nii.gz`);
    expect(parseIncomingKey(up.key)).toMatchObject({
      tenant: "acme",
      uploadId: up.uploadId,
      trigger: "nifti",
    });
    expect((await fetch(up.url, { method: "PUT", body: "nifti bytes" })).status).toBe(200);
    // Anything else in the body is a 400 problem, not a guess.
    for (const bad of [
      '{"file": "../../etc/passwd"}',
      '{"file": "scan.nii", "extra": 1}',
      "not json",
      "[]",
    ]) {
      const r = await api(request("acme", "POST", "/v1/uploads", null, bad));
      expect(r.statusCode, bad).toBe(400);
      expect(ProblemSchema.parse(body(r)).detail).toMatch(/file|JSON/);
    }
  });

  it("answers bad routes, methods, ids, queries and callers with problem+json", async () => {
    const cases: [APIGatewayProxyEvent, number][] = [
      [request("acme", "GET", "/v1/nothing"), 404],
      [request("acme", "DELETE", `/v1/studies/${"a".repeat(32)}`), 405],
      [request("acme", "GET", "/v1/studies/not-an-id"), 400],
      [request("acme", "GET", "/v1/studies/%E0%A4%A"), 400],
      [request("acme", "GET", "/v1/studies", { limit: "0" }), 400],
      [request("acme", "GET", "/v1/studies", { status: "DONE" }), 400],
      [request("acme", "GET", "/v1/studies", { nextToken: "%%%" }), 400],
      [request(null, "GET", "/v1/studies"), 403],
    ];
    for (const [ev, status] of cases) {
      const r = await api(ev);
      expect(r.statusCode, `${ev.httpMethod} ${ev.path}`).toBe(status);
      expect(r.headers?.["content-type"]).toBe("application/problem+json");
      const p = ProblemSchema.parse(body(r));
      expect(p.status).toBe(status);
      expect(p.type).toMatch(/^urn:deepsc:problem:/);
      // RFC 9110: a 405 names the methods the resource takes.
      if (status === 405) expect(r.headers?.allow).toBe("GET");
    }
  });
});

describe("tenant from the IAM principal", () => {
  const opts = { rolePrefix: "deepsc-tenant-", accountId: ACCOUNT };
  it("maps the tenant role's assumed-role ARN to the tenant and nothing else", () => {
    expect(tenantFromPrincipal(`arn:aws:sts::${ACCOUNT}:assumed-role/deepsc-tenant-acme/s`, opts)).toBe(
      "acme",
    );
    expect(
      tenantFromPrincipal(`arn:aws:sts::999999999999:assumed-role/deepsc-tenant-acme/s`, opts),
    ).toBeUndefined();
    expect(tenantFromPrincipal(`arn:aws:iam::${ACCOUNT}:user/deepsc-tenant-acme`, opts)).toBeUndefined();
    expect(tenantFromPrincipal(`arn:aws:sts::${ACCOUNT}:assumed-role/admin/s`, opts)).toBeUndefined();
    expect(
      tenantFromPrincipal(`arn:aws:sts::${ACCOUNT}:assumed-role/deepsc-tenant-ACME/s`, opts),
    ).toBeUndefined();
    expect(tenantFromPrincipal(undefined, opts)).toBeUndefined();
  });
});

describe("OpenAPI document", () => {
  it("is generated from the zod schemas and checked in unchanged", async () => {
    const file = path.resolve(import.meta.dirname, "../../../lambdas/status-api/openapi.json");
    const checkedIn = await readFile(file, "utf8");
    expect(checkedIn).toBe(renderOpenApiDocument());
    const doc = JSON.parse(checkedIn) as {
      openapi: string;
      paths: Record<string, unknown>;
      components: { schemas: Record<string, unknown> };
    };
    expect(doc.openapi).toBe("3.1.0");
    expect(Object.keys(doc.paths).sort()).toEqual(["/v1/studies", "/v1/studies/{id}", "/v1/uploads"]);
    expect(Object.keys(doc.components.schemas)).toEqual(
      expect.arrayContaining(["Study", "StudyList", "CreateUploadResponse", "Problem", "ResultFile"]),
    );
  });
});
