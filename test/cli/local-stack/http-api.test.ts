/**
 * The local stack's status API logs each request by its route template, as API Gateway's resource names it,
 * never by the path the caller typed (a study "id" can be a patient's name).
 */
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHttpApi, routeTemplate } from "../../../cli/local-stack/http-api.js";
import type { RouteLog, StatusApiDeps } from "../../../lambdas/status-api/app.js";

const lines: RouteLog[] = [];
const server = createHttpApi({
  config: { ingestBucket: "i", resultsBucket: "r", tenantRolePrefix: "deepsc-tenant-", urlExpiresIn: 60 },
  // No request here reaches the studies table: a malformed id is refused before it is looked up.
  deps: {} as StatusApiDeps,
  tenantOf: (h) => (h.authorization === "Bearer k" ? "local" : undefined),
  log: (l) => lines.push(l),
});
let base: string;
beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => {
  server.close();
});

describe("the local status API's log", () => {
  it("names routes by their template, for answered and unauthenticated requests alike", async () => {
    const named = await fetch(`${base}/v1/studies/DOE_JANE_19600101`, {
      headers: { authorization: "Bearer k" },
    });
    expect(named.status).toBe(400);
    const anonymous = await fetch(`${base}/v1/studies/DOE_JANE_19600101`);
    expect(anonymous.status).toBe(401);
    const stray = await fetch(`${base}/DOE_JANE/x`, { headers: { authorization: "Bearer k" } });
    expect(stray.status).toBe(404);
    expect(lines.map((l) => l.route)).toEqual([
      "GET /v1/studies/{id}",
      "GET /v1/studies/{id}",
      "GET (no route)",
    ]);
    expect(JSON.stringify(lines)).not.toContain("DOE");
  });

  it("maps paths onto API Gateway's resources", () => {
    expect(routeTemplate("/v1/studies")).toBe("/v1/studies");
    expect(routeTemplate("/v1/studies/")).toBe("/v1/studies");
    expect(routeTemplate("/v1/uploads")).toBe("/v1/uploads");
    expect(routeTemplate("/v1/studies/0123456789abcdef0123456789abcdef")).toBe("/v1/studies/{id}");
    expect(routeTemplate("/v2/x")).toBe("(no route)");
  });
});
