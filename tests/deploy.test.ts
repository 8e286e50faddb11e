// deploy/: every manifest parses, has what Kubernetes requires, and agrees with the sidecar it
// deploys — container ports match the ports tapwire listens on (its env, the Dockerfile's EXPOSE),
// probes and scrape configs hit endpoints the real sidecar serves (started here from the
// manifest's own environment), the Service and PodMonitor select pods and ports that exist.
import { spawn, spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseAllDocuments, parse as parseYaml, stringify } from 'yaml';
import { FIXTURES, freePort, NODE, ROOT, waitForHttp } from './support/index.js';

const DEPLOY = join(ROOT, 'deploy');

// biome-ignore lint/suspicious/noExplicitAny: manifests as parsed
type Doc = any;

function yamlFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...yamlFiles(path));
    else if (/\.ya?ml$/.test(entry.name)) out.push(path);
  }
  return out.sort();
}

const FILES = yamlFiles(DEPLOY);
const docs: { file: string; doc: Doc }[] = [];
for (const file of FILES) {
  for (const d of parseAllDocuments(readFileSync(file, 'utf8'))) {
    if (d.errors.length > 0) throw new Error(`${file}: ${d.errors.map((e) => e.message).join('; ')}`);
    docs.push({ file, doc: d.toJS() });
  }
}
const manifests = docs.filter((d) => typeof d.doc?.kind === 'string' && d.doc.kind !== 'Kustomization');
const deployments = manifests.filter((d) => d.doc.kind === 'Deployment').map((d) => d.doc);

function env(container: Doc): Record<string, string> {
  return Object.fromEntries((container.env ?? []).map((e: Doc) => [e.name, String(e.value)]));
}

function tapwireContainers(dep: Doc): { container: Doc; native: boolean }[] {
  const spec = dep.spec.template.spec;
  return [
    ...(spec.initContainers ?? []).map((c: Doc) => ({ container: c, native: c.restartPolicy === 'Always' })),
    ...(spec.containers ?? []).map((c: Doc) => ({ container: c, native: false })),
  ].filter(({ container }) => (container.args ?? []).includes('sidecar'));
}

function portNamed(container: Doc, name: string | number): number | undefined {
  if (typeof name === 'number') return name;
  return container.ports?.find((p: Doc) => p.name === name)?.containerPort;
}

const dockerExpose = /^EXPOSE (.+)$/m
  .exec(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'))![1]!
  .split(/\s+/)
  .map(Number);

describe('deploy/ manifests', () => {
  it('are all valid YAML with apiVersion, kind and metadata.name, and the examples are all there', () => {
    expect(FILES.map((f) => f.slice(DEPLOY.length + 1))).toEqual(
      expect.arrayContaining([
        'classic-sidecar.yaml',
        'dashboards/tapwire-dashboards-configmap.yaml',
        'dashboards/tapwire-grafanadashboards.yaml',
        'kustomization.yaml',
        'native-sidecar.yaml',
        'node-workers.yaml',
        'podmonitor.yaml',
        'prometheus.yml',
        'rules/tapwire-prometheusrule.yaml',
        'service.yaml',
      ]),
    );
    expect(manifests.map((m) => m.doc.kind).sort()).toEqual(
      expect.arrayContaining([
        'ConfigMap',
        'Deployment',
        'GrafanaDashboard',
        'PodMonitor',
        'PrometheusRule',
        'Service',
      ]),
    );
    for (const { file, doc } of manifests) {
      expect(doc.apiVersion, file).toMatch(/^[a-z0-9.]+\/v\d|^v1$/);
      expect(doc.metadata?.name, file).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    }
  });

  it('kustomization lists files that exist, the PrometheusRule from deploy/rules/ among them', () => {
    const k = parseYaml(readFileSync(join(DEPLOY, 'kustomization.yaml'), 'utf8'));
    for (const r of k.resources) expect(existsSync(join(DEPLOY, r)), r).toBe(true);
    expect(k.resources).toContain('rules/tapwire-prometheusrule.yaml');
  });

  it('Deployments: selectors match, tapwire runs as a native sidecar or a classic one, ports agree with its env and the image', () => {
    expect(deployments.map((d) => d.metadata.name).sort()).toEqual(['api-workers', 'shop', 'shop-classic']);
    let native = 0;
    for (const dep of deployments) {
      const labels = dep.spec.template.metadata.labels;
      for (const [k, v] of Object.entries(dep.spec.selector.matchLabels)) expect(labels[k]).toBe(v);
      const spec = dep.spec.template.spec;
      for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
        expect(c.name).toMatch(/^[a-z0-9-]+$/);
        expect(c.image).toMatch(/:[\w.-]+$/);
        for (const p of c.ports ?? []) expect(p.name.length).toBeLessThanOrEqual(15);
      }
      const tap = tapwireContainers(dep);
      expect(tap, dep.metadata.name).toHaveLength(1);
      const { container, native: isNative } = tap[0]!;
      if (isNative) native++;
      const e = env(container);
      expect(portNamed(container, 'proxy')).toBe(Number(e.TAPWIRE_PROXY_PORT));
      expect(portNamed(container, 'metrics')).toBe(Number(e.OTEL_EXPORTER_PROMETHEUS_PORT));
      expect(dockerExpose).toEqual(
        expect.arrayContaining([portNamed(container, 'proxy'), portNamed(container, 'metrics')]),
      );
      expect(Number(e.TAPWIRE_DRAIN_SECONDS)).toBeLessThan(spec.terminationGracePeriodSeconds);
      // The upstream is the app container's port, on localhost.
      const app = spec.containers.find((c: Doc) => c.name === 'app');
      const upstream = new URL(e.TAPWIRE_UPSTREAM ?? '');
      expect(upstream.hostname).toBe('127.0.0.1');
      expect(Number(upstream.port)).toBe(portNamed(app, 'app'));
      expect(env(app).PORT).toBe(upstream.port);
      // Probes of the sidecar hit its admin port.
      for (const probe of ['livenessProbe', 'readinessProbe', 'startupProbe']) {
        const p = container[probe];
        if (p === undefined) continue;
        expect(['/healthz', '/readyz']).toContain(p.httpGet.path);
        expect(portNamed(container, p.httpGet.port)).toBe(Number(e.OTEL_EXPORTER_PROMETHEUS_PORT));
      }
      expect(container.readinessProbe.httpGet.path).toBe('/readyz');
      expect(container.securityContext.runAsUser).toBe(1000);
      // What the app is told agrees with where tapwire listens.
      const appEnv = env(app);
      if (appEnv.OPENAI_BASE_URL) {
        const u = new URL(appEnv.OPENAI_BASE_URL);
        expect(u.hostname).toBe('127.0.0.1');
        expect(u.port).toBe(e.TAPWIRE_GATEWAY_PORT ?? '9465');
        expect(u.pathname).toBe('/openai/v1');
      }
      if (appEnv.OTEL_EXPORTER_OTLP_METRICS_ENDPOINT) {
        const u = new URL(appEnv.OTEL_EXPORTER_OTLP_METRICS_ENDPOINT);
        expect(u.port).toBe(e.OTEL_EXPORTER_PROMETHEUS_PORT);
        expect(u.pathname).toBe('/v1/metrics');
        expect(appEnv.OTEL_METRICS_EXPORTER).toBe('otlp');
      }
      if (appEnv.NODE_OPTIONS) {
        // The preload comes from the init container's copy of the image's /tapwire.
        expect(appEnv.NODE_OPTIONS).toBe('--import=/tapwire/register.js');
        const copy = spec.initContainers.find((c: Doc) => c.name === 'tapwire-preload');
        expect(copy.command).toEqual(['cp', '-R', '/tapwire/.', '/preload/']);
        const volume = copy.volumeMounts[0].name;
        expect(app.volumeMounts.find((m: Doc) => m.name === volume).mountPath).toBe('/tapwire');
        expect(spec.volumes.map((v: Doc) => v.name)).toContain(volume);
      }
    }
    expect(native).toBe(2);
  });

  it('Service and PodMonitor select pods that exist and name ports tapwire has', () => {
    const pods = deployments.map((d) => ({
      labels: d.spec.template.metadata.labels,
      tapwire: tapwireContainers(d)[0]!.container,
    }));
    const selects = (selector: Record<string, string>) =>
      pods.filter((p) => Object.entries(selector).every(([k, v]) => p.labels[k] === v));
    const service = manifests.find((m) => m.doc.kind === 'Service')!.doc;
    const served = selects(service.spec.selector);
    expect(served).toHaveLength(1);
    for (const port of service.spec.ports) {
      expect(port.targetPort).toBe('proxy');
      expect(portNamed(served[0]!.tapwire, port.targetPort)).toBe(8080);
    }
    const monitor = manifests.find((m) => m.doc.kind === 'PodMonitor')!.doc;
    const monitored = selects(monitor.spec.selector.matchLabels);
    expect(monitored).toHaveLength(3);
    for (const ep of monitor.spec.podMetricsEndpoints) {
      expect(ep.path).toBe('/metrics');
      expect(ep.honorLabels).toBe(true);
      for (const p of monitored) expect(portNamed(p.tapwire, ep.port)).toBeDefined();
    }
  });

  it('the example Prometheus config passes promtool with the generated rules (discovery swapped for static targets)', () => {
    // Debian's Prometheus is built without Kubernetes service discovery, so promtool 2.42 here
    // cannot read kubernetes_sd_configs; everything else in the file is checked as written.
    const config = parseYaml(readFileSync(join(DEPLOY, 'prometheus.yml'), 'utf8'));
    for (const job of config.scrape_configs) {
      expect(job.kubernetes_sd_configs).toEqual([{ role: 'pod' }]);
      expect(job.honor_labels).toBe(true);
      delete job.kubernetes_sd_configs;
      job.static_configs = [{ targets: ['127.0.0.1:9464'] }];
    }
    const dir = mkdtempSync(join(tmpdir(), 'tapwire-prom-'));
    try {
      mkdirSync(join(dir, 'rules'));
      for (const f of config.rule_files) copyFileSync(join(DEPLOY, f), join(dir, f));
      writeFileSync(join(dir, 'prometheus.yml'), stringify(config));
      const r = spawnSync('promtool', ['check', 'config', join(dir, 'prometheus.yml')], { encoding: 'utf8' });
      expect(`${r.stdout}${r.stderr}`).toContain('SUCCESS');
      expect(r.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('deploy/ probes against the real sidecar', () => {
  const started: { kill: () => void }[] = [];
  afterAll(() => {
    for (const s of started) s.kill();
  });

  it('every probe path and the scrape path answer 200 when the sidecar runs with the manifest environment', async () => {
    const appPort = await freePort();
    const app = spawn('python3', [join(FIXTURES, 'sidecar-app.py')], {
      env: { PATH: process.env.PATH, TMPDIR: process.env.TMPDIR, PORT: String(appPort) },
      stdio: 'ignore',
    });
    started.push({ kill: () => app.kill('SIGKILL') });
    await waitForHttp(`http://127.0.0.1:${appPort}/status/200`, 15_000);

    const dep = deployments.find((d) => d.metadata.name === 'shop')!;
    const tap = tapwireContainers(dep)[0]!.container;
    const [proxyPort, metricsPort, gatewayPort] = [await freePort(), await freePort(), await freePort()];
    // The manifest's environment, with ports moved to free ones on this machine.
    const sidecar = spawn(NODE, [join(ROOT, 'dist/cli/main.js'), ...tap.args], {
      env: {
        PATH: process.env.PATH,
        TMPDIR: process.env.TMPDIR,
        ...env(tap),
        TAPWIRE_UPSTREAM: `http://127.0.0.1:${appPort}`,
        TAPWIRE_PROXY_PORT: String(proxyPort),
        OTEL_EXPORTER_PROMETHEUS_PORT: String(metricsPort),
        TAPWIRE_GATEWAY_PORT: String(gatewayPort),
      },
      stdio: 'ignore',
    });
    started.push({ kill: () => sidecar.kill('SIGKILL') });
    await waitForHttp(`http://127.0.0.1:${metricsPort}/healthz`, 15_000);
    const paths = new Set<string>();
    for (const probe of ['livenessProbe', 'readinessProbe', 'startupProbe']) {
      if (tap[probe]) paths.add(tap[probe].httpGet.path);
    }
    const monitor = manifests.find((m) => m.doc.kind === 'PodMonitor')!.doc;
    for (const ep of monitor.spec.podMetricsEndpoints) paths.add(ep.path);
    expect([...paths].sort()).toEqual(['/healthz', '/metrics', '/readyz']);
    for (const path of paths) {
      const res = await fetch(`http://127.0.0.1:${metricsPort}${path}`);
      await res.arrayBuffer();
      expect(res.status, path).toBe(200);
    }
    const routed = await fetch(`http://127.0.0.1:${proxyPort}/users/7`);
    expect(routed.status).toBe(200);
    const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    expect(text).toContain('http_route="/users/:id"');
    expect(text).toContain('service_name="shop"');
  });
});
