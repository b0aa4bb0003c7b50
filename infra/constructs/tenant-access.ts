/**
 * One IAM role per tenant (hospital). The hospital's own principals assume it (cross-account, optionally with
 * an external id); as that role they may call the status API and upload under `incoming/{tenant}/` — nothing
 * else, in particular no other tenant's prefix and no results (those come as presigned URLs from the API).
 * The status API resolves the tenant from the role name, so names follow `${rolePrefix}${tenantId}`.
 */
import { Aws, Duration } from "aws-cdk-lib";
import * as iam from "aws-cdk-lib/aws-iam";
import type * as s3 from "aws-cdk-lib/aws-s3";
import { Construct } from "constructs";
import type { TenantConfig } from "../config.js";
import { allow } from "../iam-allowances.js";
import { acknowledgeGrantPolicies, allowWildcards } from "../nag.js";
import { INCOMING_PREFIX } from "../runtime-contract.js";
import type { StatusApi } from "./status-api.js";

export interface TenantAccessProps {
  readonly tenants: readonly TenantConfig[];
  /** Role names are `${rolePrefix}${tenant.id}` (at most 64 characters). */
  readonly rolePrefix: string;
  readonly ingestBucket: s3.IBucket;
  readonly statusApi: StatusApi;
  /**
   * Session length of an assumed tenant role.
   * @default Duration.hours(1)
   */
  readonly maxSessionDuration?: Duration;
}

const TENANT_ID = /^[a-z0-9][a-z0-9-]{0,31}$/;

export class TenantAccess extends Construct {
  /** Tenant id → its role. */
  readonly roles = new Map<string, iam.Role>();

  constructor(scope: Construct, id: string, props: TenantAccessProps) {
    super(scope, id);
    this.node.addValidation({ validate: () => validateTenants(props) });

    for (const tenant of props.tenants) {
      if (!TENANT_ID.test(tenant.id)) continue; // reported by the validation above
      const principals = tenant.principals.map((p) =>
        /^\d{12}$/.test(p) ? new iam.AccountPrincipal(p) : new iam.ArnPrincipal(p),
      );
      const assumedBy = new iam.CompositePrincipal(...principals);
      const role = new iam.Role(this, `Tenant-${tenant.id}`, {
        roleName: `${props.rolePrefix}${tenant.id}`,
        description: `DeepSC-COVID tenant ${tenant.id}: status API and uploads under ${INCOMING_PREFIX}${tenant.id}/`,
        assumedBy: tenant.externalId
          ? assumedBy.withConditions({ StringEquals: { "sts:ExternalId": tenant.externalId } })
          : assumedBy,
        maxSessionDuration: props.maxSessionDuration ?? Duration.hours(1),
      });
      props.statusApi.grantInvoke(role);
      grantUploads(role, props.ingestBucket, `${INCOMING_PREFIX}${tenant.id}/`);
      this.roles.set(tenant.id, role);

      acknowledgeGrantPolicies(role);
      allowWildcards(role, [
        allow.objectsUnder(`${INCOMING_PREFIX}${tenant.id}/`, `Tenant ${tenant.id} uploads`),
        allow.studyByIdMethod,
      ]);
    }
  }
}

/**
 * What an upload needs and no more (bucket.grantPut would add legal hold, retention, tagging and the
 * ReEncrypt family): PutObject (single and multipart PUTs; the AWS CLI goes multipart above 8 MiB) and
 * AbortMultipartUpload under the tenant's prefix, and the bucket key's GenerateDataKey and Decrypt (a multipart
 * upload needs both) only when S3 asks on the role's behalf, so the hospital's credentials cannot call KMS
 * with the data key directly.
 */
function grantUploads(role: iam.IRole, bucket: s3.IBucket, prefix: string): void {
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      actions: ["s3:PutObject", "s3:AbortMultipartUpload"],
      resources: [bucket.arnForObjects(`${prefix}*`)],
    }),
  );
  if (!bucket.encryptionKey) return;
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      actions: ["kms:GenerateDataKey", "kms:Decrypt"],
      resources: [bucket.encryptionKey.keyArn],
      conditions: { StringEquals: { "kms:ViaService": `s3.${Aws.REGION}.amazonaws.com` } },
    }),
  );
}

function validateTenants(props: TenantAccessProps): string[] {
  const errors: string[] = [];
  const seen = new Set<string>();
  for (const t of props.tenants) {
    if (!TENANT_ID.test(t.id)) errors.push(`tenant id "${t.id}" must match ${TENANT_ID}`);
    if (seen.has(t.id)) errors.push(`duplicate tenant id "${t.id}"`);
    seen.add(t.id);
    if (t.principals.length === 0)
      errors.push(`tenant "${t.id}" has no principals allowed to assume its role`);
    if (`${props.rolePrefix}${t.id}`.length > 64)
      errors.push(`role name for tenant "${t.id}" exceeds 64 characters`);
  }
  return errors;
}
