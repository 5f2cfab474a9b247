'use strict'
// Shared helpers of the node:test suite. Tests signal only the children they start here.
const { spawn } = require('node:child_process')
const { readdirSync, readFileSync } = require('node:fs')
const net = require('node:net')

const tether = require('..')

/** A TCP port that was free a moment ago. */
function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.on('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
  })
}

/** A listening TCP server on loopback; `close()` when done. */
function listen(port = 0) {
  return new Promise((resolve, reject) => {
    const s = net.createServer((c) => c.end())
    s.on('error', reject)
    s.listen(port, '127.0.0.1', () => resolve(s))
  })
}

/**
 * `sleep` children with a command line of their own (`sleep 1234.567`), so that a filter can
 * find exactly them. `t.after` kills and reaps them, also when the test fails.
 */
function sleepers(t, n) {
  const arg = (1000 + Math.random() * 1000).toFixed(3)
  const kids = []
  for (let i = 0; i < n; i++) kids.push(spawn('sleep', [arg], { stdio: 'ignore' }))
  t.after(() => Promise.all(kids.map(kill)))
  return { kids, arg }
}

/** Kill a child this test started and wait until it is reaped. */
function kill(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    child.once('exit', () => resolve())
    child.kill('SIGKILL')
  })
}

/** Resolves once the child has exited and been reaped. */
function exited(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    child.once('exit', () => resolve())
  })
}

/** How many threads of this process have the name `name` (their /proc comm). */
function threadsNamed(name) {
  let n = 0
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      if (readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim() === name) n++
    } catch {
      // The thread ended while we looked.
    }
  }
  return n
}

/** Poll `cond` every 10 ms until it holds or `ms` pass; resolves with its last answer. */
async function eventually(cond, ms = 5000) {
  const end = Date.now() + ms
  for (;;) {
    const ok = cond()
    if (ok || Date.now() > end) return ok
    await new Promise((r) => setTimeout(r, 10))
  }
}

module.exports = { tether, freePort, listen, sleepers, kill, exited, threadsNamed, eventually }
