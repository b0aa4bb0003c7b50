/**
 * Batch job names may only hold [A-Za-z0-9_-] and be 1..128 characters (DESIGN.md §5); SubmitJob fails
 * on anything else. Names are for people reading the console: tenant and study id, nothing identifying.
 */
const MAX_JOB_NAME = 128;

export function sanitiseJobName(raw: string): string {
  const cleaned = raw
    .replace(/[^A-Za-z0-9_-]+/g, "-")
    .replace(/-{2,}/g, "-")
    .replace(/^-+|-+$/g, "");
  const clipped = cleaned.slice(0, MAX_JOB_NAME).replace(/-+$/, "");
  return clipped.length > 0 ? clipped : "deepsc-job";
}

/** The job name of a study: stable, so a takeover can look the job up by name before submitting again. */
export function jobNameFor(tenant: string, studyId: string): string {
  // The study id (32 chars) comes last and must survive clipping, so the tenant part is bounded first.
  return sanitiseJobName(`deepsc-${tenant.slice(0, 64)}-${studyId}`);
}
