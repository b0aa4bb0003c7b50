import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { downloadToFile } from "../../../gpu-job/job/download.js";
import { withTransferRetries } from "../../../gpu-job/job/retry.js";
import type { JobStore } from "../../../gpu-job/job/store.js";
import { sha256 } from "./job-fixtures.js";

const reset = () => Object.assign(new Error("socket hang up"), { code: "ECONNRESET" });

describe("withTransferRetries", () => {
  it("retries transient failures and returns the first success", async () => {
    let calls = 0;
    const got = await withTransferRetries(
      async () => {
        if (++calls < 3) throw reset();
        return "ok";
      },
      { baseDelayMs: 1 },
    );
    expect(got).toBe("ok");
    expect(calls).toBe(3);
  });

  it("gives up after the last attempt with the transient error", async () => {
    let calls = 0;
    await expect(
      withTransferRetries(
        async () => {
          calls++;
          throw reset();
        },
        { attempts: 3, baseDelayMs: 1 },
      ),
    ).rejects.toMatchObject({ code: "ECONNRESET" });
    expect(calls).toBe(3);
  });

  it("does not retry a permanent failure", async () => {
    let calls = 0;
    const denied = Object.assign(new Error("denied"), {
      name: "AccessDenied",
      $metadata: { httpStatusCode: 403 },
    });
    await expect(
      withTransferRetries(async () => {
        calls++;
        throw denied;
      }),
    ).rejects.toBe(denied);
    expect(calls).toBe(1);
  });
});

describe("downloadToFile", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "download-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("restarts a download whose stream broke halfway, and hashes only the final bytes", async () => {
    const data = Buffer.alloc(300_000, 3);
    let opens = 0;
    const store = {
      openRead: async () => {
        opens++;
        if (opens === 1) {
          // Half the object, then the connection resets.
          return new Readable({
            read() {
              this.push(data.subarray(0, 150_000));
              this.destroy(reset());
            },
          });
        }
        return Readable.from([data.subarray(0, 100_000), data.subarray(100_000)]);
      },
    } as unknown as JobStore;
    const target = path.join(dir, "a/b/file.bin");
    const got = await downloadToFile(store, "k", target);
    expect(opens).toBe(2);
    expect(got).toEqual({ size: 300_000, sha256: sha256(data) });
    expect((await readFile(target)).equals(data)).toBe(true);
  });
});
