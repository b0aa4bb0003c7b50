/**
 * Deployment configuration, read once at the edge (infra/app.ts) from CDK context. Values arrive either typed
 * (cdk.json) or as strings (`npx cdk deploy -c spot=false`), so every field accepts both and is parsed with zod
 * into one typed object; a bad value stops the synth with a message naming the context key.
 */
import * as z from "zod";
import { isModelUri, MODEL_IN_IMAGE } from "./runtime-contract.js";

/** A tenant (hospital) that gets its own IAM role: it may call the status API and upload under incoming/{id}/. */
export interface TenantConfig {
  /** Lower-case id used in S3 keys and the role name: [a-z0-9][a-z0-9-]{0,31}. */
  readonly id: string;
  /** Who may assume the tenant role: 12-digit account ids or IAM principal ARNs of the hospital. */
  readonly principals: readonly string[];
  /** sts:ExternalId the hospital must present when assuming the role (recommended for cross-account access). */
  readonly externalId?: string;
}

export interface PipelineConfig {
  /** Prefix of named resources (tenant roles) so two deployments can share an account. */
  readonly namePrefix: string;
  /** GPU instance types the Batch compute environments may launch. */
  readonly gpuInstanceTypes: readonly string[];
  /**
   * Put a Spot compute environment before the on-demand one (Batch moves on when it is at its maxvCpus, not
   * when Spot is short: infra/README.md); false means on-demand only.
   */
  readonly spot: boolean;
  /** Upper bound of each compute environment, in vCPUs (4 per xlarge instance). */
  readonly maxvCpus: number;
  /** `image` (model baked into the container) or the `s3://bucket/key/model.json` the job fetches and verifies. */
  readonly modelUri: string;
  readonly tenants: readonly TenantConfig[];
  /** Days after which uploads under incoming/ expire. */
  readonly retentionDays: number;
  /** Retention of CloudWatch log groups and S3 access logs (a CloudWatch retention value). */
  readonly logRetentionDays: number;
  /** Email subscribed to the alarm topic (optional; subscribe other endpoints to the topic out of band). */
  readonly alarmEmail?: string;
  /** Batch job timeout. */
  readonly jobTimeoutMinutes: number;
  /** Jobs RUNNABLE this long for lack of GPU capacity are cancelled (and alarmed on). */
  readonly stuckRunnableMinutes: number;
  /** Container exit codes that Batch retries besides 75 (and host/Spot loss, a failed image pull); at most one. */
  readonly retryableExitCodes: readonly number[];
  /** Availability zones of the VPC (each costs one set of interface endpoints). */
  readonly maxAzs: number;
  /** Let this stack set the account's API Gateway CloudWatch role (needed for execution logs). */
  readonly apiGatewayCloudWatchRole: boolean;
}

export const DEFAULT_GPU_INSTANCE_TYPES = ["g6.xlarge", "g5.xlarge", "g4dn.xlarge"] as const;

/** Retention values CloudWatch Logs accepts (days). */
export const CLOUDWATCH_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;

/** The context keys this app reads, with what they mean (printed in errors and documented in infra/README.md). */
export const CONTEXT_KEYS = [
  "namePrefix",
  "gpuInstanceTypes",
  "spot",
  "maxvCpus",
  "modelUri",
  "tenants",
  "retentionDays",
  "logRetentionDays",
  "alarmEmail",
  "jobTimeoutMinutes",
  "stuckRunnableMinutes",
  "retryableExitCodes",
  "maxAzs",
  "apiGatewayCloudWatchRole",
] as const;
export type ContextKey = (typeof CONTEXT_KEYS)[number];

const TENANT_ID = /^[a-z0-9][a-z0-9-]{0,31}$/;
const ACCOUNT_ID = /^\d{12}$/;
const PRINCIPAL_ARN = /^arn:aws[a-z-]*:(iam|sts)::\d{12}:[A-Za-z0-9+=,.@_/-]+$/;
const INSTANCE_TYPE = /^[a-z][a-z0-9-]*\.[a-z0-9]+$/;

/** Strings from `-c key=value` become booleans / numbers / lists; typed cdk.json values pass through. */
const bool = z.preprocess((v) => (v === "true" ? true : v === "false" ? false : v), z.boolean());
const int = (min: number, max: number) =>
  z.preprocess(
    (v) => (typeof v === "string" && /^\d+$/.test(v) ? Number(v) : v),
    z.number().int().min(min).max(max),
  );
const list = <T extends z.ZodType>(item: T) =>
  z.preprocess((v) => {
    if (typeof v !== "string") return v;
    const s = v.trim();
    if (s.startsWith("[")) return JSON.parse(s);
    return s === "" ? [] : s.split(",").map((x) => x.trim());
  }, z.array(item));

const TenantSchema = z.object({
  id: z.string().regex(TENANT_ID, "tenant id must match [a-z0-9][a-z0-9-]{0,31}"),
  principals: z
    .array(
      z
        .string()
        .refine(
          (p) => ACCOUNT_ID.test(p) || PRINCIPAL_ARN.test(p),
          "principal must be a 12-digit account id or an IAM ARN",
        ),
    )
    .min(1),
  externalId: z.string().min(2).max(1224).optional(),
});

/**
 * Tenants as JSON (`[{"id":"hospital-a","principals":["111122223333"],"externalId":"..."}]`) or the short
 * string form `hospital-a=111122223333,hospital-b=arn:aws:iam::444455556666:role/integrator`.
 */
const tenants = z.preprocess((v) => {
  if (typeof v !== "string") return v;
  const s = v.trim();
  if (s === "") return [];
  if (s.startsWith("[")) return JSON.parse(s);
  return s.split(",").map((entry) => {
    const [id, principal] = entry.split("=").map((x) => x.trim());
    return { id, principals: principal ? [principal] : [] };
  });
}, z.array(TenantSchema));

const ConfigSchema = z
  .object({
    namePrefix: z
      .string()
      .regex(/^[a-z][a-z0-9-]{1,19}$/, "namePrefix must match [a-z][a-z0-9-]{1,19}")
      .default("deepsc"),
    gpuInstanceTypes: list(z.string().regex(INSTANCE_TYPE, "not an EC2 instance type"))
      .pipe(z.array(z.string()).min(1))
      .default([...DEFAULT_GPU_INSTANCE_TYPES]),
    spot: bool.default(true),
    maxvCpus: int(4, 10_000).default(64),
    modelUri: z
      .string()
      .refine(isModelUri, {
        message: `modelUri must be "${MODEL_IN_IMAGE}" or s3://bucket/key/model.json`,
      })
      .default(MODEL_IN_IMAGE),
    tenants: tenants.default([]),
    retentionDays: int(1, 3650).default(30),
    logRetentionDays: int(1, 3653)
      .refine((d) => (CLOUDWATCH_RETENTION_DAYS as readonly number[]).includes(d), {
        message: `logRetentionDays must be one of ${CLOUDWATCH_RETENTION_DAYS.join(", ")}`,
      })
      .default(365),
    alarmEmail: z.email().optional(),
    jobTimeoutMinutes: int(5, 24 * 60).default(60),
    stuckRunnableMinutes: int(10, 24 * 60).default(30),
    retryableExitCodes: list(int(1, 255)).default([]),
    maxAzs: int(2, 6).default(2),
    apiGatewayCloudWatchRole: bool.default(true),
  })
  .superRefine((c, ctx) => {
    const ids = c.tenants.map((t) => t.id);
    const dup = ids.find((id, i) => ids.indexOf(id) !== i);
    if (dup) ctx.addIssue({ code: "custom", path: ["tenants"], message: `duplicate tenant id "${dup}"` });
  });

/** Raised when context values do not parse; the message names every offending key. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

/**
 * Parse the app's context into a PipelineConfig. `lookup` is `(key) => app.node.tryGetContext(key)`; only
 * the keys in CONTEXT_KEYS are read, so unrelated context (feature flags) never leaks in.
 */
export function parsePipelineConfig(lookup: (key: ContextKey) => unknown): PipelineConfig {
  const raw: Record<string, unknown> = {};
  for (const key of CONTEXT_KEYS) {
    const value = lookup(key);
    if (value !== undefined && value !== null) raw[key] = value;
  }
  let parsed: z.infer<typeof ConfigSchema>;
  try {
    parsed = ConfigSchema.parse(raw);
  } catch (error) {
    if (error instanceof z.ZodError) {
      const lines = error.issues.map((i) => `  -c ${i.path.join(".") || "(context)"}: ${i.message}`);
      throw new ConfigError(`invalid CDK context:\n${lines.join("\n")}`, { cause: error });
    }
    if (error instanceof SyntaxError) {
      throw new ConfigError(`invalid JSON in CDK context: ${error.message}`, { cause: error });
    }
    throw error;
  }
  return parsed;
}
