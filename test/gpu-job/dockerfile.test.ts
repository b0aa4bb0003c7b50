/**
 * gpu-job/Dockerfile cannot be built here (no Docker), so what can be checked without building it is
 * checked: it lints clean with dockerfile-utils (the validator of the Docker language server), every base
 * image is pinned, it runs as a non-root user, and its CUDA base matches the CUDA that onnxruntime-node's
 * provider is built for, which the build itself verifies with ldd.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { validate } from "dockerfile-utils";
import { describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "../..");
const DOCKERFILE = readFileSync(resolve(ROOT, "gpu-job/Dockerfile"), "utf8");

/** Instructions with their arguments, continuation lines joined, comments dropped. */
function instructions(text: string): { op: string; args: string }[] {
  return text
    .replace(/\\\n/g, " ")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"))
    .map((l) => {
      const [op = "", ...rest] = l.split(/\s+/);
      return { op: op.toUpperCase(), args: rest.join(" ") };
    });
}

/** ARG defaults declared before the first FROM (the only ones a FROM line can use). */
function globalArgs(list: { op: string; args: string }[]): Map<string, string> {
  const args = new Map<string, string>();
  for (const { op, args: a } of list) {
    if (op === "FROM") break;
    const m = /^(\w+)=(\S+)$/.exec(a);
    if (op === "ARG" && m) args.set(m[1] as string, m[2] as string);
  }
  return args;
}

const list = instructions(DOCKERFILE);
const args = globalArgs(list);
const expand = (s: string) => s.replace(/\$\{(\w+)\}/g, (_, name: string) => args.get(name) ?? `\${${name}}`);
const froms = list.filter((i) => i.op === "FROM").map((i) => expand(i.args.split(/\s+/)[0] ?? ""));
const stages = new Set(
  list
    .filter((i) => i.op === "FROM")
    .map((i) => /\bAS\s+(\S+)/i.exec(i.args)?.[1])
    .filter((s): s is string => s !== undefined),
);

describe("gpu-job/Dockerfile", () => {
  it("lints clean with dockerfile-utils, which does flag a broken Dockerfile", () => {
    expect(validate(DOCKERFILE).map((d) => `${d.range.start.line + 1}: ${d.message}`)).toEqual([]);
    expect(validate("FROM\nRUN\n").length).toBeGreaterThan(0);
  });

  it("pins every base image to a version (no latest, no bare name)", () => {
    const bases = froms.filter((f) => !stages.has(f));
    expect(bases.length).toBeGreaterThanOrEqual(2);
    for (const image of bases) {
      expect(image, image).not.toMatch(/\$\{/);
      expect(image, image).toMatch(/(:\d[\w.-]*|@sha256:[0-9a-f]{64})$/);
      expect(image, image).not.toMatch(/:latest$/);
    }
  });

  it("runs the job as a non-root user", () => {
    const users = list.filter((i) => i.op === "USER").map((i) => i.args);
    expect(users.length).toBeGreaterThan(0);
    expect(users.at(-1)).not.toMatch(/^(root|0)(:|$)/);
  });

  it("has a CUDA base of the major version onnxruntime-node's provider is built for, and checks it with ldd", () => {
    const pkg = JSON.parse(readFileSync(resolve(ROOT, "node_modules/onnxruntime-node/package.json"), "utf8"));
    const [major = 0, minor = 0] = String(pkg.version).split(".").map(Number);
    // From ONNX Runtime 1.27 the default GPU packages (what the install script fetches) are CUDA 13.
    const cuda = major > 1 || minor >= 27 ? 13 : 12;
    const runtimeBase = froms.at(-1) ?? "";
    expect(runtimeBase).toMatch(new RegExp(`^nvidia/cuda:${cuda}\\.[\\d.]+-cudnn-runtime-`));
    expect(DOCKERFILE).toContain("--onnxruntime-node-install=cuda12");
    expect(DOCKERFILE).toMatch(/LD_LIBRARY_PATH="\$dir" ldd "\$dir\/libonnxruntime_providers_cuda\.so"/);
    expect(DOCKERFILE).toMatch(/ldconfig -p \| grep -q 'libcudnn\\\.so\\\.9'/);
  });
});
