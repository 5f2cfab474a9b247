'use strict'
const test = require('node:test')
const assert = require('node:assert/strict')
const { spawn } = require('node:child_process')
const { readFileSync } = require('node:fs')
const { tether, sleepers, exited } = require('./helpers')
const { ProcessIdentity } = tether

test('the identity of this process', () => {
  const id = ProcessIdentity.of(process.pid)
  assert.ok(id instanceof ProcessIdentity)
  assert.equal(id.pid, process.pid)
  assert.ok(Number.isInteger(id.startTicks) && id.startTicks > 0)
  const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim().replaceAll('-', '')
  assert.equal(id.bootId, boot)
  const text = id.toString()
  assert.match(text, new RegExp(`^${process.pid}:${id.startTicks}:${boot.slice(0, 8)}(:\\d+)?$`))
  assert.equal(`${id}`, text)
  assert.equal(JSON.stringify({ id }), JSON.stringify({ id: text }))
  assert.equal(ProcessIdentity.parse(text).toString(), text)
  assert.equal(id.check(), 'same')
  if (id.pidfsInode !== null) assert.ok(id.pidfsInode > 0)
})

test('check: same, gone, and a PID that names another process', async (t) => {
  const { kids } = sleepers(t, 1)
  const child = kids[0]
  const id = ProcessIdentity.of(child.pid)
  assert.equal(id.check(), 'same')
  // The same PID with another start time is another process: what a reused PID looks like.
  const boot8 = id.bootId.slice(0, 8)
  assert.equal(ProcessIdentity.parse(`${child.pid}:${id.startTicks + 1}:${boot8}`).check(), 'reused')
  // An identity from an earlier boot names nothing any more.
  assert.equal(ProcessIdentity.parse(`${child.pid}:${id.startTicks}:00000000`).check(), 'gone')
  // A process that exited (and was reaped) is gone.
  const quick = spawn('true')
  const qid = ProcessIdentity.of(quick.pid)
  await exited(quick)
  assert.equal(qid.check() === 'gone' || qid.check() === 'reused', true)
  assert.notEqual(qid.check(), 'same')
})
