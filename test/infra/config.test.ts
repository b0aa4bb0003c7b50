/** Reading the deployment configuration from CDK context: typed cdk.json values and `-c key=value` strings. */
import { describe, expect, it } from "vitest";
import { ConfigError, parsePipelineConfig } from "../../infra/config.js";

const parse = (ctx: Record<string, unknown>) => parsePipelineConfig((key) => ctx[key]);

describe("parsePipelineConfig", () => {
  it("has documented defaults", () => {
    expect(parse({})).toEqual({
      namePrefix: "deepsc",
      gpuInstanceTypes: ["g6.xlarge", "g5.xlarge", "g4dn.xlarge"],
      spot: true,
      maxvCpus: 64,
      modelUri: "image",
      tenants: [],
      retentionDays: 30,
      logRetentionDays: 365,
      jobTimeoutMinutes: 60,
      stuckRunnableMinutes: 30,
      retryableExitCodes: [],
      maxAzs: 2,
      apiGatewayCloudWatchRole: true,
    });
  });

  it("reads -c strings as booleans, numbers and lists", () => {
    const c = parse({
      spot: "false",
      maxvCpus: "128",
      gpuInstanceTypes: "g6e.xlarge, g5.2xlarge",
      retryableExitCodes: "75,76",
      retentionDays: "7",
      apiGatewayCloudWatchRole: "false",
      modelUri: "s3://deepsc-models/v1/model.json",
      alarmEmail: "ops@example.org",
    });
    expect(c.spot).toBe(false);
    expect(c.maxvCpus).toBe(128);
    expect(c.gpuInstanceTypes).toEqual(["g6e.xlarge", "g5.2xlarge"]);
    expect(c.retryableExitCodes).toEqual([75, 76]);
    expect(c.retentionDays).toBe(7);
    expect(c.apiGatewayCloudWatchRole).toBe(false);
    expect(c.modelUri).toBe("s3://deepsc-models/v1/model.json");
    expect(c.alarmEmail).toBe("ops@example.org");
  });

  it("accepts typed values from cdk.json", () => {
    const c = parse({ spot: false, gpuInstanceTypes: ["g5.xlarge"], retentionDays: 14 });
    expect([c.spot, c.gpuInstanceTypes, c.retentionDays]).toEqual([false, ["g5.xlarge"], 14]);
  });

  it("reads tenants in the short form and as JSON", () => {
    expect(
      parse({ tenants: "hospital-a=111122223333,clinic-b=arn:aws:iam::444455556666:role/x" }).tenants,
    ).toEqual([
      { id: "hospital-a", principals: ["111122223333"] },
      { id: "clinic-b", principals: ["arn:aws:iam::444455556666:role/x"] },
    ]);
    const json = '[{"id":"h1","principals":["111122223333"],"externalId":"secret-ext"}]';
    expect(parse({ tenants: json }).tenants).toEqual([
      { id: "h1", principals: ["111122223333"], externalId: "secret-ext" },
    ]);
  });

  it.each([
    [{ tenants: "Hospital_A=111122223333" }, /tenants\.0\.id: tenant id must match/],
    [{ tenants: "hospital-a" }, /tenants\.0\.principals/],
    [{ tenants: "a=1234" }, /principal must be a 12-digit account id or an IAM ARN/],
    [{ tenants: "a=111122223333,a=444455556666" }, /duplicate tenant id "a"/],
    [{ logRetentionDays: "100" }, /logRetentionDays must be one of/],
    [{ alarmEmail: "not-an-email" }, /-c alarmEmail/],
    [{ spot: "maybe" }, /-c spot/],
    [{ gpuInstanceTypes: "" }, /-c gpuInstanceTypes/],
    [{ gpuInstanceTypes: "g5 xlarge" }, /not an EC2 instance type/],
    [
      { modelUri: "https://example.org/model.json" },
      /modelUri must be "image" or s3:\/\/bucket\/key\/model.json/,
    ],
    [{ modelUri: "s3://deepsc-models/v2/" }, /modelUri must be "image" or s3:\/\/bucket\/key\/model.json/],
    [{ namePrefix: "Deep" }, /namePrefix must match/],
    [{ maxvCpus: "2" }, /-c maxvCpus/],
  ])("rejects %j naming the key", (ctx, message) => {
    expect(() => parse(ctx)).toThrow(ConfigError);
    expect(() => parse(ctx)).toThrow(message);
  });

  it("reports broken JSON as a ConfigError", () => {
    expect(() => parse({ tenants: "[{" })).toThrow(ConfigError);
  });
});
