/**
 * The stateful stack as synthesized by the real app: buckets (KMS, versioned, TLS-only, public access
 * blocked, access-logged, lifecycle), the studies table (PITR, KMS, deletion protection, tenant GSI), the
 * key, the salt secret and the backup plan, all retained on stack deletion.
 */
import { Match } from "aws-cdk-lib/assertions";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { conditionMatches, type RequestContext } from "../helpers/iam-conditions.js";
import { at, resourcesOf, type SynthesizedApp, synthDeepscApp } from "./synth-app.js";

type Props = Record<string, unknown>;
type Statement = {
  Effect: string;
  Action: string | string[];
  Condition?: Props;
  Principal?: unknown;
  Sid?: string;
};

describe("storage stack", () => {
  let s: SynthesizedApp;
  let dataKeyId: string;
  let logsBucketId: string;
  beforeAll(() => {
    s = synthDeepscApp({ retentionDays: "21" });
    const keys = Object.keys(resourcesOf(s.storage, "AWS::KMS::Key"));
    expect(keys).toHaveLength(1);
    dataKeyId = keys[0]!;
    logsBucketId = Object.entries(resourcesOf(s.storage, "AWS::S3::Bucket")).find(
      ([, b]) => !JSON.stringify(b.Properties?.BucketEncryption).includes("aws:kms"),
    )![0];
  });
  afterAll(() => s.cleanup());

  const dataBuckets = () =>
    Object.entries(resourcesOf(s.storage, "AWS::S3::Bucket")).filter(([id]) => id !== logsBucketId);

  it("is protected against stack deletion", () => {
    expect(s.stacks.storage.terminationProtection).toBe(true);
  });

  it("has a rotating, retained customer-managed key", () => {
    s.storage.hasResource("AWS::KMS::Key", {
      Properties: Match.objectLike({ EnableKeyRotation: true }),
      DeletionPolicy: "Retain",
      UpdateReplacePolicy: "Retain",
    });
  });

  it("encrypts the ingest and results buckets with that key and a bucket key", () => {
    const buckets = dataBuckets();
    expect(buckets).toHaveLength(2);
    for (const [, b] of buckets) {
      expect(b.Properties?.BucketEncryption).toEqual({
        ServerSideEncryptionConfiguration: [
          {
            BucketKeyEnabled: true,
            ServerSideEncryptionByDefault: {
              SSEAlgorithm: "aws:kms",
              KMSMasterKeyID: { "Fn::GetAtt": [dataKeyId, "Arn"] },
            },
          },
        ],
      });
    }
  });

  it("versions, blocks public access on, access-logs and retains every bucket", () => {
    for (const [id, b] of Object.entries(resourcesOf(s.storage, "AWS::S3::Bucket"))) {
      expect(b.Properties?.VersioningConfiguration, id).toEqual({ Status: "Enabled" });
      expect(b.Properties?.PublicAccessBlockConfiguration, id).toEqual({
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      });
      expect(b.DeletionPolicy, id).toBe("Retain");
      if (id !== logsBucketId) {
        expect(b.Properties?.LoggingConfiguration, id).toEqual({
          DestinationBucketName: { Ref: logsBucketId },
          LogFilePrefix: expect.any(String),
        });
      }
    }
  });

  it("denies non-TLS access to every bucket and non-KMS uploads to the data buckets", () => {
    const policies = Object.values(resourcesOf(s.storage, "AWS::S3::BucketPolicy"));
    expect(policies).toHaveLength(3);
    for (const p of policies) {
      const statements = at<{ Statement: Statement[] }>(p, "Properties.PolicyDocument").Statement;
      expect(statements).toContainEqual(
        expect.objectContaining({
          Effect: "Deny",
          Action: "s3:*",
          Principal: { AWS: "*" },
          Condition: { Bool: { "aws:SecureTransport": "false" } },
        }),
      );
    }
    for (const [id] of dataBuckets()) {
      const policy = policies.find(
        (p) => JSON.stringify(p.Properties?.Bucket) === JSON.stringify({ Ref: id }),
      );
      const sids = at<{ Statement: Statement[] }>(policy, "Properties.PolicyDocument").Statement.map(
        (x) => x.Sid,
      );
      expect(sids).toEqual(
        expect.arrayContaining(["DenyNonKmsEncryption", "DenyForeignKmsKey", "DenyCustomerProvidedKeys"]),
      );
    }
  });

  it("lets a plain PUT (the bucket's default key applies) and one naming the data key through; denies the rest", () => {
    const policies = Object.values(resourcesOf(s.storage, "AWS::S3::BucketPolicy"));
    const dataKeyId = Object.keys(resourcesOf(s.storage, "AWS::KMS::Key"))[0]!;
    const dataKeyArn = { "Fn::GetAtt": [dataKeyId, "Arn"] };
    const sse = "s3:x-amz-server-side-encryption";
    const sseKey = "s3:x-amz-server-side-encryption-aws-kms-key-id";
    const tls = { "aws:SecureTransport": "true" };
    for (const [id] of dataBuckets()) {
      const policy = policies.find(
        (p) => JSON.stringify(p.Properties?.Bucket) === JSON.stringify({ Ref: id }),
      );
      const denies = at<{ Statement: Statement[] }>(policy, "Properties.PolicyDocument").Statement.filter(
        (st) => st.Effect === "Deny" && [st.Action].flat().some((a) => a === "s3:PutObject" || a === "s3:*"),
      );
      const denied = (ctx: RequestContext) =>
        denies.some((st) => conditionMatches(st.Condition as never, ctx));
      // What the code sends: presigned PUTs (only `host` signed), the job's and the Lambdas' PutObject.
      expect(denied({ ...tls }), `${id}: a PUT without SSE headers`).toBe(false);
      expect(denied({ ...tls, [sse]: "aws:kms", [sseKey]: dataKeyArn })).toBe(false);
      expect(denied({ ...tls, [sse]: "aws:kms" })).toBe(false);
      // What the policy is for.
      expect(denied({ ...tls, [sse]: "AES256" })).toBe(true);
      expect(
        denied({ ...tls, [sse]: "aws:kms", [sseKey]: "arn:aws:kms:eu-west-1:999999999999:key/other" }),
      ).toBe(true);
      expect(denied({ "aws:SecureTransport": "false" })).toBe(true);
      expect(denied({ ...tls, "s3:x-amz-server-side-encryption-customer-algorithm": "AES256" })).toBe(true);
    }
  });

  it("expires uploads under incoming/ after the configured retention, and cleans up versions and multipart", () => {
    const ingest = dataBuckets().find(([, b]) => b.Properties?.NotificationConfiguration)?.[1];
    const rules = at<{ Rules: Props[] }>(ingest, "Properties.LifecycleConfiguration").Rules;
    expect(rules).toContainEqual(
      expect.objectContaining({
        Id: "expire-incoming",
        Prefix: "incoming/",
        ExpirationInDays: 21,
        Status: "Enabled",
      }),
    );
    expect(rules).toContainEqual(
      expect.objectContaining({
        AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 },
        Status: "Enabled",
      }),
    );
    expect(rules).toContainEqual(
      expect.objectContaining({ NoncurrentVersionExpiration: { NoncurrentDays: 7 }, Status: "Enabled" }),
    );
  });

  it("sends S3 events of the ingest bucket (only) to EventBridge, natively", () => {
    const withEvents = dataBuckets().filter(([, b]) => b.Properties?.NotificationConfiguration);
    expect(withEvents).toHaveLength(1);
    expect(withEvents[0]?.[1].Properties?.NotificationConfiguration).toEqual({
      EventBridgeConfiguration: { EventBridgeEnabled: true },
    });
    s.storage.resourceCountIs("Custom::S3BucketNotifications", 0);
  });

  it("keeps studies in an on-demand, KMS-encrypted, PITR-protected table with a tenant index", () => {
    s.storage.hasResource("AWS::DynamoDB::Table", {
      Properties: Match.objectLike({
        BillingMode: "PAY_PER_REQUEST",
        KeySchema: [
          { AttributeName: "pk", KeyType: "HASH" },
          { AttributeName: "sk", KeyType: "RANGE" },
        ],
        SSESpecification: {
          SSEEnabled: true,
          SSEType: "KMS",
          KMSMasterKeyId: { "Fn::GetAtt": [dataKeyId, "Arn"] },
        },
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        DeletionProtectionEnabled: true,
        TimeToLiveSpecification: { AttributeName: "expiresAt", Enabled: true },
        GlobalSecondaryIndexes: [
          {
            IndexName: "byTenant",
            KeySchema: [
              { AttributeName: "tenant", KeyType: "HASH" },
              { AttributeName: "createdAt", KeyType: "RANGE" },
            ],
            Projection: { ProjectionType: "ALL" },
          },
        ],
      }),
      DeletionPolicy: "Retain",
    });
  });

  it("backs the table up daily into a vault encrypted with the data key", () => {
    s.storage.hasResourceProperties("AWS::Backup::BackupVault", {
      EncryptionKeyArn: { "Fn::GetAtt": [dataKeyId, "Arn"] },
    });
    s.storage.resourceCountIs("AWS::Backup::BackupSelection", 1);
  });

  it("generates the UID salt in Secrets Manager under the data key and retains it", () => {
    s.storage.hasResource("AWS::SecretsManager::Secret", {
      Properties: Match.objectLike({
        KmsKeyId: { "Fn::GetAtt": [dataKeyId, "Arn"] },
        GenerateSecretString: Match.objectLike({ PasswordLength: 64 }),
      }),
      DeletionPolicy: "Retain",
    });
  });
});
