/**
 * UIDs never leave the system in clear text (DESIGN.md §3): they appear as salted hashes only.
 * The salt is per deployment (DEEPSC_UID_SALT); the default keeps hashes stable for local runs.
 */
import { createHash } from "node:crypto";

const DEFAULT_SALT = "deepsc-local";

export function hashUid(
  uid: string | undefined,
  salt: string = process.env.DEEPSC_UID_SALT ?? DEFAULT_SALT,
): string {
  if (!uid) return "none";
  return createHash("sha256").update(salt).update("\0").update(uid).digest("hex").slice(0, 16);
}
