/**
 * GPU Batch as synthesized by the real app: compute environments, queue ordering and stuck-job actions,
 * the job definition (1 GPU, retry only on host/Spot loss and the job's EX_TEMPFAIL, timeout), and the
 * launch template. Plus the construct's synth-time validation, on a bare stack.
 */
import { App, Size, Stack } from "aws-cdk-lib";
import { Match } from "aws-cdk-lib/assertions";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import * as ecs from "aws-cdk-lib/aws-ecs";
import * as logs from "aws-cdk-lib/aws-logs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXIT_CODES } from "../../gpu-job/job/exit-codes.js";
import { GpuBatch } from "../../infra/constructs/gpu-batch.js";
import { at, resourcesOf, type SynthesizedApp, synthDeepscApp } from "./synth-app.js";

type Props = Record<string, unknown>;

describe("GPU Batch in the synthesized pipeline (defaults)", () => {
  let s: SynthesizedApp;
  beforeAll(() => {
    s = synthDeepscApp();
  });
  afterAll(() => s.cleanup());

  it("has a Spot and an on-demand compute environment with exactly the default GPU types and AL2023 NVIDIA", () => {
    const ces = Object.values(resourcesOf(s.pipeline, "AWS::Batch::ComputeEnvironment"));
    expect(ces).toHaveLength(2);
    const byType = new Map(
      ces.map((ce) => [at<Props>(ce, "Properties.ComputeResources").Type, ce.Properties]),
    );
    expect([...byType.keys()].sort()).toEqual(["EC2", "SPOT"]);
    for (const props of byType.values()) {
      const cr = props?.ComputeResources as Props;
      // No "optimal": useOptimalInstanceClasses is off, only the listed GPU types can launch.
      expect(cr.InstanceTypes).toEqual(["g6.xlarge", "g5.xlarge", "g4dn.xlarge"]);
      expect(cr.Ec2Configuration).toEqual([{ ImageType: "ECS_AL2023_NVIDIA" }]);
      expect(cr.MinvCpus).toBe(0);
      expect(cr.MaxvCpus).toBe(64);
      expect(cr.LaunchTemplate).toEqual({ LaunchTemplateId: { Ref: expect.any(String) } });
      expect(props?.Type).toBe("managed");
    }
    expect(at<Props>(byType.get("SPOT"), "ComputeResources").AllocationStrategy).toBe(
      "SPOT_PRICE_CAPACITY_OPTIMIZED",
    );
    expect(at<Props>(byType.get("EC2"), "ComputeResources").AllocationStrategy).toBe("BEST_FIT_PROGRESSIVE");
  });

  it("orders Spot before on-demand in one queue and cancels jobs stuck RUNNABLE", () => {
    const ces = resourcesOf(s.pipeline, "AWS::Batch::ComputeEnvironment");
    const spotId = Object.keys(ces).find(
      (k) => at<Props>(ces[k], "Properties.ComputeResources").Type === "SPOT",
    );
    const onDemandId = Object.keys(ces).find(
      (k) => at<Props>(ces[k], "Properties.ComputeResources").Type === "EC2",
    );
    s.pipeline.resourceCountIs("AWS::Batch::JobQueue", 1);
    s.pipeline.hasResourceProperties("AWS::Batch::JobQueue", {
      ComputeEnvironmentOrder: [
        { ComputeEnvironment: { "Fn::GetAtt": [spotId, "ComputeEnvironmentArn"] }, Order: 1 },
        { ComputeEnvironment: { "Fn::GetAtt": [onDemandId, "ComputeEnvironmentArn"] }, Order: 2 },
      ],
      JobStateTimeLimitActions: [
        {
          Action: "CANCEL",
          State: "RUNNABLE",
          MaxTimeSeconds: 1800,
          Reason: "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY",
        },
        {
          Action: "CANCEL",
          State: "RUNNABLE",
          MaxTimeSeconds: 600,
          Reason: "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE",
        },
        {
          Action: "CANCEL",
          State: "RUNNABLE",
          MaxTimeSeconds: 600,
          Reason: "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT",
        },
      ],
    });
  });

  it("defines the job with 1 GPU, 4 vCPU, 14 GiB, retries on host loss and EX_TEMPFAIL only, 3 attempts and a 60 min timeout", () => {
    s.pipeline.resourceCountIs("AWS::Batch::JobDefinition", 1);
    s.pipeline.hasResourceProperties("AWS::Batch::JobDefinition", {
      Type: "container",
      PlatformCapabilities: ["EC2"],
      ContainerProperties: Match.objectLike({
        ResourceRequirements: [
          { Type: "MEMORY", Value: "14336" },
          { Type: "VCPU", Value: "4" },
          { Type: "GPU", Value: "1" },
        ],
        ReadonlyRootFilesystem: true,
        LinuxParameters: Match.objectLike({ InitProcessEnabled: true }),
        LogConfiguration: Match.objectLike({ LogDriver: "awslogs" }),
        Secrets: [{ Name: "DEEPSC_UID_SALT", ValueFrom: Match.anyValue() }],
      }),
      // Order matters: Batch takes the first matching condition, and an unmatched failure would be retried.
      RetryStrategy: {
        Attempts: 3,
        EvaluateOnExit: [
          { Action: "RETRY", OnStatusReason: "Host EC2*" },
          // ECR throttling a burst of instances pulling the image at once: nothing of the job ran.
          { Action: "RETRY", OnReason: "CannotPullContainerError:*" },
          // The job's transient-failure code (gpu-job/job/exit-codes.ts), retried without any context.
          { Action: "RETRY", OnExitCode: String(EXIT_CODES.TEMPORARY_FAILURE) },
          { Action: "EXIT", OnReason: "*" },
        ],
      },
      Timeout: { AttemptDurationSeconds: 3600 },
    });
  });

  it("passes the buckets, model location, CUDA provider and attempts to the container", () => {
    const [jobDef] = Object.values(resourcesOf(s.pipeline, "AWS::Batch::JobDefinition"));
    const env = (
      at<Props>(jobDef, "Properties.ContainerProperties").Environment as { Name: string; Value: unknown }[]
    )
      .map((e) => e.Name)
      .sort();
    expect(env).toEqual(
      [
        "AWS_REGION",
        "DEEPSC_EXECUTION_PROVIDER",
        "DEEPSC_JOB_ATTEMPTS",
        "DEEPSC_MODEL_URI",
        "INGEST_BUCKET_NAME",
        "RESULTS_BUCKET_NAME",
        "TMPDIR",
      ].sort(),
    );
    // The job's own count of attempts is the job definition's (its last one writes failure.json).
    const value = (name: string) =>
      (
        at<Props>(jobDef, "Properties.ContainerProperties").Environment as { Name: string; Value: unknown }[]
      ).find((e) => e.Name === name)?.Value;
    expect(value("DEEPSC_JOB_ATTEMPTS")).toBe(
      String(at<number>(jobDef, "Properties.RetryStrategy.Attempts")),
    );
  });

  it("launches instances with IMDSv2 required (hop limit 1) and an encrypted gp3 root volume", () => {
    s.pipeline.hasResourceProperties("AWS::EC2::LaunchTemplate", {
      LaunchTemplateData: Match.objectLike({
        MetadataOptions: { HttpTokens: "required", HttpPutResponseHopLimit: 1 },
        BlockDeviceMappings: [
          {
            DeviceName: "/dev/xvda",
            Ebs: { Encrypted: true, VolumeType: "gp3", VolumeSize: 100, DeleteOnTermination: true },
          },
        ],
      }),
    });
  });

  it("runs everything in isolated subnets: no internet or NAT gateway, endpoints for ECR, ECS, Logs, S3", () => {
    s.pipeline.resourceCountIs("AWS::EC2::InternetGateway", 0);
    s.pipeline.resourceCountIs("AWS::EC2::NatGateway", 0);
    const services = Object.values(resourcesOf(s.pipeline, "AWS::EC2::VPCEndpoint")).map((e) =>
      JSON.stringify(e.Properties?.ServiceName),
    );
    for (const svc of [
      ".ecr.api",
      ".ecr.dkr",
      '.ecs"',
      ".ecs-agent",
      ".ecs-telemetry",
      ".logs",
      ".s3",
      ".dynamodb",
    ]) {
      expect(
        services.some((n) => n.includes(svc)),
        `endpoint ${svc}`,
      ).toBe(true);
    }
  });
});

describe("GPU Batch with context overrides", () => {
  let s: SynthesizedApp;
  beforeAll(() => {
    // As `-c spot=false -c gpuInstanceTypes=g6e.xlarge,g5.2xlarge -c retryableExitCodes=75,76` would pass them.
    s = synthDeepscApp({
      spot: "false",
      gpuInstanceTypes: "g6e.xlarge,g5.2xlarge",
      retryableExitCodes: "75,76",
      jobTimeoutMinutes: "90",
      stuckRunnableMinutes: "45",
    });
  });
  afterAll(() => s.cleanup());

  it("has only the on-demand environment, with the configured instance types", () => {
    const ces = Object.values(resourcesOf(s.pipeline, "AWS::Batch::ComputeEnvironment"));
    expect(ces).toHaveLength(1);
    const cr = ces[0]?.Properties?.ComputeResources as Props;
    expect(cr.Type).toBe("EC2");
    expect(cr.InstanceTypes).toEqual(["g6e.xlarge", "g5.2xlarge"]);
    s.pipeline.hasResourceProperties("AWS::Batch::JobQueue", {
      ComputeEnvironmentOrder: [Match.objectLike({ Order: 1 })],
      JobStateTimeLimitActions: Match.arrayWith([Match.objectLike({ MaxTimeSeconds: 2700 })]),
    });
  });

  it("retries the configured exit codes (the job's own once) before the final EXIT, with the configured timeout", () => {
    s.pipeline.hasResourceProperties("AWS::Batch::JobDefinition", {
      RetryStrategy: {
        Attempts: 3,
        EvaluateOnExit: [
          { Action: "RETRY", OnStatusReason: "Host EC2*" },
          { Action: "RETRY", OnReason: "CannotPullContainerError:*" },
          { Action: "RETRY", OnExitCode: "75" },
          { Action: "RETRY", OnExitCode: "76" },
          { Action: "EXIT", OnReason: "*" },
        ],
      },
      Timeout: { AttemptDurationSeconds: 5400 },
    });
  });
});

describe("GpuBatch synth-time validation", () => {
  function gpuBatchErrors(props: Partial<ConstructorParameters<typeof GpuBatch>[2]>): string[] {
    const app = new App();
    const stack = new Stack(app, "T");
    const vpc = new ec2.Vpc(stack, "Vpc", { natGateways: 0 });
    const batch = new GpuBatch(stack, "Gpu", {
      vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      image: ecs.ContainerImage.fromRegistry("example/deepsc:1"),
      logGroup: new logs.LogGroup(stack, "Logs"),
      ...props,
    });
    return batch.node.validate();
  }

  it("accepts the defaults", () => {
    expect(gpuBatchErrors({})).toEqual([]);
  });

  it("rejects families ECS_AL2023_NVIDIA cannot run and non-GPU types", () => {
    const errors = gpuBatchErrors({
      instanceTypes: ["p3.2xlarge", "g4ad.xlarge", "g5g.xlarge", "m5.xlarge"].map(
        (t) => new ec2.InstanceType(t),
      ),
    });
    expect(errors).toEqual([
      "p3.2xlarge: ECS_AL2023_NVIDIA does not support the p3 family",
      "g4ad.xlarge: ECS_AL2023_NVIDIA does not support the g4ad family",
      "g5g.xlarge: ECS_AL2023_NVIDIA does not support the g5g family",
      "m5.xlarge is not a GPU instance type",
    ]);
  });

  it("rejects a job that cannot fit the smallest instance (it would sit RUNNABLE forever)", () => {
    expect(gpuBatchErrors({ jobMemory: Size.gibibytes(16) })).toEqual([
      "g6.xlarge offers about 15360 MiB to jobs, the job asks for 16384",
      "g5.xlarge offers about 15360 MiB to jobs, the job asks for 16384",
      "g4dn.xlarge offers about 15360 MiB to jobs, the job asks for 16384",
    ]);
    expect(gpuBatchErrors({ jobVcpus: 8, instanceTypes: [new ec2.InstanceType("g5.xlarge")] })).toEqual([
      "g5.xlarge has 4 vCPUs, the job asks for 8",
    ]);
    // A larger size of the same family fits.
    expect(gpuBatchErrors({ jobVcpus: 8, instanceTypes: [new ec2.InstanceType("g5.2xlarge")] })).toEqual([]);
  });

  it("limits retryable exit codes to what evaluateOnExit can hold", () => {
    const tooMany =
      "at most 2 retryable exit codes (Batch allows 5 evaluateOnExit conditions: host loss, image pull, the codes, the final EXIT)";
    expect(gpuBatchErrors({ retryableExitCodes: [75, 76, 77] })).toEqual([tooMany]);
    expect(gpuBatchErrors({ retryableExitCodes: [0] })).toEqual(["retryable exit code 0 is not 1..255"]);
    // The job's own code counts: two more would make three.
    expect(gpuBatchErrors({ retryableExitCodes: [76, 77] })).toEqual([tooMany]);
    expect(gpuBatchErrors({ retryableExitCodes: [75, 76] })).toEqual([]);
  });
});
