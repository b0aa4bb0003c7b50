/**
 * Compliance checks: cdk-nag's AwsSolutions and HIPAA.Security packs run as CDK policy-validation plugins
 * (cdk-nag 3.x: `Validations.of(app).addPlugins(...)`; as an Aspect it crashes), so `cdk synth` and the tests
 * fail on any unacknowledged finding. Acknowledgments go through the helpers below, which insist on a rule id
 * and a specific reason and apply to the narrowest construct that needs them.
 */
import { CfnResource, Stack, Validations } from "aws-cdk-lib";
import * as iam from "aws-cdk-lib/aws-iam";
import { AwsSolutionsChecks, HIPAASecurityChecks } from "cdk-nag";
import type { IConstruct } from "constructs";

/** Register both packs on the app (or a Stage). */
export function addComplianceChecks(scope: IConstruct): void {
  Validations.of(scope).addPlugins(new AwsSolutionsChecks(scope), new HIPAASecurityChecks(scope));
}

const RULE_ID = /^(AwsSolutions|HIPAA\.Security)-[A-Za-z0-9]+(\[.+\])?$/;

/**
 * Acknowledge one cdk-nag rule on one construct (and its children). `rule` is the full id, with the finding
 * in brackets for per-finding rules (`AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/...]`).
 */
export function acknowledge(scope: IConstruct, rule: string, reason: string): void {
  if (!RULE_ID.test(rule)) throw new Error(`not a cdk-nag rule id: ${rule}`);
  // A reason has to tell a reviewer why this resource is fine, not just that someone decided so.
  if (reason.trim().length < 25) throw new Error(`acknowledgment of ${rule} needs a specific reason`);
  Validations.of(scope).acknowledge({ id: rule, reason });
}

/** One kind of IAM wildcard that is acceptable, with why. `finding` matches cdk-nag's IAM5 finding text. */
export interface WildcardAllowance {
  /** Matched against `Action::<action>` or `Resource::<flattened resource>`. */
  readonly finding: RegExp;
  readonly reason: string;
  /**
   * For resource findings: acknowledge only if every statement granting on that resource is limited to
   * these actions (so a later, broader statement on `*` is not silently covered).
   * @default - any action
   */
  readonly onlyActions?: readonly string[];
}

/**
 * Acknowledge AwsSolutions-IAM5 findings of the IAM policies under `scope` that match one of `allowances`;
 * every other wildcard stays an error. Cross-stack references only take their final form (an import or a
 * stack-output lookup) once the app is prepared, so the exact findings are computed at validation time,
 * when they are final, rather than spelled out by hand. Each acknowledgment lands on the one policy
 * resource that carries the finding.
 */
export function allowWildcards(scope: IConstruct, allowances: readonly WildcardAllowance[]): void {
  for (const a of allowances) {
    if (a.reason.trim().length < 25)
      throw new Error(`wildcard allowance ${a.finding} needs a specific reason`);
  }
  scope.node.addValidation({
    validate: () => {
      for (const node of scope.node.findAll()) {
        for (const [finding, actions] of wildcardFindings(node)) {
          const reason = allowanceReason(allowances, finding, actions);
          if (reason) acknowledge(node, `AwsSolutions-IAM5[${finding}]`, reason);
        }
      }
      return [];
    },
  });
}

/**
 * Why `finding` is acceptable, or undefined. Allowances limited to actions combine: a policy granting
 * X-Ray and batch:ListJobs on `*` is covered when both are allowed, and not when any other action is.
 */
function allowanceReason(
  allowances: readonly WildcardAllowance[],
  finding: string,
  actions: ReadonlySet<string>,
): string | undefined {
  const matching = allowances.filter((a) => a.finding.test(finding));
  const unrestricted = matching.find((a) => !a.onlyActions);
  if (unrestricted) return unrestricted.reason;
  const used = matching.filter((a) => [...actions].some((x) => a.onlyActions?.includes(x)));
  const covered = [...actions].every((x) => used.some((a) => a.onlyActions?.includes(x)));
  return covered && used.length > 0 ? used.map((a) => a.reason).join(" ") : undefined;
}

/**
 * cdk-nag's IAM5 findings of one resource (wildcard actions and resources of its Allow statements), each
 * with the actions of the statements it comes from.
 */
export function wildcardFindings(node: IConstruct): Map<string, Set<string>> {
  const findings = new Map<string, Set<string>>();
  if (!CfnResource.isCfnResource(node)) return findings;
  const stack = Stack.of(node);
  const documents: unknown[] = [];
  if (node instanceof iam.CfnPolicy || node instanceof iam.CfnManagedPolicy) {
    documents.push(stack.resolve(node.policyDocument));
  } else if (node instanceof iam.CfnRole) {
    const inline = stack.resolve(node.policies) as Array<{ policyDocument: unknown }> | undefined;
    for (const p of inline ?? []) documents.push(stack.resolve(p.policyDocument));
  }
  const add = (finding: string, actions: string[]) => {
    const set = findings.get(finding) ?? new Set<string>();
    for (const a of actions) set.add(a);
    findings.set(finding, set);
  };
  for (const doc of documents) {
    for (const statement of statementsOf(doc)) {
      if (statement.Effect !== "Allow") continue;
      const actions = asArray(statement.Action).filter((a): a is string => typeof a === "string");
      for (const action of actions) if (action.includes("*")) add(`Action::${action}`, [action]);
      for (const resource of asArray(statement.Resource)) {
        const flat = flattenReference(resource);
        if (flat.includes("*")) add(`Resource::${flat}`, actions);
      }
    }
  }
  return findings;
}

interface Statement {
  Effect?: string;
  Action?: unknown;
  Resource?: unknown;
}

function statementsOf(doc: unknown): Statement[] {
  const s = (doc as { Statement?: unknown } | undefined)?.Statement;
  return Array.isArray(s) ? (s as Statement[]) : [];
}

function asArray(v: unknown): unknown[] {
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

/** The same flattening cdk-nag applies to resources (Join, Sub, GetAtt, ImportValue, Ref; JSON otherwise). */
export function flattenReference(node: unknown): string {
  if (node === undefined) return "";
  if (typeof node === "string") return node.replace(/\$\{/g, "<").replace(/}/g, ">");
  const o = node as Record<string, unknown>;
  if (o["Fn::Join"]) {
    const [delimiter, items] = o["Fn::Join"] as [string, unknown[]];
    return items.map(flattenReference).join(delimiter);
  }
  if (o["Fn::Sub"]) return flattenReference(o["Fn::Sub"]);
  if (o["Fn::GetAtt"]) {
    const [resource, attribute] = o["Fn::GetAtt"] as [unknown, unknown];
    return `<${flattenReference(resource)}.${flattenReference(attribute)}>`;
  }
  if (o["Fn::ImportValue"]) return flattenReference(o["Fn::ImportValue"]);
  if (o.Ref) return `<${flattenReference(o.Ref)}>`;
  return JSON.stringify(node);
}

/**
 * HIPAA.Security-IAMNoInlinePolicy flags the AWS::IAM::Policy resources CDK's grant methods create. They
 * belong to exactly one role and carry only that role's resource-scoped statements.
 */
export function acknowledgeGrantPolicies(role: IConstruct): void {
  acknowledge(
    role,
    "HIPAA.Security-IAMNoInlinePolicy",
    "Statements come from CDK grant methods scoped to this role's own resources and attach to this role only; " +
      "a reusable managed policy would widen, not narrow, who can receive them.",
  );
}
