/**
 * Status API Lambda: API Gateway REST proxy events (v1) with AWS_IAM auth, routed by ./app.ts.
 * Logs carry route, tenant, studyId and HTTP status only.
 */

import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from "aws-lambda";
import * as z from "zod";
import { MAX_PRESIGN_SECONDS } from "../../core/contracts/study.js";
import { LAMBDA_ENV, METRICS_NAMESPACE, STATUS_API_ENV } from "../../infra/runtime-contract.js";
import { DynamoStudyRepository } from "../adapters/dynamo-study-repository.js";
import { createS3Client, S3ObjectStore } from "../adapters/s3-object-store.js";
import {
  HttpProblem,
  problemResponse,
  routeRequest,
  type StatusApiConfig,
  type StatusApiDeps,
} from "./app.js";
import { S3UrlSigner } from "./s3-url-signer.js";

export interface StatusApiHandlerDeps extends StatusApiDeps {
  config: StatusApiConfig;
  logger: Logger;
  metrics: Metrics;
}

export type StatusApiHandler = (
  event: APIGatewayProxyEvent,
  context?: Context,
) => Promise<APIGatewayProxyResult>;

export function createStatusApiHandler(deps: StatusApiHandlerDeps): StatusApiHandler {
  const { logger, metrics } = deps;
  return async (event, context) => {
    if (context !== undefined) logger.addContext(context);
    try {
      const { response, log } = await routeRequest(event, deps.config, deps);
      metrics.addMetric(response.statusCode >= 500 ? "ApiServerErrors" : "ApiRequests", MetricUnit.Count, 1);
      logger.info("request", { ...log });
      return response;
    } catch (e) {
      metrics.addMetric("ApiServerErrors", MetricUnit.Count, 1);
      logger.error("request failed", { errorName: (e as Error).name });
      return problemResponse(
        new HttpProblem(500, "internal", "Internal Server Error", "The request failed; retry later."),
      );
    } finally {
      metrics.publishStoredMetrics();
    }
  };
}

export const URL_EXPIRES_ENV = "PRESIGNED_URL_SECONDS";

const EnvSchema = z.object({
  [LAMBDA_ENV.studiesTable]: z.string().min(1),
  [LAMBDA_ENV.ingestBucket]: z.string().min(1),
  [LAMBDA_ENV.resultsBucket]: z.string().min(1),
  [STATUS_API_ENV.tenantRolePrefix]: z.string().min(1),
  [URL_EXPIRES_ENV]: z.coerce.number().int().min(60).max(MAX_PRESIGN_SECONDS).default(MAX_PRESIGN_SECONDS),
});

function fromEnvironment(): StatusApiHandler {
  const env = EnvSchema.parse(process.env);
  const s3 = createS3Client();
  return createStatusApiHandler({
    config: {
      ingestBucket: env[LAMBDA_ENV.ingestBucket],
      resultsBucket: env[LAMBDA_ENV.resultsBucket],
      tenantRolePrefix: env[STATUS_API_ENV.tenantRolePrefix],
      urlExpiresIn: env[URL_EXPIRES_ENV],
    },
    studies: new DynamoStudyRepository(new DynamoDBClient({}), env[LAMBDA_ENV.studiesTable]),
    results: new S3ObjectStore(s3, env[LAMBDA_ENV.resultsBucket]),
    signer: new S3UrlSigner(s3),
    now: () => new Date(),
    logger: new Logger({ serviceName: "deepsc-status-api" }),
    metrics: new Metrics({ namespace: METRICS_NAMESPACE, serviceName: "deepsc-status-api" }),
  });
}

let instance: StatusApiHandler | undefined;

export async function handler(event: APIGatewayProxyEvent, context: Context): Promise<APIGatewayProxyResult> {
  instance ??= fromEnvironment();
  return instance(event, context);
}
