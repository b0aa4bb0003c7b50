/**
 * The container entrypoint with the fake pipeline, for tests that run the job as a separate process (so it
 * can be killed). Everything else is main.ts's real composition: environment parsing, S3 client, logging,
 * signals and exit codes. Test knobs (environment):
 *   FAKE_ANALYZE_MODE    ok | reject | crash | hang           (default ok)
 *   FAKE_ANALYZE_IMAGES  number of images/*.png to write       (default 3)
 *   FAKE_ANALYZE_CALLS   file that gets one line per pipeline run
 *   FAKE_STALL_AFTER_UPLOADS  after this many result uploads, the next one never completes (a stuck
 *                        attempt the test then kills)
 */

import type { JobStore } from "../../../gpu-job/job/store.js";
import { runAsEntrypoint, s3Stores } from "../../../gpu-job/main.js";
import { type FakeMode, fakeAnalyze } from "./fake-analyze.js";

const env = process.env;
const stallAfter =
  env.FAKE_STALL_AFTER_UPLOADS === undefined ? undefined : Number(env.FAKE_STALL_AFTER_UPLOADS);
const real = s3Stores(env);
let uploads = 0;

function stalling(store: JobStore): JobStore {
  if (stallAfter === undefined) return store;
  return {
    bucket: store.bucket,
    list: (p) => store.list(p),
    head: (k) => store.head(k),
    get: (k) => store.get(k),
    getRange: (k, a, b) => store.getRange(k, a, b),
    put: (k, b, t) => store.put(k, b, t),
    openRead: (k) => store.openRead(k),
    delete: (k) => store.delete(k),
    putFile: async (key, file, o) => {
      if (uploads++ >= stallAfter) await new Promise(() => setInterval(() => {}, 1000));
      return store.putFile(key, file, o);
    },
  };
}

await runAsEntrypoint({
  storeFor: (bucket) => stalling(real.storeFor(bucket)),
  analyze: fakeAnalyze({
    mode: (env.FAKE_ANALYZE_MODE ?? "ok") as FakeMode,
    images: Number(env.FAKE_ANALYZE_IMAGES ?? 3),
    ...(env.FAKE_ANALYZE_CALLS !== undefined ? { callLog: env.FAKE_ANALYZE_CALLS } : {}),
  }),
});
