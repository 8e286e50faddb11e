// A real Prometheus evaluating tapwire's generated rules against one scraped app, and a real
// Alertmanager that hands the alerts to a webhook here: what the alert-rule end-to-end tests
// (rules-e2e, rules-budget-e2e) read. Started on free ports in a temporary folder, stopped with
// close().
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './index.js';

/** An alert as Alertmanager's webhook delivers it. */
export interface Alert {
  status: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export interface QueryResult {
  metric: Record<string, string>;
  value: [number, string];
}

export interface AlertingStack {
  promUrl: string;
  /** Alerts the webhook received, in order. */
  received: Alert[];
  /** An instant query; [] while Prometheus answers non-200 (still starting). */
  query(q: string): Promise<QueryResult[]>;
  close(): void;
}

/** Polls `fn` every 500 ms until it gives something other than undefined. */
export async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/**
 * Prometheus (scrape and evaluation every second) with `rules` (a rule file's text) scraping the
 * app's /metrics as job `job`, and Alertmanager grouping by `groupBy` into the webhook. Resolves
 * once both are ready.
 */
export async function startAlerting(options: {
  rules: string;
  job: string;
  metricsPort: number;
  groupBy: readonly string[];
}): Promise<AlertingStack> {
  const dir = mkdtempSync(join(tmpdir(), 'tapwire-alerting-'));
  const children: ChildProcess[] = [];
  const received: Alert[] = [];
  const hook = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (d: string) => {
      body += d;
    });
    req.on('end', () => {
      received.push(...(JSON.parse(body) as { alerts: Alert[] }).alerts);
      res.end();
    });
  });
  const close = () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    hook.close();
    rmSync(dir, { recursive: true, force: true });
  };
  const start = (cmd: string, args: string[]) => {
    const child = spawn(cmd, args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      err = (err + d).slice(-4000);
    });
    child.on('exit', (code) => {
      if (code !== null && code !== 0) console.error(`${cmd} exited ${code}:\n${err}`);
    });
    children.push(child);
  };
  try {
    hook.listen(0, '127.0.0.1');
    await once(hook, 'listening');
    const hookPort = (hook.address() as { port: number }).port;
    const [promPort, amPort] = [await freePort(), await freePort()];
    writeFileSync(join(dir, 'tapwire-rules.yaml'), options.rules);
    writeFileSync(
      join(dir, 'prometheus.yml'),
      `global: { scrape_interval: 1s, evaluation_interval: 1s }
rule_files: [tapwire-rules.yaml]
alerting:
  alertmanagers: [{ static_configs: [{ targets: ['127.0.0.1:${amPort}'] }] }]
scrape_configs:
  - job_name: ${options.job}
    static_configs: [{ targets: ['127.0.0.1:${options.metricsPort}'] }]
`,
    );
    writeFileSync(
      join(dir, 'alertmanager.yml'),
      `route: { receiver: hook, group_by: [${options.groupBy.join(', ')}], group_wait: 1s, group_interval: 1s, repeat_interval: 1h }
receivers:
  - name: hook
    webhook_configs: [{ url: 'http://127.0.0.1:${hookPort}/', send_resolved: false }]
`,
    );
    start('prometheus-alertmanager', [
      `--config.file=${join(dir, 'alertmanager.yml')}`,
      `--storage.path=${join(dir, 'am')}`,
      `--web.listen-address=127.0.0.1:${amPort}`,
      '--cluster.listen-address=',
    ]);
    start('prometheus', [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'tsdb')}`,
      `--web.listen-address=127.0.0.1:${promPort}`,
    ]);
    const promUrl = `http://127.0.0.1:${promPort}`;
    // /-/ready answers 503 until the server is ready: wait for a 200, not just any answer.
    const ready = (url: string) => async () => {
      try {
        const res = await fetch(url);
        await res.arrayBuffer();
        return res.ok ? true : undefined;
      } catch {
        return undefined;
      }
    };
    await until('Alertmanager ready', ready(`http://127.0.0.1:${amPort}/-/ready`), 30_000);
    await until('Prometheus ready', ready(`${promUrl}/-/ready`), 30_000);
    return {
      promUrl,
      received,
      async query(q) {
        const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(q)}`);
        if (!res.ok) {
          await res.arrayBuffer();
          return [];
        }
        return ((await res.json()) as { data: { result: QueryResult[] } }).data.result;
      },
      close,
    };
  } catch (error) {
    close();
    throw error;
  }
}
