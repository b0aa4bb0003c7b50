import { parseArgs } from "node:util";
import { ApiKeysFileError } from "../local-stack/api-keys.js";
import { DataDirInUseError, startLocalStack } from "../local-stack/stack.js";
import { UsageError } from "../usage.js";
import { HELP } from "./help.js";

/** `deepsc serve`: the local stack (cli/local-stack/stack.ts) until SIGINT or SIGTERM. */
export async function serveCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: false,
    options: {
      port: { type: "string", default: "8080" },
      "s3-port": { type: "string" },
      host: { type: "string", default: "127.0.0.1" },
      data: { type: "string", default: "deepsc-data" },
    },
  });
  if (positionals.length > 0) throw new UsageError(HELP.serve);
  const port = portOf(values.port, "--port");
  const s3Port = values["s3-port"] === undefined ? undefined : portOf(values["s3-port"], "--s3-port");
  const say = (line: string) => process.stderr.write(`${new Date().toISOString()} ${line}\n`);
  let stack: Awaited<ReturnType<typeof startLocalStack>>;
  try {
    stack = await startLocalStack({
      dataDir: values.data,
      host: values.host,
      port,
      ...(s3Port !== undefined ? { s3Port } : {}),
      log: say,
    });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === "EADDRINUSE")
      throw new UsageError(`a port is in use (${err.message}): choose others with --port and --s3-port`);
    if (e instanceof ApiKeysFileError || e instanceof DataDirInUseError) throw new UsageError(e.message);
    throw e;
  }
  const lines = [
    `deepsc local stack (synthetic model ${stack.model.split("#")[0]?.replace(/^image:/, "")}: not for clinical use)`,
    `  status API  ${stack.apiUrl}   (routes under /v1/; Authorization: Bearer <key>)`,
    `  S3          ${stack.s3Endpoint}   (path-style; access key S3RVER, secret S3RVER)`,
    `  data        ${stack.dataDir}`,
    ...(stack.createdKey
      ? [`  new API key for tenant '${stack.createdKey.tenant}': ${stack.createdKey.key}`]
      : [
          `  API keys    ${stack.keys.length} in ${stack.dataDir}/api-keys.json ("key" of each entry; the first start wrote one for tenant 'local')`,
        ]),
    `  try: deepsc submit <scan> --api ${stack.apiUrl} --key <key> --wait --out results/`,
    "Ctrl-C stops it; studies, results and queued jobs are kept in the data folder.",
  ];
  process.stderr.write(`${lines.join("\n")}\n`);
  await new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  say("stopping (a running job is stopped and runs again at the next start)");
  await stack.close();
  return 0;
}

function portOf(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new UsageError(`${flag} must be a port number (0..65535), not '${value}'`);
  return n;
}
