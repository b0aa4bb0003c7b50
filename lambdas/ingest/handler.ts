/**
 * Ingest Lambda: EventBridge "Object Created" -> validate -> claim -> SubmitJob (core/studies/ingest.ts).
 * The handler parses the event, logs and counts; the domain function does the work through ports.
 * Logs carry tenant, studyId, codes and counts only: never object keys (file names may name patients).
 */
import { randomUUID } from "node:crypto";
import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import { BatchClient } from "@aws-sdk/client-batch";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import type { Context } from "aws-lambda";
import type { JobSubmitter } from "../../core/ports/job-submitter.js";
import type { ObjectStore } from "../../core/ports/object-store.js";
import type { StudyRepository } from "../../core/ports/study-repository.js";
import {
  ClaimBusyError,
  type IngestConfig,
  type IngestOutcome,
  ingestUpload,
} from "../../core/studies/ingest.js";
import { stackFrames } from "../../core/util/describe-error.js";
import {
  INGEST_CLAIM_BUSY_METRIC,
  INGEST_SERVICE_NAME,
  METRICS_NAMESPACE,
} from "../../infra/runtime-contract.js";
import { BatchJobSubmitter } from "../adapters/batch-job-submitter.js";
import { DynamoStudyRepository } from "../adapters/dynamo-study-repository.js";
import { createS3Client, S3ObjectStore } from "../adapters/s3-object-store.js";
import { loadUidSalt } from "../adapters/uid-salt.js";
import { ingestConfigFromEnv } from "./config.js";
import { S3ObjectCreatedEventSchema } from "./event.js";

export interface IngestHandlerDeps {
  config: IngestConfig;
  store: ObjectStore;
  studies: StudyRepository;
  jobs: JobSubmitter;
  logger: Logger;
  metrics: Metrics;
  now?: () => Date;
  newToken?: () => string;
}

/** An event that is not what the rule promises: thrown so that it ends in the DLQ, where it is visible. */
export class InvalidEventError extends Error {
  override readonly name = "InvalidEventError";
}

/**
 * What the handler throws in place of an unexpected error, so that Lambda retries the event. Lambda writes a
 * failed invocation's error message and stack to the function's log and to the dead-letter message; the
 * original's message can name the upload's object keys (ObjectNotFoundError, S3 AccessDenied), which can
 * carry patient names, so only its name and stack frames travel.
 */
export class IngestFailedError extends Error {
  override readonly name = "IngestFailedError";
  constructor(
    readonly causeName: string,
    frames: string,
  ) {
    super(`ingest failed (${causeName}); the event will be retried`);
    this.stack = `${this.name}: ${this.message}\n${frames}`;
  }
}

export type IngestHandler = (event: unknown, context?: Context) => Promise<IngestOutcome>;

export function createIngestHandler(deps: IngestHandlerDeps): IngestHandler {
  const { logger, metrics } = deps;
  return async (event, context) => {
    if (context !== undefined) logger.addContext(context);
    try {
      const parsed = S3ObjectCreatedEventSchema.safeParse(event);
      if (!parsed.success) {
        metrics.addMetric("InvalidEvents", MetricUnit.Count, 1);
        logger.error("event is not an S3 Object Created event", { issues: parsed.error.issues.length });
        throw new InvalidEventError("event is not an S3 Object Created event");
      }
      const { bucket, object } = parsed.data.detail;
      if (bucket.name !== deps.config.ingestBucket) {
        logger.warn("event for another bucket ignored");
        return { kind: "ignored", why: "outside-upload-layout" };
      }
      const outcome = await ingestUpload({ key: object.key, etag: object.etag }, deps.config, {
        store: deps.store,
        studies: deps.studies,
        jobs: deps.jobs,
        now: deps.now ?? (() => new Date()),
        newToken: deps.newToken ?? randomUUID,
      });
      report(outcome, logger, metrics);
      return outcome;
    } catch (e) {
      if (e instanceof ClaimBusyError) {
        // Expected when an event is delivered twice at once, or is retried after a crash before the
        // claim's lease ends: Lambda's retry finishes or takes over the study (core/studies/ingest.ts).
        metrics.addMetric(INGEST_CLAIM_BUSY_METRIC, MetricUnit.Count, 1);
        logger.info("study claimed by another invocation; the event will be retried", {
          studyId: e.studyId,
          leaseUntil: new Date(e.leaseUntil).toISOString(),
        });
      } else if (!(e instanceof InvalidEventError)) {
        metrics.addMetric("IngestErrors", MetricUnit.Count, 1);
        // The error's name only, never its message: SDK errors can echo request parameters (object keys).
        const errorName = (e as Error | undefined)?.name ?? typeof e;
        logger.error("ingest failed; the event will be retried", { errorName });
        throw new IngestFailedError(
          errorName,
          stackFrames(e, 10)
            .map((l) => `    ${l}`)
            .join("\n"),
        );
      }
      throw e;
    } finally {
      metrics.publishStoredMetrics();
    }
  };
}

function report(o: IngestOutcome, logger: Logger, metrics: Metrics): void {
  switch (o.kind) {
    case "ignored":
      // DICOM slices before their manifest: expected and frequent, so debug only.
      logger.debug("object starts no study", { why: o.why });
      return;
    case "duplicate":
      metrics.addMetric("DuplicateEvents", MetricUnit.Count, 1);
      logger.info("duplicate event: study already claimed", {
        tenant: o.tenant,
        studyId: o.studyId,
        status: o.status,
      });
      return;
    case "rejected":
      metrics.addMetric("StudiesRejected", MetricUnit.Count, 1);
      metrics.addMetric("ValidationBytesRead", MetricUnit.Bytes, o.bytesRead);
      logger.info("study rejected", {
        tenant: o.tenant,
        studyId: o.studyId,
        codes: o.codes,
        bytesRead: o.bytesRead,
      });
      return;
    case "queued":
      metrics.addMetric("StudiesQueued", MetricUnit.Count, 1);
      metrics.addMetric("ValidationBytesRead", MetricUnit.Bytes, o.bytesRead);
      logger.info("job submitted", {
        tenant: o.tenant,
        studyId: o.studyId,
        jobId: o.jobId,
        resubmitted: o.resubmitted,
        bytesRead: o.bytesRead,
      });
      return;
  }
}

/** The production wiring: configuration, salt and clients built once per execution environment. */
async function fromEnvironment(): Promise<IngestHandler> {
  const config = ingestConfigFromEnv();
  const uidSalt = await loadUidSalt(new SecretsManagerClient({}), config.uidSaltSecretArn);
  return createIngestHandler({
    config: { ...config, uidSalt },
    store: new S3ObjectStore(createS3Client(), config.ingestBucket),
    studies: new DynamoStudyRepository(new DynamoDBClient({}), config.studiesTable),
    jobs: new BatchJobSubmitter(new BatchClient({}), {
      jobQueue: config.jobQueue,
      jobDefinition: config.jobDefinition,
    }),
    logger: new Logger({ serviceName: INGEST_SERVICE_NAME }),
    metrics: new Metrics({ namespace: METRICS_NAMESPACE, serviceName: INGEST_SERVICE_NAME }),
  });
}

let instance: Promise<IngestHandler> | undefined;

export async function handler(event: unknown, context: Context): Promise<IngestOutcome> {
  // A failed start (the secret unreadable) is not cached: the next event tries again.
  instance ??= fromEnvironment().catch((e: unknown) => {
    instance = undefined;
    throw e;
  });
  return (await instance)(event, context);
}
