// The validation catches planted mistakes: each test copies k8s/, plants one
// mistake in the copy, renders the dev overlay and expects that mistake (and
// only a problem of that kind) to be reported. The untouched copy is valid.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { validate } from "./validate.mjs";

const k8s = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

async function withPlanted(plant) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cx-k8s-"));
  try {
    fs.cpSync(k8s, dir, { recursive: true, filter: (src) => !src.includes("node_modules") });
    plant(dir);
    return await validate(path.join(dir, "overlays/dev"));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function edit(dir, file, from, to) {
  const p = path.join(dir, file);
  const text = fs.readFileSync(p, "utf8");
  assert.ok(text.includes(from), `${file} holds ${from}`);
  fs.writeFileSync(p, text.replace(from, to));
}

function expectOnly(problems, pattern) {
  assert.ok(problems.length > 0, "the mistake was reported");
  for (const p of problems) assert.match(p, pattern);
}

test("the manifests as committed are valid", async () => {
  const { objects, problems } = await withPlanted(() => {});
  assert.deepEqual(problems, []);
  assert.ok(objects.length >= 30);
});

test("a wrong type is reported", async () => {
  const { problems } = await withPlanted((dir) =>
    edit(dir, "base/feedback-service/deployment.yaml", "containerPort: 50051", 'containerPort: "fifty"'));
  expectOnly(problems, /Deployment\/feedback-service: schema: .*containerPort must be integer/);
});

test("an unknown field is reported", async () => {
  const { problems } = await withPlanted((dir) =>
    edit(dir, "base/journey-service/deployment.yaml", "          image: cx-suite/journey-service\n          ports:",
      "          image: cx-suite/journey-service\n          imagePullPolice: Always\n          ports:"));
  expectOnly(problems, /Deployment\/journey-service: unknown field spec\.template\.spec\.containers\[0\]\.imagePullPolice/);
});

test("a removed apiVersion is reported", async () => {
  const { problems } = await withPlanted((dir) =>
    edit(dir, "base/metrics-service/pdb.yaml", "apiVersion: policy/v1\n", "apiVersion: policy/v1beta1\n"));
  expectOnly(problems, /PodDisruptionBudget\/metrics-service: apiVersion policy\/v1beta1 is removed/);
});

test("a missing probe is reported", async () => {
  const { problems } = await withPlanted((dir) =>
    edit(dir, "base/journey-service/deployment.yaml",
      "          readinessProbe:\n            grpc:\n              port: 50052\n            periodSeconds: 5\n            failureThreshold: 2\n", ""));
  expectOnly(problems, /Deployment\/journey-service container journey-service: no readinessProbe/);
});

test("a latest tag is reported", async () => {
  const { problems } = await withPlanted((dir) =>
    edit(dir, "base/feedback-service/kustomization.yaml", "newTag: 0.1.0", "newTag: latest"));
  expectOnly(problems, /Deployment\/feedback-service container .*: image cx-suite\/feedback-service:latest has no fixed tag/);
});

test("a Deployment without a PodDisruptionBudget is reported", async () => {
  const { problems } = await withPlanted((dir) =>
    edit(dir, "base/journey-service/kustomization.yaml", "  - pdb.yaml\n", ""));
  expectOnly(problems, /Deployment\/journey-service: no PodDisruptionBudget selects its pods/);
});

test("an unnamed Service port is reported", async () => {
  const { problems } = await withPlanted((dir) =>
    edit(dir, "base/metrics-service/service.yaml", "    - name: metrics\n      port: 9466", "    - port: 9466"));
  expectOnly(problems, /Service\/metrics-service: port 9466 has no name/);
});

test("a container running as root is reported", async () => {
  const { problems } = await withPlanted((dir) =>
    edit(dir, "base/feedback-service/deployment.yaml", "        runAsNonRoot: true\n", ""));
  expectOnly(problems, /Deployment\/feedback-service container .*: not runAsNonRoot/);
});
