// Checks the Kartograf API document and real responses against it.
//
//   node check.mjs DOC                      DOC is valid OpenAPI 3.1
//   node check.mjs DOC RESPONSES [--require OP,...]
//
// RESPONSES holds one JSON object a line, as tests/integration/run.py
// records every response it gets: {method, path, status, type, body}
// (body: the parsed JSON, or null for other bodies).  Each must be an
// answer the document names for that method and path - its status listed
// under the operation and, for JSON, a body that validates against the
// schema given for that status.  --require lists operationIds that must
// have been answered with a 2xx at least once.  Prints "ok - ..." /
// "not ok - ..." lines; exit 1 on any failure.
import fs from "node:fs";
import SwaggerParser from "@apidevtools/swagger-parser";
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";

const [docPath, respPath, ...rest] = process.argv.slice(2);
if (!docPath) {
  console.error("usage: node check.mjs DOC [RESPONSES [--require OP,...]]");
  process.exit(2);
}
const required = rest[0] === "--require" && rest[1] ? rest[1].split(",") : [];
let failed = 0;
const say = (ok, what) => {
  if (!ok) failed++;
  console.log(`${ok ? "ok" : "not ok"} - ${what}`);
};

const text = fs.readFileSync(docPath, "utf8");
try {
  // validate() dereferences in place: give it a copy
  await SwaggerParser.validate(JSON.parse(text));
  say(true, `${docPath} is valid OpenAPI ${JSON.parse(text).openapi}`);
} catch (e) {
  say(false, `${docPath} is not valid OpenAPI: ${e.message}`);
  process.exit(1);
}
if (!respPath) process.exit(failed ? 1 : 0);

const doc = await SwaggerParser.dereference(JSON.parse(text));
const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);

// "/api/projects/{id}" -> a regex from its parameters' schemas
const routes = Object.entries(doc.paths).map(([path, item]) => {
  const re = path.replace(/[.]/g, "[.]").replace(/\{([^}]+)\}/g, "([^/]+)");
  return { path, item, re: new RegExp(`^${re}$`) };
});
const validators = new Map();
function validator(schema) {
  if (!validators.has(schema)) validators.set(schema, ajv.compile(schema));
  return validators.get(schema);
}

const seen = new Map(); // operationId -> statuses
let n = 0;
const problems = new Map(); // message -> count (one line each)
for (const line of fs.readFileSync(respPath, "utf8").split("\n")) {
  if (!line.trim()) continue;
  const r = JSON.parse(line);
  const path = r.path.split("?")[0];
  const route = routes.find((x) => x.re.test(path));
  const op = route && route.item[r.method.toLowerCase()];
  if (!op) continue; // not an API path (static files) or a method it refuses
  n++;
  const key = `${r.method} ${route.path}`;
  if (!seen.has(op.operationId)) seen.set(op.operationId, new Set());
  seen.get(op.operationId).add(r.status);
  const resp = op.responses[String(r.status)] || op.responses.default;
  if (!resp) {
    if (r.status !== 405) {
      const m = `${key}: status ${r.status} is not documented`;
      problems.set(m, (problems.get(m) || 0) + 1);
    }
    continue;
  }
  const media = resp.content && resp.content["application/json"];
  if (!media || !media.schema || r.body === null || r.body === undefined) continue;
  const v = validator(media.schema);
  if (!v(r.body)) {
    const why = ajv.errorsText(v.errors.slice(0, 3));
    const m = `${key} ${r.status}: body does not match the documented schema: ${why}`;
    problems.set(m, (problems.get(m) || 0) + 1);
  }
}
for (const [m, count] of problems) say(false, count > 1 ? `${m} (${count} responses)` : m);
for (const id of required) {
  const s = seen.get(id);
  say(!!s && [...s].some((x) => x >= 200 && x < 300), `${id} answered with a 2xx`);
}
say(problems.size === 0, `${n} responses to ${seen.size} operations match the document`);
process.exit(failed ? 1 : 0);
