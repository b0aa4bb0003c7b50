/**
 * Whether a policy statement's Condition block matches a request context, for the few operators the stack's
 * Deny statements use, as the IAM reference defines them ("IAM JSON policy elements: Condition operators"):
 * - every operator in the block and every key under it must match (AND); a list of values matches if any does;
 * - a positive operator (StringEquals, Bool) on a key the request lacks does not match;
 * - a negated one (StringNotEquals) on a missing key matches;
 * - `…IfExists` matches whenever the key is missing;
 * - `Null: {key: "false"}` matches when the key is present, `"true"` when it is missing.
 * Values are compared as JSON, so a CloudFormation token ({"Fn::GetAtt": …}) equals itself.
 */
export type RequestContext = Record<string, unknown>;
type ConditionBlock = Record<string, Record<string, unknown>>;

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
const anyOf = (expected: unknown, actual: unknown) =>
  (Array.isArray(expected) ? expected : [expected]).some((v) => same(v, actual));

export function conditionMatches(block: ConditionBlock | undefined, ctx: RequestContext): boolean {
  if (block === undefined) return true;
  return Object.entries(block).every(([operator, keys]) =>
    Object.entries(keys).every(([key, expected]) => {
      const present = key in ctx;
      const actual = ctx[key];
      const ifExists = operator.endsWith("IfExists");
      const op = ifExists ? operator.slice(0, -"IfExists".length) : operator;
      if (op === "Null") return anyOf(expected, present ? "false" : "true");
      if (!present) return ifExists || op.includes("Not");
      switch (op) {
        case "StringEquals":
        case "Bool":
          return anyOf(expected, actual);
        case "StringNotEquals":
          return !anyOf(expected, actual);
        default:
          throw new Error(`conditionMatches: operator ${operator} not modelled`);
      }
    }),
  );
}
