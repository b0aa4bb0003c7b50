/**
 * Tenant from the caller's IAM principal (REST API with AWS_IAM auth). Each hospital gets one IAM role
 * named `{TENANT_ROLE_PREFIX}{tenant}` in this account (infra TenantAccess, e.g. `deepsc-tenant-acme`);
 * SigV4 requests signed with its session credentials reach the API as
 * `requestContext.identity.userArn = arn:{partition}:sts::{account}:assumed-role/deepsc-tenant-acme/{session}`.
 * Anything else (IAM users, other accounts, roles without the prefix) is no tenant and gets 403.
 */
import { TenantIdSchema } from "../../core/contracts/study.js";

const ASSUMED_ROLE = /^arn:aws[a-z-]*:sts::(\d{12}):assumed-role\/([^/]+)\/[^/]+$/;

export function tenantFromPrincipal(
  userArn: string | null | undefined,
  opts: { rolePrefix: string; accountId?: string | undefined },
): string | undefined {
  if (userArn == null) return undefined;
  const m = ASSUMED_ROLE.exec(userArn);
  if (m === null) return undefined;
  const [, account, role] = m as unknown as [string, string, string];
  // A role of the same name in another account is somebody else's role.
  if (opts.accountId !== undefined && account !== opts.accountId) return undefined;
  if (!role.startsWith(opts.rolePrefix)) return undefined;
  const tenant = role.slice(opts.rolePrefix.length);
  return TenantIdSchema.safeParse(tenant).success ? tenant : undefined;
}
