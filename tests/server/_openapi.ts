// Requests generated from an OpenAPI document: a valid value of a schema, and every request that
// breaks exactly one documented constraint (used by openapi_test.ts and the HTTP fuzzer).
// deno-lint-ignore no-explicit-any
export type Schema = Record<string, any>;
// deno-lint-ignore no-explicit-any
export type Doc = Record<string, any>;

/** A schema with its `$ref`s and `allOf`s resolved (one level of `allOf` merged into one object). */
export function resolve(doc: Doc, s: Schema | undefined): Schema {
  if (!s) return {};
  if (typeof s.$ref === "string") return resolve(doc, doc.components.schemas[s.$ref.split("/").pop()!]);
  if (Array.isArray(s.allOf)) {
    return Object.assign({}, ...s.allOf.map((x: Schema) => resolve(doc, x)), { ...s, allOf: undefined });
  }
  return s;
}

/** The JSON types a schema accepts ("integer" counted as "number" only when not fractional). */
function types(s: Schema): string[] {
  if (Array.isArray(s.anyOf)) return s.anyOf.flatMap((b: Schema) => types(b));
  if (Array.isArray(s.type)) return s.type;
  if (typeof s.type === "string") return [s.type];
  if (s.enum) return [...new Set(s.enum.map((v: unknown) => (v === null ? "null" : typeof v)))] as string[];
  return ["any"];
}

/** A value the schema accepts. */
export function valid(doc: Doc, schema: Schema): unknown {
  const s = resolve(doc, schema);
  if (Array.isArray(s.anyOf)) return valid(doc, s.anyOf[0]);
  if (s.enum) return s.enum[0];
  const type = types(s).find((t) => t !== "null") ?? "any";
  if (type === "integer" || type === "number") return Math.max(s.minimum ?? 0, Math.min(s.maximum ?? 1, 1));
  if (type === "string") return s.pattern ? "q" : "x";
  if (type === "boolean") return true;
  if (type === "array") return [valid(doc, s.items)];
  if (type === "object") {
    const out: Record<string, unknown> = {};
    for (const k of s.required ?? []) out[k] = valid(doc, s.properties[k]);
    return out;
  }
  return 1;
}

/** One broken value: what breaks it, the value, and the field the message must name. */
interface Violation {
  what: string;
  field: string;
  value: unknown;
}

/** A value of each JSON type, for "a type the schema does not accept". */
const OTHER_TYPES: [string, unknown][] = [["boolean", true], ["string", "x"], ["number", 1.5], [
  "object",
  {},
]];

/** Values that break `schema` at `field` (one constraint each). `query` values are strings. */
function violations(doc: Doc, schema: Schema, field: string, query = false): Violation[] {
  const s = resolve(doc, schema);
  const out: Violation[] = [];
  const add = (what: string, value: unknown, at = field) =>
    out.push({ what: `${at}: ${what}`, field: at, value });
  const accepted = types(s);
  if (!accepted.includes("any")) {
    // A type none of the branches accepts (for a query, a string that is not a number).
    if (query) {
      if (accepted.includes("integer")) add("not a number", "abc");
    } else {
      const other = OTHER_TYPES.find(([t]) => !accepted.includes(t));
      if (other) add(`type ${other[0]} where ${accepted.join("|")}`, other[1]);
    }
  }
  const branches: Schema[] = Array.isArray(s.anyOf) ? s.anyOf.map((b: Schema) => resolve(doc, b)) : [s];
  for (const b of branches) {
    const t = types(b);
    const str = (v: unknown) => (query ? String(v) : v);
    if (t.includes("integer")) {
      add("a fraction where an integer", str((b.minimum ?? 0) + 0.5));
      if (typeof b.minimum === "number") add(`below minimum ${b.minimum}`, str(b.minimum - 1));
      if (typeof b.maximum === "number") add(`above maximum ${b.maximum}`, str(b.maximum + 1));
    }
    if (b.enum) add(`not one of ${b.enum.join("|")}`, "not-a-member");
    if (t.includes("string")) {
      if (typeof b.maxLength === "number") add(`longer than ${b.maxLength}`, "x".repeat(b.maxLength + 1));
      if (typeof b.minLength === "number" && b.minLength > 0) add(`shorter than ${b.minLength}`, "");
      if (b.pattern) add(`not matching ${b.pattern}`, "not a name!");
    }
    if (t.includes("object") && b.properties) {
      const base = valid(doc, b) as Record<string, unknown>;
      for (const k of b.required ?? []) {
        const { [k]: _gone, ...rest } = base;
        out.push({ what: `${field === "body" ? "" : `${field}.`}${k}: required`, field: k, value: rest });
      }
      if (b.additionalProperties === false) {
        out.push({
          what: `${field}: unknown field`,
          field: "zzz_unknown",
          value: { ...base, zzz_unknown: 1 },
        });
      }
      for (const [k, p] of Object.entries(b.properties as Record<string, Schema>)) {
        const at = field === "body" ? k : `${field}.${k}`;
        for (const v of violations(doc, p, at)) out.push({ ...v, value: { ...base, [k]: v.value } });
      }
    }
    if (t.includes("array") && b.items) {
      for (const v of violations(doc, b.items, `${field}.0`)) out.push({ ...v, value: [v.value] });
    }
  }
  return out;
}

/** A request: method, path (parameters filled), query and body. */
export interface Call {
  what: string;
  field: string;
  method: string;
  path: string;
  body?: unknown;
}

/** Every violating request the document implies. */
export function violatingCalls(doc: Doc): Call[] {
  const calls: Call[] = [];
  for (const [template, ops] of Object.entries(doc.paths as Record<string, Record<string, Doc>>)) {
    for (const [method, op] of Object.entries(ops)) {
      const params: Doc[] = op.parameters ?? [];
      const good: Record<string, string> = {};
      for (const p of params) good[p.name] = String(valid(doc, p.schema));
      const bodySchema = op.requestBody?.content?.["application/json"]?.schema;
      const goodBody = bodySchema ? valid(doc, bodySchema) : undefined;
      const build = (pathValues: Record<string, string>, query: Record<string, string>) => {
        const path = template.replace(/\{(\w+)\}/g, (_m, k) => encodeURIComponent(pathValues[k]));
        const qs = new URLSearchParams(query).toString();
        return qs ? `${path}?${qs}` : path;
      };
      const pathGood = Object.fromEntries(
        params.filter((p) => p.in === "path").map((p) => [p.name, good[p.name]]),
      );
      // Required query parameters keep valid values, so each request breaks just one thing.
      const queryGood = Object.fromEntries(
        params.filter((p) => p.in === "query" && p.required).map((p) => [p.name, good[p.name]]),
      );
      for (const p of params) {
        for (const v of violations(doc, p.schema, p.name, true)) {
          const pathValues = p.in === "path" ? { ...pathGood, [p.name]: String(v.value) } : pathGood;
          const query = p.in === "query" ? { ...queryGood, [p.name]: String(v.value) } : queryGood;
          calls.push({
            what: `${method.toUpperCase()} ${template} ${p.in} ${v.what}`,
            field: p.name,
            method,
            path: build(pathValues, query),
            body: goodBody,
          });
        }
      }
      if (bodySchema) {
        for (const v of violations(doc, bodySchema, "body")) {
          calls.push({
            what: `${method.toUpperCase()} ${template} body ${v.what}`,
            field: v.field,
            method,
            path: build(pathGood, queryGood),
            body: v.value,
          });
        }
      }
    }
  }
  return calls;
}
