/** The ingest Lambda's configuration, read once from its environment (names: infra/runtime-contract.ts). */
import * as z from "zod";
import type { IngestConfig } from "../../core/studies/ingest.js";
import {
  INGEST_ENV,
  ingestLeaseSeconds,
  LAMBDA_ASYNC_LAST_RETRY_AFTER_S,
  LAMBDA_ENV,
} from "../../infra/runtime-contract.js";

/** The pipeline stack's ingest timeout; the stack sets the lease from its own (ingestLeaseSeconds). */
const DEFAULT_TIMEOUT_S = 120;

const EnvSchema = z.object({
  [LAMBDA_ENV.studiesTable]: z.string().min(1),
  [LAMBDA_ENV.ingestBucket]: z.string().min(1),
  [LAMBDA_ENV.resultsBucket]: z.string().min(1),
  [LAMBDA_ENV.modelUri]: z.string().min(1),
  [INGEST_ENV.jobQueueArn]: z.string().min(1),
  [INGEST_ENV.jobDefinitionArn]: z.string().min(1),
  [INGEST_ENV.uidSaltSecretArn]: z.string().startsWith("arn:"),
  [INGEST_ENV.leaseSeconds]: z.coerce
    .number()
    .int()
    .min(30)
    .max(LAMBDA_ASYNC_LAST_RETRY_AFTER_S)
    .default(ingestLeaseSeconds(DEFAULT_TIMEOUT_S)),
});

export interface IngestLambdaConfig extends IngestConfig {
  studiesTable: string;
  jobQueue: string;
  jobDefinition: string;
  uidSaltSecretArn: string;
}

export function ingestConfigFromEnv(
  env: Record<string, string | undefined> = process.env,
): IngestLambdaConfig {
  const e = EnvSchema.parse(env);
  return {
    studiesTable: e[LAMBDA_ENV.studiesTable],
    ingestBucket: e[LAMBDA_ENV.ingestBucket],
    resultsBucket: e[LAMBDA_ENV.resultsBucket],
    modelUri: e[LAMBDA_ENV.modelUri],
    jobQueue: e[INGEST_ENV.jobQueueArn],
    jobDefinition: e[INGEST_ENV.jobDefinitionArn],
    uidSaltSecretArn: e[INGEST_ENV.uidSaltSecretArn],
    leaseMs: e[INGEST_ENV.leaseSeconds] * 1000,
  };
}
