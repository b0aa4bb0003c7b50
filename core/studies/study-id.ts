/**
 * Deterministic study ids (DESIGN.md §3): the same upload content, tenant, upload id and model give the
 * same id, so a repeated S3 event claims the same DynamoDB item and never starts a second job; new content
 * under the same upload id (a re-upload) or a new model version gives a new study.
 */
import { createHash } from "node:crypto";
import type { StudyId } from "../contracts/study.js";

export interface StudyIdentity {
  tenant: string;
  uploadId: string;
  /**
   * What identifies the bytes: the triggering object's ETag and version id, or, for a DICOM upload, the
   * manifest's `key:sha256` lines. Order-insensitive (sorted here), so a manifest that lists the same files
   * in another order is the same study.
   */
  content: readonly string[];
  /** The model the study is analysed with (its URI/version): a new model is a new analysis. */
  model: string;
}

export function deriveStudyId(id: StudyIdentity): StudyId {
  const h = createHash("sha256");
  // Length-prefixed fields: ("ab","c") and ("a","bc") must not collide.
  const field = (s: string) => {
    h.update(`${Buffer.byteLength(s, "utf8")}:`);
    h.update(s, "utf8");
  };
  field("deepsc-study-v1");
  field(id.tenant);
  field(id.uploadId);
  field(id.model);
  const content = [...id.content].sort();
  field(String(content.length));
  for (const c of content) field(c);
  return h.digest("hex").slice(0, 32);
}
