/**
 * s3rver in its own process for benchmarks: S3 is a remote service, so the server must not share the
 * client's event loop (in-process, every request's server work would be billed to the validation).
 * Prints `READY <endpoint>` on stdout, stops on SIGTERM.
 */
import { startS3rver } from "../test/helpers/s3rver.js";

const s3 = await startS3rver({ buckets: (process.argv[2] ?? "ingest").split(",") });
process.stdout.write(`READY ${s3.endpoint}\n`);
process.on("SIGTERM", () => {
  void s3.stop().then(() => process.exit(0));
});
