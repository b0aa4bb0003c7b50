/**
 * A client of the status API (DESIGN.md §3), here or on AWS: responses are parsed with the same zod schemas
 * the API is built from (core/contracts/study.ts), errors are its problem+json. Credentials: the local
 * stack's API key (Bearer), or AWS SigV4 for API Gateway with AWS_IAM auth (the default credential chain,
 * as the AWS CLI finds it), signed by the SDK's own signer.
 */
import { createHash, createHmac } from "node:crypto";
import { defaultProvider } from "@aws-sdk/credential-provider-node";
import { SignatureV4 } from "@smithy/signature-v4";
import type * as z from "zod";
import {
  type CreateUploadResponse,
  CreateUploadResponseSchema,
  MAX_PRESIGNED_PUT_BYTES,
  ProblemSchema,
  type StudyList,
  StudyListSchema,
  StudySchema,
  type StudyView,
  type UPLOAD_FILE_NAMES,
} from "../../core/contracts/study.js";

/** The API answered with an error (problem+json when it is ours). */
export class ApiError extends Error {
  override readonly name = "ApiError";
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export type Credentials = { kind: "key"; key: string } | { kind: "sigv4"; region?: string };

export class StatusApiClient {
  readonly #base: URL;
  readonly #signer: SignatureV4 | undefined;

  constructor(
    apiUrl: string,
    readonly credentials: Credentials,
  ) {
    const usage = `--api must be the status API's http(s) URL (http://127.0.0.1:8080 for the local stack, https://<id>.execute-api.<region>.amazonaws.com/prod on AWS), not ${apiUrl}`;
    let base: URL;
    try {
      base = new URL(apiUrl);
    } catch {
      throw new TypeError(usage);
    }
    if (base.protocol !== "http:" && base.protocol !== "https:") throw new TypeError(usage);
    if (!base.pathname.endsWith("/")) base.pathname += "/";
    // The routes' own prefix is the client's to add: a URL given with it (copied from a route, say) would
    // otherwise ask for /v1/v1/uploads.
    if (base.pathname.endsWith("/v1/")) base.pathname = base.pathname.slice(0, -"v1/".length);
    this.#base = base;
    if (credentials.kind === "sigv4") {
      const region =
        credentials.region ?? regionOf(base) ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;
      if (region === undefined)
        throw new TypeError(
          `cannot tell the AWS region of ${apiUrl}: set AWS_REGION (or use --key for the local stack)`,
        );
      this.#signer = new SignatureV4({
        service: "execute-api",
        region,
        credentials: defaultProvider(),
        sha256: NodeSha256,
      });
    }
  }

  /**
   * With the object's size and SHA-256 (hex), the URL takes only those bytes (on AWS; s3rver checks neither).
   * An API from before those fields answers such a body 400: the upload is then asked for by its name alone
   * (a body this client sends is otherwise valid: its size is checked against MAX_PRESIGNED_PUT_BYTES first);
   * when that fails too, the first answer is the one reported.
   */
  async createUpload(
    file: (typeof UPLOAD_FILE_NAMES)[number],
    content?: { bytes: number; sha256: string },
  ): Promise<CreateUploadResponse & { contentSigned: boolean }> {
    const ask = (body: object) =>
      this.#call("POST", "v1/uploads", CreateUploadResponseSchema, JSON.stringify(body));
    if (content === undefined) return { ...(await ask({ file })), contentSigned: false };
    if (content.bytes > MAX_PRESIGNED_PUT_BYTES)
      throw new ApiError(
        0,
        `${file} is ${content.bytes} bytes; one presigned PUT takes at most ${MAX_PRESIGNED_PUT_BYTES} (5 GiB)`,
      );
    try {
      return { ...(await ask({ file, ...content })), contentSigned: true };
    } catch (e) {
      if (!(e instanceof ApiError) || e.status !== 400) throw e;
      try {
        return { ...(await ask({ file })), contentSigned: false };
      } catch {
        throw e;
      }
    }
  }

  listStudies(limit = 100): Promise<StudyList> {
    return this.#call("GET", `v1/studies?limit=${limit}`, StudyListSchema);
  }

  getStudy(studyId: string): Promise<StudyView> {
    return this.#call("GET", `v1/studies/${encodeURIComponent(studyId)}`, StudySchema);
  }

  async #call<T>(method: string, path: string, schema: z.ZodType<T>, body?: string): Promise<T> {
    const url = new URL(path, this.#base);
    let headers: Record<string, string> = { accept: "application/json" };
    if (body !== undefined) headers["content-type"] = "application/json";
    if (this.credentials.kind === "key") headers.authorization = `Bearer ${this.credentials.key}`;
    else if (this.#signer) {
      const query: Record<string, string> = {};
      for (const [k, v] of url.searchParams) query[k] = v;
      const signed = await this.#signer.sign({
        method,
        protocol: url.protocol,
        hostname: url.hostname,
        ...(url.port ? { port: Number(url.port) } : {}),
        path: url.pathname,
        query,
        headers: { ...headers, host: url.host },
        ...(body !== undefined ? { body } : {}),
      });
      headers = signed.headers as Record<string, string>;
      delete headers.host;
    }
    let res: Response;
    try {
      res = await fetch(url, { method, headers, ...(body !== undefined ? { body } : {}) });
    } catch (e) {
      throw new ApiError(
        0,
        `cannot reach ${this.#base.origin}: ${(e as Error).message} (is the API up? deepsc serve starts one)`,
      );
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (!res.ok) {
      const problem = ProblemSchema.safeParse(json);
      const why = problem.success ? `${problem.data.title}: ${problem.data.detail}` : text.slice(0, 300);
      throw new ApiError(res.status, `${method} ${url.pathname} answered ${res.status} (${why})`);
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success)
      throw new ApiError(
        res.status,
        `${method} ${url.pathname} answered something that is not the status API's (${text.slice(0, 200)})`,
      );
    return parsed.data;
  }
}

/** The region of an API Gateway URL ({id}.execute-api.{region}.amazonaws.com), if it is one. */
function regionOf(url: URL): string | undefined {
  return /\.execute-api\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$/.exec(url.hostname)?.[1];
}

/** SHA-256 and HMAC-SHA-256 for the SDK's signer, over node:crypto. */
type SourceData = string | ArrayBuffer | ArrayBufferView;
const bytes = (d: SourceData): string | Uint8Array =>
  typeof d === "string"
    ? d
    : d instanceof ArrayBuffer
      ? new Uint8Array(d)
      : new Uint8Array(d.buffer, d.byteOffset, d.byteLength);

class NodeSha256 {
  #hash: ReturnType<typeof createHash> | ReturnType<typeof createHmac>;
  readonly #secret: string | Uint8Array | undefined;
  constructor(secret?: SourceData) {
    this.#secret = secret === undefined ? undefined : bytes(secret);
    this.#hash = this.#fresh();
  }
  #fresh() {
    return this.#secret === undefined ? createHash("sha256") : createHmac("sha256", this.#secret);
  }
  update(data: SourceData): void {
    this.#hash.update(bytes(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.#hash.digest());
  }
  reset(): void {
    this.#hash = this.#fresh();
  }
}
