/**
 * The local stack's S3 server (s3rver, which keeps objects as files) refuses keys its file store cannot name
 * with S3's KeyTooLongError, and stays up: such a PUT once ended the whole local stack with the key in the
 * stack trace.
 */
import { GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { unstorableKey } from "../../../cli/local-stack/s3-server.js";
import { type S3rverHandle, startS3rver } from "../../helpers/s3rver.js";

const BUCKET = "deepsc-ingest";
let s3: S3rverHandle;
beforeAll(async () => {
  s3 = await startS3rver({ buckets: [BUCKET] });
});
afterAll(async () => {
  await s3?.stop();
});

describe("unstorableKey", () => {
  it("measures each segment in UTF-8 bytes, the last with s3rver's file suffix", () => {
    const cjk = (n: number) => "患".repeat(n); // 3 bytes each
    expect(unstorableKey(`/b/incoming/t/u/${encodeURIComponent(cjk(76))}.dcm`)).toBe(false); // 232 + 22 bytes
    expect(unstorableKey(`/b/incoming/t/u/${encodeURIComponent(cjk(77))}.dcm`)).toBe(true); // 235 + 22 > 255
    expect(unstorableKey(`/b/${encodeURIComponent(cjk(85))}/IM1.dcm`)).toBe(false); // a 255-byte folder
    expect(unstorableKey(`/b/${encodeURIComponent(cjk(86))}/IM1.dcm`)).toBe(true);
    expect(unstorableKey("/b/incoming/t/u/series.zip?partNumber=1")).toBe(false);
    expect(unstorableKey("/%E0%A4%A")).toBe(false); // not a key s3rver could decode either: its own error
  });
});

describe("the local S3 server", () => {
  it("answers KeyTooLongError for a key segment no file can be named after, and keeps serving", async () => {
    const long = `incoming/local/u1/${"患者".repeat(40)}.dcm`; // 244 bytes in its last segment
    const refused = await s3.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: long, Body: "x" })).then(
      () => undefined,
      (e: Error & { $metadata?: { httpStatusCode?: number } }) => e,
    );
    expect(refused?.name).toBe("KeyTooLongError");
    expect(refused?.$metadata?.httpStatusCode).toBe(400);
    await s3.client.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: "incoming/local/u1/IM1.dcm", Body: "ok" }),
    );
    const got = await s3.client.send(
      new GetObjectCommand({ Bucket: BUCKET, Key: "incoming/local/u1/IM1.dcm" }),
    );
    expect(await got.Body?.transformToString()).toBe("ok");
  });
});
