/**
 * The house defaults of every pipeline Lambda: Node.js 24 on arm64, bundled as ESM by esbuild (AWS SDK
 * included, so the pinned client versions run rather than whatever the runtime carries), inside the isolated
 * VPC, active X-Ray tracing, JSON logs to a KMS-encrypted log group with bounded retention, Powertools
 * configuration in the environment, and for asynchronous callers a dead-letter queue with bounded retries.
 */
import { Duration, RemovalPolicy } from "aws-cdk-lib";
import type * as ec2 from "aws-cdk-lib/aws-ec2";
import type * as kms from "aws-cdk-lib/aws-kms";
import * as lambda from "aws-cdk-lib/aws-lambda";
import * as nodejs from "aws-cdk-lib/aws-lambda-nodejs";
import * as logs from "aws-cdk-lib/aws-logs";
import type * as sqs from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import { allow } from "../iam-allowances.js";
import { acknowledge, acknowledgeGrantPolicies, allowWildcards, type WildcardAllowance } from "../nag.js";
import { METRICS_NAMESPACE } from "../runtime-contract.js";

export interface PipelineFunctionProps {
  /** Absolute path of the handler module (exports `handler`). */
  readonly entry: string;
  readonly description: string;
  /** POWERTOOLS_SERVICE_NAME: the `service` of every log line and metric. */
  readonly serviceName: string;
  readonly vpc: ec2.IVpc;
  readonly vpcSubnets: ec2.SubnetSelection;
  readonly securityGroup: ec2.ISecurityGroup;
  /** Key of the function's log group. */
  readonly logKey: kms.IKey;
  readonly logRetention: logs.RetentionDays;
  /** Function-specific environment (merged over the Powertools defaults). @default - none */
  readonly environment?: Record<string, string>;
  /** @default 512 */
  readonly memorySize?: number;
  /** @default Duration.seconds(30) */
  readonly timeout?: Duration;
  /**
   * Caps concurrency so a burst of events cannot starve the account or hammer Batch/DynamoDB.
   * @default - unreserved
   */
  readonly reservedConcurrentExecutions?: number;
  /**
   * For asynchronous invocation (EventBridge): events that still fail after `retryAttempts` land here.
   * @default - none (synchronous callers such as API Gateway see the error themselves)
   */
  readonly deadLetterQueue?: sqs.IQueue;
  /** Asynchronous retries by Lambda. @default 2 */
  readonly retryAttempts?: number;
  /** Oldest asynchronous event Lambda still processes. @default Duration.hours(6) */
  readonly maxEventAge?: Duration;
  /** Repository root: where package-lock.json and tsconfig.json are. */
  readonly projectRoot: string;
  /**
   * IAM wildcards the function's grants legitimately carry (X-Ray's `*` is always allowed).
   * @default - none
   */
  readonly wildcardAllowances?: readonly WildcardAllowance[];
}

export class PipelineFunction extends Construct {
  readonly function: nodejs.NodejsFunction;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: PipelineFunctionProps) {
    super(scope, id);
    this.logGroup = new logs.LogGroup(this, "Logs", {
      encryptionKey: props.logKey,
      retention: props.logRetention,
      removalPolicy: RemovalPolicy.RETAIN,
    });

    this.function = new nodejs.NodejsFunction(this, "Function", {
      entry: props.entry,
      handler: "handler",
      description: props.description,
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize ?? 512,
      timeout: props.timeout ?? Duration.seconds(30),
      reservedConcurrentExecutions: props.reservedConcurrentExecutions,
      vpc: props.vpc,
      vpcSubnets: props.vpcSubnets,
      securityGroups: [props.securityGroup],
      tracing: lambda.Tracing.ACTIVE,
      logGroup: this.logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      applicationLogLevelV2: lambda.ApplicationLogLevel.INFO,
      systemLogLevelV2: lambda.SystemLogLevel.WARN,
      deadLetterQueue: props.deadLetterQueue,
      retryAttempts: props.deadLetterQueue ? (props.retryAttempts ?? 2) : undefined,
      maxEventAge: props.deadLetterQueue ? (props.maxEventAge ?? Duration.hours(6)) : undefined,
      projectRoot: props.projectRoot,
      depsLockFilePath: `${props.projectRoot}/package-lock.json`,
      environment: {
        NODE_OPTIONS: "--enable-source-maps",
        POWERTOOLS_SERVICE_NAME: props.serviceName,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        POWERTOOLS_LOG_LEVEL: "INFO",
        // Events carry object keys and principals; the handlers log what they decide, not what they receive.
        POWERTOOLS_LOGGER_LOG_EVENT: "false",
        // Responses hold presigned URLs (bearer credentials for PHI): never copy them into traces.
        POWERTOOLS_TRACER_CAPTURE_RESPONSE: "false",
        ...props.environment,
      },
      bundling: {
        format: nodejs.OutputFormat.ESM,
        target: "node24",
        mainFields: ["module", "main"],
        minify: true,
        sourceMap: true,
        sourcesContent: false,
        // Bundle the AWS SDK too: the project pins its clients (see DESIGN.md §5 on checksum settings).
        bundleAwsSDK: true,
        // ESM output still meets CommonJS dependencies that call require(); give them one.
        banner: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
      },
    });

    const role = this.function.role!;
    for (const policy of ["AWSLambdaBasicExecutionRole", "AWSLambdaVPCAccessExecutionRole"]) {
      acknowledge(
        role,
        `AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/${policy}]`,
        "AWS-maintained Lambda execution policy: CloudWatch Logs delivery and the VPC network interfaces " +
          "Lambda manages for functions in the isolated subnets.",
      );
    }
    acknowledgeGrantPolicies(role);
    allowWildcards(role, [allow.xrayTraces, ...(props.wildcardAllowances ?? [])]);
  }
}
