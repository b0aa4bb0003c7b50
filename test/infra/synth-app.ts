/**
 * Synthesizes the real DeepSC-COVID app (infra/deepsc-app.ts) the way `cdk synth` does — same feature
 * flags from cdk.json, same compliance packs — but without esbuild bundling (`aws:cdk:bundling-stacks`
 * empty) and without copying assets, so a test file pays for one synth of a few seconds.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { App } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import type { CloudAssembly } from "aws-cdk-lib/cx-api";
import { parsePipelineConfig } from "../../infra/config.js";
import { buildDeepscApp, type DeepscStacks } from "../../infra/deepsc-app.js";

export const REPO_ROOT = path.resolve(import.meta.dirname, "../..");

/** The context `cdk synth` gets from cdk.json (feature flags). */
export function cdkJsonContext(): Record<string, unknown> {
  const cdkJson = JSON.parse(readFileSync(path.join(REPO_ROOT, "cdk.json"), "utf8")) as {
    context: Record<string, unknown>;
  };
  return cdkJson.context;
}

/** Context that keeps tests fast and hermetic: no bundling, no asset copies. */
export const FAST_SYNTH_CONTEXT = {
  "aws:cdk:bundling-stacks": [],
  "aws:cdk:disable-asset-staging": true,
} as const;

export interface SynthesizedApp {
  readonly app: App;
  readonly stacks: DeepscStacks;
  readonly assembly: CloudAssembly;
  readonly storage: Template;
  readonly pipeline: Template;
  /** Remove the temporary output directory. */
  cleanup(): void;
}

/** Build and synthesize the app with extra context (like `-c key=value`, values as strings or JSON). */
export function synthDeepscApp(context: Record<string, unknown> = {}): SynthesizedApp {
  const outdir = mkdtempSync(path.join(tmpdir(), "deepsc-cdk-"));
  const app = new App({ outdir, context: { ...cdkJsonContext(), ...FAST_SYNTH_CONTEXT, ...context } });
  const config = parsePipelineConfig((key) => app.node.tryGetContext(key));
  const stacks = buildDeepscApp(app, config);
  const assembly = app.synth();
  return {
    app,
    stacks,
    assembly,
    storage: Template.fromJSON(assembly.getStackByName(stacks.storage.stackName).template),
    pipeline: Template.fromJSON(assembly.getStackByName(stacks.pipeline.stackName).template),
    cleanup: () => rmSync(outdir, { recursive: true, force: true }),
  };
}

type Resources = Record<
  string,
  { Type: string; Properties?: Record<string, unknown>; DeletionPolicy?: string }
>;

/** The resources of one type in a template, keyed by logical id. */
export function resourcesOf(template: Template, type: string): Resources {
  return template.findResources(type) as Resources;
}

/** The value at a dotted path ("Properties.ComputeResources"); throws when any step is missing. */
export function at<T>(value: unknown, path: string): T {
  let current = value;
  for (const key of path.split(".")) {
    if (current === null || typeof current !== "object" || !(key in current)) {
      throw new Error(`no ${path} (stopped at ${key})`);
    }
    current = (current as Record<string, unknown>)[key];
  }
  return current as T;
}
