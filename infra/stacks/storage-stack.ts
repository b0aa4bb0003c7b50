/**
 * The stateful stack: everything that holds study data and must survive redeploys of the pipeline — the data
 * KMS key, the ingest and results buckets (plus the access-log bucket) and the studies table. All of it is
 * RETAIN and the stack has termination protection; the pipeline stack only references these resources.
 */
import { Duration, RemovalPolicy, Stack, type StackProps } from "aws-cdk-lib";
import * as backup from "aws-cdk-lib/aws-backup";
import * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import * as kms from "aws-cdk-lib/aws-kms";
import * as s3 from "aws-cdk-lib/aws-s3";
import * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import type { Construct } from "constructs";
import { SecureBucket } from "../constructs/secure-bucket.js";
import { acknowledge } from "../nag.js";
import { INCOMING_PREFIX, STUDIES_TABLE_SCHEMA } from "../runtime-contract.js";

export interface StorageStackProps extends StackProps {
  /**
   * Days after which uploads under incoming/ expire (results are kept).
   * @default 30
   */
  readonly retentionDays?: number;
  /**
   * Days S3 server access logs are kept.
   * @default 365
   */
  readonly accessLogRetentionDays?: number;
}

export class StorageStack extends Stack {
  /** Customer-managed key of all study data (buckets, table). */
  readonly dataKey: kms.Key;
  readonly ingestBucket: s3.Bucket;
  readonly resultsBucket: s3.Bucket;
  readonly accessLogsBucket: s3.Bucket;
  readonly studiesTable: dynamodb.Table;
  /**
   * Salt of the hashed DICOM UIDs in results (core/privacy.ts). Stateful on purpose: the same UID must
   * hash the same way for the lifetime of the deployment, so it lives here and is never rotated.
   */
  readonly uidSalt: secretsmanager.Secret;

  constructor(scope: Construct, id: string, props: StorageStackProps = {}) {
    super(scope, id, { terminationProtection: true, ...props });
    const retentionDays = props.retentionDays ?? 30;
    if (!Number.isInteger(retentionDays) || retentionDays < 1) {
      throw new Error(`retentionDays must be a positive integer, got ${retentionDays}`);
    }

    this.dataKey = new kms.Key(this, "DataKey", {
      description: "DeepSC-COVID study data (ingest and results buckets, studies table)",
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
      pendingWindow: Duration.days(30),
    });

    // Access-log delivery only supports SSE-S3, hence its own bucket without the data key.
    this.accessLogsBucket = new s3.Bucket(this, "AccessLogsBucket", {
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      versioned: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      removalPolicy: RemovalPolicy.RETAIN,
      lifecycleRules: [
        {
          id: "expire-access-logs",
          expiration: Duration.days(props.accessLogRetentionDays ?? 365),
          noncurrentVersionExpiration: Duration.days(7),
        },
        { id: "abort-incomplete-multipart", abortIncompleteMultipartUploadAfter: Duration.days(1) },
      ],
    });
    acknowledge(
      this.accessLogsBucket,
      "AwsSolutions-S1",
      "This is the server-access-log destination; logging it into itself would create a feedback loop.",
    );
    acknowledge(
      this.accessLogsBucket,
      "HIPAA.Security-S3BucketLoggingEnabled",
      "This is the server-access-log destination; logging it into itself would create a feedback loop.",
    );
    acknowledge(
      this.accessLogsBucket,
      "HIPAA.Security-S3DefaultEncryptionKMS",
      "S3 server access log delivery only supports SSE-S3 destinations; the bucket holds request metadata, no images.",
    );

    const ingest = new SecureBucket(this, "IngestBucket", {
      encryptionKey: this.dataKey,
      accessLogsBucket: this.accessLogsBucket,
      accessLogsPrefix: "ingest/",
      eventBridgeEnabled: true,
      noncurrentVersionExpiration: Duration.days(7),
      lifecycleRules: [
        { id: "expire-incoming", prefix: INCOMING_PREFIX, expiration: Duration.days(retentionDays) },
      ],
    });
    this.ingestBucket = ingest.bucket;

    const results = new SecureBucket(this, "ResultsBucket", {
      encryptionKey: this.dataKey,
      accessLogsBucket: this.accessLogsBucket,
      accessLogsPrefix: "results/",
    });
    this.resultsBucket = results.bucket;

    for (const bucket of [this.ingestBucket, this.resultsBucket, this.accessLogsBucket]) {
      acknowledge(
        bucket,
        "HIPAA.Security-S3BucketReplicationEnabled",
        "Cross-region replication of PHI is a data-residency decision of the covered entity; durability comes " +
          "from S3 (11 nines) plus versioning, and a replica bucket can be added per deployment.",
      );
    }

    const keys = STUDIES_TABLE_SCHEMA;
    this.studiesTable = new dynamodb.Table(this, "StudiesTable", {
      partitionKey: { name: keys.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: keys.sortKey, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: this.dataKey,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: true,
      removalPolicy: RemovalPolicy.RETAIN,
      timeToLiveAttribute: keys.timeToLiveAttribute,
    });
    this.studiesTable.addGlobalSecondaryIndex({
      indexName: keys.tenantIndexName,
      partitionKey: { name: keys.tenantIndexPartitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: keys.tenantIndexSortKey, type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.ALL,
    });

    this.uidSalt = new secretsmanager.Secret(this, "UidSalt", {
      description: "DeepSC-COVID salt for hashed DICOM UIDs (DEEPSC_UID_SALT of the Batch job)",
      encryptionKey: this.dataKey,
      removalPolicy: RemovalPolicy.RETAIN,
      generateSecretString: { passwordLength: 64, excludePunctuation: true, includeSpace: false },
    });
    for (const rule of ["AwsSolutions-SMG4", "HIPAA.Security-SecretsManagerRotationEnabled"]) {
      acknowledge(
        this.uidSalt,
        rule,
        "A pseudonymisation salt, not a credential: rotating it would make the same UID hash differently " +
          "across studies and break longitudinal matching of results.",
      );
    }

    // Independent daily copies on top of PITR's 35-day window, in a vault encrypted with the data key.
    const vault = new backup.BackupVault(this, "BackupVault", {
      encryptionKey: this.dataKey,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    const plan = backup.BackupPlan.daily35DayRetention(this, "BackupPlan", vault);
    const selection = plan.addSelection("StudiesTable", {
      resources: [backup.BackupResource.fromDynamoDbTable(this.studiesTable)],
    });
    acknowledge(
      selection,
      "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup]",
      "AWS Backup's own service-role policy; AWS maintains the exact permissions its backup jobs need.",
    );
  }
}
