#!/usr/bin/env node
import { InputNotFoundError } from "../core/input/open-local.js";
/**
 * `deepsc`: the command-line face of the pipeline (DESIGN.md §3). Each command lives in cli/commands/.
 * Exit codes: 0 success/accepted, 2 input rejected, 1 internal or usage error.
 */
import { convertCommand, convertHelp } from "./commands/convert.js";
import { phantomCommand, phantomHelp } from "./commands/phantom.js";
import { sampleCommand, sampleHelp } from "./commands/sample.js";
import { validateCommand, validateHelp } from "./commands/validate.js";
import { UsageError } from "./usage.js";

const COMMANDS: Record<string, { run: (argv: string[]) => Promise<number>; help: string }> = {
  validate: { run: validateCommand, help: validateHelp },
  convert: { run: convertCommand, help: convertHelp },
  phantom: { run: phantomCommand, help: phantomHelp },
  sample: { run: sampleCommand, help: sampleHelp },
};

const usage = () =>
  `Usage: deepsc <command> [options]\n\n${Object.values(COMMANDS)
    .map((c) => c.help)
    .join("\n\n")}\n`;

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(usage());
    return name ? 0 : 1;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`deepsc: unknown command '${name}'.\n\n${usage()}`);
    return 1;
  }
  if (rest.includes("--help") || rest.includes("-h")) {
    process.stdout.write(`${command.help}\n`);
    return 0;
  }
  try {
    return await command.run(rest);
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
