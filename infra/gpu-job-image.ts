/**
 * The gpu-job image's build context is the repository root (the job imports core/, infra/'s runtime contract
 * and lambdas/ adapters), filtered by gpu-job/Dockerfile.dockerignore — the per-Dockerfile ignore file BuildKit reads.
 * CDK fingerprints the asset with the same patterns, so the asset hash changes exactly when what Docker
 * would build changes, and `cdk synth` never needs Docker.
 */
import { readFileSync } from "node:fs";
import path from "node:path";

export const GPU_JOB_DOCKERFILE = "gpu-job/Dockerfile";
export const GPU_JOB_DOCKERIGNORE = "gpu-job/Dockerfile.dockerignore";

/** The ignore patterns (comments and blank lines dropped), in Docker's own syntax and order. */
export function gpuJobImageExcludes(projectRoot: string): string[] {
  const text = readFileSync(path.join(projectRoot, GPU_JOB_DOCKERIGNORE), "utf8");
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"));
}
