/**
 * A real DynamoDB-protocol server on this machine (dynalite): the local stack's studies table, and the
 * tests'. With `path` its LevelDB lives on disk (the local stack keeps its studies across restarts);
 * without, in memory. dynalite supports conditional writes and GSIs, not TransactWriteItems (DESIGN.md §5).
 * createStudiesTable() creates the table with the key schema and tenant GSI of the CDK storage stack
 * (infra/runtime-contract.ts STUDIES_TABLE_SCHEMA).
 */
import type { Server } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  ResourceNotFoundException,
} from "@aws-sdk/client-dynamodb";
import { STUDIES_TABLE_SCHEMA as KEYS } from "../../infra/runtime-contract.js";

type DynaliteFactory = (options: Record<string, unknown>) => Server;

export interface DynamoServerOptions {
  /** LevelDB folder; in memory when absent. */
  path?: string;
  /** @default "127.0.0.1" */
  address?: string;
  /** @default 0, a free port chosen by the OS */
  port?: number;
}

export interface DynamoServer {
  client: DynamoDBClient;
  endpoint: string;
  /** Create the studies table `name` unless it exists; returns the name. */
  createStudiesTable(name: string): Promise<string>;
  close(): Promise<void>;
}

export async function startDynamoServer(options: DynamoServerOptions = {}): Promise<DynamoServer> {
  const require = createRequire(import.meta.url);
  const dynalite = require("dynalite") as DynaliteFactory;
  // Zero delays: tables are ACTIVE at once.
  const server = dynalite({
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
    ...(options.path !== undefined ? { path: options.path } : {}),
  });
  const address = options.address ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, address, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const endpoint = `http://${address.includes(":") ? `[${address}]` : address}:${port}`;
  const client = new DynamoDBClient({
    endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
  });
  return {
    client,
    endpoint,
    async createStudiesTable(name) {
      try {
        await client.send(new DescribeTableCommand({ TableName: name }));
        return name;
      } catch (e) {
        if (!(e instanceof ResourceNotFoundException)) throw e;
      }
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
    async close() {
      client.destroy();
      server.closeAllConnections?.();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
