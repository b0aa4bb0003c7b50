import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  API_KEYS_FILE,
  ApiKeysFileError,
  DEFAULT_TENANT,
  loadApiKeys,
} from "../../../cli/local-stack/api-keys.js";

const dirs: string[] = [];
const fresh = async () => {
  const d = await mkdtemp(join(tmpdir(), "deepsc-keys-"));
  dirs.push(d);
  return d;
};
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe("loadApiKeys", () => {
  it("writes one key for tenant 'local' on first start (owner-only file) and reads the same one after", async () => {
    const dir = await fresh();
    const first = await loadApiKeys(dir);
    expect(first.created?.tenant).toBe(DEFAULT_TENANT);
    expect(first.created?.key.length).toBeGreaterThanOrEqual(32);
    expect((await stat(join(dir, API_KEYS_FILE))).mode & 0o077).toBe(0);
    const again = await loadApiKeys(dir);
    expect(again.created).toBeUndefined();
    expect(again.keys).toEqual(first.keys);
    const key = first.created?.key as string;
    expect(again.tenantOf({ authorization: `Bearer ${key}` })).toBe("local");
    expect(again.tenantOf({ authorization: `bearer   ${key}` })).toBe("local");
    expect(again.tenantOf({ "x-api-key": key })).toBe("local");
    expect(again.tenantOf({ authorization: `Bearer ${key}x` })).toBeUndefined();
    expect(again.tenantOf({ authorization: `Basic ${key}` })).toBeUndefined();
    expect(again.tenantOf({})).toBeUndefined();
  });

  it("refuses a damaged keys file, saying what it must hold, and a tenant id the API would not accept", async () => {
    const dir = await fresh();
    await writeFile(join(dir, API_KEYS_FILE), "{not json");
    await expect(loadApiKeys(dir)).rejects.toThrow(ApiKeysFileError);
    await writeFile(
      join(dir, API_KEYS_FILE),
      JSON.stringify({ keys: [{ key: "0123456789abcdef", tenant: "Hospital A" }] }),
    );
    await expect(loadApiKeys(dir)).rejects.toThrow(/tenant id must match/);
    await writeFile(
      join(dir, API_KEYS_FILE),
      JSON.stringify({
        keys: [
          { key: "0123456789abcdef", tenant: "a" },
          { key: "0123456789abcdef", tenant: "b" },
        ],
      }),
    );
    await expect(loadApiKeys(dir)).rejects.toThrow(/a key is listed twice/);
    await writeFile(join(dir, API_KEYS_FILE), JSON.stringify({ keys: [{ key: "short", tenant: "a" }] }));
    await expect(loadApiKeys(dir)).rejects.toThrow(/at least 16 characters/);
    // Nothing was overwritten.
    expect(await readFile(join(dir, API_KEYS_FILE), "utf8")).toMatch(/short/);
  });
});
