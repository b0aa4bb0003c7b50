import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiError, StatusApiClient } from "../../../cli/submit/api-client.js";

let server: Server;
let base: string;
let seen: { method?: string; url?: string; headers: IncomingHttpHeaders; body: string } = {
  headers: {},
  body: "",
};
let reply: { status: number; type: string; body: string } = {
  status: 200,
  type: "application/json",
  body: "{}",
};
/** When set, the answer to each request body (else `reply`). */
let replyFor: ((body: string) => typeof reply) | undefined;
/** The API's 400 problem with `detail`. */
const badRequest = (detail: string) => ({
  status: 400,
  type: "application/problem+json",
  body: JSON.stringify({ type: "about:blank", title: "Bad Request", status: 400, detail }),
});

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => {
      body += c;
    });
    req.on("end", () => {
      seen = { method: req.method ?? "", url: req.url ?? "", headers: req.headers, body };
      const r = replyFor?.(body) ?? reply;
      res.writeHead(r.status, { "content-type": r.type }).end(r.body);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/prod`;
});
afterAll(() => {
  server.close();
});

const upload = {
  uploadId: "u1",
  key: "incoming/a/u1/series.zip",
  method: "PUT",
  url: "http://x/y",
  headers: { "content-length": "10" },
  expiresAt: "2026-01-01T00:00:00.000Z",
};

describe("StatusApiClient", () => {
  it("sends the local stack's key as a Bearer token under the API's base path", async () => {
    reply = { status: 201, type: "application/json", body: JSON.stringify(upload) };
    const c = new StatusApiClient(base, { kind: "key", key: "k-123" });
    const content = { bytes: 10, sha256: "ab".repeat(32) };
    expect(await c.createUpload("scan.nii.gz", content)).toMatchObject({
      uploadId: "u1",
      contentSigned: true,
    });
    expect(seen.method).toBe("POST");
    expect(seen.url).toBe("/prod/v1/uploads");
    expect(seen.headers.authorization).toBe("Bearer k-123");
    expect(JSON.parse(seen.body)).toEqual({ file: "scan.nii.gz", ...content });
  });

  it("asks an API from before the signed size and checksum for the upload by its name alone", async () => {
    const bodies: unknown[] = [];
    replyFor = (body) => {
      bodies.push(JSON.parse(body));
      return "bytes" in JSON.parse(body)
        ? badRequest("nothing else may be given")
        : { status: 201, type: "application/json", body: JSON.stringify({ ...upload, headers: undefined }) };
    };
    try {
      const c = new StatusApiClient(base, { kind: "key", key: "k-123" });
      const slot = await c.createUpload("series.zip", { bytes: 10, sha256: "ab".repeat(32) });
      expect(slot).toMatchObject({ uploadId: "u1", headers: {}, contentSigned: false });
      expect(bodies).toEqual([
        { file: "series.zip", bytes: 10, sha256: "ab".repeat(32) },
        { file: "series.zip" },
      ]);
    } finally {
      replyFor = undefined;
    }
  });

  it("refuses an object larger than one PUT takes before asking, and reports the first answer when the plain ask fails too", async () => {
    const c = new StatusApiClient(base, { kind: "key", key: "k-123" });
    await expect(
      c.createUpload("series.zip", { bytes: 6 * 1024 ** 3, sha256: "ab".repeat(32) }),
    ).rejects.toThrow(/one presigned PUT takes at most 5368709120/);
    replyFor = (body) => badRequest("bytes" in JSON.parse(body) ? "first answer" : "second answer");
    try {
      await expect(c.createUpload("series.zip", { bytes: 10, sha256: "ab".repeat(32) })).rejects.toThrow(
        /first answer/,
      );
    } finally {
      replyFor = undefined;
    }
  });

  it("takes the API's URL with or without the routes' /v1/ (as deepsc serve prints them), and says what --api wants", async () => {
    reply = { status: 201, type: "application/json", body: JSON.stringify(upload) };
    for (const url of [`${base}/v1/`, `${base}/v1`]) {
      await new StatusApiClient(url, { kind: "key", key: "k-123" }).createUpload("series.zip", {
        bytes: 1,
        sha256: "0".repeat(64),
      });
      expect(seen.url, url).toBe("/prod/v1/uploads");
    }
    for (const bad of ["127.0.0.1:8080", "localhost", "ftp://127.0.0.1/"])
      expect(() => new StatusApiClient(bad, { kind: "key", key: "k" }), bad).toThrow(
        /^--api must be the status API's http\(s\) URL \(http:\/\/127\.0\.0\.1:8080 for the local stack/,
      );
  });

  it("signs with SigV4 for execute-api when no key is given (credentials from the environment)", async () => {
    const saved = { ...process.env };
    Object.assign(process.env, {
      AWS_ACCESS_KEY_ID: "AKIDEXAMPLE",
      AWS_SECRET_ACCESS_KEY: "secret",
      AWS_REGION: "eu-west-1",
    });
    delete process.env.AWS_PROFILE;
    try {
      reply = { status: 200, type: "application/json", body: JSON.stringify({ items: [] }) };
      const c = new StatusApiClient(base, { kind: "sigv4" });
      await c.listStudies(5);
      expect(seen.url).toBe("/prod/v1/studies?limit=5");
      expect(seen.headers.authorization).toMatch(
        /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/execute-api\/aws4_request, SignedHeaders=[a-z0-9;-]*host[a-z0-9;-]*, Signature=[0-9a-f]{64}$/,
      );
      expect(seen.headers["x-amz-date"]).toMatch(/^\d{8}T\d{6}Z$/);
    } finally {
      process.env = saved;
    }
  });

  it("turns problem+json into an ApiError that carries the API's own words, and refuses answers that are not the API's", async () => {
    reply = {
      status: 404,
      type: "application/problem+json",
      body: JSON.stringify({
        type: "urn:x",
        title: "Not Found",
        status: 404,
        detail: "Study x does not exist.",
      }),
    };
    const c = new StatusApiClient(base, { kind: "key", key: "k" });
    await expect(c.getStudy("0".repeat(32))).rejects.toThrow(/404 \(Not Found: Study x does not exist\.\)/);
    reply = { status: 200, type: "text/html", body: "<html>login</html>" };
    await expect(c.getStudy("0".repeat(32))).rejects.toThrow(ApiError);
    expect(() => new StatusApiClient("ftp://x", { kind: "key", key: "k" })).toThrow(/http/);
  });

  it("signs for the region of an API Gateway host name, before the environment's", async () => {
    const saved = { ...process.env };
    const realFetch = globalThis.fetch;
    let authorization = "";
    Object.assign(process.env, {
      AWS_ACCESS_KEY_ID: "AKIDEXAMPLE",
      AWS_SECRET_ACCESS_KEY: "secret",
      AWS_REGION: "eu-west-1",
    });
    delete process.env.AWS_PROFILE;
    globalThis.fetch = (async (_url: string | URL, init?: RequestInit) => {
      authorization = String(((init?.headers ?? {}) as Record<string, string>).authorization);
      return new Response(JSON.stringify({ items: [] }), { status: 200 });
    }) as typeof fetch;
    try {
      await new StatusApiClient("https://abc.execute-api.us-east-2.amazonaws.com/prod", {
        kind: "sigv4",
      }).listStudies();
      expect(authorization).toMatch(/\/us-east-2\/execute-api\/aws4_request/);
    } finally {
      globalThis.fetch = realFetch;
      process.env = saved;
    }
  });
});
