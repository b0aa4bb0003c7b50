/**
 * What an operator watches: alarms on dead-letter queues, failed Batch jobs, jobs cancelled after sitting
 * RUNNABLE without GPU capacity, Lambda errors and API 5xx, all to one KMS-encrypted SNS topic; and one
 * dashboard. Failed and stuck jobs are matched by EventBridge rules that also keep an audit trail of those
 * events in a log group, so the alarms need nothing from the handlers.
 */
import { ArnFormat, Duration, RemovalPolicy, Stack } from "aws-cdk-lib";
import type * as apigw from "aws-cdk-lib/aws-apigateway";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import * as actions from "aws-cdk-lib/aws-cloudwatch-actions";
import * as events from "aws-cdk-lib/aws-events";
import * as iam from "aws-cdk-lib/aws-iam";
import type * as kms from "aws-cdk-lib/aws-kms";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import * as logs from "aws-cdk-lib/aws-logs";
import * as sns from "aws-cdk-lib/aws-sns";
import * as subscriptions from "aws-cdk-lib/aws-sns-subscriptions";
import type * as sqs from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";

/** statusReason Batch sets when a jobStateTimeLimitActions rule cancels a RUNNABLE job. */
export const STUCK_JOB_STATUS_REASON_PREFIX = "Canceled by JobStateTimeLimit action";

const field = (path: string) => events.EventField.fromPath(path);
const JOB = `Batch job ${field("$.detail.jobId")} (${field("$.detail.jobName")})`;
/** The audit line of a failed job. */
const FAILED_JOB_LINE =
  `${JOB} ${field("$.detail.status")}: ${field("$.detail.statusReason")} ` +
  `(exit code: ${field("$.detail.container.exitCode")}; log stream: ${field("$.detail.container.logStreamName")}; ` +
  "both empty if no container started)";
/** The audit line of a job cancelled while RUNNABLE (also logged as failed): it never had a container. */
const STUCK_JOB_LINE = `${JOB} was cancelled after waiting RUNNABLE (GPU capacity or quota): ${field("$.detail.statusReason")}`;

/** An EventBridge target that writes matched events into a log group (delivery allowed by a resource policy). */
class LogGroupTarget implements events.IRuleTarget {
  constructor(
    private readonly logGroup: logs.ILogGroup,
    private readonly message: string,
  ) {}

  bind(): events.RuleTargetConfig {
    return {
      // A Batch event carries the job's parameters and container environment, and with them the upload's
      // object key, which an integrator may have built from a patient's name: the audit line keeps what an
      // operator needs and nothing of the input. (A CloudWatch Logs target takes {timestamp, message}, the
      // message a string; EventBridge escapes values placed inside it.)
      input: events.RuleTargetInput.fromObject({ timestamp: events.EventField.time, message: this.message }),
      arn: Stack.of(this.logGroup).formatArn({
        service: "logs",
        resource: "log-group",
        arnFormat: ArnFormat.COLON_RESOURCE_NAME,
        resourceName: this.logGroup.logGroupName,
      }),
      targetResource: this.logGroup,
    };
  }
}

export interface ObservabilityProps {
  readonly key: kms.IKey;
  readonly logRetention: logs.RetentionDays;
  /** ARN of the Batch job queue whose jobs are watched. */
  readonly jobQueueArn: string;
  readonly deadLetterQueues: Record<string, sqs.IQueue>;
  readonly functions: Record<string, lambda.IFunction>;
  /**
   * Per function (same keys as `functions`): a count of the errors it throws on purpose to be retried
   * (the ingest Lambda's ClaimBusy). Its Errors alarm then fires on errors minus these.
   * @default - every error alarms
   */
  readonly retriedByDesign?: Record<string, cloudwatch.IMetric>;
  readonly api: apigw.RestApi;
  /** @default - no subscription; subscribe endpoints to `topic` out of band */
  readonly alarmEmail?: string;
}

export class Observability extends Construct {
  readonly topic: sns.Topic;
  readonly dashboard: cloudwatch.Dashboard;
  readonly alarms: cloudwatch.Alarm[] = [];
  /** Rules matching failed and stuck jobs (their TriggeredRules metric drives the alarms). */
  readonly failedJobsRule: events.Rule;
  readonly stuckJobsRule: events.Rule;

  constructor(scope: Construct, id: string, props: ObservabilityProps) {
    super(scope, id);
    this.topic = new sns.Topic(this, "AlarmTopic", {
      displayName: "DeepSC-COVID pipeline alarms",
      masterKey: props.key,
      enforceSSL: true,
    });
    if (props.alarmEmail) this.topic.addSubscription(new subscriptions.EmailSubscription(props.alarmEmail));

    const jobEventsAudit = new logs.LogGroup(this, "JobFailuresAudit", {
      encryptionKey: props.key,
      retention: props.logRetention,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    const jobChange = (detail: Record<string, unknown>): events.EventPattern => ({
      source: ["aws.batch"],
      detailType: ["Batch Job State Change"],
      detail: { jobQueue: [props.jobQueueArn], ...detail },
    });
    this.failedJobsRule = new events.Rule(this, "FailedJobsRule", {
      description: "DeepSC-COVID Batch jobs that ended FAILED (audit + alarm)",
      eventPattern: jobChange({ status: ["FAILED"] }),
      targets: [new LogGroupTarget(jobEventsAudit, FAILED_JOB_LINE)],
    });
    // A stuck job also ends FAILED (a line above, with empty container fields); this rule adds the line that
    // says what happened, and its target keeps its TriggeredRules metric, which the alarm reads, coming.
    this.stuckJobsRule = new events.Rule(this, "StuckJobsRule", {
      description:
        "DeepSC-COVID Batch jobs cancelled after waiting RUNNABLE (no GPU capacity / misconfiguration)",
      eventPattern: jobChange({
        status: ["FAILED"],
        statusReason: [{ prefix: STUCK_JOB_STATUS_REASON_PREFIX }],
      }),
      targets: [new LogGroupTarget(jobEventsAudit, STUCK_JOB_LINE)],
    });
    // aws-events-targets' CloudWatchLogGroup installs this same policy (EventBridge may write to this one
    // log group) through a custom-resource Lambda; the native resource does it without deploying code.
    new logs.ResourcePolicy(this, "JobFailuresAuditDelivery", {
      policyStatements: [
        new iam.PolicyStatement({
          principals: [new iam.ServicePrincipal("events.amazonaws.com")],
          actions: ["logs:CreateLogStream", "logs:PutLogEvents"],
          resources: [jobEventsAudit.logGroupArn],
        }),
      ],
    });

    const alarmAction = new actions.SnsAction(this.topic);
    const alarm = (name: string, metric: cloudwatch.IMetric, description: string, threshold = 1) => {
      const a = new cloudwatch.Alarm(this, name, {
        metric,
        threshold,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: description,
      });
      a.addAlarmAction(alarmAction);
      a.addOkAction(alarmAction);
      this.alarms.push(a);
      return a;
    };
    const fiveMin = Duration.minutes(5);
    const ruleTriggered = (rule: events.Rule) =>
      new cloudwatch.Metric({
        namespace: "AWS/Events",
        metricName: "TriggeredRules",
        dimensionsMap: { RuleName: rule.ruleName },
        statistic: "Sum",
        period: fiveMin,
      });

    for (const [name, queue] of Object.entries(props.deadLetterQueues)) {
      alarm(
        `${name}DlqNotEmpty`,
        queue.metricApproximateNumberOfMessagesVisible({ period: fiveMin, statistic: "Maximum" }),
        `${name}: events that could not be processed are waiting in the dead-letter queue`,
      );
    }
    alarm("FailedJobs", ruleTriggered(this.failedJobsRule), "A DeepSC-COVID Batch job ended FAILED");
    alarm(
      "StuckJobs",
      ruleTriggered(this.stuckJobsRule),
      "A Batch job was cancelled after waiting RUNNABLE (GPU capacity or quota)",
    );
    for (const [name, fn] of Object.entries(props.functions)) {
      const errors = fn.metricErrors({ period: fiveMin, statistic: "Sum" });
      const retried = props.retriedByDesign?.[name];
      alarm(
        `${name}Errors`,
        retried
          ? new cloudwatch.MathExpression({
              expression: "errors - FILL(retried, 0)",
              usingMetrics: { errors, retried },
              period: fiveMin,
              label: `${name} errors, less those thrown to be retried`,
            })
          : errors,
        retried
          ? `${name} Lambda errors other than those it throws on purpose to be retried`
          : `${name} Lambda errors`,
      );
      alarm(
        `${name}Throttles`,
        fn.metricThrottles({ period: fiveMin, statistic: "Sum" }),
        `${name} Lambda throttled (reserved concurrency reached)`,
        5,
      );
    }
    alarm(
      "Api5xx",
      props.api.metricServerError({ period: fiveMin, statistic: "Sum" }),
      "Status API 5xx responses",
    );

    this.dashboard = new cloudwatch.Dashboard(this, "Dashboard", {
      defaultInterval: Duration.hours(24),
    });
    const fns = Object.entries(props.functions);
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: "Batch jobs failed / cancelled stuck",
        left: [ruleTriggered(this.failedJobsRule), ruleTriggered(this.stuckJobsRule)],
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: "Dead-letter queues (visible messages)",
        left: Object.values(props.deadLetterQueues).map((q) => q.metricApproximateNumberOfMessagesVisible()),
        width: 12,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: "Lambda invocations / errors",
        left: fns.map(([, fn]) => fn.metricInvocations()),
        right: fns.map(([, fn]) => fn.metricErrors()),
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: "Lambda duration p99",
        left: fns.map(([, fn]) => fn.metricDuration({ statistic: "p99" })),
        width: 12,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: "Status API requests / 4xx / 5xx",
        left: [props.api.metricCount()],
        right: [props.api.metricClientError(), props.api.metricServerError()],
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: "Status API latency p50 / p99",
        left: [props.api.metricLatency({ statistic: "p50" }), props.api.metricLatency({ statistic: "p99" })],
        width: 12,
      }),
      new cloudwatch.AlarmStatusWidget({ title: "Alarms", alarms: this.alarms, width: 24 }),
    );
  }
}
