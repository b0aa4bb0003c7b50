/**
 * A real DynamoDB-protocol server (dynalite, in memory) for integration tests: 127.0.0.1, a port chosen by
 * the OS, and a DynamoDBClient pointed at it (cli/local-stack/dynamo-server.ts, the local stack's own).
 *
 *   const db = await startDynalite();
 *   const table = await db.createStudiesTable();
 *   ...
 *   await db.stop();
 */
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { startDynamoServer } from "../../cli/local-stack/dynamo-server.js";

export interface DynaliteHandle {
  client: DynamoDBClient;
  endpoint: string;
  /** Create a studies table (a fresh name unless given) and return its name. */
  createStudiesTable(name?: string): Promise<string>;
  stop(): Promise<void>;
}

let tableCounter = 0;

export async function startDynalite(): Promise<DynaliteHandle> {
  const server = await startDynamoServer();
  return {
    client: server.client,
    endpoint: server.endpoint,
    createStudiesTable: (name = `studies-${process.pid}-${++tableCounter}`) =>
      server.createStudiesTable(name),
    stop: () => server.close(),
  };
}
