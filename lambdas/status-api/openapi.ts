/**
 * The status API's OpenAPI 3.1 document, generated from the zod schemas of core/contracts/study.ts (the
 * single source of truth). `openapi.json` beside this file is the checked-in output; a test regenerates it
 * and fails on any difference, so the document cannot drift from the code.
 * Regenerate: npx tsx lambdas/status-api/openapi.ts > lambdas/status-api/openapi.json
 */
import * as z from "zod";
import {
  CreateUploadRequestSchema,
  CreateUploadResponseSchema,
  ListStudiesQuerySchema,
  ProblemSchema,
  ResultFileSchema,
  StudyIdSchema,
  StudyListSchema,
  StudyReasonSchema,
  StudySchema,
} from "../../core/contracts/study.js";

/** Named components; nested uses of these schemas become $refs. */
function components(): Record<string, unknown> {
  const registry = z.registry<{ id: string }>();
  registry.add(StudyReasonSchema, { id: "StudyReason" });
  registry.add(ResultFileSchema, { id: "ResultFile" });
  registry.add(StudySchema, { id: "Study" });
  registry.add(StudyListSchema, { id: "StudyList" });
  registry.add(CreateUploadRequestSchema, { id: "CreateUploadRequest" });
  registry.add(CreateUploadResponseSchema, { id: "CreateUploadResponse" });
  registry.add(ProblemSchema, { id: "Problem" });
  const out = z.toJSONSchema(registry, {
    target: "draft-2020-12",
    io: "output",
    uri: (id) => `#/components/schemas/${id}`,
  });
  const schemas: Record<string, unknown> = {};
  for (const [id, schema] of Object.entries(out.schemas)) {
    const { $schema: _ignored, $id: _id, ...rest } = schema as Record<string, unknown>;
    schemas[id] = rest;
  }
  return schemas;
}

/** One OpenAPI query parameter per field of a zod object, with the field's JSON Schema as a client sends it. */
function queryParameters(
  schema: z.ZodObject,
  descriptions: Record<string, string> = {},
): Record<string, unknown>[] {
  const json = z.toJSONSchema(schema, { target: "draft-2020-12", io: "input" }) as {
    properties: Record<string, Record<string, unknown>>;
    required?: string[];
  };
  return Object.entries(json.properties).map(([name, fieldSchema]) => ({
    name,
    in: "query",
    required: json.required?.includes(name) ?? false,
    ...(descriptions[name] !== undefined ? { description: descriptions[name] } : {}),
    schema: fieldSchema,
  }));
}

const ref = (id: string) => ({ $ref: `#/components/schemas/${id}` });
const problem = (description: string) => ({
  description,
  content: { "application/problem+json": { schema: ref("Problem") } },
});
const common = {
  "400": problem("Invalid parameter"),
  "403": problem("The caller is not a tenant of this API"),
  "500": problem("Internal error"),
};

export function buildOpenApiDocument(): Record<string, unknown> {
  const { $schema: _s, ...studyIdSchema } = z.toJSONSchema(StudyIdSchema, {
    target: "draft-2020-12",
  }) as Record<string, unknown>;
  return {
    openapi: "3.1.0",
    info: {
      title: "DeepSC-COVID status API",
      version: "1.0.0",
      description:
        "Study status and results of the DeepSC-COVID chest CT pipeline. Requests are signed with SigV4 (AWS_IAM); the tenant is the caller's tenant role. Another tenant's study is a 404. Presigned URLs live at most 15 minutes.",
    },
    security: [{ sigv4: [] }],
    paths: {
      "/v1/studies/{id}": {
        get: {
          operationId: "getStudy",
          summary: "One study; for SUCCEEDED studies, presigned GET URLs of every result file",
          parameters: [{ name: "id", in: "path", required: true, schema: studyIdSchema }],
          responses: {
            "200": { description: "The study", content: { "application/json": { schema: ref("Study") } } },
            "404": problem("No such study for this tenant"),
            ...common,
          },
        },
      },
      "/v1/studies": {
        get: {
          operationId: "listStudies",
          summary: "The tenant's studies, newest first",
          parameters: queryParameters(ListStudiesQuerySchema, {
            nextToken: "Opaque token from the previous page",
          }),
          responses: {
            "200": {
              description: "One page of studies",
              content: { "application/json": { schema: ref("StudyList") } },
            },
            ...common,
          },
        },
      },
      "/v1/uploads": {
        post: {
          operationId: "createUpload",
          summary: "A new upload id and a presigned PUT URL for its series.zip or NIfTI volume",
          requestBody: {
            required: false,
            description: 'Which object to upload; no body means {"file": "series.zip"}',
            content: { "application/json": { schema: ref("CreateUploadRequest") } },
          },
          responses: {
            "201": {
              description: "Upload created",
              content: { "application/json": { schema: ref("CreateUploadResponse") } },
            },
            ...common,
          },
        },
      },
    },
    components: {
      securitySchemes: {
        sigv4: {
          type: "apiKey",
          name: "Authorization",
          in: "header",
          "x-amazon-apigateway-authtype": "awsSigv4",
        },
      },
      schemas: components(),
    },
  };
}

export function renderOpenApiDocument(): string {
  return `${JSON.stringify(buildOpenApiDocument(), null, 2)}\n`;
}

if (import.meta.url === `file://${process.argv[1]}`) process.stdout.write(renderOpenApiDocument());
