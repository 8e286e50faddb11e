// The release notes of a version: its section of CHANGELOG.md, printed on stdout (the release
// workflow makes them the GitHub release's notes). Reads package.json and CHANGELOG.md from the
// current directory. Plain JavaScript: it runs on whatever Node the CI runner has.
//
//   node scripts/release-notes.mjs v1.2.3                        # the section's body
//   node scripts/release-notes.mjs --check v1.2.3 REPOSITORY_URL  # and refuse to release unless the
//       tag is package.json's version, the section is dated, and package.json's repository is
//       REPOSITORY_URL (npm provenance requires it)
import { readFileSync } from 'node:fs';

const args = process.argv.slice(2);
const check = args[0] === '--check';
if (check) args.shift();
const [tag, repositoryUrl] = args;
if (!tag || (check && !repositoryUrl)) {
  process.stderr.write('usage: node scripts/release-notes.mjs [--check] vX.Y.Z [REPOSITORY_URL]\n');
  process.exit(2);
}
const version = tag.replace(/^v/, '');
const escaped = version.replace(/[.+]/g, '\\$&');

const changelog = readFileSync('CHANGELOG.md', 'utf8');
const heading = new RegExp(`^## \\[${escaped}\\](?: - (.*))?$`, 'm').exec(changelog);
const problems = [];
let notes = '';
if (!heading) {
  problems.push(`CHANGELOG.md has no "## [${version}]" section`);
} else {
  const start = heading.index + heading[0].length;
  const next = changelog.slice(start).search(/^## /m);
  notes = changelog.slice(start, next === -1 ? undefined : start + next).trim();
  if (notes === '') problems.push(`CHANGELOG.md's section for ${version} is empty`);
  if (check && !/^\d{4}-\d{2}-\d{2}$/.test(heading[1] ?? '')) {
    problems.push(`CHANGELOG.md's heading for ${version} has no release date (## [${version}] - YYYY-MM-DD)`);
  }
}

if (check) {
  const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
  if (pkg.version !== version) problems.push(`package.json's version is ${pkg.version}, the tag ${tag}`);
  const repository = typeof pkg.repository === 'string' ? pkg.repository : pkg.repository?.url;
  const normalized = (url) =>
    String(url ?? '')
      .replace(/^git\+/, '')
      .replace(/\.git$/, '');
  if (normalized(repository) !== repositoryUrl) {
    problems.push(
      `package.json's repository is ${JSON.stringify(repository)}: npm provenance needs {"type": "git", "url": "git+${repositoryUrl}.git"}`,
    );
  }
}

if (problems.length > 0) {
  for (const p of problems) process.stderr.write(`release-notes: ${p}\n`);
  process.exit(1);
}
process.stdout.write(`${notes}\n`);
