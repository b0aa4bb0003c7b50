/**
 * Composes the DeepSC-COVID app in one place: the stateful storage stack, the pipeline stack that uses it,
 * project tags, and the cdk-nag compliance packs. infra/app.ts calls this with the parsed context; the
 * infra tests call it with their own App, so what is tested is exactly what `cdk synth` produces.
 */
import { type App, Tags } from "aws-cdk-lib";
import type { PipelineConfig } from "./config.js";
import { addComplianceChecks } from "./nag.js";
import { PipelineStack } from "./stacks/pipeline-stack.js";
import { StorageStack } from "./stacks/storage-stack.js";

export interface DeepscStacks {
  readonly storage: StorageStack;
  readonly pipeline: PipelineStack;
}

export interface DeepscAppOptions {
  /**
   * Stack name prefix.
   * @default "DeepscCovid"
   */
  readonly stackPrefix?: string;
  /** Repository root, when the app does not run from this checkout (tests use the default). */
  readonly projectRoot?: string;
}

export function buildDeepscApp(
  app: App,
  config: PipelineConfig,
  options: DeepscAppOptions = {},
): DeepscStacks {
  const prefix = options.stackPrefix ?? "DeepscCovid";
  // Environment-agnostic stacks: synth needs no credentials and no lookups (DESIGN.md §5).
  const storage = new StorageStack(app, `${prefix}Storage`, {
    description: "DeepSC-COVID study data: KMS key, ingest/results buckets, studies table (RETAIN)",
    retentionDays: config.retentionDays,
    accessLogRetentionDays: config.logRetentionDays,
  });
  const pipeline = new PipelineStack(app, `${prefix}Pipeline`, {
    description:
      "DeepSC-COVID pipeline: isolated VPC, GPU Batch, ingest/job-events/status Lambdas, API, alarms",
    config,
    dataKey: storage.dataKey,
    ingestBucket: storage.ingestBucket,
    resultsBucket: storage.resultsBucket,
    studiesTable: storage.studiesTable,
    uidSalt: storage.uidSalt,
    projectRoot: options.projectRoot,
  });
  pipeline.addStackDependency(storage);
  Tags.of(app).add("project", "deepsc-covid");
  Tags.of(app).add("data-classification", "phi");
  addComplianceChecks(app);
  return { storage, pipeline };
}
