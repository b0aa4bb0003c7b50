/**
 * A real DynamoDB-protocol server (dynalite, in memory) for integration tests: 127.0.0.1, a port chosen by
 * the OS, and a DynamoDBClient pointed at it. createStudiesTable() creates the studies table with the key
 * schema and tenant GSI of the CDK storage stack (infra/runtime-contract.ts STUDIES_TABLE_SCHEMA).
 * dynalite supports conditional writes and GSIs, not TransactWriteItems (DESIGN.md §5).
 *
 *   const db = await startDynalite();
 *   const table = await db.createStudiesTable();
 *   ...
 *   await db.stop();
 */

import type { Server } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { CreateTableCommand, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { STUDIES_TABLE_SCHEMA as KEYS } from "../../infra/runtime-contract.js";

type DynaliteFactory = (options: Record<string, unknown>) => Server;

export interface DynaliteHandle {
  client: DynamoDBClient;
  endpoint: string;
  /** Create a studies table (a fresh name unless given) and return its name. */
  createStudiesTable(name?: string): Promise<string>;
  stop(): Promise<void>;
}

let tableCounter = 0;

export async function startDynalite(): Promise<DynaliteHandle> {
  const require = createRequire(import.meta.url);
  const dynalite = require("dynalite") as DynaliteFactory;
  // No `path` option: LevelDB in memory. Zero delays: tables are ACTIVE at once.
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new DynamoDBClient({
    endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
  });
  return {
    client,
    endpoint,
    async createStudiesTable(name = `studies-${process.pid}-${++tableCounter}`) {
      await client.send(
        new CreateTableCommand({
          TableName: name,
          BillingMode: "PAY_PER_REQUEST",
          AttributeDefinitions: [
            { AttributeName: KEYS.partitionKey, AttributeType: "S" },
            { AttributeName: KEYS.sortKey, AttributeType: "S" },
            { AttributeName: KEYS.tenantIndexPartitionKey, AttributeType: "S" },
            { AttributeName: KEYS.tenantIndexSortKey, AttributeType: "S" },
          ],
          KeySchema: [
            { AttributeName: KEYS.partitionKey, KeyType: "HASH" },
            { AttributeName: KEYS.sortKey, KeyType: "RANGE" },
          ],
          GlobalSecondaryIndexes: [
            {
              IndexName: KEYS.tenantIndexName,
              KeySchema: [
                { AttributeName: KEYS.tenantIndexPartitionKey, KeyType: "HASH" },
                { AttributeName: KEYS.tenantIndexSortKey, KeyType: "RANGE" },
              ],
              Projection: { ProjectionType: "ALL" },
            },
          ],
        }),
      );
      return name;
    },
    async stop() {
      client.destroy();
      server.closeAllConnections?.();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
