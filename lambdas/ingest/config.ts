/** The ingest Lambda's configuration, read once from its environment (names: infra/runtime-contract.ts). */
import * as z from "zod";
import type { IngestConfig } from "../../core/studies/ingest.js";
import { INGEST_ENV, LAMBDA_ENV } from "../../infra/runtime-contract.js";

/** Lease of a claim; must exceed the function's timeout (120 s in the pipeline stack). */
export const INGEST_LEASE_ENV = "INGEST_LEASE_SECONDS";

const EnvSchema = z.object({
  [LAMBDA_ENV.studiesTable]: z.string().min(1),
  [LAMBDA_ENV.ingestBucket]: z.string().min(1),
  [LAMBDA_ENV.resultsBucket]: z.string().min(1),
  [LAMBDA_ENV.modelUri]: z.string().min(1),
  [INGEST_ENV.jobQueueArn]: z.string().min(1),
  [INGEST_ENV.jobDefinitionArn]: z.string().min(1),
  [INGEST_ENV.uidSaltSecretArn]: z.string().startsWith("arn:"),
  [INGEST_LEASE_ENV]: z.coerce.number().int().min(30).max(86_400).default(900),
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
    leaseMs: e[INGEST_LEASE_ENV] * 1000,
  };
}
