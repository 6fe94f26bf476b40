// deploy/: Kubernetes manifests checked offline against the Kubernetes schemas (kubernetes-models),
// and every tpslab command line in them and in the compose file uses flags that exist.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import type { Command } from 'commander';
import { Deployment } from 'kubernetes-models/apps/v1';
import { Job } from 'kubernetes-models/batch/v1';
import { ConfigMap, Service } from 'kubernetes-models/v1';
import { parseAllDocuments, parse } from 'yaml';
import { buildProgram } from '../../src/cli/main.js';
import { parseScenario } from '../../src/harness/scenario.js';

const deploy = (name: string): string => readFileSync(new URL(`../../../deploy/${name}`, import.meta.url), 'utf8');
type Doc = { kind: string; metadata: { name: string }; [k: string]: unknown };

const MODELS: Record<string, new (x: never) => { validate(): void }> = { Deployment, Job, Service, ConfigMap };

function manifests(): Doc[] {
  const kustomization = parse(deploy('k8s/kustomization.yaml')) as { resources: string[] };
  return kustomization.resources.flatMap((file) => parseAllDocuments(deploy(`k8s/${file}`)).map((d) => d.toJS() as Doc));
}

const program = await buildProgram();

/** Every `--flag` in a tpslab command line is an option of that command. */
function checkTpslabArgs(args: string[], where: string): void {
  const i = args.findIndex((a) => a === 'overseer' || a === 'beacon' || a === 'node');
  assert.ok(i >= 0, `${where}: no tpslab command in ${args.join(' ')}`);
  const cmd = program.commands.find((c: Command) => c.name() === args[i]);
  assert.ok(cmd, `${where}: unknown command ${args[i]}`);
  const known = new Set(cmd.options.map((o) => o.long));
  for (const a of args.slice(i + 1)) if (a.startsWith('--')) assert.ok(known.has(a), `${where}: tpslab ${args[i]} has no option ${a}`);
}

const shellWords = (s: string): string[] => s.split(/\s+/).filter(Boolean);

test('every Kubernetes manifest validates against its schema', () => {
  const docs = manifests();
  assert.deepEqual(docs.map((d) => `${d.kind}/${d.metadata.name}`).sort(), ['ConfigMap/tpslab-scenario', 'Deployment/nats', 'Job/tpslab-beacons', 'Job/tpslab-overseer', 'Service/nats', 'Service/tpslab-overseer']);
  for (const d of docs) {
    const Model = MODELS[d.kind];
    assert.ok(Model, `no model for ${d.kind}`);
    assert.doesNotThrow(() => new Model(d as never).validate(), `${d.kind}/${d.metadata.name}`);
  }
});

test('a manifest missing a required field fails validation (the check is real)', () => {
  const job = manifests().find((d) => d.metadata.name === 'tpslab-beacons')!;
  const broken = structuredClone(job) as unknown as { spec: { template: { spec: { containers: Record<string, unknown>[] } } } };
  delete broken.spec.template.spec.containers[0]!.name;
  assert.throws(() => new Job(broken as never).validate());
});

test('beacons run as an Indexed Job sized to the scenario, and the services select their pods', () => {
  const docs = manifests();
  const by = (kind: string, name: string): Doc => docs.find((d) => d.kind === kind && d.metadata.name === name)!;
  const beacons = by('Job', 'tpslab-beacons') as unknown as Job;
  const scenario = parseScenario((by('ConfigMap', 'tpslab-scenario') as unknown as ConfigMap).data!['scenario.yaml']!, 'scenario ConfigMap');
  assert.equal(beacons.spec!.completionMode, 'Indexed');
  assert.equal(beacons.spec!.parallelism, scenario.beacons.count);
  assert.equal(beacons.spec!.completions, scenario.beacons.count);
  const beaconArgs = beacons.spec!.template.spec!.containers[0]!.args!;
  checkTpslabArgs(beaconArgs, 'beacons Job');
  assert.equal(beaconArgs[beaconArgs.indexOf('--nats') + 1], 'nats://nats:4222');
  assert.ok(!beaconArgs.includes('--name'), 'names come from JOB_COMPLETION_INDEX');

  const overseer = by('Job', 'tpslab-overseer') as unknown as Job;
  const script = overseer.spec!.template.spec!.containers[0]!.args!.join(' ');
  for (const part of script.split(/&&|&(?!&)/)) {
    const words = shellWords(part).filter((w) => w !== 'exec');
    if (words[0] === 'node') checkTpslabArgs(words.slice(2), 'overseer Job'); // node /app/dist/src/cli/main.js <command> …
  }
  assert.match(script, /overseer --nats nats:\/\/nats:4222 \/scenario\/scenario\.yaml/);
  for (const [svc, pod] of [['nats', by('Deployment', 'nats') as unknown as Deployment], ['tpslab-overseer', overseer]] as const) {
    const selector = (by('Service', svc) as unknown as Service).spec!.selector!;
    const labels = pod.spec!.template.metadata!.labels!;
    for (const [k, v] of Object.entries(selector)) assert.equal(labels[k], v, `Service ${svc} selects its pods`);
  }
  assert.equal(scenario.target.kind, 'tpslab');
  for (const d of docs) {
    const spec = (d as unknown as Job).spec?.template?.spec;
    if (spec) assert.equal(spec.securityContext?.runAsNonRoot, true, `${d.kind}/${d.metadata.name} runs as non-root`);
  }
});

test('the compose file runs NATS, a network, the overseer and beacons with flags that exist', () => {
  const compose = parse(deploy('compose.yaml')) as { services: Record<string, { command?: string[]; deploy?: { replicas: number } }> };
  assert.deepEqual(Object.keys(compose.services).sort(), ['beacon', 'nats', 'network', 'overseer']);
  for (const name of ['network', 'overseer', 'beacon']) checkTpslabArgs(compose.services[name]!.command!, `compose ${name}`);
  const scenario = parseScenario(deploy('scenario.yaml'), 'deploy/scenario.yaml');
  assert.equal(compose.services.beacon!.deploy!.replicas, scenario.beacons.count);
  const dockerfile = deploy('Dockerfile');
  assert.match(dockerfile, /^FROM .* AS build$/m, 'multi-stage');
  assert.match(dockerfile, /^USER node$/m, 'non-root');
});
