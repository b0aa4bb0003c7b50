/** Short-lived URLs for clients to upload and download objects without credentials of their own. */
export interface UrlSigner {
  /** A GET URL of `key` in `bucket`, valid for `expiresIn` seconds. */
  presignGet(bucket: string, key: string, expiresIn: number): Promise<string>;
  /**
   * A PUT URL of `key` in `bucket`, valid for `expiresIn` seconds, with the headers its signature covers. With
   * `bytes` and `sha256` (hex), S3 takes only a body of that length and content.
   */
  presignPut(
    bucket: string,
    key: string,
    expiresIn: number,
    content?: { bytes?: number; sha256?: string },
  ): Promise<{ url: string; headers: Record<string, string> }>;
}
