/**
 * The REST status API of DESIGN.md §3 on API Gateway: every method requires SigV4 (AWS_IAM), requests are
 * validated before they reach the Lambda, the stage is throttled, access-logged (no bodies), traced, and
 * fronted by a WAF web ACL; errors API Gateway produces itself are `application/problem+json` like the
 * handler's. Callers are granted per method with `grantInvoke`.
 */
import { ArnFormat, RemovalPolicy, Stack } from "aws-cdk-lib";
import * as apigw from "aws-cdk-lib/aws-apigateway";
import * as iam from "aws-cdk-lib/aws-iam";
import type * as kms from "aws-cdk-lib/aws-kms";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import * as logs from "aws-cdk-lib/aws-logs";
import * as wafv2 from "aws-cdk-lib/aws-wafv2";
import { Construct } from "constructs";
import { acknowledge } from "../nag.js";

export interface StatusApiProps {
  /** The status-api Lambda (proxy integration for every route). */
  readonly handler: lambda.IFunction;
  readonly logKey: kms.IKey;
  readonly logRetention: logs.RetentionDays;
  /**
   * Steady-state requests per second across the stage.
   * @default 25
   */
  readonly throttlingRateLimit?: number;
  /** @default 50 */
  readonly throttlingBurstLimit?: number;
  /**
   * Requests per 5 minutes from one IP before WAF blocks it.
   * @default 1000
   */
  readonly wafRateLimitPer5Min?: number;
  /**
   * Set the account-wide API Gateway CloudWatch role (required once per account and region for execution
   * logs). Turn off where the account already manages it.
   * @default true
   */
  readonly configureCloudWatchRole?: boolean;
  /** @default "prod" */
  readonly stageName?: string;
}

/**
 * API Gateway's own errors (auth failures, throttling, WAF, validation) and the status each answers with
 * (AWS: "Gateway response types for API Gateway"). Each gets an RFC 9457 body that validates against the
 * API's Problem schema: the status and its phrase as the title, API Gateway's response type as `code`.
 */
const GATEWAY_ERRORS: ReadonlyArray<[apigw.ResponseType, number, string]> = [
  [apigw.ResponseType.ACCESS_DENIED, 403, "Forbidden"],
  [apigw.ResponseType.API_CONFIGURATION_ERROR, 500, "Internal Server Error"],
  [apigw.ResponseType.AUTHORIZER_CONFIGURATION_ERROR, 500, "Internal Server Error"],
  [apigw.ResponseType.AUTHORIZER_FAILURE, 500, "Internal Server Error"],
  [apigw.ResponseType.BAD_REQUEST_PARAMETERS, 400, "Bad Request"],
  [apigw.ResponseType.BAD_REQUEST_BODY, 400, "Bad Request"],
  [apigw.ResponseType.EXPIRED_TOKEN, 403, "Forbidden"],
  [apigw.ResponseType.INTEGRATION_FAILURE, 504, "Gateway Timeout"],
  [apigw.ResponseType.INTEGRATION_TIMEOUT, 504, "Gateway Timeout"],
  [apigw.ResponseType.INVALID_API_KEY, 403, "Forbidden"],
  [apigw.ResponseType.INVALID_SIGNATURE, 403, "Forbidden"],
  [apigw.ResponseType.MISSING_AUTHENTICATION_TOKEN, 403, "Forbidden"],
  [apigw.ResponseType.QUOTA_EXCEEDED, 429, "Too Many Requests"],
  [apigw.ResponseType.REQUEST_TOO_LARGE, 413, "Content Too Large"],
  [apigw.ResponseType.RESOURCE_NOT_FOUND, 404, "Not Found"],
  [apigw.ResponseType.THROTTLED, 429, "Too Many Requests"],
  [apigw.ResponseType.UNAUTHORIZED, 401, "Unauthorized"],
  [apigw.ResponseType.UNSUPPORTED_MEDIA_TYPE, 415, "Unsupported Media Type"],
  [apigw.ResponseType.WAF_FILTERED, 403, "Forbidden"],
];

/**
 * The problem body. `messageString` is already a quoted JSON string, hence no quotes around it. Without a
 * status (the DEFAULT_4XX / DEFAULT_5XX fallbacks, for any type the list above lacks) the body has none:
 * API Gateway offers no variable for it, and RFC 9457 makes the member advisory (the HTTP status rules).
 */
const problemTemplate = (status?: number, title?: string) =>
  `{"type":"about:blank","title":"${title ?? "$context.error.responseType"}",` +
  `${status !== undefined ? `"status":${status},` : ""}"detail":$context.error.messageString,` +
  '"code":"$context.error.responseType","requestId":"$context.requestId"}';

export class StatusApi extends Construct {
  readonly api: apigw.RestApi;
  /** Every method of the API (all AWS_IAM). */
  readonly methods: apigw.Method[] = [];
  readonly accessLogGroup: logs.LogGroup;
  private readonly logKey: kms.IKey;
  private readonly logRetention: logs.RetentionDays;

  constructor(scope: Construct, id: string, props: StatusApiProps) {
    super(scope, id);
    this.logKey = props.logKey;
    this.logRetention = props.logRetention;
    this.accessLogGroup = new logs.LogGroup(this, "AccessLogs", {
      encryptionKey: props.logKey,
      retention: props.logRetention,
      removalPolicy: RemovalPolicy.RETAIN,
    });

    const configureRole = props.configureCloudWatchRole ?? true;
    this.api = new apigw.RestApi(this, "Api", {
      // AWS/ApiGateway metrics (the 5XX alarm, the dashboard) are keyed by this name alone: the default ("Api",
      // every CDK RestApi's id) would add any other such API in the region to them.
      restApiName: `${Stack.of(this).stackName}-status-api`,
      description: "DeepSC-COVID study status (IAM SigV4)",
      endpointTypes: [apigw.EndpointType.REGIONAL],
      cloudWatchRole: configureRole,
      cloudWatchRoleRemovalPolicy: RemovalPolicy.RETAIN,
      defaultMethodOptions: { authorizationType: apigw.AuthorizationType.IAM },
      deployOptions: {
        stageName: props.stageName ?? "prod",
        accessLogDestination: new apigw.LogGroupLogDestination(this.accessLogGroup),
        accessLogFormat: apigw.AccessLogFormat.jsonWithStandardFields({
          caller: true,
          httpMethod: true,
          ip: true,
          protocol: true,
          requestTime: true,
          resourcePath: true,
          responseLength: true,
          status: true,
          user: true,
        }),
        loggingLevel: apigw.MethodLoggingLevel.ERROR,
        // Request/response bodies carry presigned URLs and study details: never log them.
        dataTraceEnabled: false,
        metricsEnabled: true,
        tracingEnabled: true,
        throttlingRateLimit: props.throttlingRateLimit ?? 25,
        throttlingBurstLimit: props.throttlingBurstLimit ?? 50,
      },
    });
    // Execution logging (ERROR) writes to a group API Gateway would create itself, with no retention and no
    // encryption; made here first, it keeps the deployment's retention and the ops key like every other group.
    new logs.LogGroup(this, "ExecutionLogs", {
      logGroupName: `API-Gateway-Execution-Logs_${this.api.restApiId}/${this.api.deploymentStage.stageName}`,
      encryptionKey: props.logKey,
      retention: props.logRetention,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    if (configureRole) {
      acknowledge(
        this.api,
        "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]",
        "API Gateway's account-level logging role; AWS maintains the policy that lets it write execution logs.",
      );
    }

    const gatewayResponse = (name: string, type: apigw.ResponseType, template: string) =>
      this.api.addGatewayResponse(name, {
        type,
        responseHeaders: { "Content-Type": "'application/problem+json'" },
        templates: { "application/json": template },
      });
    gatewayResponse("Default4xx", apigw.ResponseType.DEFAULT_4XX, problemTemplate());
    gatewayResponse("Default5xx", apigw.ResponseType.DEFAULT_5XX, problemTemplate());
    for (const [type, status, title] of GATEWAY_ERRORS)
      gatewayResponse(`Gateway${type.responseType}`, type, problemTemplate(status, title));

    // One validator for every method: required query/path parameters are checked here. Bodies are only
    // validated against a model and no method has one (POST /v1/uploads's optional body is checked by the
    // handler); the handler's zod schemas stay the single source of truth for payloads.
    const validator = this.api.addRequestValidator("RequestValidator", {
      validateRequestParameters: true,
      validateRequestBody: true,
    });

    const integration = new apigw.LambdaIntegration(props.handler, { proxy: true, allowTestInvoke: false });
    const v1 = this.api.root.addResource("v1");
    const studies = v1.addResource("studies");
    this.methods.push(
      studies.addMethod("GET", integration, {
        requestValidator: validator,
        requestParameters: {
          "method.request.querystring.status": false,
          "method.request.querystring.limit": false,
          "method.request.querystring.nextToken": false,
        },
      }),
      studies.addResource("{id}").addMethod("GET", integration, {
        requestValidator: validator,
        requestParameters: { "method.request.path.id": true },
      }),
      v1.addResource("uploads").addMethod("POST", integration, { requestValidator: validator }),
    );

    this.addWebAcl(props.wafRateLimitPer5Min ?? 1000);

    const reasons: Array<[string, string]> = [
      [
        "AwsSolutions-COG4",
        "Callers are hospital systems authenticating with SigV4 through per-tenant IAM roles (DESIGN.md §3), not Cognito users.",
      ],
      [
        "HIPAA.Security-APIGWCacheEnabledAndEncrypted",
        "Responses are per-caller and change with study status; caching them would serve stale or foreign data.",
      ],
      [
        "HIPAA.Security-APIGWSSLEnabled",
        "The only backend is a Lambda proxy integration; there is no HTTP backend to present a client certificate to.",
      ],
    ];
    for (const [rule, reason] of reasons) acknowledge(this.api, rule, reason);
  }

  /** Allow `grantee` to call every method of the API (execute-api:Invoke on each method's ARN). */
  grantInvoke(grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ["execute-api:Invoke"],
      resourceArns: this.methods.map((m) => m.methodArn),
    });
  }

  /** AWS managed rules against common exploits and a per-IP rate limit, in front of IAM auth. */
  private addWebAcl(rateLimit: number): void {
    const visibility = (metricName: string) => ({
      cloudWatchMetricsEnabled: true,
      metricName,
      sampledRequestsEnabled: false,
    });
    const managed = (name: string, priority: number): wafv2.CfnWebACL.RuleProperty => ({
      name,
      priority,
      overrideAction: { none: {} },
      statement: { managedRuleGroupStatement: { vendorName: "AWS", name } },
      visibilityConfig: visibility(name),
    });
    const acl = new wafv2.CfnWebACL(this, "WebAcl", {
      scope: "REGIONAL",
      defaultAction: { allow: {} },
      visibilityConfig: visibility("StatusApiWebAcl"),
      rules: [
        {
          name: "RateLimitPerIp",
          priority: 0,
          action: { block: {} },
          statement: { rateBasedStatement: { limit: rateLimit, aggregateKeyType: "IP" } },
          visibilityConfig: visibility("RateLimitPerIp"),
        },
        managed("AWSManagedRulesCommonRuleSet", 1),
        managed("AWSManagedRulesKnownBadInputsRuleSet", 2),
      ],
    });
    new wafv2.CfnWebACLAssociation(this, "WebAclAssociation", {
      resourceArn: this.api.deploymentStage.stageArn,
      webAclArn: acl.attrArn,
    });
    // WAF requires the aws-waf-logs- prefix; it installs the log delivery permission itself.
    const wafLogs = new logs.LogGroup(this, "WafLogs", {
      logGroupName: `aws-waf-logs-${Stack.of(this).stackName}-status-api`,
      encryptionKey: this.logKey,
      retention: this.logRetention,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    new wafv2.CfnLoggingConfiguration(this, "WafLogging", {
      resourceArn: acl.attrArn,
      logDestinationConfigs: [
        Stack.of(this).formatArn({
          service: "logs",
          resource: "log-group",
          arnFormat: ArnFormat.COLON_RESOURCE_NAME,
          resourceName: wafLogs.logGroupName,
        }),
      ],
      // SigV4 headers are per-request signatures, but there is no reason to keep them.
      redactedFields: [
        { singleHeader: { Name: "authorization" } },
        { singleHeader: { Name: "x-amz-security-token" } },
      ],
    });
  }
}
