/**
 * The IAM wildcards this app accepts, each with the reason a reviewer needs (used with `allowWildcards`).
 * Anything not listed here stays a cdk-nag error. Resource `*` is accepted only for actions AWS does not
 * scope to resources (checked again by test/infra/compliance.test.ts).
 */
import type { WildcardAllowance } from "./nag.js";

const under = (prefix: string): RegExp => new RegExp(`^Resource::.+/${prefix.replace(/\//g, "\\/")}\\*$`);

export const allow = {
  /** Objects under one key prefix (incoming/, results/, incoming/{tenant}/). */
  objectsUnder: (prefix: string, what: string): WildcardAllowance => ({
    finding: under(prefix),
    reason: `${what}: object keys under ${prefix} are created per study at run time, so access is scoped to the prefix.`,
  }),
  /** grantRead's read-only action families. */
  s3Read: [
    {
      finding: /^Action::s3:(GetObject\*|GetBucket\*|List\*)$/,
      reason:
        "Read-only S3 action families from grantRead (GetObject*, GetBucket*, List*), confined to one bucket prefix.",
    },
  ],
  /** grantPut/grantReadWrite's write action families. */
  s3Write: [
    {
      finding: /^Action::s3:(Abort\*|DeleteObject\*)$/,
      reason:
        "AbortMultipartUpload and overwrite/delete of partial outputs, confined to the grantee's own S3 prefix.",
    },
  ],
  /** SSE-KMS data keys for writes into the encrypted buckets. */
  kmsDataKey: [
    {
      finding: /^Action::kms:(GenerateDataKey\*|ReEncrypt\*)$/,
      reason:
        "SSE-KMS writes need data keys from the bucket's customer-managed key; granted on that single key ARN.",
    },
  ],
  /** DynamoDB grants include the table's GSIs. */
  tableIndexes: {
    finding: /^Resource::.+\/index\/\*$/,
    reason: "Queries on the studies table's GSI (byTenant); index names are part of the same table ARN.",
  } satisfies WildcardAllowance,
  /** X-Ray trace upload: these actions support no resource-level permissions. */
  xrayTraces: {
    finding: /^Resource::\*$/,
    reason:
      "xray:PutTraceSegments/PutTelemetryRecords support no resource-level permissions (AWS requires *).",
    onlyActions: ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
  } satisfies WildcardAllowance,
  /** Job lookup by name before a (re)submission: ListJobs has no resource-level permissions. */
  batchListJobs: {
    finding: /^Resource::\*$/,
    reason:
      "batch:ListJobs supports no resource-level permissions (AWS requires *); it only lists job summaries.",
    onlyActions: ["batch:ListJobs"],
  } satisfies WildcardAllowance,
  /** SubmitJob with tags: TagResource on the job being created. */
  batchTagNewJobs: {
    finding: /^Resource::arn:<AWS::Partition>:batch:<AWS::Region>:<AWS::AccountId>:job\/\*$/,
    reason:
      "SubmitJob with tags is authorized as batch:TagResource on the new job, whose id does not exist yet.",
  } satisfies WildcardAllowance,
  /** ECR login for the image pull: GetAuthorizationToken has no resource-level permissions. */
  ecrLogin: {
    finding: /^Resource::\*$/,
    reason:
      "ecr:GetAuthorizationToken supports no resource-level permissions (AWS requires *); pulls are per repository.",
    onlyActions: ["ecr:GetAuthorizationToken"],
  } satisfies WildcardAllowance,
  /** GET /v1/studies/{id}: the path parameter appears as * in the method ARN. */
  studyByIdMethod: {
    finding: /^Resource::arn:<AWS::Partition>:execute-api:.+\/GET\/v1\/studies\/\*$/,
    reason:
      "GET /v1/studies/{id}: the path parameter shows as * in the method ARN; the API authorizes each id per tenant.",
  } satisfies WildcardAllowance,
};
