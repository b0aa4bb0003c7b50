/**
 * The StudyRepository port over the DynamoDB studies table (key schema: infra/runtime-contract.ts, the one
 * the CDK storage stack creates). One item per study: pk = studyId, sk = "STUDY"; the `byTenant` GSI
 * (tenant, createdAt) serves listing. Every mutation is one conditional write; a failed condition is
 * reported as `false`, never thrown (it means a duplicate or outdated event).
 */
import { ConditionalCheckFailedException, type DynamoDBClient } from "@aws-sdk/client-dynamodb";
import {
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandInput,
  UpdateCommand,
  type UpdateCommandInput,
} from "@aws-sdk/lib-dynamodb";
import {
  STUDY_SORT_KEY,
  type StudyReason,
  type StudyRecord,
  StudyRecordSchema,
  type StudyStatus,
  TERMINAL_STATUSES,
} from "../../core/contracts/study.js";
import {
  type ClaimResult,
  InvalidCursorError,
  type NewStudyClaim,
  type StudyPage,
  type StudyRepository,
} from "../../core/ports/study-repository.js";
import { progressOf } from "../../core/studies/transitions.js";
import { STUDIES_TABLE_SCHEMA as KEYS } from "../../infra/runtime-contract.js";

/** How many index pages one list call may read to fill a page when a status filter skips items. */
const MAX_QUERY_ROUNDS = 10;

const isConditionFailed = (e: unknown) =>
  e instanceof ConditionalCheckFailedException ||
  (e as { name?: string } | null)?.name === "ConditionalCheckFailedException";

export class DynamoStudyRepository implements StudyRepository {
  private readonly doc: DynamoDBDocumentClient;

  constructor(
    client: DynamoDBClient,
    private readonly tableName: string,
  ) {
    this.doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  }

  private key(studyId: string) {
    return { [KEYS.partitionKey]: studyId, [KEYS.sortKey]: STUDY_SORT_KEY };
  }

  /** Run a conditional update; false when the condition did not hold. */
  private async conditional(
    input: Omit<UpdateCommandInput, "TableName" | "Key">,
    studyId: string,
  ): Promise<boolean> {
    try {
      await this.doc.send(new UpdateCommand({ TableName: this.tableName, Key: this.key(studyId), ...input }));
      return true;
    } catch (e) {
      if (isConditionFailed(e)) return false;
      throw e;
    }
  }

  async claim(c: NewStudyClaim): Promise<ClaimResult> {
    const record: StudyRecord = {
      studyId: c.studyId,
      tenant: c.tenant,
      uploadId: c.uploadId,
      inputKey: c.inputKey,
      status: "VALIDATING",
      attempt: 0,
      progress: progressOf("VALIDATING", 0),
      createdAt: c.now,
      updatedAt: c.now,
      reasons: [],
      claimToken: c.claimToken,
      leaseUntil: c.leaseUntil,
      submitted: false,
      modelUri: c.modelUri,
    };
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...this.key(c.studyId), ...record },
          ConditionExpression: "attribute_not_exists(#pk)",
          ExpressionAttributeNames: { "#pk": KEYS.partitionKey },
        }),
      );
      return { claimed: true };
    } catch (e) {
      if (!isConditionFailed(e)) throw e;
    }
    const existing = await this.get(c.studyId);
    // Deleted between the failed put and the read (TTL, operator): a retry of the event will claim it.
    if (existing === undefined) throw new Error(`Study ${c.studyId} vanished during its claim; retry.`);
    return { claimed: false, existing };
  }

  takeOver(studyId: string, expectedToken: string, newToken: string, leaseUntil: number, now: string) {
    return this.conditional(
      {
        UpdateExpression: "SET claimToken = :new, leaseUntil = :lease, updatedAt = :now",
        ConditionExpression: "#status = :validating AND submitted = :false AND claimToken = :old",
        ExpressionAttributeNames: { "#status": "status" },
        ExpressionAttributeValues: {
          ":new": newToken,
          ":old": expectedToken,
          ":lease": leaseUntil,
          ":now": now,
          ":validating": "VALIDATING",
          ":false": false,
        },
      },
      studyId,
    );
  }

  releaseLease(studyId: string, token: string, now: string) {
    return this.conditional(
      {
        UpdateExpression: "SET leaseUntil = :zero, updatedAt = :now",
        ConditionExpression: "claimToken = :token AND submitted = :false",
        ExpressionAttributeValues: { ":zero": 0, ":token": token, ":now": now, ":false": false },
      },
      studyId,
    );
  }

  reject(
    studyId: string,
    token: string,
    d: { reasons: StudyReason[]; bytesRead: number; bytesTotal: number },
    now: string,
  ) {
    return this.conditional(
      {
        UpdateExpression:
          "SET #status = :rejected, progress = :p, reasons = :reasons, bytesRead = :read, bytesTotal = :total, updatedAt = :now",
        ConditionExpression: "claimToken = :token AND #status = :validating AND submitted = :false",
        ExpressionAttributeNames: { "#status": "status" },
        ExpressionAttributeValues: {
          ":rejected": "REJECTED",
          ":validating": "VALIDATING",
          ":p": progressOf("REJECTED", 0),
          ":reasons": d.reasons,
          ":read": d.bytesRead,
          ":total": d.bytesTotal,
          ":token": token,
          ":now": now,
          ":false": false,
        },
      },
      studyId,
    );
  }

  async recordSubmission(
    studyId: string,
    token: string,
    job: { jobId: string; jobName: string; bytesRead: number; bytesTotal: number },
    now: string,
  ): Promise<boolean> {
    const values = {
      ":token": token,
      ":false": false,
      ":true": true,
      ":jobId": job.jobId,
      ":jobName": job.jobName,
      ":read": job.bytesRead,
      ":total": job.bytesTotal,
      ":now": now,
    };
    const submittedSet =
      "submitted = :true, jobId = :jobId, jobName = :jobName, bytesRead = :read, bytesTotal = :total, updatedAt = :now";
    // Normally the study is still VALIDATING: move it to QUEUED in the same write.
    const queued = await this.conditional(
      {
        UpdateExpression: `SET ${submittedSet}, #status = :queued, progress = :p`,
        ConditionExpression: "claimToken = :token AND submitted = :false AND progress < :p",
        ExpressionAttributeNames: { "#status": "status" },
        ExpressionAttributeValues: { ...values, ":queued": "QUEUED", ":p": progressOf("QUEUED", 0) },
      },
      studyId,
    );
    if (queued) return true;
    // A Batch event already moved it further (the job started before we got here): record the job only.
    return this.conditional(
      {
        UpdateExpression: `SET ${submittedSet}`,
        ConditionExpression: "claimToken = :token AND submitted = :false",
        ExpressionAttributeValues: values,
      },
      studyId,
    );
  }

  advance(
    studyId: string,
    next: { status: StudyStatus; attempt: number; reasons?: StudyReason[]; jobId?: string },
    now: string,
  ) {
    const values: Record<string, unknown> = {
      ":status": next.status,
      ":attempt": next.attempt,
      ":p": progressOf(next.status, next.attempt),
      ":now": now,
      ":t0": TERMINAL_STATUSES[0],
      ":t1": TERMINAL_STATUSES[1],
      ":t2": TERMINAL_STATUSES[2],
    };
    let set = "#status = :status, attempt = :attempt, progress = :p, updatedAt = :now";
    if (next.reasons !== undefined) {
      set += ", reasons = :reasons";
      values[":reasons"] = next.reasons;
    }
    if (next.jobId !== undefined) {
      set += ", jobId = if_not_exists(jobId, :jobId)";
      values[":jobId"] = next.jobId;
    }
    return this.conditional(
      {
        UpdateExpression: `SET ${set}`,
        // attribute_exists: an event for a deleted study must not resurrect a half item.
        ConditionExpression: "attribute_exists(#pk) AND progress < :p AND NOT (#status IN (:t0, :t1, :t2))",
        ExpressionAttributeNames: { "#status": "status", "#pk": KEYS.partitionKey },
        ExpressionAttributeValues: values,
      },
      studyId,
    );
  }

  async get(studyId: string): Promise<StudyRecord | undefined> {
    const res = await this.doc.send(
      new GetCommand({ TableName: this.tableName, Key: this.key(studyId), ConsistentRead: true }),
    );
    return res.Item === undefined ? undefined : StudyRecordSchema.parse(res.Item);
  }

  async listByTenant(
    tenant: string,
    opts: { status?: StudyStatus; limit: number; cursor?: string },
  ): Promise<StudyPage> {
    let startKey = opts.cursor === undefined ? undefined : decodeCursor(opts.cursor, tenant);
    const items: StudyRecord[] = [];
    // With a status filter DynamoDB applies Limit before filtering; asking for exactly the number still
    // missing keeps LastEvaluatedKey at the last item returned, so no item is ever skipped.
    for (let round = 0; round < MAX_QUERY_ROUNDS && items.length < opts.limit; round++) {
      const input: QueryCommandInput = {
        TableName: this.tableName,
        IndexName: KEYS.tenantIndexName,
        KeyConditionExpression: "#tenant = :tenant",
        ExpressionAttributeNames: { "#tenant": KEYS.tenantIndexPartitionKey },
        ExpressionAttributeValues: { ":tenant": tenant },
        ScanIndexForward: false,
        Limit: opts.limit - items.length,
        ...(startKey !== undefined ? { ExclusiveStartKey: startKey } : {}),
      };
      if (opts.status !== undefined) {
        input.FilterExpression = "#status = :status";
        input.ExpressionAttributeNames = { ...input.ExpressionAttributeNames, "#status": "status" };
        input.ExpressionAttributeValues = { ...input.ExpressionAttributeValues, ":status": opts.status };
      }
      const res = await this.doc.send(new QueryCommand(input));
      for (const it of res.Items ?? []) items.push(StudyRecordSchema.parse(it));
      startKey = res.LastEvaluatedKey;
      if (startKey === undefined) break;
    }
    return startKey === undefined ? { items } : { items, cursor: encodeCursor(startKey) };
  }
}

function encodeCursor(key: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify(key), "utf8").toString("base64url");
}

/**
 * A cursor is a LastEvaluatedKey of the tenant index. It is checked, not trusted: it must be a flat object
 * of strings holding exactly the index and table keys, and its tenant must be the caller's, so a forged
 * cursor cannot start a query in another tenant's partition (the key condition pins it anyway).
 */
function decodeCursor(cursor: string, tenant: string): Record<string, string> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch (e) {
    throw new InvalidCursorError("nextToken is not a valid token", { cause: e });
  }
  const expected = [
    KEYS.partitionKey,
    KEYS.sortKey,
    KEYS.tenantIndexPartitionKey,
    KEYS.tenantIndexSortKey,
  ].sort();
  if (
    typeof parsed !== "object" ||
    parsed === null ||
    Array.isArray(parsed) ||
    JSON.stringify(Object.keys(parsed).sort()) !== JSON.stringify(expected) ||
    // DynamoDB refuses an empty key attribute with a ValidationException (a 500 here, not the caller's 400).
    Object.values(parsed).some((v) => typeof v !== "string" || v === "")
  )
    throw new InvalidCursorError("nextToken is not a valid token");
  const key = parsed as Record<string, string>;
  if (key[KEYS.tenantIndexPartitionKey] !== tenant)
    throw new InvalidCursorError("nextToken belongs to another query");
  return key;
}
