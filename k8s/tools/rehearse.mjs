// Deployment rehearsal: renders an overlay and starts every Deployment's
// containers on this machine exactly as the manifests configure them, then
// checks them the way the kubelet would and stops them the way it would.
//
// For each Deployment, in order (feedback, journey, then metrics, which
// follows the other two):
//   - Secrets become test files: every Secret the pod references gets fresh
//     test values (a tokens file with hashes of rehearsal tokens, random
//     passwords and keys), written where its volume would be mounted.
//   - The environment is the container's: envFrom ConfigMaps and env values
//     resolved from the rendered ConfigMaps and the test Secrets.
//   - Only what cannot be the same off-cluster is rewritten, and printed:
//     the database host becomes the local MariaDB (a database and user per
//     service, as the in-cluster component creates them), 0.0.0.0 listeners
//     become 127.0.0.1, a Service name becomes 127.0.0.1, and mount paths
//     become the test directories.
//   - Init containers run first and must exit 0 (the migrations).
//   - The main container is the image's entrypoint (the binary from ./build)
//     with the container's args. Its startupProbe is polled with its period
//     and failure threshold, then readiness and liveness are asked once
//     each: gRPC health Check with the probe's service name.
//   - One RPC goes through each service with a rehearsal token.
//   - Stop: the preStop hook runs, then SIGTERM; the process must exit 0
//     within terminationGracePeriodSeconds.
//
// Usage: node k8s/tools/rehearse.mjs OVERLAY --build=DIR --mysql-socket=PATH --mysql-port=N
import { execFileSync, spawn, spawnSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "../..");
const buf = path.join(root, "node_modules/.bin/buf");
const healthSchema = path.join(here, "health");

const args = Object.fromEntries(process.argv.slice(3).map((a) => a.replace(/^--/, "").split(/=(.*)/s).slice(0, 2)));
const overlay = process.argv[2];
const buildDir = path.resolve(args.build ?? path.join(root, "build"));
const mysqlSocket = args["mysql-socket"];
const mysqlPort = args["mysql-port"];
if (!overlay || !mysqlSocket || !mysqlPort) {
  console.error("usage: rehearse.mjs OVERLAY --build=DIR --mysql-socket=PATH --mysql-port=N");
  process.exit(2);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const sha256 = (s) => crypto.createHash("sha256").update(s).digest("hex");
const random = () => crypto.randomBytes(18).toString("base64url");

// Rehearsal tokens: one per role, and the metrics-service feed token.
const tokens = {
  ingest: `rehearsal-ingest-${random()}`,
  read: `rehearsal-read-${random()}`,
  service: `rehearsal-service-${random()}`,
};
const tokensFile = [
  `${sha256(tokens.ingest)} rehearsal ingest`,
  `${sha256(tokens.read)} rehearsal read`,
  `${sha256(tokens.service)} * service`,
].join("\n") + "\n";

// Test values of a Secret key, by what the key holds.
function testSecretValue(secret, key) {
  if (key === "tokens") return tokensFile;
  if (key === "token") return tokens.service;
  return `rehearsal-${secret.replace(/-[a-z0-9]{10}$/, "")}-${key}-${random()}`;
}

const rendered = execFileSync("kubectl", ["kustomize", overlay], { encoding: "utf8" });
const objects = parseAllDocuments(rendered).map((d) => d.toJS()).filter(Boolean);
const find = (kind, name) => objects.find((o) => o.kind === kind && o.metadata?.name === name);
const serviceNames = new Set(objects.filter((o) => o.kind === "Service").map((o) => o.metadata.name));
const order = ["feedback-service", "journey-service", "metrics-service"];
const deployments = objects
  .filter((o) => o.kind === "Deployment")
  .sort((a, b) => order.indexOf(a.metadata.name) - order.indexOf(b.metadata.name));

const work = fs.mkdtempSync(path.join(os.tmpdir(), "cx-rehearsal-"));
const secretValues = new Map();  // "secret/key" -> value (one value per key for the whole rehearsal)
const secretValue = (name, key) => {
  const id = `${name}/${key}`;
  if (!secretValues.has(id)) secretValues.set(id, testSecretValue(name, key));
  return secretValues.get(id);
};

function mysql(sql) {
  const r = spawnSync("mariadb", ["--no-defaults", `--socket=${mysqlSocket}`, "-uroot"], { input: sql, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`mariadb: ${r.stderr}`);
}

// Volumes of the pod as test directories; returns mountPath -> directory.
function mountVolumes(pod, container, podDir) {
  const mounts = new Map();
  for (const m of container.volumeMounts ?? []) {
    const v = (pod.volumes ?? []).find((x) => x.name === m.name);
    const dir = path.join(podDir, "volumes", m.name);
    fs.mkdirSync(dir, { recursive: true });
    if (v?.secret) {
      const items = v.secret.items ?? [];
      if (items.length === 0) throw new Error(`volume ${m.name}: list the Secret's items`);
      for (const item of items) fs.writeFileSync(path.join(dir, item.path), secretValue(v.secret.secretName, item.key), { mode: 0o600 });
    } else if (v?.configMap) {
      const cm = find("ConfigMap", v.configMap.name);
      if (!cm) throw new Error(`volume ${m.name}: ConfigMap ${v.configMap.name} is not rendered`);
      for (const [k, val] of Object.entries(cm.data ?? {})) fs.writeFileSync(path.join(dir, k), val);
    } else if (!v?.emptyDir) {
      throw new Error(`volume ${m.name}: only secret, configMap and emptyDir volumes are rehearsed`);
    }
    mounts.set(m.mountPath, dir);
  }
  return mounts;
}

// The container's environment as the kubelet would build it.
function environment(container) {
  const env = {};
  for (const from of container.envFrom ?? []) {
    if (from.configMapRef) {
      const cm = find("ConfigMap", from.configMapRef.name);
      if (!cm) throw new Error(`ConfigMap ${from.configMapRef.name} is not rendered`);
      Object.assign(env, cm.data);
    }
    if (from.secretRef) throw new Error("envFrom secretRef is not rehearsed");
  }
  for (const e of container.env ?? []) {
    if (e.value !== undefined) env[e.name] = e.value;
    else if (e.valueFrom?.configMapKeyRef) {
      const cm = find("ConfigMap", e.valueFrom.configMapKeyRef.name);
      env[e.name] = cm?.data?.[e.valueFrom.configMapKeyRef.key];
      if (env[e.name] === undefined) throw new Error(`${e.name}: ConfigMap key not rendered`);
    } else if (e.valueFrom?.secretKeyRef) {
      env[e.name] = secretValue(e.valueFrom.secretKeyRef.name, e.valueFrom.secretKeyRef.key);
    }
  }
  return env;
}

// The off-cluster rewrites, each printed.
function localise(env, mounts, notes) {
  const out = {};
  for (let [k, v] of Object.entries(env)) {
    const before = v;
    const db = /^mysql:\/\/([^@]+)@([^:/]+):(\d+)\/(\w+)$/.exec(v);
    if (db) v = `mysql://${db[1]}@127.0.0.1:${mysqlPort}/${db[4]}`;
    v = v.replace(/^0\.0\.0\.0:/, "127.0.0.1:");
    const svc = /^([a-z0-9-]+):(\d+)$/.exec(v);
    if (svc && serviceNames.has(svc[1])) v = `127.0.0.1:${svc[2]}`;
    const mount = [...mounts].filter(([m]) => v.startsWith(m + "/")).sort((a, b) => b[0].length - a[0].length)[0];
    if (mount) v = mount[1] + v.slice(mount[0].length);
    if (v !== before) notes.push(`${k}: ${before} -> ${v}`);
    out[k] = v;
  }
  return out;
}

function binaryFor(image) {
  const name = image.split("/").pop().split(":")[0];
  const file = path.join(buildDir, name, name);
  if (!fs.existsSync(file)) throw new Error(`no binary for image ${image} at ${file}`);
  return file;
}

function healthCheck(port, service) {
  const r = spawnSync(buf, ["curl", "--schema", healthSchema, "--protocol", "grpc", "--http2-prior-knowledge",
    "-d", JSON.stringify({ service }), `http://127.0.0.1:${port}/grpc.health.v1.Health/Check`], { encoding: "utf8", timeout: 10000 });
  if (r.status !== 0) return `error: ${(r.stderr || "").trim().split("\n")[0]}`;
  return JSON.parse(r.stdout).status ?? "UNKNOWN";
}

function call(port, schema, method, token, body) {
  const r = spawnSync(buf, ["curl", "--schema", schema, "--protocol", "grpc", "--http2-prior-knowledge",
    "-H", `authorization: Bearer ${token}`, "-d", JSON.stringify(body), `http://127.0.0.1:${port}/${method}`],
    { encoding: "utf8", timeout: 15000 });
  if (r.status !== 0) throw new Error(`${method}: ${(r.stderr || r.stdout).trim()}`);
  return JSON.parse(r.stdout || "{}");
}

const protos = path.join(root, "protos");
const now = new Date().toISOString();
// One RPC per service, with what it must answer.
const probesRpc = {
  "feedback-service": (port) => {
    const r = call(port, protos, "cx.feedback.v1.FeedbackService/SubmitFeedback", tokens.ingest, {
      requestId: "rehearsal-1",
      feedback: { customerId: "rehearsal-customer", kind: "FEEDBACK_KIND_NPS", score: 9, source: "SOURCE_SURVEY", channel: "CHANNEL_WEB", occurredAt: now },
    });
    if (r.feedback?.npsCategory !== "NPS_CATEGORY_PROMOTER") throw new Error(`SubmitFeedback answered ${JSON.stringify(r)}`);
    return "SubmitFeedback stored a promoter";
  },
  "journey-service": (port) => {
    const r = call(port, protos, "cx.journey.v1.JourneyService/RecordEvent", tokens.ingest, {
      event: { eventId: "rehearsal-event-1", anonymousId: "rehearsal-visitor", type: "page_view", channel: "CHANNEL_WEB", occurredAt: now },
    });
    if (r.outcome !== "ITEM_OUTCOME_ACCEPTED") throw new Error(`RecordEvent answered ${JSON.stringify(r)}`);
    return "RecordEvent accepted";
  },
  "metrics-service": async (port) => {
    // The feedback above reaches metrics-service through the feed.
    const range = { startTime: new Date(Date.now() - 86400e3).toISOString(), endTime: new Date(Date.now() + 3600e3).toISOString() };
    let r;
    for (let i = 0; i < 50; i++) {
      r = call(port, protos, "cx.metrics.v1.MetricsService/GetScore", tokens.read, { metric: "METRIC_NPS", range });
      if (Number(r.score?.n ?? 0) >= 1) break;
      await sleep(200);
    }
    if (Number(r.score?.n ?? 0) !== 1 || r.score.value !== 100) throw new Error(`GetScore answered ${JSON.stringify(r)}`);
    return "GetScore: NPS 100 over the 1 answer fed from feedback-service";
  },
};

const running = [];
let failed = false;

function start(binary, argv, env, logFile) {
  const log = fs.openSync(logFile, "a");
  return spawn(binary, argv, { env: { PATH: process.env.PATH, ...env }, stdio: ["ignore", log, log] });
}

async function waitExit(child, ms) {
  if (child.exitCode !== null || child.signalCode !== null) return { code: child.exitCode, signal: child.signalCode };
  return await Promise.race([
    new Promise((r) => child.once("exit", (code, signal) => r({ code, signal }))),
    sleep(ms).then(() => null),
  ]);
}

async function rehearse(d) {
  const name = d.metadata.name;
  const pod = d.spec.template.spec;
  const podDir = path.join(work, name);
  fs.mkdirSync(podDir, { recursive: true });
  const lines = [];
  const grpcPortOf = (c) => c.ports?.find((p) => p.name === "grpc")?.containerPort;

  // The service's database and user, as the in-cluster MariaDB creates them.
  const main = pod.containers[0];
  const env0 = environment(main);
  const db = /^mysql:\/\/([^@]+)@[^/]+\/(\w+)$/.exec(env0.CX_DB ?? "");
  if (!db) throw new Error(`${name}: CX_DB is not a mysql:// URL: ${env0.CX_DB}`);
  const password = env0.CX_DB_PASSWORD.replace(/'/g, "''");
  mysql(`DROP DATABASE IF EXISTS ${db[2]}; CREATE DATABASE ${db[2]};
         DROP USER IF EXISTS '${db[1]}'@'127.0.0.1'; CREATE USER '${db[1]}'@'127.0.0.1' IDENTIFIED BY '${password}';
         GRANT ALL PRIVILEGES ON ${db[2]}.* TO '${db[1]}'@'127.0.0.1';`);

  for (const init of pod.initContainers ?? []) {
    const notes = [];
    const env = localise(environment(init), mountVolumes(pod, init, podDir), notes);
    const t0 = Date.now();
    const child = start(binaryFor(init.image), init.args ?? [], env, path.join(podDir, `${init.name}.log`));
    const exit = await waitExit(child, 60000);
    if (!exit || exit.code !== 0) throw new Error(`${name}: init container ${init.name} ended ${JSON.stringify(exit)}; log ${podDir}/${init.name}.log`);
    lines.push(`init container ${init.name} ${JSON.stringify(init.args ?? [])}: exit 0 in ${Date.now() - t0} ms`);
  }

  const notes = [];
  const env = localise(env0, mountVolumes(pod, main, podDir), notes);
  const child = start(binaryFor(main.image), main.args ?? [], env, path.join(podDir, `${main.name}.log`));
  running.push(child);
  const t0 = Date.now();
  const startup = main.startupProbe;
  let status = "";
  for (let i = 0; i < (startup.failureThreshold ?? 3); i++) {
    await sleep(Math.min((startup.periodSeconds ?? 10) * 1000, 500));
    if (child.exitCode !== null) throw new Error(`${name}: exited ${child.exitCode} at start; log ${podDir}/${main.name}.log`);
    status = healthCheck(startup.grpc.port, startup.grpc.service ?? "");
    if (status === "SERVING") break;
  }
  if (status !== "SERVING") throw new Error(`${name}: startupProbe never passed (${status})`);
  lines.push(`startupProbe (gRPC ${startup.grpc.port}${startup.grpc.service ? " " + startup.grpc.service : ""}): SERVING after ${Date.now() - t0} ms`);
  for (const probe of ["readinessProbe", "livenessProbe"]) {
    const p = main[probe];
    const s = healthCheck(p.grpc.port, p.grpc.service ?? "");
    if (s !== "SERVING") throw new Error(`${name}: ${probe} answered ${s}`);
    lines.push(`${probe} (gRPC ${p.grpc.port}${p.grpc.service ? " " + p.grpc.service : ""}): SERVING`);
  }
  lines.push(await probesRpc[name](grpcPortOf(main)));
  return { name, child, main, pod, lines, notes, logs: podDir };
}

async function stop(r) {
  const grace = (r.pod.terminationGracePeriodSeconds ?? 30) * 1000;
  const t0 = Date.now();
  const preStop = r.main.lifecycle?.preStop?.exec?.command;
  if (preStop) await waitExit(spawn(preStop[0], preStop.slice(1), { stdio: "ignore" }), grace);
  r.child.kill("SIGTERM");
  const exit = await waitExit(r.child, Math.max(0, grace - (Date.now() - t0)));
  const took = Date.now() - t0;
  if (!exit) {
    r.child.kill("SIGKILL");
    throw new Error(`${r.name}: still running ${grace} ms after the preStop hook began`);
  }
  if (exit.code !== 0) throw new Error(`${r.name}: exited ${JSON.stringify(exit)} after SIGTERM`);
  return `preStop ${JSON.stringify(preStop ?? [])}, SIGTERM: exit 0, ${took} ms after the hook began (grace ${grace / 1000} s)`;
}

const started = [];
try {
  for (const d of deployments) {
    const r = await rehearse(d);
    started.push(r);
    console.log(`${r.name}:`);
    for (const n of r.notes) console.log(`  off-cluster: ${n}`);
    for (const l of r.lines) console.log(`  ${l}`);
  }
  // Stop in reverse order, each with its own grace, the hooks in parallel
  // as the kubelet would for a node drain.
  const stops = await Promise.allSettled(started.reverse().map(async (r) => [r.name, await stop(r)]));
  for (const s of stops) {
    if (s.status === "fulfilled") console.log(`${s.value[0]}: ${s.value[1]}`);
    else { failed = true; console.log(`FAILED: ${s.reason.message}`); }
  }
} catch (e) {
  failed = true;
  console.log(`FAILED: ${e.message}`);
  for (const r of started) console.log(`  logs of ${r.name}: ${r.logs}`);
} finally {
  for (const c of running) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
}
console.log(failed ? `rehearsal of ${overlay}: FAILED (logs in ${work})` : `rehearsal of ${overlay}: ${started.length} services passed`);
if (!failed) fs.rmSync(work, { recursive: true, force: true });
process.exit(failed ? 1 : 0);
