/** The job engine port (AWS Batch in production): submit one analysis job, or find one by name. */
import type { JobParameters } from "../contracts/study.js";

export interface JobSubmission {
  jobName: string;
  parameters: JobParameters;
  /** Propagated to the job's ECS task; values are ids, never patient data. */
  tags: Record<string, string>;
}

export interface JobSubmitter {
  submit(job: JobSubmission): Promise<{ jobId: string }>;
  /**
   * A job already submitted under this name, in any state, or undefined. Used before re-submitting from a
   * takeover, so a Lambda that died between SubmitJob and recording it does not cause a second job.
   */
  findByName(jobName: string): Promise<{ jobId: string } | undefined>;
}
