/**
 * Job-events Lambda: EventBridge "Batch Job State Change" -> monotonic study status
 * (core/studies/job-events.ts). Logs carry tenant, studyId, jobId, statuses and codes only.
 */

import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { Context } from "aws-lambda";
import * as z from "zod";
import type { ObjectStore } from "../../core/ports/object-store.js";
import type { StudyRepository } from "../../core/ports/study-repository.js";
import { applyJobStateChange, type JobEventOutcome } from "../../core/studies/job-events.js";
import { LAMBDA_ENV, METRICS_NAMESPACE } from "../../infra/runtime-contract.js";
import { DynamoStudyRepository } from "../adapters/dynamo-study-repository.js";
import { createS3Client, S3ObjectStore } from "../adapters/s3-object-store.js";
import { BatchJobStateChangeEventSchema, studyIdOf } from "./event.js";

export interface JobEventsHandlerDeps {
  studies: StudyRepository;
  /** The results bucket. */
  results: ObjectStore;
  logger: Logger;
  metrics: Metrics;
  now?: () => Date;
}

export class InvalidEventError extends Error {
  override readonly name = "InvalidEventError";
}

export type JobEventsHandler = (event: unknown, context?: Context) => Promise<JobEventOutcome>;

export function createJobEventsHandler(deps: JobEventsHandlerDeps): JobEventsHandler {
  const { logger, metrics } = deps;
  return async (event, context) => {
    if (context !== undefined) logger.addContext(context);
    try {
      const parsed = BatchJobStateChangeEventSchema.safeParse(event);
      if (!parsed.success) {
        metrics.addMetric("InvalidEvents", MetricUnit.Count, 1);
        logger.error("event is not a Batch Job State Change event", { issues: parsed.error.issues.length });
        throw new InvalidEventError("event is not a Batch Job State Change event");
      }
      const d = parsed.data.detail;
      const outcome = await applyJobStateChange(
        {
          jobId: d.jobId,
          status: d.status,
          attempts: d.attempts.length,
          studyId: studyIdOf(d),
          ...(d.statusReason !== undefined ? { statusReason: d.statusReason } : {}),
        },
        { studies: deps.studies, results: deps.results, now: deps.now ?? (() => new Date()) },
      );
      if (outcome.kind === "ignored") {
        logger.warn("job event matches no study", { jobId: d.jobId, why: outcome.why });
      } else {
        const fields = {
          tenant: outcome.tenant,
          studyId: outcome.studyId,
          jobId: d.jobId,
          batchStatus: d.status,
          status: outcome.status,
          attempt: d.attempts.length,
          codes: outcome.codes,
        };
        if (outcome.kind === "stale") {
          metrics.addMetric("StaleJobEvents", MetricUnit.Count, 1);
          logger.info("repeated or outdated job event ignored", fields);
        } else {
          metrics.addMetric(
            `Studies${outcome.status[0]}${outcome.status.slice(1).toLowerCase()}`,
            MetricUnit.Count,
            1,
          );
          if (outcome.codes.includes("RESULTS_MISSING"))
            metrics.addMetric("ResultsMissing", MetricUnit.Count, 1);
          logger.info("study status updated", fields);
        }
      }
      return outcome;
    } catch (e) {
      if (!(e instanceof InvalidEventError)) {
        metrics.addMetric("JobEventErrors", MetricUnit.Count, 1);
        logger.error("job event failed; it will be retried", { errorName: (e as Error).name });
      }
      throw e;
    } finally {
      metrics.publishStoredMetrics();
    }
  };
}

const EnvSchema = z.object({
  [LAMBDA_ENV.studiesTable]: z.string().min(1),
  [LAMBDA_ENV.resultsBucket]: z.string().min(1),
});

function fromEnvironment(): JobEventsHandler {
  const env = EnvSchema.parse(process.env);
  return createJobEventsHandler({
    studies: new DynamoStudyRepository(new DynamoDBClient({}), env[LAMBDA_ENV.studiesTable]),
    results: new S3ObjectStore(createS3Client(), env[LAMBDA_ENV.resultsBucket]),
    logger: new Logger({ serviceName: "deepsc-job-events" }),
    metrics: new Metrics({ namespace: METRICS_NAMESPACE, serviceName: "deepsc-job-events" }),
  });
}

let instance: JobEventsHandler | undefined;

export async function handler(event: unknown, context: Context): Promise<JobEventOutcome> {
  instance ??= fromEnvironment();
  return instance(event, context);
}
