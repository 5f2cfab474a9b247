'use strict'
// PID files: read one, and whether the process it names still runs, by its identity.
const test = require('node:test')
const assert = require('node:assert/strict')
const { mkdtempSync, rmSync, writeFileSync, symlinkSync } = require('node:fs')
const { tmpdir } = require('node:os')
const path = require('node:path')
const { tether, sleepers, kill } = require('./helpers')

function tempDir(t) {
  const dir = mkdtempSync(path.join(tmpdir(), 'tether-node-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** A tether.pidfile/v1 record naming the identity `id`, with the start time shifted by `skew`. */
function record(id, skew = 0) {
  return JSON.stringify({
    format: 'tether.pidfile/v1',
    pid: id.pid,
    start_ticks: id.startTicks + skew,
    boot_id: id.bootId,
    pidfs_inode: skew ? null : (id.pidfsInode ?? null),
    exe: null,
    argv: ['sleep'],
    start_unix_ms: Date.now(),
  })
}

test('a tether PID file: alive while its process runs, gone after', async (t) => {
  const dir = tempDir(t)
  const { kids } = sleepers(t, 1)
  const id = tether.ProcessIdentity.of(kids[0].pid)
  const file = path.join(dir, 'worker.pid')
  writeFileSync(file, record(id))
  const read = tether.readPidfile(file)
  assert.equal(read.format, 'tether')
  assert.equal(read.pid, id.pid)
  assert.equal(read.path, file)
  assert.equal(read.record.identity, String(id))
  assert.deepEqual(read.record.argv, ['sleep'])
  const alive = tether.checkPidfile(file)
  assert.equal(alive.alive, true)
  assert.equal(alive.status, 'alive')
  assert.equal(alive.identityStrength, 'strong')
  assert.equal(alive.identity, String(id))
  assert.equal(alive.pidfile.pid, id.pid)
  await kill(kids[0])
  const gone = tether.checkPidfile(file)
  assert.equal(gone.alive, false)
  assert.equal(gone.status, 'gone')
})

test('a record whose start time differs is stale: the PID belongs to another process', (t) => {
  const dir = tempDir(t)
  const { kids } = sleepers(t, 1)
  const id = tether.ProcessIdentity.of(kids[0].pid)
  const file = path.join(dir, 'worker.pid')
  writeFileSync(file, record(id, 1))
  const v = tether.checkPidfile(file)
  assert.equal(v.alive, false)
  assert.equal(v.status, 'stale')
  assert.equal(v.staleReason, 'reused')
  assert.match(v.message, /stale/)
})

test('a legacy PID file: a bare PID, a weak identity', (t) => {
  const dir = tempDir(t)
  const { kids } = sleepers(t, 1)
  const file = path.join(dir, 'legacy.pid')
  writeFileSync(file, `${kids[0].pid}\n`)
  const read = tether.readPidfile(file)
  assert.equal(read.format, 'legacy')
  assert.equal(read.pid, kids[0].pid)
  assert.equal(read.record, undefined)
  const v = tether.checkPidfile(file)
  assert.equal(v.alive, true)
  assert.equal(v.identityStrength, 'weak')
})

test('PID files: bad input gives the usual errors', (t) => {
  const dir = tempDir(t)
  assert.throws(() => tether.readPidfile(42), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' })
  assert.throws(() => tether.readPidfile(path.join(dir, 'missing.pid')), tether.NotFoundError)
  assert.throws(() => tether.checkPidfile(path.join(dir, 'missing.pid')), tether.NotFoundError)
  const junk = path.join(dir, 'junk.pid')
  writeFileSync(junk, 'not a pid')
  assert.throws(() => tether.readPidfile(junk), tether.InvalidArgumentError)
  const link = path.join(dir, 'link.pid')
  symlinkSync(junk, link)
  assert.throws(() => tether.checkPidfile(link), tether.InvalidArgumentError)
})
