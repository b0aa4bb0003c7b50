/**
 * The stateless pipeline: isolated network, GPU Batch, the ingest and job-events processors fed by
 * EventBridge, the status API, tenant roles and observability. Everything here can be destroyed and
 * redeployed without losing a study; the data lives in the storage stack.
 */
import path from "node:path";
import { Aws, CfnOutput, Duration, IgnoreMode, RemovalPolicy, Stack, type StackProps } from "aws-cdk-lib";
import * as batch from "aws-cdk-lib/aws-batch";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import type * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import * as ecrAssets from "aws-cdk-lib/aws-ecr-assets";
import * as ecs from "aws-cdk-lib/aws-ecs";
import * as iam from "aws-cdk-lib/aws-iam";
import * as kms from "aws-cdk-lib/aws-kms";
import * as logs from "aws-cdk-lib/aws-logs";
import * as s3 from "aws-cdk-lib/aws-s3";
import * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import type { Construct } from "constructs";
import { modelIdentity } from "../../gpu-job/pipeline/model/model-manifest.js";
import type { PipelineConfig } from "../config.js";
import { EventProcessor } from "../constructs/event-processor.js";
import { GpuBatch } from "../constructs/gpu-batch.js";
import { IsolatedNetwork } from "../constructs/isolated-network.js";
import { Observability } from "../constructs/observability.js";
import { PipelineFunction } from "../constructs/pipeline-function.js";
import { StatusApi } from "../constructs/status-api.js";
import { TenantAccess } from "../constructs/tenant-access.js";
import { GPU_JOB_DOCKERFILE, gpuJobImageExcludes } from "../gpu-job-image.js";
import { allow } from "../iam-allowances.js";
import { acknowledge, acknowledgeGrantPolicies, allowWildcards } from "../nag.js";
import {
  INCOMING_PREFIX,
  INGEST_CLAIM_BUSY_METRIC,
  INGEST_ENV,
  INGEST_SERVICE_NAME,
  INGEST_TIMEOUT_S,
  ingestLeaseSeconds,
  JOB_ENV,
  LAMBDA_ENV,
  METRICS_NAMESPACE,
  MODEL_IN_IMAGE,
  RESULTS_PREFIX,
  STATUS_API_ENV,
  TRIGGER_KEY_SUFFIXES,
} from "../runtime-contract.js";

/**
 * The studies-table calls each function makes (lambdas/adapters/dynamo-study-repository.ts: claim is a
 * conditional PutItem, every transition an UpdateItem, get a GetItem, listing a Query of the tenant index).
 * grantReadWriteData/grantReadData also gave Scan (every tenant's studies), DeleteItem and BatchWriteItem,
 * which no code calls.
 */
export const STUDIES_CALLS = {
  ingest: ["GetItem", "PutItem", "UpdateItem"],
  jobEvents: ["GetItem", "UpdateItem"],
  statusApi: ["GetItem", "Query"],
} as const;

/** The table's calls, and its customer-managed key as the grant*Data methods give it (read, or read+write). */
function grantStudies(table: dynamodb.ITable, fn: iam.IGrantable, calls: readonly string[]): void {
  table.grant(fn, ...calls.map((c) => `dynamodb:${c}`));
  const writes = calls.some((c) => c === "PutItem" || c === "UpdateItem");
  table.encryptionKey?.grant(
    fn,
    "kms:Decrypt",
    "kms:DescribeKey",
    ...(writes ? ["kms:Encrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*"] : []),
  );
}

export interface PipelineStackProps extends StackProps {
  readonly config: PipelineConfig;
  /** Resources of the storage stack. */
  readonly dataKey: kms.IKey;
  readonly ingestBucket: s3.IBucket;
  readonly resultsBucket: s3.IBucket;
  readonly studiesTable: dynamodb.ITable;
  readonly uidSalt: secretsmanager.ISecret;
  /**
   * Repository root (Lambda entries, gpu-job/Dockerfile, package-lock.json).
   * @default - two levels above this file
   */
  readonly projectRoot?: string;
  /**
   * The job's container image.
   * @default - built from gpu-job/Dockerfile at deploy time (a DockerImageAsset; synth needs no Docker)
   */
  readonly gpuJobImage?: ecs.ContainerImage;
}

export class PipelineStack extends Stack {
  readonly network: IsolatedNetwork;
  readonly gpuBatch: GpuBatch;
  readonly ingest: EventProcessor;
  readonly jobEvents: EventProcessor;
  readonly statusApiFunction: PipelineFunction;
  readonly statusApi: StatusApi;
  readonly tenantAccess: TenantAccess;
  readonly observability: Observability;
  /** Key of operational data: logs, dead-letter queues, the alarm topic. */
  readonly opsKey: kms.Key;

  constructor(scope: Construct, id: string, props: PipelineStackProps) {
    super(scope, id, props);
    const { config } = props;
    const root = props.projectRoot ?? path.resolve(import.meta.dirname, "../..");
    const logRetention = config.logRetentionDays as logs.RetentionDays;

    this.opsKey = new kms.Key(this, "OpsKey", {
      description: "DeepSC-COVID operational data (logs, dead-letter queues, alarm topic)",
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.allowServicesToUseOpsKey();

    this.network = new IsolatedNetwork(this, "Network", {
      maxAzs: config.maxAzs,
      logKey: this.opsKey,
      logRetention,
    });
    const { vpc, workloadSubnets } = this.network;
    this.network.allowS3("DeploymentBuckets", [
      props.ingestBucket.bucketArn,
      props.ingestBucket.arnForObjects("*"),
      props.resultsBucket.bucketArn,
      props.resultsBucket.arnForObjects("*"),
    ]);
    this.network.allowDynamoDb("StudiesTable", [props.studiesTable.tableArn]);

    // ---- GPU Batch -------------------------------------------------------------------------------------
    const jobLogs = new logs.LogGroup(this, "GpuJobLogs", {
      encryptionKey: this.opsKey,
      retention: logRetention,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // Imported by ARN (without its key) so the grant below stays in this stack's IAM policies instead of
    // editing the storage stack's key policy, which would make the two stacks depend on each other.
    const uidSalt = secretsmanager.Secret.fromSecretCompleteArn(this, "UidSaltRef", props.uidSalt.secretArn);
    const image =
      props.gpuJobImage ??
      ecs.ContainerImage.fromDockerImageAsset(
        new ecrAssets.DockerImageAsset(this, "GpuJobImage", {
          directory: root,
          file: GPU_JOB_DOCKERFILE,
          platform: ecrAssets.Platform.LINUX_AMD64,
          ignoreMode: IgnoreMode.DOCKER,
          exclude: gpuJobImageExcludes(root),
        }),
      );
    this.gpuBatch = new GpuBatch(this, "GpuBatch", {
      vpc,
      vpcSubnets: workloadSubnets,
      image,
      logGroup: jobLogs,
      instanceTypes: config.gpuInstanceTypes.map((t) => new ec2.InstanceType(t)),
      spot: config.spot,
      maxvCpus: config.maxvCpus,
      jobTimeout: Duration.minutes(config.jobTimeoutMinutes),
      runnableTimeout: Duration.minutes(config.stuckRunnableMinutes),
      retryableExitCodes: [...config.retryableExitCodes],
      environment: {
        AWS_REGION: Aws.REGION,
        [JOB_ENV.ingestBucket]: props.ingestBucket.bucketName,
        [JOB_ENV.resultsBucket]: props.resultsBucket.bucketName,
        [JOB_ENV.modelUri]: config.modelUri,
        [JOB_ENV.executionProvider]: "cuda",
      },
      secrets: { [JOB_ENV.uidSalt]: batch.Secret.fromSecretsManager(uidSalt) },
    });
    // The salt is encrypted with the data key; ECS may decrypt it only through Secrets Manager.
    this.gpuBatch.executionRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ["kms:Decrypt"],
        resources: [props.dataKey.keyArn],
        conditions: { StringEquals: { "kms:ViaService": `secretsmanager.${Aws.REGION}.amazonaws.com` } },
      }),
    );
    this.network.allowEndpointAccessFrom(this.gpuBatch, "Batch GPU instances");
    const jobRole = this.gpuBatch.jobRole;
    props.ingestBucket.grantRead(jobRole, `${INCOMING_PREFIX}*`);
    props.resultsBucket.grantReadWrite(jobRole, `${RESULTS_PREFIX}*`);
    this.grantModelRead(jobRole, config.modelUri);
    acknowledgeGrantPolicies(jobRole);
    allowWildcards(jobRole, [
      allow.objectsUnder(INCOMING_PREFIX, "GPU job stage-in"),
      allow.objectsUnder(RESULTS_PREFIX, "GPU job stage-out"),
      ...allow.s3Read,
      ...allow.s3Write,
      ...allow.kmsDataKey,
    ]);
    acknowledgeGrantPolicies(this.gpuBatch.executionRole);
    allowWildcards(this.gpuBatch.executionRole, [allow.ecrLogin]);
    const flowLogRole = this.network.vpc.node.findChild("all").node.findChild("IAMRole");
    acknowledgeGrantPolicies(flowLogRole);

    // ---- Lambdas ---------------------------------------------------------------------------------------
    const lambdaSg = new ec2.SecurityGroup(this, "LambdaSecurityGroup", {
      vpc,
      description: "Pipeline Lambdas: no inbound; outbound only reaches VPC endpoints (isolated subnets)",
      allowAllOutbound: true,
    });
    this.network.allowEndpointAccessFrom(lambdaSg, "Pipeline Lambdas");
    const shared = {
      vpc,
      vpcSubnets: workloadSubnets,
      securityGroup: lambdaSg,
      logKey: this.opsKey,
      logRetention,
      projectRoot: root,
    };
    const dataEnv = {
      [LAMBDA_ENV.studiesTable]: props.studiesTable.tableName,
      [LAMBDA_ENV.ingestBucket]: props.ingestBucket.bucketName,
      [LAMBDA_ENV.resultsBucket]: props.resultsBucket.bucketName,
      // The study id's model component: the image's model by name, version and sha256, not "image".
      [LAMBDA_ENV.modelUri]: modelIdentity(config.modelUri),
    };

    this.ingest = new EventProcessor(this, "Ingest", {
      ...shared,
      entry: path.join(root, "lambdas/ingest/handler.ts"),
      description: "Validates an uploaded study from byte ranges and submits its Batch GPU job",
      serviceName: INGEST_SERVICE_NAME,
      memorySize: 1024,
      timeout: Duration.seconds(INGEST_TIMEOUT_S),
      // Bounds SubmitJob and S3 range-read pressure during upload bursts; excess events wait in Lambda's queue.
      reservedConcurrentExecutions: 20,
      environment: {
        ...dataEnv,
        [INGEST_ENV.jobQueueArn]: this.gpuBatch.jobQueue.jobQueueArn,
        [INGEST_ENV.jobDefinitionArn]: this.gpuBatch.jobDefinition.jobDefinitionArn,
        [INGEST_ENV.uidSaltSecretArn]: uidSalt.secretArn,
        [INGEST_ENV.leaseSeconds]: String(ingestLeaseSeconds(INGEST_TIMEOUT_S)),
      },
      wildcardAllowances: [
        allow.batchListJobs,
        allow.batchTagNewJobs,
        allow.objectsUnder(INCOMING_PREFIX, "Ingest validation reads"),
        ...allow.s3Read,
        ...allow.kmsDataKey,
        allow.tableIndexes,
      ],
      queueKey: this.opsKey,
      ruleDescription:
        "S3 Object Created of a zip, NIfTI or manifest.json in the ingest bucket -> ingest Lambda",
      eventPattern: {
        source: ["aws.s3"],
        detailType: ["Object Created"],
        detail: {
          bucket: { name: [props.ingestBucket.bucketName] },
          // Only what can start a study (any case: SERIES.ZIP too). EventBridge ORs one field's matchers, so a
          // prefix cannot be required as well: the bucket holds nothing but incoming/, and the handler checks
          // the layout.
          object: {
            key: TRIGGER_KEY_SUFFIXES.map((suffix) => ({ suffix: { "equals-ignore-case": suffix } })),
          },
        },
      },
    });
    const ingestFn = this.ingest.handler.function;
    props.ingestBucket.grantRead(ingestFn, `${INCOMING_PREFIX}*`);
    grantStudies(props.studiesTable, ingestFn, STUDIES_CALLS.ingest);
    this.gpuBatch.grantSubmitJob(ingestFn);
    this.gpuBatch.grantListJobs(ingestFn);
    // Validation hashes UIDs with the deployment's salt, like the job (lambdas/adapters/uid-salt.ts).
    uidSalt.grantRead(ingestFn);

    this.jobEvents = new EventProcessor(this, "JobEvents", {
      ...shared,
      entry: path.join(root, "lambdas/job-events/handler.ts"),
      description: "Turns Batch job state changes into monotonic study status transitions",
      serviceName: "deepsc-job-events",
      memorySize: 256,
      timeout: Duration.seconds(30),
      reservedConcurrentExecutions: 10,
      environment: dataEnv,
      wildcardAllowances: [
        allow.objectsUnder(RESULTS_PREFIX, "Results manifest check"),
        ...allow.s3Read,
        ...allow.kmsDataKey,
        allow.tableIndexes,
      ],
      queueKey: this.opsKey,
      ruleDescription: "Batch Job State Change on the DeepSC-COVID queue -> job-events Lambda",
      eventPattern: {
        source: ["aws.batch"],
        detailType: ["Batch Job State Change"],
        detail: { jobQueue: [this.gpuBatch.jobQueue.jobQueueArn] },
      },
    });
    const jobEventsFn = this.jobEvents.handler.function;
    grantStudies(props.studiesTable, jobEventsFn, STUDIES_CALLS.jobEvents);
    // SUCCEEDED only when results/{tenant}/{studyId}/manifest.json exists.
    props.resultsBucket.grantRead(jobEventsFn, `${RESULTS_PREFIX}*`);

    // ---- Status API ------------------------------------------------------------------------------------
    const tenantRolePrefix = `${config.namePrefix}-tenant-`;
    this.statusApiFunction = new PipelineFunction(this, "StatusApiHandler", {
      ...shared,
      entry: path.join(root, "lambdas/status-api/handler.ts"),
      description: "Study status REST API: tenant from the IAM principal, presigned result URLs",
      serviceName: "deepsc-status-api",
      memorySize: 512,
      timeout: Duration.seconds(10),
      reservedConcurrentExecutions: 50,
      environment: { ...dataEnv, [STATUS_API_ENV.tenantRolePrefix]: tenantRolePrefix },
      wildcardAllowances: [
        allow.objectsUnder(RESULTS_PREFIX, "Presigned result downloads"),
        allow.objectsUnder(INCOMING_PREFIX, "Presigned uploads"),
        ...allow.s3Read,
        ...allow.s3Write,
        ...allow.kmsDataKey,
        allow.tableIndexes,
      ],
    });
    acknowledge(
      this.statusApiFunction.function,
      "HIPAA.Security-LambdaDLQ",
      "Invoked synchronously by API Gateway: a failed request returns a problem+json error to the caller, " +
        "there is no asynchronous event to park.",
    );
    const statusFn = this.statusApiFunction.function;
    grantStudies(props.studiesTable, statusFn, STUDIES_CALLS.statusApi);
    // Presigned GETs of results and presigned PUTs of uploads are signed with this function's credentials.
    props.resultsBucket.grantRead(statusFn, `${RESULTS_PREFIX}*`);
    props.ingestBucket.grantPut(statusFn, `${INCOMING_PREFIX}*`);

    this.statusApi = new StatusApi(this, "StatusApi", {
      handler: statusFn,
      logKey: this.opsKey,
      logRetention,
      configureCloudWatchRole: config.apiGatewayCloudWatchRole,
    });

    this.tenantAccess = new TenantAccess(this, "Tenants", {
      tenants: config.tenants,
      rolePrefix: tenantRolePrefix,
      ingestBucket: props.ingestBucket,
      statusApi: this.statusApi,
    });

    // ---- Observability ---------------------------------------------------------------------------------
    this.observability = new Observability(this, "Observability", {
      key: this.opsKey,
      logRetention,
      jobQueueArn: this.gpuBatch.jobQueue.jobQueueArn,
      deadLetterQueues: { Ingest: this.ingest.deadLetterQueue, JobEvents: this.jobEvents.deadLetterQueue },
      functions: { Ingest: ingestFn, JobEvents: jobEventsFn, StatusApi: statusFn },
      // core/studies/ingest.ts: a claim still leased to another invocation is thrown to be retried.
      retriedByDesign: {
        Ingest: new cloudwatch.Metric({
          namespace: METRICS_NAMESPACE,
          metricName: INGEST_CLAIM_BUSY_METRIC,
          dimensionsMap: { service: INGEST_SERVICE_NAME },
          statistic: "Sum",
          period: Duration.minutes(5),
        }),
      },
      api: this.statusApi.api,
      alarmEmail: config.alarmEmail,
    });

    // What operators and hospital integrators need after a deploy.
    new CfnOutput(this, "IngestBucketName", { value: props.ingestBucket.bucketName });
    new CfnOutput(this, "JobQueueArn", { value: this.gpuBatch.jobQueue.jobQueueArn });
    new CfnOutput(this, "AlarmTopicArn", { value: this.observability.topic.topicArn });
    // What the dead-letter runbook (infra/README.md) replays events from and into.
    for (const [name, processor] of [
      ["Ingest", this.ingest],
      ["JobEvents", this.jobEvents],
    ] as const) {
      new CfnOutput(this, `${name}FunctionName`, { value: processor.handler.function.functionName });
      new CfnOutput(this, `${name}DeadLetterQueueUrl`, { value: processor.deadLetterQueue.queueUrl });
    }
    for (const [tenant, role] of this.tenantAccess.roles) {
      new CfnOutput(this, `TenantRole-${tenant}`, {
        value: role.roleArn,
        description: `IAM role of tenant ${tenant}`,
      });
    }
  }

  /** Read access to the model files when the job fetches them from S3 (the folder of model.json). */
  private grantModelRead(role: iam.IRole, modelUri: string): void {
    if (modelUri === MODEL_IN_IMAGE) return;
    const match = /^s3:\/\/([^/]+)\/(.+)$/.exec(modelUri);
    if (!match) throw new Error(`modelUri must be "${MODEL_IN_IMAGE}" or s3://bucket/key, got ${modelUri}`);
    const [, bucketName = "", key = ""] = match;
    const folder = key.includes("/") ? `${key.slice(0, key.lastIndexOf("/"))}/` : "";
    const modelBucket = s3.Bucket.fromBucketName(this, "ModelBucket", bucketName);
    modelBucket.grantRead(role, `${folder}*`);
    this.network.allowS3(
      "ModelFiles",
      [modelBucket.bucketArn, modelBucket.arnForObjects(`${folder}*`)],
      ["s3:GetObject", "s3:ListBucket"],
    );
    // The model's files lie beside its model.json; their names come from the manifest.
    allowWildcards(role, [
      {
        finding: new RegExp(
          `^Resource::arn:<AWS::Partition>:s3:::${bucketName.replace(/\./g, "\\.")}/${folder.replace(/\//g, "\\/")}\\*$`,
        ),
        reason: `The model's files (ONNX, variants) beside ${modelUri}, named by its manifest.`,
      },
    ]);
  }

  /**
   * Services that write encrypted data with the ops key on our behalf: CloudWatch Logs (log groups),
   * EventBridge (dead-letter messages), CloudWatch alarms (the SNS topic). Each is confined to this account.
   * `resources: ["*"]` is what AWS requires in a key policy: there it means "this key" and nothing else
   * (https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-overview.html).
   */
  private allowServicesToUseOpsKey(): void {
    const account = { StringEquals: { "aws:SourceAccount": Aws.ACCOUNT_ID } };
    this.opsKey.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: "CloudWatchLogs",
        principals: [new iam.ServicePrincipal(`logs.${Aws.REGION}.amazonaws.com`)],
        actions: ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
        resources: ["*"],
        conditions: {
          ArnLike: {
            "kms:EncryptionContext:aws:logs:arn": `arn:${Aws.PARTITION}:logs:${Aws.REGION}:${Aws.ACCOUNT_ID}:log-group:*`,
          },
        },
      }),
    );
    for (const [sid, service] of [
      ["EventBridgeDeadLetters", "events.amazonaws.com"],
      ["CloudWatchAlarms", "cloudwatch.amazonaws.com"],
    ] as const) {
      this.opsKey.addToResourcePolicy(
        new iam.PolicyStatement({
          sid,
          principals: [new iam.ServicePrincipal(service)],
          actions: ["kms:Decrypt", "kms:GenerateDataKey*"],
          resources: ["*"],
          conditions: account,
        }),
      );
    }
  }
}
