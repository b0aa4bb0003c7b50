/**
 * A VPC with private isolated subnets only: no internet gateway, no NAT. Batch GPU instances and the Lambdas
 * reach AWS exclusively through VPC endpoints, so study data never crosses the internet and there is no
 * egress path to exfiltrate it. Flow logs go to a KMS-encrypted log group.
 */
import { RemovalPolicy } from "aws-cdk-lib";
import * as ec2 from "aws-cdk-lib/aws-ec2";
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
const INTERFACE_ENDPOINTS: ReadonlyArray<[string, ec2.InterfaceVpcEndpointAwsService]> = [
  ["EcrApi", ec2.InterfaceVpcEndpointAwsService.ECR],
  ["EcrDocker", ec2.InterfaceVpcEndpointAwsService.ECR_DOCKER],
  ["Ecs", ec2.InterfaceVpcEndpointAwsService.ECS],
  ["EcsAgent", ec2.InterfaceVpcEndpointAwsService.ECS_AGENT],
  ["EcsTelemetry", ec2.InterfaceVpcEndpointAwsService.ECS_TELEMETRY],
  ["Logs", ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS],
  ["SecretsManager", ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER],
  ["Batch", ec2.InterfaceVpcEndpointAwsService.BATCH],
];

export class IsolatedNetwork extends Construct {
  readonly vpc: ec2.Vpc;
  /** Shared by all interface endpoints; admits HTTPS only from peers passed to `allowEndpointAccessFrom`. */
  readonly endpointSecurityGroup: ec2.SecurityGroup;
  /** The subnets workloads run in (all of them are isolated). */
  readonly workloadSubnets: ec2.SubnetSelection = { subnetType: ec2.SubnetType.PRIVATE_ISOLATED };

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
      gatewayEndpoints: {
        S3: { service: ec2.GatewayVpcEndpointAwsService.S3 },
        DynamoDB: { service: ec2.GatewayVpcEndpointAwsService.DYNAMODB },
      },
      flowLogs: {
        all: {
          destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogGroup),
          trafficType: ec2.FlowLogTrafficType.ALL,
        },
      },
    });

    this.endpointSecurityGroup = new ec2.SecurityGroup(this, "EndpointSecurityGroup", {
      vpc: this.vpc,
      description: "VPC interface endpoints: HTTPS from the pipeline workloads only",
      allowAllOutbound: false,
    });
    for (const [name, service] of INTERFACE_ENDPOINTS) {
      this.vpc.addInterfaceEndpoint(name, {
        service,
        subnets: this.workloadSubnets,
        privateDnsEnabled: true,
        securityGroups: [this.endpointSecurityGroup],
        open: false,
      });
    }
  }

  /** Let `peer` (a workload's security group) reach the interface endpoints over HTTPS. */
  allowEndpointAccessFrom(peer: ec2.IConnectable, description: string): void {
    this.endpointSecurityGroup.connections.allowFrom(peer, ec2.Port.tcp(443), description);
  }
}
