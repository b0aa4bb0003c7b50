/**
 * The JobSubmitter port over AWS Batch. Job parameters travel twice: as Batch `parameters` (for `Ref::`
 * substitution in the job definition's command) and as container environment (JOB_PARAMETER_ENV), which
 * the gpu-job reads and job-events finds again in the state-change event's container environment.
 */
import { type BatchClient, ListJobsCommand, SubmitJobCommand } from "@aws-sdk/client-batch";
import { JOB_PARAMETER_ENV, type JobParameters } from "../../core/contracts/study.js";
import type { JobSubmission, JobSubmitter } from "../../core/ports/job-submitter.js";

export interface BatchJobSubmitterOptions {
  jobQueue: string;
  jobDefinition: string;
}

export function jobEnvironment(p: JobParameters): { name: string; value: string }[] {
  return (Object.keys(JOB_PARAMETER_ENV) as (keyof JobParameters)[]).flatMap((k) => {
    const value = p[k];
    return value === undefined ? [] : [{ name: JOB_PARAMETER_ENV[k], value }];
  });
}

export class BatchJobSubmitter implements JobSubmitter {
  constructor(
    private readonly client: BatchClient,
    private readonly opts: BatchJobSubmitterOptions,
  ) {}

  async submit(job: JobSubmission): Promise<{ jobId: string }> {
    const res = await this.client.send(
      new SubmitJobCommand({
        jobName: job.jobName,
        jobQueue: this.opts.jobQueue,
        jobDefinition: this.opts.jobDefinition,
        parameters: { ...job.parameters },
        containerOverrides: { environment: jobEnvironment(job.parameters) },
        tags: job.tags,
        propagateTags: true,
      }),
    );
    if (res.jobId === undefined) throw new Error("SubmitJob answered without a jobId");
    return { jobId: res.jobId };
  }

  async findByName(jobName: string): Promise<{ jobId: string } | undefined> {
    // With a JOB_NAME filter ListJobs returns jobs in every status (jobStatus is ignored), newest first.
    const res = await this.client.send(
      new ListJobsCommand({
        jobQueue: this.opts.jobQueue,
        filters: [{ name: "JOB_NAME", values: [jobName] }],
        maxResults: 10,
      }),
    );
    const hit = (res.jobSummaryList ?? []).find((j) => j.jobName === jobName && j.jobId !== undefined);
    return hit?.jobId === undefined ? undefined : { jobId: hit.jobId };
  }
}
