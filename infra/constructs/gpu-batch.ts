/**
 * AWS Batch on GPU instances: managed EC2 compute environments (Spot first, then on-demand, both scaling
 * from zero; Batch moves on to the second when the first is at its maxvCpus, not when Spot is short), one job queue that orders them and cancels jobs stuck RUNNABLE, and the container job
 * definition of the DeepSC-COVID job (one GPU, retried only when the host goes away or the job reports a
 * transient failure with its retryable exit code).
 */
import { Annotations, Duration, Size, Stack } from "aws-cdk-lib";
import * as batch from "aws-cdk-lib/aws-batch";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import * as ecs from "aws-cdk-lib/aws-ecs";
import * as iam from "aws-cdk-lib/aws-iam";
import type * as logs from "aws-cdk-lib/aws-logs";
import { Construct } from "constructs";
import { JOB_ATTEMPTS, RETRYABLE_EXIT_CODES } from "../../gpu-job/job/exit-codes.js";
import { acknowledge } from "../nag.js";
import { JOB_ENV } from "../runtime-contract.js";

/** evaluateOnExit holds 5 conditions: host loss, image pull, these codes, and the final EXIT. */
export const MAX_RETRYABLE_EXIT_CODES = 2;

export interface GpuBatchProps {
  readonly vpc: ec2.IVpc;
  /** Subnets of the instances; isolated subnets need the VPC endpoints of IsolatedNetwork. */
  readonly vpcSubnets: ec2.SubnetSelection;
  /** The job's container image. */
  readonly image: ecs.ContainerImage;
  /** Log group of the job's stdout/stderr. */
  readonly logGroup: logs.ILogGroup;
  /**
   * GPU instance types the compute environments may launch (NVIDIA, x86: ECS_AL2023_NVIDIA supports neither
   * p3/g3, AMD g4ad nor Graviton g5g).
   * @default g6.xlarge, g5.xlarge, g4dn.xlarge
   */
  readonly instanceTypes?: ec2.InstanceType[];
  /**
   * Add a Spot compute environment in front of the on-demand one.
   * @default true
   */
  readonly spot?: boolean;
  /**
   * Maximum vCPUs of each compute environment (bounds cost; 4 vCPUs per xlarge instance).
   * @default 64
   */
  readonly maxvCpus?: number;
  /**
   * vCPUs per job.
   * @default 4
   */
  readonly jobVcpus?: number;
  /**
   * Memory per job; must fit the smallest instance type after the ECS agent's share.
   * @default 14 GiB
   */
  readonly jobMemory?: Size;
  /**
   * Hard limit of one job attempt.
   * @default Duration.minutes(60)
   */
  readonly jobTimeout?: Duration;
  /**
   * Attempts per job (the first run included); retries happen only on host/Spot termination, a failed image
   * pull and the retryable exit codes.
   * @default 3
   */
  readonly retryAttempts?: number;
  /**
   * Further container exit codes meaning "transient, try again", on top of the job's own
   * RETRYABLE_EXIT_CODES (gpu-job/job/exit-codes.ts: 75, EX_TEMPFAIL), which are always retried; at most
   * MAX_RETRYABLE_EXIT_CODES (2) codes in all.
   * @default - none besides the job's own
   */
  readonly retryableExitCodes?: number[];
  /**
   * Jobs waiting this long in RUNNABLE because no GPU capacity can be launched are cancelled, so the
   * queue moves on and the study is reported FAILED instead of waiting forever.
   * @default Duration.minutes(30)
   */
  readonly runnableTimeout?: Duration;
  /**
   * Jobs RUNNABLE because no compute environment can ever fit them (misconfiguration) are cancelled after this.
   * @default Duration.minutes(10)
   */
  readonly misconfiguredTimeout?: Duration;
  /**
   * Root EBS volume of each instance (gp3, encrypted): the AMI, the image layers and the job's scratch space.
   * @default Size.gibibytes(100)
   */
  readonly rootVolumeSize?: Size;
  /** Plain environment of the container. @default - none */
  readonly environment?: Record<string, string>;
  /** Secrets injected at container start. @default - none */
  readonly secrets?: Record<string, batch.Secret>;
}

/** Instance families ECS_AL2023_NVIDIA cannot run (old NVIDIA generations, AMD GPUs, Graviton). */
const UNSUPPORTED_FAMILIES = new Set(["g2", "g3", "g3s", "p2", "p3", "p3dn", "g4ad", "g5g"]);
/** NVIDIA x86 families and their memory per vCPU (GiB), for the job-size check. */
const GIB_PER_VCPU: Readonly<Record<string, number>> = { g4dn: 4, g5: 4, g6: 4, g6e: 8, gr6: 8 };
const VCPUS_BY_SIZE: Readonly<Record<string, number>> = {
  xlarge: 4,
  "2xlarge": 8,
  "4xlarge": 16,
  "8xlarge": 32,
  "12xlarge": 48,
  "16xlarge": 64,
  "24xlarge": 96,
  "48xlarge": 192,
};
/** Memory the ECS agent and the OS keep for themselves on a GPU instance (what ECS registers is less than physical). */
const HOST_RESERVED_MIB = 1024;

export const DEFAULT_INSTANCE_TYPES = ["g6.xlarge", "g5.xlarge", "g4dn.xlarge"];

export class GpuBatch extends Construct implements ec2.IConnectable {
  /** The instances' security group (no inbound). */
  readonly connections: ec2.Connections;
  readonly jobQueue: batch.JobQueue;
  readonly jobDefinition: batch.EcsJobDefinition;
  /** Role the job's container runs as: grant it data access. */
  readonly jobRole: iam.Role;
  /** Role ECS uses to start the container (image pull, logs, secrets). */
  readonly executionRole: iam.IRole;
  readonly computeEnvironments: batch.ManagedEc2EcsComputeEnvironment[];
  readonly instanceTypes: readonly string[];

  constructor(scope: Construct, id: string, props: GpuBatchProps) {
    super(scope, id);
    const instanceTypes = props.instanceTypes ?? DEFAULT_INSTANCE_TYPES.map((t) => new ec2.InstanceType(t));
    this.instanceTypes = instanceTypes.map((t) => t.toString());
    const jobVcpus = props.jobVcpus ?? 4;
    const jobMemory = props.jobMemory ?? Size.gibibytes(14);
    // The job's contract first, then whatever the deployment adds; each code once.
    const retryableExitCodes = [...new Set([...RETRYABLE_EXIT_CODES, ...(props.retryableExitCodes ?? [])])];
    this.node.addValidation({
      validate: () => validateGpuSizing(this.instanceTypes, jobVcpus, jobMemory, retryableExitCodes, this),
    });

    const launchTemplate = new ec2.LaunchTemplate(this, "LaunchTemplate", {
      requireImdsv2: true,
      // Hop limit 1: job containers (bridge network, one hop further) cannot reach the instance's credentials;
      // they get the job role from the ECS agent instead.
      httpPutResponseHopLimit: 1,
      blockDevices: [
        {
          deviceName: "/dev/xvda",
          volume: ec2.BlockDeviceVolume.ebs((props.rootVolumeSize ?? Size.gibibytes(100)).toGibibytes(), {
            volumeType: ec2.EbsDeviceVolumeType.GP3,
            encrypted: true,
            deleteOnTermination: true,
          }),
        },
      ],
    });

    const securityGroup = new ec2.SecurityGroup(this, "InstanceSecurityGroup", {
      vpc: props.vpc,
      description: "Batch GPU instances: no inbound; outbound only reaches VPC endpoints (isolated subnets)",
      allowAllOutbound: true,
    });
    this.connections = securityGroup.connections;

    const common = {
      vpc: props.vpc,
      vpcSubnets: props.vpcSubnets,
      securityGroups: [securityGroup],
      instanceTypes,
      useOptimalInstanceClasses: false,
      images: [{ imageType: batch.EcsMachineImageType.ECS_AL2023_NVIDIA }],
      minvCpus: 0,
      maxvCpus: props.maxvCpus ?? 64,
      launchTemplate,
      replaceComputeEnvironment: false,
    };
    const onDemand = new batch.ManagedEc2EcsComputeEnvironment(this, "OnDemand", {
      ...common,
      spot: false,
      allocationStrategy: batch.AllocationStrategy.BEST_FIT_PROGRESSIVE,
    });
    const ordered: batch.OrderedComputeEnvironment[] = [];
    this.computeEnvironments = [];
    if (props.spot ?? true) {
      const spot = new batch.ManagedEc2EcsComputeEnvironment(this, "Spot", {
        ...common,
        spot: true,
        allocationStrategy: batch.AllocationStrategy.SPOT_PRICE_CAPACITY_OPTIMIZED,
      });
      ordered.push({ computeEnvironment: spot, order: 1 });
      this.computeEnvironments.push(spot);
    }
    ordered.push({ computeEnvironment: onDemand, order: ordered.length + 1 });
    this.computeEnvironments.push(onDemand);

    for (const ce of this.computeEnvironments) {
      acknowledge(
        ce,
        "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role]",
        "The ECS agent on Batch container instances needs exactly this AWS-maintained policy to register and poll.",
      );
    }

    const runnable = props.runnableTimeout ?? Duration.minutes(30);
    const misconfigured = props.misconfiguredTimeout ?? Duration.minutes(10);
    const cancelWhenStuck = (maxTime: Duration, reason: batch.JobStateTimeLimitActionsReason) => ({
      action: batch.JobStateTimeLimitActionsAction.CANCEL,
      state: batch.JobStateTimeLimitActionsState.RUNNABLE,
      maxTime,
      reason,
    });
    this.jobQueue = new batch.JobQueue(this, "JobQueue", {
      computeEnvironments: ordered,
      priority: 1,
      jobStateTimeLimitActions: [
        cancelWhenStuck(runnable, batch.JobStateTimeLimitActionsReason.INSUFFICIENT_INSTANCE_CAPACITY),
        cancelWhenStuck(misconfigured, batch.JobStateTimeLimitActionsReason.COMPUTE_ENVIRONMENT_MAX_RESOURCE),
        cancelWhenStuck(misconfigured, batch.JobStateTimeLimitActionsReason.JOB_RESOURCE_REQUIREMENT),
      ],
    });

    this.jobRole = new iam.Role(this, "JobRole", {
      assumedBy: new iam.ServicePrincipal("ecs-tasks.amazonaws.com"),
      description: "DeepSC-COVID Batch job: reads uploads, writes results",
    });

    const scratch = "/scratch";
    const container = new batch.EcsEc2ContainerDefinition(this, "Container", {
      image: props.image,
      cpu: jobVcpus,
      memory: jobMemory,
      gpu: 1,
      jobRole: this.jobRole,
      logging: ecs.LogDriver.awsLogs({ logGroup: props.logGroup, streamPrefix: "gpu-job" }),
      // Only the scratch volume is writable: a compromised decoder cannot alter the image's code or model.
      readonlyRootFilesystem: true,
      volumes: [batch.EcsVolume.host({ name: "scratch", containerPath: scratch })],
      linuxParameters: new batch.LinuxParameters(this, "LinuxParameters", {
        // An init process forwards SIGTERM (Spot reclaim, timeout) so the job can stop cleanly.
        initProcessEnabled: true,
        sharedMemorySize: Size.gibibytes(2),
      }),
      environment: {
        ...props.environment,
        [JOB_ENV.scratchDir]: scratch,
        [JOB_ENV.attempts]: String(props.retryAttempts ?? JOB_ATTEMPTS),
      },
      secrets: props.secrets,
    });

    this.executionRole = container.executionRole;

    this.jobDefinition = new batch.EcsJobDefinition(this, "JobDefinition", {
      container,
      timeout: props.jobTimeout ?? Duration.minutes(60),
      retryAttempts: props.retryAttempts ?? JOB_ATTEMPTS,
      // Batch evaluates these in order and the first match wins; without the final EXIT an unmatched
      // failure would be retried.
      retryStrategies: [
        batch.RetryStrategy.of(batch.Action.RETRY, batch.Reason.SPOT_INSTANCE_RECLAIMED),
        // The image pull failing at start-up (ECR throttling when a burst starts many instances at once) is
        // transient too; nothing of the job ran.
        batch.RetryStrategy.of(batch.Action.RETRY, batch.Reason.CANNOT_PULL_CONTAINER),
        ...retryableExitCodes.map((code) =>
          batch.RetryStrategy.of(batch.Action.RETRY, batch.Reason.custom({ onExitCode: String(code) })),
        ),
        batch.RetryStrategy.of(batch.Action.EXIT, batch.Reason.custom({ onReason: "*" })),
      ],
      propagateTags: true,
    });
  }

  /**
   * Allow `grantee` to submit jobs of this definition to this queue (and nothing else). SubmitJob with
   * `tags` is also authorized as batch:TagResource on the new job, whose id is not known in advance.
   */
  grantSubmitJob(grantee: iam.IGrantable): iam.Grant {
    this.jobDefinition.grantSubmitJob(grantee, this.jobQueue);
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ["batch:TagResource"],
      resourceArns: [Stack.of(this).formatArn({ service: "batch", resource: "job", resourceName: "*" })],
    });
  }

  /**
   * Allow `grantee` to look jobs up by name (an idempotent submitter checks before submitting twice).
   * batch:ListJobs supports no resource-level permissions, so AWS requires `*`.
   */
  grantListJobs(grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({ grantee, actions: ["batch:ListJobs"], resourceArns: ["*"] });
  }
}

/**
 * Synth-time checks that would otherwise surface as jobs stuck RUNNABLE forever or instances that never
 * join the cluster. Unknown families only warn, so new GPU generations can be used before this table knows them.
 */
function validateGpuSizing(
  instanceTypes: readonly string[],
  jobVcpus: number,
  jobMemory: Size,
  retryableExitCodes: readonly number[],
  scope: Construct,
): string[] {
  const errors: string[] = [];
  if (instanceTypes.length === 0) errors.push("at least one GPU instance type is required");
  const memoryMib = jobMemory.toMebibytes();
  for (const type of instanceTypes) {
    const [family = "", size = ""] = type.split(".");
    if (UNSUPPORTED_FAMILIES.has(family)) {
      errors.push(`${type}: ECS_AL2023_NVIDIA does not support the ${family} family`);
      continue;
    }
    const gibPerVcpu = GIB_PER_VCPU[family];
    const vcpus = VCPUS_BY_SIZE[size];
    if (gibPerVcpu === undefined || vcpus === undefined) {
      if (!/^[gp]\d/.test(family)) errors.push(`${type} is not a GPU instance type`);
      else
        Annotations.of(scope).addWarningV2(
          "deepsc:unknown-gpu-instance",
          `${type}: sizing not checked (unknown family or size); make sure ${jobVcpus} vCPU / ${memoryMib} MiB and 1 NVIDIA GPU fit`,
        );
      continue;
    }
    const usableMib = vcpus * gibPerVcpu * 1024 - HOST_RESERVED_MIB;
    if (jobVcpus > vcpus) errors.push(`${type} has ${vcpus} vCPUs, the job asks for ${jobVcpus}`);
    if (memoryMib > usableMib)
      errors.push(`${type} offers about ${usableMib} MiB to jobs, the job asks for ${memoryMib}`);
  }
  if (retryableExitCodes.length > MAX_RETRYABLE_EXIT_CODES) {
    errors.push(
      `at most ${MAX_RETRYABLE_EXIT_CODES} retryable exit codes (Batch allows 5 evaluateOnExit conditions: host loss, image pull, the codes, the final EXIT)`,
    );
  }
  for (const code of retryableExitCodes) {
    if (!Number.isInteger(code) || code < 1 || code > 255)
      errors.push(`retryable exit code ${code} is not 1..255`);
  }
  return errors;
}
