/**
 * The event-driven and API side of the pipeline stack: EventBridge rules with bounded retries and DLQs,
 * the Lambdas (VPC, tracing, DLQ, concurrency, Powertools env), the status API (every method AWS_IAM,
 * validated, throttled, logged, behind WAF), tenant roles, and the alarms.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Match } from "aws-cdk-lib/assertions";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProblemSchema } from "../../core/contracts/study.js";
import { modelIdentity } from "../../gpu-job/pipeline/model/model-manifest.js";
import { at, resourcesOf, type SynthesizedApp, synthDeepscApp } from "./synth-app.js";

type Props = Record<string, unknown>;
type Statement = { Effect: string; Action: string | string[]; Resource: unknown; Condition?: Props };

function statementsOfRole(s: SynthesizedApp, roleId: string): Statement[] {
  return Object.values(resourcesOf(s.pipeline, "AWS::IAM::Policy"))
    .filter((p) => JSON.stringify(p.Properties?.Roles).includes(`"${roleId}"`))
    .flatMap((p) => at<{ Statement: Statement[] }>(p, "Properties.PolicyDocument").Statement);
}

function functionByService(s: SynthesizedApp, service: string): [string, Props] {
  const entry = Object.entries(resourcesOf(s.pipeline, "AWS::Lambda::Function")).find(
    ([, f]) =>
      (f.Properties?.Environment as { Variables?: Props } | undefined)?.Variables?.POWERTOOLS_SERVICE_NAME ===
      service,
  );
  if (!entry) throw new Error(`no function for ${service}`);
  return [entry[0], entry[1].Properties ?? {}];
}

describe("pipeline stack services", () => {
  let s: SynthesizedApp;
  beforeAll(() => {
    s = synthDeepscApp({
      tenants: JSON.stringify([
        { id: "hospital-a", principals: ["111122223333"], externalId: "ext-a-123" },
        { id: "clinic-b", principals: ["arn:aws:iam::444455556666:role/integrator"] },
      ]),
      alarmEmail: "ops@example.org",
    });
  });
  afterAll(() => s.cleanup());

  describe("EventBridge rules", () => {
    const rules = () =>
      Object.values(resourcesOf(s.pipeline, "AWS::Events::Rule")).map((r) => r.Properties ?? {});

    it("routes S3 Object Created of what can start a study (any case) in the ingest bucket to the ingest Lambda", () => {
      const [ingestId] = functionByService(s, "deepsc-ingest");
      const rule = rules().find((r) => JSON.stringify(r.EventPattern).includes("aws.s3"));
      expect(rule?.EventPattern).toEqual({
        source: ["aws.s3"],
        "detail-type": ["Object Created"],
        detail: {
          bucket: { name: [expect.anything()] },
          object: {
            key: [".zip", ".nii", ".nii.gz", "/manifest.json"].map((suffix) => ({
              suffix: { "equals-ignore-case": suffix },
            })),
          },
        },
      });
      expect(rule?.Targets).toEqual([
        expect.objectContaining({
          Arn: { "Fn::GetAtt": [ingestId, "Arn"] },
          DeadLetterConfig: {
            Arn: { "Fn::GetAtt": [expect.stringMatching(/^IngestDeadLetterQueue/), "Arn"] },
          },
          RetryPolicy: { MaximumRetryAttempts: 3, MaximumEventAgeInSeconds: 7200 },
        }),
      ]);
    });

    it("outputs each event function and its dead-letter queue, for the replay runbook (infra/README.md)", () => {
      const outputs = s.pipeline.toJSON().Outputs as Record<string, { Value: unknown }>;
      for (const [name, service] of [
        ["Ingest", "deepsc-ingest"],
        ["JobEvents", "deepsc-job-events"],
      ] as const) {
        const [fnId] = functionByService(s, service);
        expect(outputs[`${name}FunctionName`]?.Value).toEqual({ Ref: fnId });
        expect(outputs[`${name}DeadLetterQueueUrl`]?.Value).toEqual({
          Ref: expect.stringMatching(new RegExp(`^${name}DeadLetterQueue`)),
        });
      }
      const runbook = readFileSync(join(import.meta.dirname, "../../infra/README.md"), "utf8");
      expect(runbook).toContain("out IngestDeadLetterQueueUrl");
      expect(runbook).toContain("out IngestFunctionName");
    });

    it("routes Batch Job State Change of this queue (only) to the job-events Lambda", () => {
      const [jobEventsId] = functionByService(s, "deepsc-job-events");
      const [queueId] = Object.keys(resourcesOf(s.pipeline, "AWS::Batch::JobQueue"));
      const rule = rules().find((r) => JSON.stringify(r.Targets).includes(`"${jobEventsId}"`));
      expect(rule?.EventPattern).toEqual({
        source: ["aws.batch"],
        "detail-type": ["Batch Job State Change"],
        detail: { jobQueue: [{ "Fn::GetAtt": [queueId, "JobQueueArn"] }] },
      });
      expect(rule?.Targets).toEqual([
        expect.objectContaining({
          DeadLetterConfig: {
            Arn: { "Fn::GetAtt": [expect.stringMatching(/^JobEventsDeadLetterQueue/), "Arn"] },
          },
          RetryPolicy: { MaximumRetryAttempts: 3, MaximumEventAgeInSeconds: 7200 },
        }),
      ]);
    });

    it("matches failed and stuck-RUNNABLE jobs for the alarms", () => {
      const failed = rules().filter((r) => JSON.stringify(r.EventPattern).includes('"FAILED"'));
      expect(failed).toHaveLength(2);
      expect(failed.map((r) => (r.EventPattern as { detail: Props }).detail.statusReason)).toContainEqual([
        { prefix: "Canceled by JobStateTimeLimit action" },
      ]);
    });

    it("keeps dead letters 14 days, KMS-encrypted and TLS-only", () => {
      const queues = resourcesOf(s.pipeline, "AWS::SQS::Queue");
      expect(Object.keys(queues)).toHaveLength(2);
      for (const q of Object.values(queues)) {
        expect(q.Properties?.KmsMasterKeyId).toEqual({
          "Fn::GetAtt": [expect.stringMatching(/^OpsKey/), "Arn"],
        });
        expect(q.Properties?.MessageRetentionPeriod).toBe(1_209_600);
      }
      for (const p of Object.values(resourcesOf(s.pipeline, "AWS::SQS::QueuePolicy"))) {
        expect(JSON.stringify(p.Properties?.PolicyDocument)).toContain('"aws:SecureTransport":"false"');
      }
    });
  });

  describe("Lambda functions", () => {
    it.each([
      ["deepsc-ingest", ["GetItem", "PutItem", "UpdateItem"]],
      ["deepsc-job-events", ["GetItem", "UpdateItem"]],
      ["deepsc-status-api", ["GetItem", "Query"]],
    ])("%s may make only the studies-table calls its code makes: %j", (service, calls) => {
      const [, fn] = functionByService(s, service);
      const roleId = (fn.Role as { "Fn::GetAtt": string[] })["Fn::GetAtt"][0]!;
      const actions = statementsOfRole(s, roleId)
        .flatMap((st) => (Array.isArray(st.Action) ? st.Action : [st.Action]))
        .filter((a) => a.startsWith("dynamodb:"));
      expect(actions.sort()).toEqual(calls.map((c) => `dynamodb:${c}`).sort());
    });

    it("reserve the concurrency the deploy prerequisites quote (+ the 100 AWS keeps unreserved)", () => {
      const reserved = Object.values(resourcesOf(s.pipeline, "AWS::Lambda::Function"))
        .map((f) => Number(f.Properties?.ReservedConcurrentExecutions ?? 0))
        .reduce((a, b) => a + b, 0);
      const root = join(import.meta.dirname, "../..");
      for (const doc of ["README.md", "infra/README.md"]) {
        const text = readFileSync(join(root, doc), "utf8").replace(/\s+/g, " ");
        expect(text, doc).toContain(`reserve ${reserved} `);
        expect(text, doc).toMatch(new RegExp(`quota must be (at least )?${reserved + 100}`));
      }
    });

    it.each([
      ["deepsc-ingest", 20, true],
      ["deepsc-job-events", 10, true],
      ["deepsc-status-api", 50, false],
    ])(
      "%s: VPC, tracing, JSON logs, arm64 Node 24, reserved concurrency %i, DLQ %s",
      (service, concurrency, dlq) => {
        const [id, fn] = functionByService(s, service);
        expect(fn.Runtime).toBe("nodejs24.x");
        expect(fn.Architectures).toEqual(["arm64"]);
        expect(fn.TracingConfig).toEqual({ Mode: "Active" });
        expect(fn.ReservedConcurrentExecutions).toBe(concurrency);
        expect((fn.VpcConfig as Props).SubnetIds).toHaveLength(2);
        expect(fn.LoggingConfig).toEqual(expect.objectContaining({ LogFormat: "JSON" }));
        const env = (fn.Environment as { Variables: Props }).Variables;
        expect(env).toEqual(
          expect.objectContaining({
            POWERTOOLS_SERVICE_NAME: service,
            POWERTOOLS_METRICS_NAMESPACE: "DeepSC",
            POWERTOOLS_LOGGER_LOG_EVENT: "false",
            STUDIES_TABLE_NAME: expect.anything(),
            RESULTS_BUCKET_NAME: expect.anything(),
          }),
        );
        // The model the image carries, by version and checksum (part of every study id), not "image".
        if (service === "deepsc-ingest") expect(env.DEEPSC_MODEL_URI).toBe(modelIdentity("image"));
        if (dlq) {
          expect(fn.DeadLetterConfig).toEqual({ TargetArn: { "Fn::GetAtt": [expect.any(String), "Arn"] } });
          s.pipeline.hasResourceProperties("AWS::Lambda::EventInvokeConfig", {
            FunctionName: { Ref: id },
            MaximumRetryAttempts: 2,
            MaximumEventAgeInSeconds: 21600,
          });
        } else {
          expect(fn.DeadLetterConfig).toBeUndefined();
        }
      },
    );

    it("gives the ingest Lambda the queue and job definition, and SubmitJob on exactly those", () => {
      const [, fn] = functionByService(s, "deepsc-ingest");
      const env = (fn.Environment as { Variables: Props }).Variables;
      const [queueId] = Object.keys(resourcesOf(s.pipeline, "AWS::Batch::JobQueue"));
      const [jobDefId] = Object.keys(resourcesOf(s.pipeline, "AWS::Batch::JobDefinition"));
      expect(env.JOB_QUEUE_ARN).toEqual({ "Fn::GetAtt": [queueId, "JobQueueArn"] });
      expect(env.JOB_DEFINITION_ARN).toEqual({ Ref: jobDefId });
      const roleId = (fn.Role as { "Fn::GetAtt": string[] })["Fn::GetAtt"][0]!;
      const submit = statementsOfRole(s, roleId).find((st) => st.Action === "batch:SubmitJob");
      expect(submit?.Resource).toEqual(
        expect.arrayContaining([{ "Fn::GetAtt": [queueId, "JobQueueArn"] }, { Ref: jobDefId }]),
      );
      expect(submit?.Resource).toHaveLength(2);
    });

    it("lets the ingest Lambda read the UID salt secret the job gets, and names it in its environment", () => {
      const [, fn] = functionByService(s, "deepsc-ingest");
      const env = (fn.Environment as { Variables: Props }).Variables;
      expect(JSON.stringify(env.UID_SALT_SECRET_ARN)).toMatch(/UidSalt/);
      const roleId = (fn.Role as { "Fn::GetAtt": string[] })["Fn::GetAtt"][0]!;
      const read = statementsOfRole(s, roleId).find((st) =>
        ([] as unknown[]).concat(st.Action).includes("secretsmanager:GetSecretValue"),
      );
      expect(read?.Resource).toEqual(env.UID_SALT_SECRET_ARN);
      // Only the ingest Lambda among the Lambdas: job-events and the status API hash nothing.
      for (const service of ["deepsc-job-events", "deepsc-status-api"]) {
        const [, other] = functionByService(s, service);
        const otherRole = (other.Role as { "Fn::GetAtt": string[] })["Fn::GetAtt"][0]!;
        expect(
          statementsOfRole(s, otherRole).some((st) =>
            ([] as unknown[]).concat(st.Action).includes("secretsmanager:GetSecretValue"),
          ),
        ).toBe(false);
      }
    });

    it("leases an ingest claim past the timeout but not past Lambda's last retry (no study left VALIDATING)", () => {
      const [id, fn] = functionByService(s, "deepsc-ingest");
      const lease = Number((fn.Environment as { Variables: Props }).Variables.INGEST_LEASE_SECONDS);
      expect(lease).toBeGreaterThanOrEqual((fn.Timeout as number) + 30);
      expect(lease + 30).toBeLessThanOrEqual(180); // Lambda's last retry: 180 s after a failed attempt
      // The guarantee needs both of Lambda's asynchronous retries.
      const invokeConfig = Object.values(resourcesOf(s.pipeline, "AWS::Lambda::EventInvokeConfig")).find(
        (c) => JSON.stringify(c.Properties?.FunctionName).includes(`"${id}"`),
      );
      expect(invokeConfig?.Properties?.MaximumRetryAttempts).toBe(2);
    });

    it("deploys no helper Lambdas besides CDK's default-security-group restriction", () => {
      const functions = Object.entries(resourcesOf(s.pipeline, "AWS::Lambda::Function"));
      const helpers = functions.filter(
        ([, f]) =>
          !(f.Properties?.Environment as { Variables?: Props } | undefined)?.Variables
            ?.POWERTOOLS_SERVICE_NAME,
      );
      expect(helpers.map(([id]) => id)).toEqual([expect.stringMatching(/^CustomVpcRestrictDefaultSG/)]);
      expect(functions).toHaveLength(4);
    });

    it("tells the status API how tenant roles are named", () => {
      const [, fn] = functionByService(s, "deepsc-status-api");
      expect((fn.Environment as { Variables: Props }).Variables.TENANT_ROLE_PREFIX).toBe("deepsc-tenant-");
    });
  });

  describe("status API", () => {
    it("requires AWS_IAM on every method and has exactly the three routes", () => {
      const methods = Object.values(resourcesOf(s.pipeline, "AWS::ApiGateway::Method"));
      expect(methods).toHaveLength(3);
      for (const m of methods) expect(m.Properties?.AuthorizationType).toBe("AWS_IAM");
      const paths = Object.values(resourcesOf(s.pipeline, "AWS::ApiGateway::Resource")).map(
        (r) => r.Properties?.PathPart,
      );
      expect(paths.sort()).toEqual(["studies", "uploads", "v1", "{id}"]);
      expect(methods.map((m) => m.Properties?.HttpMethod).sort()).toEqual(["GET", "GET", "POST"]);
    });

    it("is named after its stack (API Gateway's metrics are keyed by the name), and its execution logs kept and encrypted", () => {
      const [api] = Object.values(resourcesOf(s.pipeline, "AWS::ApiGateway::RestApi"));
      const name = api?.Properties?.Name;
      expect(name).toMatch(/-status-api$/);
      const alarm = Object.values(resourcesOf(s.pipeline, "AWS::CloudWatch::Alarm")).find(
        (a) => a.Properties?.MetricName === "5XXError",
      );
      expect(alarm?.Properties?.Dimensions).toEqual([{ Name: "ApiName", Value: name }]);
      const [apiId] = Object.keys(resourcesOf(s.pipeline, "AWS::ApiGateway::RestApi"));
      const groups = Object.values(resourcesOf(s.pipeline, "AWS::Logs::LogGroup")).filter((g) =>
        JSON.stringify(g.Properties?.LogGroupName ?? "").includes("API-Gateway-Execution-Logs_"),
      );
      expect(groups).toHaveLength(1);
      expect(JSON.stringify(groups[0]?.Properties?.LogGroupName)).toContain(`{"Ref":"${apiId}"}`);
      expect(groups[0]?.Properties?.RetentionInDays).toEqual(expect.any(Number));
      expect(groups[0]?.Properties?.KmsKeyId).toEqual({
        "Fn::GetAtt": [expect.stringMatching(/^OpsKey/), "Arn"],
      });
    });

    it("validates requests before they reach the handler", () => {
      for (const m of Object.values(resourcesOf(s.pipeline, "AWS::ApiGateway::Method"))) {
        expect(m.Properties?.RequestValidatorId).toEqual({ Ref: expect.any(String) });
      }
      s.pipeline.hasResourceProperties("AWS::ApiGateway::Method", {
        HttpMethod: "GET",
        RequestParameters: { "method.request.path.id": true },
      });
      s.pipeline.hasResourceProperties("AWS::ApiGateway::Method", {
        HttpMethod: "GET",
        RequestParameters: {
          "method.request.querystring.status": false,
          "method.request.querystring.limit": false,
          "method.request.querystring.nextToken": false,
        },
      });
      // POST /v1/uploads takes no body: no model that would reject a bodiless request.
      s.pipeline.hasResourceProperties("AWS::ApiGateway::Method", {
        HttpMethod: "POST",
        RequestModels: Match.absent(),
      });
      s.pipeline.resourceCountIs("AWS::ApiGateway::Model", 0);
    });

    it("throttles, traces and access-logs the stage without logging bodies, behind WAF", () => {
      s.pipeline.hasResourceProperties("AWS::ApiGateway::Stage", {
        TracingEnabled: true,
        AccessLogSetting: Match.objectLike({ DestinationArn: Match.anyValue() }),
        MethodSettings: [
          Match.objectLike({
            DataTraceEnabled: false,
            LoggingLevel: "ERROR",
            ThrottlingRateLimit: 25,
            ThrottlingBurstLimit: 50,
          }),
        ],
      });
      s.pipeline.resourceCountIs("AWS::WAFv2::WebACLAssociation", 1);
      s.pipeline.hasResourceProperties("AWS::WAFv2::WebACL", {
        Rules: Match.arrayWith([Match.objectLike({ Name: "RateLimitPerIp", Action: { Block: {} } })]),
      });
    });

    it("answers API Gateway's own errors as application/problem+json that validates against Problem", () => {
      const responses = Object.values(resourcesOf(s.pipeline, "AWS::ApiGateway::GatewayResponse"));
      const types = responses.map((r) => r.Properties?.ResponseType as string);
      expect(types).toEqual(
        expect.arrayContaining(["DEFAULT_4XX", "DEFAULT_5XX", "ACCESS_DENIED", "THROTTLED", "WAF_FILTERED"]),
      );
      const expected: Record<string, number> = {
        ACCESS_DENIED: 403,
        INVALID_SIGNATURE: 403,
        EXPIRED_TOKEN: 403,
        MISSING_AUTHENTICATION_TOKEN: 403,
        UNAUTHORIZED: 401,
        THROTTLED: 429,
        QUOTA_EXCEEDED: 429,
        REQUEST_TOO_LARGE: 413,
        INTEGRATION_TIMEOUT: 504,
        WAF_FILTERED: 403,
      };
      for (const r of responses) {
        expect(r.Properties?.ResponseParameters).toEqual({
          "gatewayresponse.header.Content-Type": "'application/problem+json'",
        });
        const template = at<string>(r, "Properties.ResponseTemplates.application/json");
        // As API Gateway fills it: messageString is a quoted JSON string, the other variables sit in quotes.
        const body = ProblemSchema.parse(
          JSON.parse(template.replace("$context.error.messageString", '"Forbidden"')),
        );
        const type = r.Properties?.ResponseType as string;
        if (type.startsWith("DEFAULT_")) expect(body.status).toBeUndefined();
        else expect(body.status, type).toBeGreaterThanOrEqual(400);
        if (expected[type] !== undefined) expect(body.status, type).toBe(expected[type]);
      }
    });
  });

  describe("tenant roles", () => {
    it("creates one named role per tenant, assumable by the hospital's principals (with external id)", () => {
      s.pipeline.hasResourceProperties("AWS::IAM::Role", {
        RoleName: "deepsc-tenant-hospital-a",
        MaxSessionDuration: 3600,
        AssumeRolePolicyDocument: {
          Statement: [
            Match.objectLike({
              Action: "sts:AssumeRole",
              Condition: { StringEquals: { "sts:ExternalId": "ext-a-123" } },
              Principal: { AWS: { "Fn::Join": ["", Match.arrayWith([":iam::111122223333:root"])] } },
            }),
          ],
          Version: "2012-10-17",
        },
      });
      s.pipeline.hasResourceProperties("AWS::IAM::Role", {
        RoleName: "deepsc-tenant-clinic-b",
        AssumeRolePolicyDocument: Match.objectLike({
          Statement: [Match.objectLike({ Principal: { AWS: "arn:aws:iam::444455556666:role/integrator" } })],
        }),
      });
    });

    it("lets a tenant invoke the three API methods and put only under its own incoming/ prefix", () => {
      const roles = resourcesOf(s.pipeline, "AWS::IAM::Role");
      const roleId = Object.keys(roles).find(
        (k) => roles[k]?.Properties?.RoleName === "deepsc-tenant-hospital-a",
      )!;
      const statements = statementsOfRole(s, roleId);
      const invoke = statements.find((st) => st.Action === "execute-api:Invoke");
      const arns = at<unknown[]>(invoke, "Resource").map((r) => JSON.stringify(r));
      expect(arns).toHaveLength(3);
      expect(arns.some((a) => a.includes('/GET/v1/studies"'))).toBe(true);
      expect(arns.some((a) => a.includes('/GET/v1/studies/*"'))).toBe(true);
      expect(arns.some((a) => a.includes('/POST/v1/uploads"'))).toBe(true);
      const s3 = statements.filter((st) => JSON.stringify(st.Action).includes("s3:"));
      expect(s3).toHaveLength(1);
      expect(s3[0]?.Action).toEqual(["s3:AbortMultipartUpload", "s3:PutObject"]);
      expect(JSON.stringify(s3[0]?.Resource)).toMatch(/"\/incoming\/hospital-a\/\*"\]\]\}$/);
      // The data key only through S3: the hospital's credentials cannot ask KMS for data keys themselves.
      const kms = statements.filter((st) => JSON.stringify(st.Action).includes("kms:"));
      expect(kms).toHaveLength(1);
      expect(kms[0]?.Action).toEqual(["kms:Decrypt", "kms:GenerateDataKey"]);
      expect(JSON.stringify(kms[0]?.Resource)).toMatch(/DataKey/);
      expect(JSON.stringify(kms[0]?.Condition)).toBe(
        JSON.stringify({
          StringEquals: {
            "kms:ViaService": { "Fn::Join": ["", ["s3.", { Ref: "AWS::Region" }, ".amazonaws.com"]] },
          },
        }),
      );
      expect(JSON.stringify(statements)).not.toContain("clinic-b");
      expect(JSON.stringify(statements)).not.toContain("results/");
    });
  });

  describe("alarms and dashboard", () => {
    it("alarms on both DLQs, failed and stuck jobs, Lambda errors/throttles and API 5xx, to an encrypted topic", () => {
      const alarms = Object.values(resourcesOf(s.pipeline, "AWS::CloudWatch::Alarm"));
      const metrics = alarms.map((a) => `${a.Properties?.Namespace}/${a.Properties?.MetricName}`);
      expect(metrics.filter((m) => m === "AWS/SQS/ApproximateNumberOfMessagesVisible")).toHaveLength(2);
      expect(metrics.filter((m) => m === "AWS/Events/TriggeredRules")).toHaveLength(2);
      expect(metrics.filter((m) => m === "AWS/Lambda/Errors")).toHaveLength(2);
      // The ingest Lambda's errors alarm leaves out the ClaimBusy throws it makes on purpose to be retried.
      const math = alarms.filter((a) => a.Properties?.Metrics !== undefined);
      expect(math).toHaveLength(1);
      const parts = math[0]!.Properties!.Metrics as {
        Id: string;
        Expression?: string;
        MetricStat?: unknown;
      }[];
      expect(parts.find((p) => p.Expression)?.Expression).toBe("errors - FILL(retried, 0)");
      const stat = (id: string) => JSON.stringify(parts.find((p) => p.Id === id)?.MetricStat);
      expect(stat("errors")).toContain('"MetricName":"Errors"');
      expect(stat("retried")).toContain('"MetricName":"ClaimBusy"');
      expect(stat("retried")).toContain('"Namespace":"DeepSC"');
      expect(stat("retried")).toContain('{"Name":"service","Value":"deepsc-ingest"}');
      expect(metrics.filter((m) => m === "AWS/Lambda/Throttles")).toHaveLength(3);
      expect(metrics.filter((m) => m === "AWS/ApiGateway/5XXError")).toHaveLength(1);
      const [topicId] = Object.keys(resourcesOf(s.pipeline, "AWS::SNS::Topic"));
      for (const a of alarms) expect(a.Properties?.AlarmActions).toEqual([{ Ref: topicId }]);
      s.pipeline.hasResourceProperties("AWS::SNS::Topic", {
        KmsMasterKeyId: { "Fn::GetAtt": [Match.stringLikeRegexp("^OpsKey"), "Arn"] },
      });
      s.pipeline.hasResourceProperties("AWS::SNS::Subscription", {
        Protocol: "email",
        Endpoint: "ops@example.org",
      });
      s.pipeline.resourceCountIs("AWS::CloudWatch::Dashboard", 1);
      // Failed/stuck job events are also kept in an audit log group EventBridge may write to.
      const [policy] = Object.values(resourcesOf(s.pipeline, "AWS::Logs::ResourcePolicy"));
      const text = JSON.stringify(policy?.Properties?.PolicyDocument);
      expect(text).toContain('\\"Service\\":\\"events.amazonaws.com\\"');
      expect(text).toContain('[\\"logs:CreateLogStream\\",\\"logs:PutLogEvents\\"]');
      expect(text).toMatch(/"Fn::GetAtt":\["ObservabilityJobFailuresAudit[0-9A-F]+","Arn"\]/);
      // What reaches it: the job's id, name, status, reason, exit code and log stream, never the whole event
      // (its parameters and container environment carry the upload's object key).
      const auditTargets = Object.values(resourcesOf(s.pipeline, "AWS::Events::Rule"))
        .flatMap((r) => (r.Properties?.Targets as { Arn: unknown; InputTransformer?: unknown }[]) ?? [])
        .filter((t) => JSON.stringify(t.Arn).includes("log-group"));
      // Both rules write a line (a stuck job's says so; the failed one's carries the exit code and log stream).
      expect(auditTargets).toHaveLength(2);
      const transformers = auditTargets.map(
        (t) => t.InputTransformer as { InputPathsMap: Record<string, string>; InputTemplate: string },
      );
      const paths = transformers.map((t) => Object.values(t.InputPathsMap).sort());
      expect(paths).toContainEqual([
        "$.detail.container.exitCode",
        "$.detail.container.logStreamName",
        "$.detail.jobId",
        "$.detail.jobName",
        "$.detail.status",
        "$.detail.statusReason",
        "$.time",
      ]);
      expect(paths).toContainEqual(["$.detail.jobId", "$.detail.jobName", "$.detail.statusReason", "$.time"]);
      for (const transformer of transformers)
        expect(JSON.parse(transformer.InputTemplate.replace(/<[^>]+>/g, "0"))).toEqual({
          timestamp: 0,
          message: expect.stringContaining("Batch job"),
        });
    });
  });
});
