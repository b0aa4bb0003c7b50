/** Short-lived URLs for clients to upload and download objects without credentials of their own. */
export interface UrlSigner {
  /** A GET URL of `key` in `bucket`, valid for `expiresIn` seconds. */
  presignGet(bucket: string, key: string, expiresIn: number): Promise<string>;
  /** A PUT URL of `key` in `bucket`, valid for `expiresIn` seconds. */
  presignPut(bucket: string, key: string, expiresIn: number): Promise<string>;
}
