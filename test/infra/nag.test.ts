/**
 * The acknowledgment helpers of infra/nag.ts on small stacks: the packs really fail a synth on an
 * unacknowledged finding, `allowWildcards` acknowledges exactly the allowed findings and nothing broader,
 * and our flattening of references matches cdk-nag's own (so acknowledgments keep matching its findings).
 */
import { App, Stack } from "aws-cdk-lib";
import * as iam from "aws-cdk-lib/aws-iam";
import * as s3 from "aws-cdk-lib/aws-s3";
import { AwsSolutionsChecks } from "cdk-nag";
// cdk-nag has no exports map; its flattening is what IAM5 findings are built from.
import { flattenCfnReference } from "cdk-nag/lib/utils/flatten-cfn-reference.js";
import { describe, expect, it } from "vitest";
import { allow } from "../../infra/iam-allowances.js";
import { acknowledge, addComplianceChecks, allowWildcards, flattenReference } from "../../infra/nag.js";

function violationsOf(app: App): string[] {
  app.synth();
  return new AwsSolutionsChecks().validateScope(app).violations.map((v) => v.ruleName);
}

describe("compliance checks on a synth", () => {
  it("fail the synth on an unacknowledged finding, naming the rule", () => {
    const app = new App();
    const stack = new Stack(app, "Bad");
    new s3.Bucket(stack, "Plain", { enforceSSL: true });
    addComplianceChecks(app);
    expect(() => app.synth()).toThrow(/AwsSolutions-S1/);
  });

  it("pass once the finding is acknowledged on the resource", () => {
    const app = new App();
    const stack = new Stack(app, "Ok");
    const bucket = new s3.Bucket(stack, "Plain", { enforceSSL: true });
    acknowledge(bucket, "AwsSolutions-S1", "Test bucket that holds no data and is never deployed anywhere.");
    expect(violationsOf(app)).toEqual([]);
  });

  it("refuse acknowledgments without a rule id or a real reason", () => {
    const stack = new Stack(new App(), "S");
    expect(() => acknowledge(stack, "S1", "A perfectly long and specific reason here.")).toThrow(/rule id/);
    expect(() => acknowledge(stack, "AwsSolutions-S1", "because")).toThrow(/specific reason/);
  });
});

describe("allowWildcards", () => {
  function roleWith(statements: iam.PolicyStatement[]): { app: App; role: iam.Role } {
    const app = new App();
    const stack = new Stack(app, "R");
    const role = new iam.Role(stack, "Role", { assumedBy: new iam.ServicePrincipal("lambda.amazonaws.com") });
    for (const st of statements) role.addToPolicy(st);
    return { app, role };
  }

  it("acknowledges allowed findings and leaves others as violations", () => {
    const { app, role } = roleWith([
      new iam.PolicyStatement({
        actions: ["s3:GetObject*"],
        resources: ["arn:aws:s3:::bucket/incoming/*"],
      }),
      new iam.PolicyStatement({
        actions: ["dynamodb:Query"],
        resources: ["arn:aws:dynamodb:eu-west-1:1:table/t/index/*"],
      }),
    ]);
    allowWildcards(role, [allow.objectsUnder("incoming/", "Test reads"), ...allow.s3Read]);
    expect(violationsOf(app)).toEqual([
      "AwsSolutions-IAM5[Resource::arn:aws:dynamodb:eu-west-1:1:table/t/index/*]",
    ]);
  });

  it("covers Resource * only when every action on it is allowed", () => {
    const xrayOnly = roleWith([
      new iam.PolicyStatement({
        actions: ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
        resources: ["*"],
      }),
      new iam.PolicyStatement({ actions: ["batch:ListJobs"], resources: ["*"] }),
    ]);
    allowWildcards(xrayOnly.role, [allow.xrayTraces, allow.batchListJobs]);
    expect(violationsOf(xrayOnly.app)).toEqual([]);

    const broader = roleWith([
      new iam.PolicyStatement({ actions: ["xray:PutTraceSegments"], resources: ["*"] }),
      new iam.PolicyStatement({ actions: ["s3:GetObject"], resources: ["*"] }),
    ]);
    allowWildcards(broader.role, [allow.xrayTraces]);
    expect(violationsOf(broader.app)).toEqual(["AwsSolutions-IAM5[Resource::*]"]);
  });
});

describe("flattenReference", () => {
  it.each([
    ["plain string", "arn:aws:s3:::b/*"],
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a CloudFormation Fn::Sub string, not a JS template
    ["Sub", { "Fn::Sub": "arn:${AWS::Partition}:s3:::b/*" }],
    ["Join with GetAtt", { "Fn::Join": ["", [{ "Fn::GetAtt": ["Bucket1", "Arn"] }, "/incoming/*"]] }],
    ["Ref", { Ref: "Queue1" }],
    ["ImportValue", { "Fn::ImportValue": "Storage:ExportsOutputBucketArn" }],
    [
      "GetStackOutput (weak cross-stack reference)",
      { "Fn::Join": ["", [{ "Fn::GetStackOutput": { StackName: "S", OutputName: "O" } }, "/results/*"]] },
    ],
  ])("matches cdk-nag for %s", (_name, value) => {
    expect(flattenReference(value)).toBe(flattenCfnReference(value));
  });
});
