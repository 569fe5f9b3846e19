// Offline validation of the rendered manifests, as a cluster would refuse
// them and as this project wants them:
//   1. removed API versions are refused, and every apiVersion/kind must be
//      one the Kubernetes schema (npm kubernetes-models) knows;
//   2. each object is checked against that schema (types, enums, required);
//   3. unknown fields are refused (the schema's property lists, read from
//      the package's type declarations, are walked field by field);
//   4. the project's own policies: probes, resources, non-root, read-only
//      root, no latest tag, named Service ports, a PDB and a NetworkPolicy
//      for every Deployment, no service-account token, references resolve.
// Usage: node k8s/tools/validate.mjs DIR... (each a kustomization; rendered
// with `kubectl kustomize`). Prints each problem; exits 1 if any.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { parseAllDocuments } from "yaml";

const require = createRequire(import.meta.url);
const modelsRoot = path.dirname(require.resolve("kubernetes-models/package.json"));
const nodeModules = path.dirname(modelsRoot);

// apiVersions removed from Kubernetes (the deprecated API migration guide):
// a manifest using one would be refused by any current cluster.
const removed = new Map([
  ["extensions/v1beta1", "removed in 1.16/1.22"],
  ["apps/v1beta1", "removed in 1.16"],
  ["apps/v1beta2", "removed in 1.16"],
  ["policy/v1beta1", "removed in 1.25 (use policy/v1)"],
  ["autoscaling/v2beta1", "removed in 1.25 (use autoscaling/v2)"],
  ["autoscaling/v2beta2", "removed in 1.26 (use autoscaling/v2)"],
  ["batch/v1beta1", "removed in 1.25 (use batch/v1)"],
  ["networking.k8s.io/v1beta1", "removed in 1.22 (use networking.k8s.io/v1)"],
  ["rbac.authorization.k8s.io/v1beta1", "removed in 1.22"],
  ["flowcontrol.apiserver.k8s.io/v1beta2", "removed in 1.29"],
  ["flowcontrol.apiserver.k8s.io/v1beta3", "removed in 1.32"],
  ["discovery.k8s.io/v1beta1", "removed in 1.25"],
  ["storage.k8s.io/v1beta1", "removed in 1.22/1.27"],
]);

// ---- the schema's field lists, from the kubernetes-models declarations ----

const typeCache = new Map();

function resolveImport(fromFile, spec) {
  if (spec.startsWith(".")) return path.resolve(path.dirname(fromFile), spec.replace(/\.js$/, ".d.ts"));
  return path.join(nodeModules, spec.replace(/\.js$/, "") + ".d.ts");
}

// A type expression -> {array, map, file} or null for a leaf value.
function typeRef(expr, imports) {
  expr = expr.trim().replace(/;$/, "").trim();
  let m = expr.match(/^Array<([\s\S]*)>$/);
  if (m) return { array: typeRef(m[1], imports) ?? { leaf: true } };
  m = expr.match(/^\{\s*\[key: string\]:\s*([\s\S]*?);?\s*\}$/);
  if (m) return { map: typeRef(m[1], imports) ?? { leaf: true } };
  m = expr.match(/^(IIo\w+)$/);
  if (m && imports.has(m[1])) return { file: imports.get(m[1]) };
  return null;
}

// The properties of the interface declared in a .d.ts file; null when the
// file declares only an alias (IntOrString, Quantity, Time: leaves).
function fieldsOf(file) {
  if (typeCache.has(file)) return typeCache.get(file);
  const text = fs.readFileSync(file, "utf8").replace(/\/\*\*[\s\S]*?\*\//g, "");
  const imports = new Map();
  for (const m of text.matchAll(/import \{([^}]*)\} from "([^"]+)";/g)) {
    for (const name of m[1].split(",").map((s) => s.trim()).filter(Boolean)) {
      imports.set(name, resolveImport(file, m[2]));
    }
  }
  const body = text.match(/export interface I\w+(?: extends [\w, ]+)? \{\n([\s\S]*?)\n\}\n/);
  let fields = null;
  if (body) {
    fields = new Map();
    const parts = body[1].split(/\n(?=    "[^"]+"\??: )/);
    for (const part of parts) {
      const m = part.match(/^    "([^"]+)"\??: ([\s\S]*)$/);
      if (m) fields.set(m[1], typeRef(m[2], imports));
    }
  }
  typeCache.set(file, fields);
  return fields;
}

function unknownFields(value, ref, where, out) {
  if (ref == null || ref.leaf || value == null) return;
  if (ref.array) {
    if (Array.isArray(value)) value.forEach((v, i) => unknownFields(v, ref.array, `${where}[${i}]`, out));
    return;
  }
  if (ref.map) {
    if (typeof value === "object") for (const [k, v] of Object.entries(value)) unknownFields(v, ref.map, `${where}.${k}`, out);
    return;
  }
  const fields = fieldsOf(ref.file);
  if (fields == null || typeof value !== "object" || Array.isArray(value)) return;
  for (const [k, v] of Object.entries(value)) {
    if (!fields.has(k)) out.push(`unknown field ${where ? where + "." : ""}${k}`);
    else unknownFields(v, fields.get(k), where ? `${where}.${k}` : k, out);
  }
}

async function checkSchema(obj) {
  const problems = [];
  const { apiVersion, kind } = obj;
  if (typeof apiVersion !== "string" || typeof kind !== "string") return ["apiVersion and kind are required"];
  if (removed.has(apiVersion)) return [`apiVersion ${apiVersion} is ${removed.get(apiVersion)}`];
  // kubernetes-models lays its models out as <group>/<version>/<Kind> ("v1/..." for the core group).
  const file = path.join(modelsRoot, apiVersion, `${kind}.js`);
  if (!fs.existsSync(file)) return [`unknown apiVersion/kind ${apiVersion} ${kind}`];
  const module = await import(file);
  const Model = module[kind];
  // kustomize wraps long base64 values; the API server's decoder skips the
  // line breaks, so the schema's "byte" format is checked without them.
  const data = kind === "Secret" && obj.data
    ? { ...obj, data: Object.fromEntries(Object.entries(obj.data).map(([k, v]) => [k, String(v).replace(/\s+/g, "")])) }
    : obj;
  try {
    new Model(data).validate();
  } catch (e) {
    for (const line of String(e.message).split(/\n|, (?=data)/)) problems.push(`schema: ${line.replace(/^data\/?/, "")}`);
  }
  unknownFields(obj, { file: file.replace(/\.js$/, ".d.ts") }, "", problems);
  return problems;
}

// ---- the project's own policies ----

const workloadKinds = new Set(["Deployment", "StatefulSet", "DaemonSet", "Job"]);

function matches(selector, labels) {
  if (!selector || !selector.matchLabels || Object.keys(selector.matchLabels).length === 0) return false;
  return Object.entries(selector.matchLabels).every(([k, v]) => labels?.[k] === v);
}

function checkPolicies(objects) {
  const out = [];
  const byKind = (k) => objects.filter((o) => o.kind === k);
  const names = (k) => new Set(byKind(k).map((o) => o.metadata?.name));
  const configMaps = names("ConfigMap");
  const secrets = names("Secret");
  const generatesSecrets = secrets.size > 0;
  for (const o of objects) {
    const id = `${o.kind}/${o.metadata?.name}`;
    if (!workloadKinds.has(o.kind)) continue;
    const pod = o.spec?.template?.spec ?? {};
    const podLabels = o.spec?.template?.metadata?.labels ?? {};
    if (pod.securityContext?.seccompProfile?.type !== "RuntimeDefault") out.push(`${id}: pod seccompProfile is not RuntimeDefault`);
    if (pod.automountServiceAccountToken !== false) out.push(`${id}: automountServiceAccountToken is not false`);
    const containers = [...(pod.initContainers ?? []).map((c) => [c, true]), ...(pod.containers ?? []).map((c) => [c, false])];
    for (const [c, init] of containers) {
      const cid = `${id} container ${c.name}`;
      const image = String(c.image ?? "");
      const tag = image.includes("@") ? "digest" : image.split("/").pop().split(":")[1];
      if (!tag || tag === "latest") out.push(`${cid}: image ${image} has no fixed tag`);
      if (!init) {
        for (const probe of ["readinessProbe", "livenessProbe"]) if (!c[probe]) out.push(`${cid}: no ${probe}`);
        if (o.kind === "Deployment" && !c.startupProbe) out.push(`${cid}: no startupProbe`);
        for (const p of c.ports ?? []) if (!p.name) out.push(`${cid}: container port ${p.containerPort} has no name`);
      }
      if (!c.resources?.requests?.cpu || !c.resources?.requests?.memory) out.push(`${cid}: no cpu and memory requests`);
      if (!c.resources?.limits?.memory) out.push(`${cid}: no memory limit`);
      const sc = c.securityContext ?? {};
      if (sc.runAsNonRoot !== true && pod.securityContext?.runAsNonRoot !== true) out.push(`${cid}: not runAsNonRoot`);
      if (sc.readOnlyRootFilesystem !== true) out.push(`${cid}: root filesystem is not read-only`);
      if (sc.allowPrivilegeEscalation !== false) out.push(`${cid}: allowPrivilegeEscalation is not false`);
      if (!(sc.capabilities?.drop ?? []).includes("ALL")) out.push(`${cid}: capabilities do not drop ALL`);
      const refs = [
        ...(c.envFrom ?? []).map((e) => e.configMapRef && ["ConfigMap", e.configMapRef.name]),
        ...(c.envFrom ?? []).map((e) => e.secretRef && ["Secret", e.secretRef.name]),
        ...(c.env ?? []).map((e) => e.valueFrom?.configMapKeyRef && ["ConfigMap", e.valueFrom.configMapKeyRef.name]),
        ...(c.env ?? []).map((e) => e.valueFrom?.secretKeyRef && ["Secret", e.valueFrom.secretKeyRef.name]),
      ].filter(Boolean);
      for (const [kind, name] of refs) {
        if (kind === "ConfigMap" && !configMaps.has(name)) out.push(`${cid}: ConfigMap ${name} is not in the rendering`);
        if (kind === "Secret" && generatesSecrets && !secrets.has(name)) out.push(`${cid}: Secret ${name} is not in the rendering`);
      }
    }
    for (const v of pod.volumes ?? []) {
      if (v.configMap && !configMaps.has(v.configMap.name)) out.push(`${id}: volume ${v.name}: ConfigMap ${v.configMap.name} is not in the rendering`);
      if (v.secret && generatesSecrets && !secrets.has(v.secret.secretName)) out.push(`${id}: volume ${v.name}: Secret ${v.secret.secretName} is not in the rendering`);
    }
    if (o.kind === "Deployment") {
      if (!byKind("PodDisruptionBudget").some((p) => matches(p.spec?.selector, podLabels))) out.push(`${id}: no PodDisruptionBudget selects its pods`);
      if (!byKind("NetworkPolicy").some((p) => matches(p.spec?.podSelector, podLabels))) out.push(`${id}: no NetworkPolicy of its own selects its pods`);
      if (pod.serviceAccountName && !names("ServiceAccount").has(pod.serviceAccountName)) out.push(`${id}: ServiceAccount ${pod.serviceAccountName} is not in the rendering`);
    }
  }
  for (const s of byKind("Service")) {
    for (const p of s.spec?.ports ?? []) if (!p.name) out.push(`Service/${s.metadata?.name}: port ${p.port} has no name`);
  }
  for (const sa of byKind("ServiceAccount")) {
    if (sa.automountServiceAccountToken !== false) out.push(`ServiceAccount/${sa.metadata?.name}: automountServiceAccountToken is not false`);
  }
  return out;
}

// ---- main ----

export async function validate(dir) {
  const rendered = execFileSync("kubectl", ["kustomize", dir], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  const docs = parseAllDocuments(rendered);
  const objects = [];
  const problems = [];
  for (const doc of docs) {
    if (doc.errors.length) problems.push(`YAML: ${doc.errors[0].message}`);
    const o = doc.toJS();
    if (o) objects.push(o);
  }
  for (const o of objects) {
    for (const p of await checkSchema(o)) problems.push(`${o.kind}/${o.metadata?.name}: ${p}`);
  }
  problems.push(...checkPolicies(objects));
  return { objects, problems };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  let failed = false;
  for (const dir of process.argv.slice(2)) {
    let result;
    try {
      result = await validate(dir);
    } catch (e) {
      console.log(`${dir}: kubectl kustomize failed: ${String(e.stderr || e.message).trim()}`);
      failed = true;
      continue;
    }
    const { objects, problems } = result;
    if (problems.length) {
      failed = true;
      console.log(`${dir}: ${objects.length} objects, ${problems.length} problems`);
      for (const p of problems) console.log(`  ${p}`);
    } else {
      console.log(`${dir}: ${objects.length} objects valid (schema, no unknown fields, no removed API, policies)`);
    }
  }
  process.exit(failed ? 1 : 0);
}
