/**
 * The status API on localhost: each HTTP request becomes the API Gateway proxy event the status-API Lambda
 * receives and goes through the same routes (lambdas/status-api/app.ts), so the local stack answers exactly
 * as AWS does. Only the caller differs: an API key (api-keys.ts) names the tenant, and the request reaches
 * the routes as that tenant's role would (`assumed-role/{prefix}{tenant}`) on AWS.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";
import {
  HttpProblem,
  problemResponse,
  type RouteLog,
  routeRequest,
  type StatusApiConfig,
  type StatusApiDeps,
} from "../../lambdas/status-api/app.js";

/** The account id the local stack's requests carry (no AWS account is involved). */
export const LOCAL_ACCOUNT_ID = "000000000000";
/** POST /v1/uploads takes at most a small JSON body. */
const MAX_BODY_BYTES = 64 * 1024;

export interface HttpApiOptions {
  config: StatusApiConfig;
  deps: StatusApiDeps;
  tenantOf(headers: IncomingMessage["headers"]): string | undefined;
  /** One line per request: method, route, tenant, study id and status (no patient data). */
  log?: (line: RouteLog) => void;
}

export function createHttpApi(o: HttpApiOptions): Server {
  return createServer((req, res) => {
    handle(req, o)
      .then((r) => send(res, r))
      .catch(() =>
        send(res, problemResponse(new HttpProblem(500, "internal", "Internal Server Error", "Retry later."))),
      );
  });
}

/** The API Gateway resource a path falls under (infra/constructs/status-api.ts), as the log names routes. */
export function routeTemplate(path: string): string {
  if (/^\/v1\/studies\/[^/]+\/?$/.test(path)) return "/v1/studies/{id}";
  if (/^\/v1\/(studies|uploads)\/?$/.test(path)) return path.replace(/\/$/, "");
  return "(no route)";
}

async function handle(req: IncomingMessage, o: HttpApiOptions): Promise<APIGatewayProxyResult> {
  const url = new URL(req.url ?? "/", "http://localhost");
  const method = (req.method ?? "GET").toUpperCase();
  const tenant = o.tenantOf(req.headers);
  if (tenant === undefined) {
    o.log?.({ route: `${method} ${routeTemplate(url.pathname)}`, status: 401 });
    const r = problemResponse(
      new HttpProblem(
        401,
        "unauthorized",
        "Unauthorized",
        "Send an API key of this stack as 'Authorization: Bearer <key>' (deepsc serve printed one; all are in api-keys.json in its data folder).",
      ),
      url.pathname,
    );
    return { ...r, headers: { ...r.headers, "www-authenticate": 'Bearer realm="deepsc"' } };
  }
  let body: string | null;
  try {
    body = await readBody(req);
  } catch (e) {
    if (e instanceof HttpProblem) return problemResponse(e, url.pathname);
    throw e;
  }
  const query = url.searchParams.size > 0 ? Object.fromEntries(url.searchParams) : null;
  const event = {
    httpMethod: method,
    path: url.pathname,
    // API Gateway's resource is the route's template, and the log line takes it: never the caller's text.
    resource: routeTemplate(url.pathname),
    queryStringParameters: query,
    body,
    headers: {},
    requestContext: {
      accountId: LOCAL_ACCOUNT_ID,
      identity: {
        userArn: `arn:aws:sts::${LOCAL_ACCOUNT_ID}:assumed-role/${o.config.tenantRolePrefix}${tenant}/local`,
      },
    },
  } as unknown as APIGatewayProxyEvent;
  const { response, log } = await routeRequest(event, o.config, o.deps);
  o.log?.(log);
  return response;
}

/** The request's body as text (null when empty); past MAX_BODY_BYTES the rest is read and dropped, then 413. */
function readBody(req: IncomingMessage): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size <= MAX_BODY_BYTES) chunks.push(c);
    });
    req.on("end", () => {
      if (size > MAX_BODY_BYTES)
        reject(
          new HttpProblem(
            413,
            "too-large",
            "Payload Too Large",
            `Bodies are at most ${MAX_BODY_BYTES} bytes.`,
          ),
        );
      else resolve(chunks.length === 0 ? null : Buffer.concat(chunks).toString("utf8"));
    });
    req.on("error", reject);
  });
}

function send(res: ServerResponse, r: APIGatewayProxyResult): void {
  if (res.headersSent) return;
  res.writeHead(r.statusCode, r.headers as Record<string, string>);
  res.end(r.body);
}
