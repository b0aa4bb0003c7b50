/**
 * Compliance of the whole synthesized app: cdk-nag AwsSolutions and HIPAA.Security report nothing
 * unacknowledged, every acknowledgment carries a rule id and a reason, no IAM statement grants on `*`
 * except for actions AWS does not scope to resources, and only known AWS-managed policies are attached.
 */
import { AwsSolutionsChecks, HIPAASecurityChecks } from "cdk-nag";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { at, resourcesOf, type SynthesizedApp, synthDeepscApp } from "./synth-app.js";

/**
 * Actions that may be granted on Resource "*": AWS offers no resource-level permissions for them.
 * Each entry says who needs it.
 */
const STAR_RESOURCE_ACTIONS: Record<string, string> = {
  // Lambda active tracing (every pipeline function): X-Ray has no resource-level permissions.
  "xray:PutTraceSegments": "Lambda X-Ray tracing",
  "xray:PutTelemetryRecords": "Lambda X-Ray tracing",
  // Batch execution role: registry login before pulling the job image (the pull itself is per repository).
  "ecr:GetAuthorizationToken": "ECR login for the gpu-job image",
  // Ingest Lambda: finds an already-submitted job by name before (re)submitting; ListJobs is unscopable.
  "batch:ListJobs": "idempotent SubmitJob lookup",
};

/** AWS-managed policies the app may attach (each also acknowledged for AwsSolutions-IAM4 where used). */
const MANAGED_POLICIES = new Set([
  "service-role/AWSLambdaBasicExecutionRole",
  "service-role/AWSLambdaVPCAccessExecutionRole",
  "service-role/AmazonEC2ContainerServiceforEC2Role",
  "service-role/AmazonAPIGatewayPushToCloudWatchLogs",
  "service-role/AWSBackupServiceRolePolicyForBackup",
]);

type Statement = { Effect: string; Action?: string | string[]; Resource?: unknown };
type PolicyDoc = { Statement: Statement[] };

interface FoundStatement {
  where: string;
  statement: Statement;
}

/** Every identity-policy statement of a template: AWS::IAM::Policy, ::ManagedPolicy and roles' inline policies. */
function identityStatements(s: SynthesizedApp): FoundStatement[] {
  const found: FoundStatement[] = [];
  for (const [stackName, template] of [
    ["storage", s.storage],
    ["pipeline", s.pipeline],
  ] as const) {
    for (const type of ["AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"]) {
      for (const [id, p] of Object.entries(resourcesOf(template, type))) {
        for (const st of at<PolicyDoc>(p, "Properties.PolicyDocument").Statement) {
          found.push({ where: `${stackName}/${id}`, statement: st });
        }
      }
    }
    for (const [id, role] of Object.entries(resourcesOf(template, "AWS::IAM::Role"))) {
      for (const p of (role.Properties?.Policies ?? []) as { PolicyDocument: PolicyDoc }[]) {
        for (const st of p.PolicyDocument.Statement)
          found.push({ where: `${stackName}/${id}(inline)`, statement: st });
      }
    }
  }
  return found;
}

const asArray = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

describe("compliance of the synthesized app", () => {
  let s: SynthesizedApp;
  beforeAll(() => {
    // A tenant is configured so its role is part of what is checked.
    s = synthDeepscApp({ tenants: "hospital-a=111122223333" });
  });
  afterAll(() => s.cleanup());

  it("leaves no unacknowledged cdk-nag finding (AwsSolutions and HIPAA.Security)", () => {
    // app.synth() in beforeAll would already have thrown; re-run the packs to see the lists themselves.
    for (const pack of [new AwsSolutionsChecks(), new HIPAASecurityChecks()]) {
      const report = pack.validateScope(s.app);
      const findings = report.violations.flatMap((v) =>
        v.violatingResources.map((r) => `${v.ruleName} ${r.constructPath}`),
      );
      expect(findings, pack.readPackName).toEqual([]);
      expect(report.success).toBe(true);
    }
  });

  it("gives every acknowledgment a cdk-nag rule id and a specific reason", () => {
    const acks: { path: string; id: string; reason: string }[] = [];
    for (const node of s.app.node.findAll()) {
      for (const entry of node.node.metadata) {
        if (entry.type !== "aws:cdk:acknowledged-rules") continue;
        for (const [key, reason] of Object.entries(entry.data as Record<string, string>)) {
          // aws-cdk-lib stores acknowledged ids with an "Annotation::" prefix, and acknowledges its own
          // CloudFormation-Validate warnings (literal AZs) itself; only the cdk-nag ones are ours.
          if (key.startsWith("CloudFormation-Validate::")) continue;
          acks.push({ path: node.node.path, id: key.replace(/^annotation::/i, ""), reason });
        }
      }
    }
    expect(acks.length).toBeGreaterThan(20);
    for (const a of acks) {
      expect(a.id, a.path).toMatch(/^(AwsSolutions|HIPAA\.Security)-[A-Za-z0-9]+(\[.+\])?$/);
      expect(a.reason.length, `${a.path} ${a.id}`).toBeGreaterThanOrEqual(25);
    }
    // Acknowledgments sit on resources, never on a whole stack or the app.
    const stackPaths = new Set(["", s.stacks.storage.node.path, s.stacks.pipeline.node.path]);
    expect(acks.filter((a) => stackPaths.has(a.path))).toEqual([]);
  });

  it("grants nothing on Resource * except actions AWS cannot scope", () => {
    const statements = identityStatements(s);
    expect(statements.length).toBeGreaterThanOrEqual(25);
    const offending: string[] = [];
    const used = new Set<string>();
    for (const { where, statement } of statements) {
      if (statement.Effect !== "Allow" || !asArray(statement.Resource).includes("*")) continue;
      for (const action of asArray(statement.Action)) {
        if (action in STAR_RESOURCE_ACTIONS) used.add(action);
        else offending.push(`${where}: ${action} on *`);
      }
    }
    expect(offending).toEqual([]);
    // The allow-list carries no dead entries: each one is needed by the app as built.
    expect([...used].sort()).toEqual(Object.keys(STAR_RESOURCE_ACTIONS).sort());
  });

  it("grants nothing on * in bucket, queue and topic policies; in key policies * is the key, and services are conditioned", () => {
    type ResourceStatement = Statement & { Principal?: unknown; Condition?: unknown };
    const offending: string[] = [];
    let keyStatements = 0;
    for (const [stackName, template] of [
      ["storage", s.storage],
      ["pipeline", s.pipeline],
    ] as const) {
      for (const [type, path] of [
        ["AWS::S3::BucketPolicy", "Properties.PolicyDocument"],
        ["AWS::SQS::QueuePolicy", "Properties.PolicyDocument"],
        ["AWS::SNS::TopicPolicy", "Properties.PolicyDocument"],
        ["AWS::KMS::Key", "Properties.KeyPolicy"],
      ] as const) {
        for (const [id, r] of Object.entries(resourcesOf(template, type))) {
          for (const st of at<{ Statement: ResourceStatement[] }>(r, path).Statement) {
            if (st.Effect !== "Allow") continue;
            const where = `${stackName}/${id} ${JSON.stringify(st.Action)}`;
            // Anyone at all: a public Allow. Only with a condition that confines it (e.g. TLS-only denies
            // are Deny, so they never get here).
            const principal = JSON.stringify(st.Principal);
            const anyone = principal === '"*"' || /"AWS":"\*"|"AWS":\[[^\]]*"\*"/.test(principal);
            if (anyone && st.Condition === undefined) offending.push(`${where}: Allow to anyone`);
            if (type !== "AWS::KMS::Key") {
              if (asArray(st.Resource).includes("*")) offending.push(`${where} on *`);
              continue;
            }
            keyStatements++;
            // A key policy's Resource must be "*" (it means this key). Who may use the key is what matters:
            // the account's own root (IAM policies decide from there), or an AWS service held to a condition.
            const service = principal.includes('"Service"');
            // This account's root, as CDK writes it: arn:${Partition}:iam::${AccountId}:root.
            const accountRoot = /"Ref":"AWS::AccountId"\},":root"/.test(principal);
            if (service && st.Condition === undefined)
              offending.push(`${where}: service without a condition`);
            if (!service && !accountRoot) offending.push(`${where}: principal ${principal}`);
          }
        }
      }
    }
    expect(keyStatements).toBeGreaterThanOrEqual(4);
    expect(offending).toEqual([]);
  });

  it("grants no wildcard actions of the form service:*", () => {
    const broad = identityStatements(s)
      .filter(({ statement }) => statement.Effect === "Allow")
      .flatMap(({ where, statement }) =>
        asArray(statement.Action)
          .filter((a) => a === "*" || a.endsWith(":*"))
          .map((a) => `${where}: ${a}`),
      );
    expect(broad).toEqual([]);
  });

  it("attaches only the expected AWS-managed policies", () => {
    const attached = new Set<string>();
    for (const template of [s.storage, s.pipeline]) {
      for (const role of Object.values(resourcesOf(template, "AWS::IAM::Role"))) {
        for (const arn of (role.Properties?.ManagedPolicyArns ?? []) as unknown[]) {
          const text = JSON.stringify(arn);
          const name = /:iam::aws:policy\/([^"]+)"/.exec(text)?.[1];
          attached.add(name ?? text);
        }
      }
    }
    expect([...attached].filter((p) => !MANAGED_POLICIES.has(p))).toEqual([]);
  });
});

describe("a model fetched from S3, and the Lambdas' own dead-letter queues", () => {
  let s: SynthesizedApp;
  beforeAll(() => {
    // As `-c modelUri=s3://deepsc-models/v1/model.json`: synth threw on the unacknowledged model folder.
    s = synthDeepscApp({ modelUri: "s3://deepsc-models/v1/model.json" });
  });
  afterAll(() => s.cleanup());

  it("lets the job read the model's folder, and only that folder of the model bucket", () => {
    const text = JSON.stringify(resourcesOf(s.pipeline, "AWS::IAM::Policy"));
    expect(text).toContain(":s3:::deepsc-models/v1/*");
    expect(text).not.toMatch(/:s3:::deepsc-models\/\*"/);
  });

  it("lets each event function write its encrypted dead-letter queue (SendMessage and the ops key's data keys)", () => {
    const policies = Object.values(resourcesOf(s.pipeline, "AWS::IAM::Policy")).filter((p) =>
      /"Ref":"(Ingest|JobEvents)Handler/.test(JSON.stringify(p.Properties?.Roles ?? [])),
    );
    expect(policies.length).toBeGreaterThanOrEqual(2);
    for (const p of policies) {
      const text = JSON.stringify(p.Properties?.PolicyDocument);
      expect(text).toContain("sqs:SendMessage");
      expect(text).toMatch(/"kms:GenerateDataKey".*OpsKey|OpsKey.*"kms:GenerateDataKey"/);
    }
  });
});
