// Node.js snapshot benchmark: tether's `snapshot` against `ps-list` (npm), side by side in one
// run, alternating, with the same fields (pid, ppid, uid, cpu, memory, name, exe path, start
// time, command line). Reports medians and ratios. Run it with thousands of idle processes:
//
//   python3 ../shared/tools/crowd.py 3000 --ns -- node bench/node.mjs
//
// Build the addon first (`bash scripts/test-node.sh` does; or `npm run build` in
// bindings/node). sysprims' documented TypeScript pattern (`procGet(pid)` per process, from
// `@3leaps/sysprims`) is measured when that package is installed in bindings/node; the npm
// registry has no such package at the time of writing, so it is reported as missing.
import { createRequire } from 'node:module'
import { readdirSync } from 'node:fs'
import { performance } from 'node:perf_hooks'

const require = createRequire(new URL('../bindings/node/', import.meta.url))
const tether = require('./index.js')
const { default: psList } = await import(
  new URL('../bindings/node/node_modules/ps-list/index.js', import.meta.url)
)

let sysprims = null
try {
  sysprims = require('@3leaps/sysprims')
} catch {
  // Not installable here: reported below.
}

// What ps-list returns, asked of tether.
const FIELDS = ['pid', 'ppid', 'uid', 'cpu', 'rss', 'name', 'exe', 'start', 'cmdline']
const ROUNDS = Number(process.env.ROUNDS ?? 15)

const peers = {
  'tether snapshot()': () => tether.snapshot({ fields: FIELDS }),
  'tether snapshotSync()': async () => tether.snapshotSync({ fields: FIELDS }),
  'ps-list': () => psList(),
}
if (sysprims) {
  // sysprims documents one process at a time: procGet(pid) over every PID of /proc.
  peers['sysprims procGet() per PID'] = async () => {
    const out = []
    for (const d of readdirSync('/proc')) {
      if (/^\d+$/.test(d)) {
        try {
          out.push(sysprims.procGet(Number(d)))
        } catch {}
      }
    }
    return out
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

const times = Object.fromEntries(Object.keys(peers).map((k) => [k, []]))
const counts = Object.fromEntries(Object.keys(peers).map((k) => [k, 0]))
// One warm-up round each (page cache, JIT), then alternate.
for (const f of Object.values(peers)) await f()
for (let r = 0; r < ROUNDS; r++) {
  for (const [name, f] of Object.entries(peers)) {
    const t0 = performance.now()
    const list = await f()
    times[name].push(performance.now() - t0)
    counts[name] = list.length
  }
}

const procs = readdirSync('/proc').filter((d) => /^\d+$/.test(d)).length
console.log(`node ${process.version}; ${procs} processes in /proc; ${ROUNDS} rounds, alternating`)
console.log(`fields: ${FIELDS.join(', ')} (ps-list's: pid, ppid, uid, cpu, memory, name, path, startTime, cmd)`)
const base = median(times['tether snapshot()'])
for (const name of Object.keys(peers)) {
  const m = median(times[name])
  const ratio = name === 'tether snapshot()' ? '' : `  ${(m / base).toFixed(2)}x tether snapshot()`
  console.log(`${name.padEnd(28)} median ${m.toFixed(1).padStart(7)} ms  (${counts[name]} processes)${ratio}`)
}
if (!sysprims) {
  console.log('sysprims: @3leaps/sysprims is not installed (the npm registry answers 404 for it): not measured')
}

// Starting a command: tether's `run` (a contained tree: cgroup or session, watchdog, capture)
// against child_process.execFile (uncontained), for /bin/true, alternating. The price of
// containment per run, and the event loop stays free in both.
const { execFile } = await import('node:child_process')
const { promisify } = await import('node:util')
const execFileP = promisify(execFile)
const RUNS = Number(process.env.RUNS ?? 40)
const starters = {
  'tether run()': () => tether.run(['/bin/true']),
  "tether run({contain:'none'})": () => tether.run(['/bin/true'], { contain: 'none' }),
  'child_process.execFile': () => execFileP('/bin/true'),
}
const runTimes = Object.fromEntries(Object.keys(starters).map((k) => [k, []]))
for (const f of Object.values(starters)) await f()
for (let r = 0; r < RUNS; r++) {
  for (const [name, f] of Object.entries(starters)) {
    const t0 = performance.now()
    await f()
    runTimes[name].push(performance.now() - t0)
  }
}
const runBase = median(runTimes['child_process.execFile'])
console.log(`run /bin/true, ${RUNS} rounds, alternating (containment: ${(await tether.run(['/bin/true'])).containment.mechanism})`)
for (const name of Object.keys(starters)) {
  const m = median(runTimes[name])
  console.log(`${name.padEnd(28)} median ${m.toFixed(2).padStart(7)} ms  ${(m / runBase).toFixed(2)}x execFile`)
}
