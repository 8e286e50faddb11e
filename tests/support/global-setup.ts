// One temporary directory for the whole run, as TMPDIR of every process the tests start (and of the
// test workers themselves, so os.tmpdir() points there too), removed at the end. The preload keeps
// files in the system's temporary directory: a follower's last push waits in
// os.tmpdir()/tapwire-<uid>/<port>/ for the holder of that port (exporters/spool.ts), and Node's
// compile cache lives there. Tests use random ports, so without this each run left dozens of
// port folders in /tmp that no holder would ever read.
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default function setup(): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'tapwire-tests-'));
  // As /tmp is: tests run some processes as another user (tests/precompile.test.ts).
  chmodSync(dir, 0o1777);
  const before = process.env.TMPDIR;
  process.env.TMPDIR = dir;
  return () => {
    if (before === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = before;
    rmSync(dir, { recursive: true, force: true });
  };
}
