'use strict'
// Run by process.test.js as PID 1 of a new PID namespace (`unshare --pid --fork --mount-proc`),
// so that forcing the reuse of a PID through /proc/sys/kernel/ns_last_pid touches no process
// outside it. Prints "inner done" when every check passed; exits non-zero otherwise.
const assert = require('node:assert/strict')
const { spawn } = require('node:child_process')
const { writeFileSync } = require('node:fs')
const tether = require('..')

const exited = (c) => new Promise((resolve) => c.once('exit', resolve))

async function main() {
  const first = spawn('sleep', ['300'], { stdio: 'ignore' })
  const pid = first.pid
  const id = tether.ProcessIdentity.of(pid)
  assert.equal(id.check(), 'same')
  // A handle taken before the end and the reuse of the PID.
  const held = tether.Process.open(pid)
  first.kill('SIGKILL')
  await exited(first)
  assert.equal(id.check(), 'gone')

  let second
  for (let i = 0; i < 50 && !second; i++) {
    writeFileSync('/proc/sys/kernel/ns_last_pid', String(pid - 1))
    const c = spawn('sleep', ['300'], { stdio: 'ignore' })
    if (c.pid === pid) second = c
    else {
      c.kill('SIGKILL')
      await exited(c)
    }
  }
  assert.ok(second, 'the kernel handed out the PID again')
  try {
    assert.equal(id.check(), 'reused')
    // The old identity is refused: nothing can be sent to the new process through it.
    assert.throws(() => tether.Process.fromIdentity(id), (e) => {
      assert.ok(e instanceof tether.IdentityMismatchError, String(e))
      assert.equal(e.code, 'TETHER_IDENTITY_MISMATCH')
      return true
    })
    assert.throws(() => tether.Process.fromIdentity(String(id)), tether.IdentityMismatchError)
    // The handle taken before reaches nobody, and reads nothing of the new process.
    assert.equal(held.isRunning(), false)
    assert.throws(() => held.signal('KILL'), tether.NotFoundError)
    assert.throws(() => held.info(['name']), tether.NotFoundError)
    const r = await held.terminateTree({ graceMs: 100 })
    assert.equal(r.alreadyGone, true)
    assert.deepEqual(r.signalled, [])
    // The new process is untouched.
    const now = tether.Process.open(pid)
    assert.equal(now.isRunning(), true)
    assert.notEqual(String(now.identity), String(id))
  } finally {
    second.kill('SIGKILL')
    await exited(second)
  }
  console.log('inner done')
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
