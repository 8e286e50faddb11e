// The app of the start probe (scripts/build.mjs eagerStart, and tests/startup.test.ts, which checks
// what it made eager): run under `node --import dist/register.js`, it lets the event loop turn, which
// starts the agent (agent/defer.ts), and keeps it turning until the work the agent leaves for the
// first turn has run (opening /metrics, the runtime metrics: core/first-turn.ts, unref'd timers a
// process that ends first never runs). A script that only let the loop turn once ended before that
// work now and then, depending on how long the agent's start kept the loop alive: the build then
// made fewer functions eager than a process that serves compiles at start, and the test failed.
// The sign: a TCP socket among the process's descriptors (the /metrics port open, or a connection to
// its holder), which comes after the runtime metrics' turn (both wait for the first turn, the
// runtime metrics set up first). TCP, read from /proc/net/tcp{,6}: the stdio a parent gives through
// pipes (spawnSync's, the build's) are UNIX sockets there from the first line, and taking them for
// the sign ended the probe at its first tick, before that work now and then (a build that made the
// first turn's functions lazy, and the test failed). Where /proc cannot be read, a wait of 100 ms
// instead. Ends with exit code 3 when no socket came within 10 s.
const { readdirSync, readFileSync, readlinkSync } = process.getBuiltinModule('node:fs');

/** The inodes of the TCP sockets of this machine (IPv4 and IPv6), from /proc/net. */
function tcpInodes() {
  const inodes = new Set();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text;
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue; // no IPv6 here
    }
    for (const line of text.split('\n').slice(1)) {
      const inode = line.trim().split(/\s+/)[9];
      if (inode !== undefined) inodes.add(inode);
    }
  }
  return inodes;
}

function hasSocket() {
  const tcp = tcpInodes();
  return readdirSync('/proc/self/fd').some((fd) => {
    try {
      const inode = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`))?.[1];
      return inode !== undefined && tcp.has(inode);
    } catch {
      return false; // the descriptor of the directory listing itself, closed by now
    }
  });
}

let readable = true;
try {
  hasSocket();
  readFileSync('/proc/net/tcp');
} catch {
  readable = false;
}

if (!readable) {
  setTimeout(() => {}, 100);
} else {
  const until = Date.now() + 10_000;
  const wait = setInterval(() => {
    if (hasSocket()) {
      clearInterval(wait);
    } else if (Date.now() > until) {
      clearInterval(wait);
      process.exitCode = 3;
    }
  }, 1);
}
