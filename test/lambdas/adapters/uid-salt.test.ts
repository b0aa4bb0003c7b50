/** Secrets Manager has no local protocol server here: aws-sdk-client-mock stands in for it. */
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, describe, expect, it } from "vitest";
import { loadUidSalt } from "../../../lambdas/adapters/uid-salt.js";

const ARN = "arn:aws:secretsmanager:us-east-1:111122223333:secret:UidSalt-AbCdEf";
const sm = mockClient(SecretsManagerClient);
afterEach(() => sm.reset());

describe("loadUidSalt", () => {
  it("reads the salt string of the named secret", async () => {
    sm.on(GetSecretValueCommand, { SecretId: ARN }).resolves({ SecretString: "s".repeat(64) });
    expect(await loadUidSalt(new SecretsManagerClient({ region: "us-east-1" }), ARN)).toBe("s".repeat(64));
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(1);
  });

  it("refuses a missing or short salt instead of hashing with it", async () => {
    sm.on(GetSecretValueCommand).resolves({ SecretString: "short" });
    await expect(loadUidSalt(new SecretsManagerClient({ region: "us-east-1" }), ARN)).rejects.toThrow(/16/);
    sm.on(GetSecretValueCommand).resolves({});
    await expect(loadUidSalt(new SecretsManagerClient({ region: "us-east-1" }), ARN)).rejects.toThrow();
  });
});
