#!/usr/bin/env node
/**
 * `deepsc`: the command-line face of the pipeline (DESIGN.md §3). Each command lives in cli/commands/ and
 * loads lazily, so `convert` does not pay at start-up for the phantom generator's DICOM writer.
 * Exit codes: 0 success/accepted, 2 input rejected, 1 internal or usage error.
 */
import { InputNotFoundError } from "../core/input/open-local.js";
import { HELP } from "./commands/help.js";
import { UsageError } from "./usage.js";

type CommandName = keyof typeof HELP;
type Command = (argv: string[]) => Promise<number>;

const COMMANDS: Record<CommandName, () => Promise<Command>> = {
  validate: async () => (await import("./commands/validate.js")).validateCommand,
  convert: async () => (await import("./commands/convert.js")).convertCommand,
  analyze: async () => (await import("./commands/analyze.js")).analyzeCommand,
  phantom: async () => (await import("./commands/phantom.js")).phantomCommand,
  serve: async () => (await import("./commands/serve.js")).serveCommand,
  submit: async () => (await import("./commands/submit.js")).submitCommand,
  sample: async () => (await import("./commands/sample.js")).sampleCommand,
};

/** File-system errors that are the environment's, not the program's, with what to do about them. */
const FILE_SYSTEM_REFUSALS: Record<string, string> = {
  EACCES: "permission denied (choose a path you can write to or read)",
  EPERM: "operation not permitted (choose a path you can write to or read)",
  EROFS: "read-only file system (write the output elsewhere)",
  ENOSPC: "no space left on the device (free some space or write the output elsewhere)",
  EDQUOT: "disk quota exceeded (free some space or write the output elsewhere)",
  EISDIR: "a folder is in the way of a file (choose a file name)",
  ENOTDIR: "a file is in the way of a folder (check the path)",
  EEXIST: "a file already exists where a folder goes (choose another path)",
};

const isCommand = (name: string): name is CommandName => Object.hasOwn(COMMANDS, name);
const usage = () => `Usage: deepsc <command> [options]\n\n${Object.values(HELP).join("\n\n")}\n`;

async function main(argv: string[]): Promise<number> {
  // The AWS SDK's notice that its releases after January 2027 need Node 22 (the one here is pinned by the
  // lockfile and supports Node 20) is eight lines of noise among `serve`'s log lines and `submit`'s output.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(usage());
    return name ? 0 : 1;
  }
  if (!isCommand(name)) {
    process.stderr.write(`deepsc: unknown command '${name}'.\n\n${usage()}`);
    return 1;
  }
  if (rest.includes("--help") || rest.includes("-h")) {
    process.stdout.write(`${HELP[name]}\n`);
    return 0;
  }
  try {
    return await (await COMMANDS[name]())(rest);
  } catch (e) {
    if (
      e instanceof UsageError ||
      e instanceof InputNotFoundError ||
      (e as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")
    ) {
      process.stderr.write(`deepsc ${name}: ${(e as Error).message}\n`);
      return 1;
    }
    const err = e as NodeJS.ErrnoException;
    if (err.code === "ENOENT") {
      process.stderr.write(`deepsc ${name}: no such file or folder: ${err.path ?? err.message}\n`);
      return 1;
    }
    // The machine's refusals (permissions, a full or read-only disk) are not bugs: say what and where.
    const refusal = err.code === undefined ? undefined : FILE_SYSTEM_REFUSALS[err.code];
    if (refusal) {
      process.stderr.write(`deepsc ${name}: ${refusal}: ${err.path ?? err.message}\n`);
      return 1;
    }
    process.stderr.write(
      `deepsc ${name}: internal error: ${err.stack ?? String(e)}\nThis is a bug, not a problem with the input; please report it with the command you ran.\n`,
    );
    return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    process.stderr.write(`deepsc: ${String(e)}\n`);
    process.exitCode = 1;
  },
);
