/**
 * An S3 bucket for protected health information: versioned, SSE-KMS with a bucket key and a customer-managed
 * key, TLS-only, public access blocked, object ownership enforced, server access logs to a separate bucket,
 * and a policy that refuses uploads asking for any other encryption or key.
 */
import { Duration, RemovalPolicy } from "aws-cdk-lib";
import * as iam from "aws-cdk-lib/aws-iam";
import type * as kms from "aws-cdk-lib/aws-kms";
import * as s3 from "aws-cdk-lib/aws-s3";
import { Construct } from "constructs";

export interface SecureBucketProps {
  /** Customer-managed key for SSE-KMS; its use is visible in CloudTrail. */
  readonly encryptionKey: kms.IKey;
  /** Bucket receiving this bucket's server access logs. */
  readonly accessLogsBucket: s3.IBucket;
  /**
   * Prefix of this bucket's access logs in the logs bucket.
   * @default - `${id}/`
   */
  readonly accessLogsPrefix?: string;
  /**
   * Lifecycle rules on top of the defaults (incomplete multipart uploads aborted after 7 days, noncurrent
   * versions expired after `noncurrentVersionExpiration`).
   * @default - none
   */
  readonly lifecycleRules?: s3.LifecycleRule[];
  /**
   * How long overwritten or deleted object versions are kept (the window for recovering from mistakes).
   * @default Duration.days(30)
   */
  readonly noncurrentVersionExpiration?: Duration;
  /**
   * Send S3 events to EventBridge. Set natively on the bucket (NotificationConfiguration), not through
   * the notifications custom resource, so no extra Lambda is deployed.
   * @default false
   */
  readonly eventBridgeEnabled?: boolean;
  /**
   * @default RemovalPolicy.RETAIN — a stack delete never deletes study data
   */
  readonly removalPolicy?: RemovalPolicy;
}

export class SecureBucket extends Construct {
  readonly bucket: s3.Bucket;

  constructor(scope: Construct, id: string, props: SecureBucketProps) {
    super(scope, id);
    const noncurrent = props.noncurrentVersionExpiration ?? Duration.days(30);
    this.bucket = new s3.Bucket(this, "Bucket", {
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: props.encryptionKey,
      bucketKeyEnabled: true,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      versioned: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      serverAccessLogsBucket: props.accessLogsBucket,
      serverAccessLogsPrefix: props.accessLogsPrefix ?? `${id}/`,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
      lifecycleRules: [
        { id: "abort-incomplete-multipart", abortIncompleteMultipartUploadAfter: Duration.days(7) },
        {
          id: "expire-noncurrent-versions",
          noncurrentVersionExpiration: noncurrent,
          expiredObjectDeleteMarker: true,
        },
        ...(props.lifecycleRules ?? []),
      ],
    });

    if (props.eventBridgeEnabled) {
      const cfn = this.bucket.node.defaultChild as s3.CfnBucket;
      cfn.notificationConfiguration = { eventBridgeConfiguration: { eventBridgeEnabled: true } };
    }

    // Default encryption already applies the key to every object, so a PUT need not ask for it. These deny
    // a PUT that asks for something weaker or for a key outside this deployment (a presigned PUT carrying
    // its own SSE headers, for instance). Each applies only when the header is present (Null: false):
    // `StringNotEqualsIfExists` in a Deny matches a request WITHOUT the header too, and denied every plain
    // PutObject, so no upload, result or failure.json could be written.
    const sse = "s3:x-amz-server-side-encryption";
    const sseKey = "s3:x-amz-server-side-encryption-aws-kms-key-id";
    const denyPut = (sid: string, conditions: Record<string, Record<string, unknown>>) =>
      this.bucket.addToResourcePolicy(
        new iam.PolicyStatement({
          sid,
          effect: iam.Effect.DENY,
          principals: [new iam.AnyPrincipal()],
          actions: ["s3:PutObject"],
          resources: [this.bucket.arnForObjects("*")],
          conditions,
        }),
      );
    denyPut("DenyNonKmsEncryption", {
      Null: { [sse]: "false" },
      StringNotEquals: { [sse]: ["aws:kms", "aws:kms:dsse"] },
    });
    denyPut("DenyForeignKmsKey", {
      Null: { [sseKey]: "false" },
      StringNotEquals: { [sseKey]: props.encryptionKey.keyArn },
    });
    // A customer-provided key (SSE-C) sends no x-amz-server-side-encryption header, so the statements above
    // cannot see it; its own header marks it.
    denyPut("DenyCustomerProvidedKeys", {
      Null: { "s3:x-amz-server-side-encryption-customer-algorithm": "false" },
    });
  }
}
