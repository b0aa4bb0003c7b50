/**
 * The local stack's callers: on AWS a tenant is an IAM role (lambdas/status-api/tenant.ts); here it is an
 * API key, sent as `Authorization: Bearer <key>` (or `x-api-key: <key>`). Keys live in
 * `<data>/api-keys.json`, `{"keys": [{"key": "...", "tenant": "local"}]}`; the first start writes one key
 * for tenant "local", and integrators add a line per tenant they want to try (another tenant's studies are
 * a 404, as on AWS).
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import * as z from "zod";
import { TenantIdSchema } from "../../core/contracts/study.js";
import { writeFileAtomic } from "../../core/util/write-file-atomic.js";

export const API_KEYS_FILE = "api-keys.json";
export const DEFAULT_TENANT = "local";

const ApiKeysFileSchema = z.object({
  keys: z
    .array(z.object({ key: z.string().min(16, "keys are at least 16 characters"), tenant: TenantIdSchema }))
    .refine((keys) => new Set(keys.map((k) => k.key)).size === keys.length, "a key is listed twice"),
});
export type ApiKey = z.infer<typeof ApiKeysFileSchema>["keys"][number];

export class ApiKeysFileError extends Error {
  override readonly name = "ApiKeysFileError";
}

export interface ApiKeys {
  keys: ApiKey[];
  /** The key written by this start (a new data folder), else undefined. */
  created: ApiKey | undefined;
  /** The tenant of a request's credentials, or undefined. */
  tenantOf(headers: Record<string, string | string[] | undefined>): string | undefined;
}

/** Read `<dataDir>/api-keys.json`, creating it with one key for tenant "local" when it does not exist. */
export async function loadApiKeys(dataDir: string): Promise<ApiKeys> {
  const file = join(dataDir, API_KEYS_FILE);
  let created: ApiKey | undefined;
  let raw: string;
  try {
    raw = await readFile(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    created = { key: randomBytes(24).toString("base64url"), tenant: DEFAULT_TENANT };
    raw = `${JSON.stringify({ keys: [created] }, null, 2)}\n`;
    await writeFileAtomic(dataDir, API_KEYS_FILE, raw, { mode: 0o600 });
  }
  let parsed: z.infer<typeof ApiKeysFileSchema>;
  try {
    parsed = ApiKeysFileSchema.parse(JSON.parse(raw));
  } catch (e) {
    throw new ApiKeysFileError(
      `${file} is not {"keys": [{"key": "<at least 16 characters>", "tenant": "<tenant id>"}]}: ${(e as Error).message}`,
      { cause: e },
    );
  }
  // Compared as digests of equal length, in constant time.
  const digest = (k: string) => createHash("sha256").update(k).digest();
  const table = parsed.keys.map((k) => ({ digest: digest(k.key), tenant: k.tenant }));
  return {
    keys: parsed.keys,
    created,
    tenantOf(headers) {
      const key = presentedKey(headers);
      if (key === undefined) return undefined;
      const d = digest(key);
      return table.find((t) => timingSafeEqual(t.digest, d))?.tenant;
    },
  };
}

function presentedKey(headers: Record<string, string | string[] | undefined>): string | undefined {
  const first = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);
  const auth = first(headers.authorization);
  const bearer = auth === undefined ? undefined : /^Bearer\s+(\S+)\s*$/i.exec(auth)?.[1];
  return bearer ?? first(headers["x-api-key"]);
}
