/**
 * CDK entry point (cdk.json "app"). Reads the deployment configuration from context once, here, and builds
 * the app; see infra/README.md for the context keys.
 *   npx cdk synth -c spot=false -c tenants=hospital-a=111122223333
 */
import { App } from "aws-cdk-lib";
import { ConfigError, parsePipelineConfig } from "./config.js";
import { buildDeepscApp } from "./deepsc-app.js";

process.env.CDK_DISABLE_CLI_TELEMETRY ??= "true";

const app = new App();
try {
  const config = parsePipelineConfig((key) => app.node.tryGetContext(key));
  buildDeepscApp(app, config);
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(error.message);
    process.exit(2);
  }
  throw error;
}
app.synth();
