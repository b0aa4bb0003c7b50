/**
 * The EventBridge "Batch Job State Change" event (source aws.batch). Only the fields used are checked. The
 * study is found from the job itself: `parameters.studyId`, else the container environment
 * (DEEPSC_STUDY_ID), else the `studyId` tag; all three are set by the ingest Lambda's SubmitJob.
 */
import * as z from "zod";
import { JOB_PARAMETER_ENV } from "../../core/contracts/study.js";
import { BATCH_JOB_STATES } from "../../core/studies/transitions.js";

export const BatchJobStateChangeEventSchema = z.object({
  "detail-type": z.literal("Batch Job State Change"),
  source: z.literal("aws.batch"),
  detail: z.object({
    jobId: z.string().min(1),
    jobName: z.string().optional(),
    status: z.enum(BATCH_JOB_STATES),
    statusReason: z.string().optional(),
    attempts: z.array(z.unknown()).default([]),
    parameters: z.record(z.string(), z.string()).optional(),
    container: z
      .object({
        environment: z.array(z.object({ name: z.string(), value: z.string().optional() })).optional(),
      })
      .optional(),
    tags: z.record(z.string(), z.string()).optional(),
  }),
});
export type BatchJobStateChangeEvent = z.infer<typeof BatchJobStateChangeEventSchema>;

export function studyIdOf(detail: BatchJobStateChangeEvent["detail"]): string | undefined {
  return (
    detail.parameters?.studyId ??
    detail.container?.environment?.find((e) => e.name === JOB_PARAMETER_ENV.studyId)?.value ??
    detail.tags?.studyId
  );
}
