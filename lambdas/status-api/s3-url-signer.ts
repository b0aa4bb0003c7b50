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

  presignPut(bucket: string, key: string, expiresIn: number): Promise<string> {
    return getSignedUrl(this.client, new PutObjectCommand({ Bucket: bucket, Key: key }), {
      expiresIn: Math.min(expiresIn, MAX_PRESIGN_SECONDS),
    });
  }
}
