/**
 * The deployment's UID salt from Secrets Manager (the UidSalt secret of the storage stack, the same value the
 * Batch job gets as DEEPSC_UID_SALT), for Lambdas that hash UIDs. Read once per execution environment.
 */
import { GetSecretValueCommand, type SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import * as z from "zod";
import { MIN_UID_SALT_CHARS } from "../../core/privacy.js";

const SaltSchema = z
  .string()
  .min(MIN_UID_SALT_CHARS, `the UID salt must be at least ${MIN_UID_SALT_CHARS} characters`);

export async function loadUidSalt(client: SecretsManagerClient, secretArn: string): Promise<string> {
  const out = await client.send(new GetSecretValueCommand({ SecretId: secretArn }));
  return SaltSchema.parse(out.SecretString);
}
