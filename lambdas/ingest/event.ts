/**
 * The EventBridge event the ingest Lambda receives: S3 "Object Created" for the ingest bucket (the rule in
 * infra/stacks/pipeline-stack.ts filters on bucket and the `incoming/` prefix). Only the fields used are
 * checked; EventBridge's envelope has more. EventBridge is taken to carry the object key as stored (not the
 * form-encoded key of classic S3 notifications); the upload layout's ids are [A-Za-z0-9_-] anyway, and the
 * ingest falls back to the decoded key when only that one exists (core/studies/ingest.ts locateObject).
 */
import * as z from "zod";

export const S3ObjectCreatedEventSchema = z.object({
  "detail-type": z.literal("Object Created"),
  source: z.literal("aws.s3"),
  id: z.string().optional(),
  detail: z.object({
    bucket: z.object({ name: z.string().min(1) }),
    object: z.object({
      key: z.string().min(1).max(1024),
      size: z.number().int().nonnegative().optional(),
      etag: z.string().min(1),
      "version-id": z.string().optional(),
      sequencer: z.string().optional(),
    }),
  }),
});
export type S3ObjectCreatedEvent = z.infer<typeof S3ObjectCreatedEventSchema>;
