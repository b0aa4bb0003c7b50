/**
 * A Lambda fed by an EventBridge rule, with both failure paths bounded and caught: EventBridge retries
 * delivery `deliveryRetryAttempts` times within `maxEventAge`, Lambda retries a failing invocation
 * `retryAttempts` times, and whatever is still unprocessed lands in one KMS-encrypted dead-letter queue
 * per processor, where an alarm sees it.
 */
import { Duration } from "aws-cdk-lib";
import * as events from "aws-cdk-lib/aws-events";
import * as targets from "aws-cdk-lib/aws-events-targets";
import type * as kms from "aws-cdk-lib/aws-kms";
import * as sqs from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import { acknowledge } from "../nag.js";
import { PipelineFunction, type PipelineFunctionProps } from "./pipeline-function.js";

export interface EventProcessorProps extends Omit<PipelineFunctionProps, "deadLetterQueue"> {
  /** Events that invoke the function. */
  readonly eventPattern: events.EventPattern;
  readonly ruleDescription: string;
  /** Key of the dead-letter queue (EventBridge and Lambda must be allowed to use it). */
  readonly queueKey: kms.IKey;
  /**
   * Delivery retries by EventBridge (throttling, function unavailable).
   * @default 3
   */
  readonly deliveryRetryAttempts?: number;
  /**
   * Oldest event EventBridge still tries to deliver.
   * @default Duration.hours(2)
   */
  readonly deliveryMaxEventAge?: Duration;
}

export class EventProcessor extends Construct {
  readonly handler: PipelineFunction;
  readonly rule: events.Rule;
  readonly deadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: EventProcessorProps) {
    super(scope, id);
    this.deadLetterQueue = new sqs.Queue(this, "DeadLetterQueue", {
      encryption: sqs.QueueEncryption.KMS,
      encryptionMasterKey: props.queueKey,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    acknowledge(
      this.deadLetterQueue,
      "AwsSolutions-SQS3",
      "This queue is itself the dead-letter queue of an EventBridge target and of Lambda async invocations.",
    );

    const {
      eventPattern,
      ruleDescription,
      queueKey,
      deliveryRetryAttempts,
      deliveryMaxEventAge,
      ...fnProps
    } = props;
    this.handler = new PipelineFunction(this, "Handler", {
      ...fnProps,
      deadLetterQueue: this.deadLetterQueue,
    });
    // Lambda writes a failed asynchronous event to its dead-letter queue as the function's role, and the queue
    // is encrypted with a customer-managed key: without a data key the write fails and the event is lost. CDK
    // grants only sqs:SendMessage for a function's DLQ (aws/aws-cdk#33153).
    queueKey.grant(this.handler.function, "kms:GenerateDataKey", "kms:Decrypt");

    this.rule = new events.Rule(this, "Rule", { description: ruleDescription, eventPattern });
    this.rule.addTarget(
      new targets.LambdaFunction(this.handler.function, {
        deadLetterQueue: this.deadLetterQueue,
        retryAttempts: deliveryRetryAttempts ?? 3,
        maxEventAge: deliveryMaxEventAge ?? Duration.hours(2),
      }),
    );
  }
}
