/** UrlSigner over S3 presigned URLs (SigV4 query signing with the function's own credentials). */
import { GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { MAX_PRESIGN_SECONDS } from "../../core/contracts/study.js";
import type { UrlSigner } from "../../core/ports/url-signer.js";

export class S3UrlSigner implements UrlSigner {
  constructor(private readonly client: S3Client) {}

  presignGet(bucket: string, key: string, expiresIn: number): Promise<string> {
    return getSignedUrl(this.client, new GetObjectCommand({ Bucket: bucket, Key: key }), {
      expiresIn: Math.min(expiresIn, MAX_PRESIGN_SECONDS),
    });
  }

  /**
   * Content-Length and x-amz-checksum-sha256 are signed as headers (not hoisted into the query), so the
   * client must send them as given and S3 checks the body against them: a URL that leaks or is reused takes
   * no other bytes. s3rver (the local stack) checks neither.
   */
  async presignPut(
    bucket: string,
    key: string,
    expiresIn: number,
    content: { bytes?: number; sha256?: string } = {},
  ): Promise<{ url: string; headers: Record<string, string> }> {
    const headers: Record<string, string> = {};
    if (content.bytes !== undefined) headers["content-length"] = String(content.bytes);
    if (content.sha256 !== undefined)
      headers["x-amz-checksum-sha256"] = Buffer.from(content.sha256, "hex").toString("base64");
    const url = await getSignedUrl(
      this.client,
      new PutObjectCommand({
        Bucket: bucket,
        Key: key,
        ...(content.bytes !== undefined ? { ContentLength: content.bytes } : {}),
        ...(headers["x-amz-checksum-sha256"] !== undefined
          ? { ChecksumSHA256: headers["x-amz-checksum-sha256"] }
          : {}),
      }),
      {
        expiresIn: Math.min(expiresIn, MAX_PRESIGN_SECONDS),
        signableHeaders: new Set(Object.keys(headers)),
        unhoistableHeaders: new Set(Object.keys(headers)),
      },
    );
    return { url, headers };
  }
}
