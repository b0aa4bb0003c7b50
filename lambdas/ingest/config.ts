/** The ingest Lambda's configuration, read once from its environment (names: infra/runtime-contract.ts). */
import * as z from "zod";
import type { IngestConfig } from "../../core/studies/ingest.js";
import {
  INGEST_ENV,
  INGEST_TIMEOUT_S,
  ingestLeaseSeconds,
  LAMBDA_ENV,
  MAX_INGEST_LEASE_S,
} from "../../infra/runtime-contract.js";

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
    .max(MAX_INGEST_LEASE_S)
    .default(ingestLeaseSeconds(INGEST_TIMEOUT_S)),
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
