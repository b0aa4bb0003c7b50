/**
 * The isolated network's gateway endpoints, as synthesized by the real app: each carries a policy naming the
 * deployment's own buckets and table (and ECR's layer bucket), never the default allow-everything policy.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resourcesOf, type SynthesizedApp, synthDeepscApp } from "./synth-app.js";

interface Statement {
  Sid: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: unknown;
}

function endpointPolicy(s: SynthesizedApp, service: "s3" | "dynamodb"): Statement[] {
  const endpoints = Object.entries(resourcesOf(s.pipeline, "AWS::EC2::VPCEndpoint")).filter(([, e]) =>
    JSON.stringify(e.Properties?.ServiceName).includes(`.${service}"`),
  );
  expect(endpoints).toHaveLength(1);
  const doc = endpoints[0]![1].Properties?.PolicyDocument as { Statement: Statement[] } | undefined;
  expect(doc, `${service} endpoint policy`).toBeDefined();
  return doc!.Statement;
}

/** Every string inside a JSON value (resource ARNs, the parts of an Fn::Join). */
const stringLeaves = (v: unknown): string[] =>
  typeof v === "string"
    ? [v]
    : v !== null && typeof v === "object"
      ? Object.values(v).flatMap(stringLeaves)
      : [];

const ownAccount = { StringEquals: { "aws:PrincipalAccount": { Ref: "AWS::AccountId" } } };
const mentions = (st: Statement, text: string) => JSON.stringify(st.Resource).includes(text);

describe("isolated network endpoints (model in the image)", () => {
  let s: SynthesizedApp;
  beforeAll(() => {
    s = synthDeepscApp();
  });
  afterAll(() => s.cleanup());

  it("admits only ECR's layer bucket and the ingest and results buckets through S3", () => {
    const statements = endpointPolicy(s, "s3");
    expect(statements.map((st) => st.Sid).sort()).toEqual(["DeploymentBuckets", "EcrImageLayers"]);
    const layers = statements.find((st) => st.Sid === "EcrImageLayers")!;
    expect(layers.Action).toBe("s3:GetObject");
    expect(JSON.stringify(layers.Resource)).toContain("-starport-layer-bucket/*");
    const data = statements.find((st) => st.Sid === "DeploymentBuckets")!;
    expect(data.Condition).toEqual(ownAccount);
    const resources = data.Resource as unknown[];
    expect(resources).toHaveLength(4);
    expect(mentions(data, "IngestBucket")).toBe(true);
    expect(mentions(data, "ResultsBucket")).toBe(true);
    // No statement opens the endpoint to every bucket: no resource is "*" or ends in ":::*" (an ARN is
    // synthesized as an Fn::Join whose last part carries the bucket).
    for (const st of statements)
      for (const leaf of stringLeaves(st.Resource)) {
        expect(leaf).not.toBe("*");
        expect(leaf).not.toMatch(/:::\*$/);
      }
  });

  it("admits only the studies table and its indexes through DynamoDB", () => {
    const statements = endpointPolicy(s, "dynamodb");
    expect(statements).toHaveLength(1);
    const [table] = statements as [Statement];
    expect(table.Condition).toEqual(ownAccount);
    expect(mentions(table, "StudiesTable")).toBe(true);
    expect(JSON.stringify(table.Resource)).toContain("/index/*");
    expect(table.Resource as unknown[]).toHaveLength(2);
  });

  it("admits this account's principals only on interface endpoints whose service takes a policy (not ECS's three)", () => {
    const interfaces = Object.values(resourcesOf(s.pipeline, "AWS::EC2::VPCEndpoint")).filter(
      (e) => e.Properties?.VpcEndpointType === "Interface",
    );
    expect(interfaces).toHaveLength(8);
    const withPolicy: string[] = [];
    for (const e of interfaces) {
      const service = JSON.stringify(e.Properties?.ServiceName).match(/\.([a-z.-]+)"\]/)?.[1] ?? "?";
      const doc = e.Properties?.PolicyDocument as { Statement: Statement[] } | undefined;
      if (service.startsWith("ecs")) {
        expect(doc, service).toBeUndefined();
        continue;
      }
      withPolicy.push(service);
      expect(doc!.Statement).toHaveLength(1);
      expect(doc!.Statement[0]!.Condition).toEqual(ownAccount);
    }
    expect(withPolicy.sort()).toEqual(["batch", "ecr.api", "ecr.dkr", "logs", "secretsmanager"]);
  });
});

describe("isolated network gateway endpoints (model in S3)", () => {
  let s: SynthesizedApp;
  beforeAll(() => {
    s = synthDeepscApp({ modelUri: "s3://hospital-models/deepsc/v2/model.json" });
  });
  afterAll(() => s.cleanup());

  it("adds read access to the model's folder, and nothing else of that bucket", () => {
    const model = endpointPolicy(s, "s3").find((st) => st.Sid === "ModelFiles");
    expect(model).toBeDefined();
    expect(model!.Action).toEqual(["s3:GetObject", "s3:ListBucket"]);
    expect(model!.Condition).toEqual(ownAccount);
    const text = JSON.stringify(model!.Resource);
    expect(text).toContain(":s3:::hospital-models/deepsc/v2/*");
    expect(text).not.toContain(":s3:::hospital-models/*");
  });
});
