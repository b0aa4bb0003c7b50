/**
 * A VPC with private isolated subnets only: no internet gateway, no NAT. Batch GPU instances and the Lambdas
 * reach AWS exclusively through VPC endpoints, so study data never crosses the internet. The S3 and DynamoDB
 * gateway endpoints carry policies naming the deployment's own buckets and table (plus ECR's layer bucket),
 * and the interface endpoints whose services take endpoint policies admit this account's principals only:
 * without them an endpoint serves any bucket, log group or secret of any account to whoever holds
 * credentials for it, an egress path for study data. Flow logs go to a KMS-encrypted log group.
 */
import { Aws, RemovalPolicy } from "aws-cdk-lib";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import * as iam from "aws-cdk-lib/aws-iam";
import type * as kms from "aws-cdk-lib/aws-kms";
import * as logs from "aws-cdk-lib/aws-logs";
import { Construct } from "constructs";

export interface IsolatedNetworkProps {
  /**
   * Availability zones; each one carries a copy of every interface endpoint.
   * @default 2
   */
  readonly maxAzs?: number;
  /** Key encrypting the flow-log group. */
  readonly logKey: kms.IKey;
  /** Retention of the flow-log group. */
  readonly logRetention: logs.RetentionDays;
}

/**
 * Interface endpoints and why each is needed. ECR api/dkr + the S3 gateway: image pulls. ECS, ECS agent,
 * ECS telemetry: the ECS agent on Batch instances. Logs: the awslogs driver. Secrets Manager: the UID salt
 * injected at container start. Batch: SubmitJob from the ingest Lambda. No STS endpoint: instances use
 * their instance profile and containers the ECS task-role endpoint, neither calls STS.
 */
const INTERFACE_ENDPOINTS: ReadonlyArray<[string, ec2.InterfaceVpcEndpointAwsService, { policy: boolean }]> =
  [
    ["EcrApi", ec2.InterfaceVpcEndpointAwsService.ECR, { policy: true }],
    ["EcrDocker", ec2.InterfaceVpcEndpointAwsService.ECR_DOCKER, { policy: true }],
    // AWS's ECS guide: "Controlling access to Amazon ECS by attaching an endpoint policy to the VPC endpoint
    // isn't currently supported"; these carry the agent's control traffic only.
    ["Ecs", ec2.InterfaceVpcEndpointAwsService.ECS, { policy: false }],
    ["EcsAgent", ec2.InterfaceVpcEndpointAwsService.ECS_AGENT, { policy: false }],
    ["EcsTelemetry", ec2.InterfaceVpcEndpointAwsService.ECS_TELEMETRY, { policy: false }],
    ["Logs", ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS, { policy: true }],
    ["SecretsManager", ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER, { policy: true }],
    ["Batch", ec2.InterfaceVpcEndpointAwsService.BATCH, { policy: true }],
  ];

export class IsolatedNetwork extends Construct {
  readonly vpc: ec2.Vpc;
  /** Shared by all interface endpoints; admits HTTPS only from peers passed to `allowEndpointAccessFrom`. */
  readonly endpointSecurityGroup: ec2.SecurityGroup;
  /** The subnets workloads run in (all of them are isolated). */
  readonly workloadSubnets: ec2.SubnetSelection = { subnetType: ec2.SubnetType.PRIVATE_ISOLATED };
  /** S3 through the VPC: only what `allowS3` names, and ECR's image layers. */
  readonly s3Endpoint: ec2.GatewayVpcEndpoint;
  /** DynamoDB through the VPC: only the tables `allowDynamoDb` names. */
  readonly dynamoDbEndpoint: ec2.GatewayVpcEndpoint;

  constructor(scope: Construct, id: string, props: IsolatedNetworkProps) {
    super(scope, id);
    const flowLogGroup = new logs.LogGroup(this, "FlowLogs", {
      encryptionKey: props.logKey,
      retention: props.logRetention,
      removalPolicy: RemovalPolicy.RETAIN,
    });

    this.vpc = new ec2.Vpc(this, "Vpc", {
      maxAzs: props.maxAzs ?? 2,
      natGateways: 0,
      subnetConfiguration: [{ name: "isolated", subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 22 }],
      restrictDefaultSecurityGroup: true,
      flowLogs: {
        all: {
          destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogGroup),
          trafficType: ec2.FlowLogTrafficType.ALL,
        },
      },
    });

    // Same construct ids as the Vpc's own `gatewayEndpoints` option used: an existing deployment keeps them.
    this.s3Endpoint = this.vpc.addGatewayEndpoint("S3", { service: ec2.GatewayVpcEndpointAwsService.S3 });
    this.dynamoDbEndpoint = this.vpc.addGatewayEndpoint("DynamoDB", {
      service: ec2.GatewayVpcEndpointAwsService.DYNAMODB,
    });
    // Image pulls fetch layers from ECR's own bucket in the region (AWS: "Amazon ECR interface VPC
    // endpoints", minimum S3 gateway endpoint policy). Its owner is AWS, so no account condition.
    this.s3Endpoint.addToPolicy(
      new iam.PolicyStatement({
        sid: "EcrImageLayers",
        principals: [new iam.AnyPrincipal()],
        actions: ["s3:GetObject"],
        resources: [`arn:${Aws.PARTITION}:s3:::prod-${Aws.REGION}-starport-layer-bucket/*`],
      }),
    );

    this.endpointSecurityGroup = new ec2.SecurityGroup(this, "EndpointSecurityGroup", {
      vpc: this.vpc,
      description: "VPC interface endpoints: HTTPS from the pipeline workloads only",
      allowAllOutbound: false,
    });
    for (const [name, service, { policy }] of INTERFACE_ENDPOINTS) {
      const endpoint = this.vpc.addInterfaceEndpoint(name, {
        service,
        subnets: this.workloadSubnets,
        privateDnsEnabled: true,
        securityGroups: [this.endpointSecurityGroup],
        open: false,
      });
      // Only this account's principals: every workload signs with a role of this account (instance profile,
      // task, execution and Lambda roles), while credentials brought from elsewhere could otherwise reach
      // that account's log groups, secrets or repositories through the endpoint. What each role may do is
      // IAM's business; the endpoint only refuses foreign callers.
      if (policy) endpoint.addToPolicy(ownAccountStatement("OwnAccountPrincipals", ["*"], ["*"]));
    }
  }

  /**
   * Let the workloads reach these S3 resources (bucket and object ARNs) through the VPC, as principals of
   * this account; IAM still decides what each role may do there.
   */
  allowS3(sid: string, resources: string[], actions: string[] = ["s3:*"]): void {
    this.s3Endpoint.addToPolicy(ownAccountStatement(sid, actions, resources));
  }

  /** Let the workloads reach these DynamoDB tables and their indexes through the VPC, as this account. */
  allowDynamoDb(sid: string, tableArns: string[]): void {
    const resources = tableArns.flatMap((arn) => [arn, `${arn}/index/*`]);
    this.dynamoDbEndpoint.addToPolicy(ownAccountStatement(sid, ["dynamodb:*"], resources));
  }

  /** Let `peer` (a workload's security group) reach the interface endpoints over HTTPS. */
  allowEndpointAccessFrom(peer: ec2.IConnectable, description: string): void {
    this.endpointSecurityGroup.connections.allowFrom(peer, ec2.Port.tcp(443), description);
  }
}

function ownAccountStatement(sid: string, actions: string[], resources: string[]): iam.PolicyStatement {
  return new iam.PolicyStatement({
    sid,
    principals: [new iam.AnyPrincipal()],
    actions,
    resources,
    conditions: { StringEquals: { "aws:PrincipalAccount": Aws.ACCOUNT_ID } },
  });
}
