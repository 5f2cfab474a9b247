'use strict'
// Process: open by PID or identity, inspect, signal, wait, terminate a tree. Tests signal only
// the children they start.
const test = require('node:test')
const assert = require('node:assert/strict')
const { spawn, spawnSync } = require('node:child_process')
const path = require('node:path')
const { tether, sleepers, kill, eventually } = require('./helpers')

const { Process, ProcessIdentity } = tether

test('inspecting itself', () => {
  const me = Process.current()
  assert.equal(me.pid, process.pid)
  assert.equal(me.isRunning(), true)
  assert.ok(me.identity instanceof ProcessIdentity)
  assert.equal(String(me.identity), String(ProcessIdentity.of(process.pid)))
  const info = me.info(['name', 'ppid', 'cmdline', 'identity'])
  assert.equal(info.pid, process.pid)
  assert.equal(info.ppid, process.ppid)
  assert.equal(info.cmdline[0], process.argv0)
  assert.equal(info.identity, String(me.identity))
  // By PID and by identity (string or object), the same process.
  assert.equal(String(Process.open(process.pid).identity), String(me.identity))
  assert.equal(Process.fromIdentity(me.identity).pid, process.pid)
  assert.equal(Process.fromIdentity(String(me.identity)).pid, process.pid)
  // The default fields are snapshot's.
  assert.equal(typeof me.info().rssBytes, 'number')
})

test('children, recursive or not', async (t) => {
  const sh = spawn('sh', ['-c', 'sleep 300 & sleep 300 & wait'], { stdio: 'ignore', detached: true })
  t.after(() => kill(sh))
  const p = Process.open(sh.pid)
  assert.ok(await eventually(() => p.children().length === 2), 'two children')
  const kids = p.children()
  assert.ok(kids.every((k) => k instanceof Process))
  assert.deepEqual(p.children({ recursive: true }).map((k) => k.pid).sort(), kids.map((k) => k.pid).sort())
  const me = Process.current()
  assert.ok(me.children({ recursive: true }).some((k) => k.pid === sh.pid))
  await p.terminateTree({ graceMs: 5000 })
})

test('an identity whose PID was reused is refused (PID reuse forced in a PID namespace)', (t) => {
  const probe = spawnSync('unshare', ['--pid', '--fork', '--mount-proc', 'true'])
  if (probe.status !== 0) return t.skip('unshare --pid needs root')
  const r = spawnSync(
    'unshare',
    ['--pid', '--fork', '--mount-proc', process.execPath, path.join(__dirname, 'reuse-inner.js')],
    { encoding: 'utf8', timeout: 60_000 },
  )
  const text = r.stdout + r.stderr
  assert.equal(r.status, 0, text)
  assert.match(text, /inner done/)
})

test('an identity with a wrong start time is refused, and nothing is sent', (t) => {
  const { kids } = sleepers(t, 1)
  const id = ProcessIdentity.of(kids[0].pid)
  // One clock tick later, without the pidfs inode: another process than the one running.
  const wrong = `${id.pid}:${id.startTicks + 1}:${id.bootId.slice(0, 8)}`
  assert.equal(ProcessIdentity.parse(wrong).check(), 'reused')
  assert.throws(() => Process.fromIdentity(wrong), (e) => {
    assert.ok(e instanceof tether.IdentityMismatchError, String(e))
    assert.equal(e.kind, 'identity_mismatch')
    return true
  })
  assert.equal(Process.open(kids[0].pid).isRunning(), true)
})

test('signal: through the pidfd; the rails refuse this process', async (t) => {
  const { kids } = sleepers(t, 1)
  assert.throws(() => Process.current().signal('CONT'), tether.RefusedError)
  const p = Process.open(kids[0].pid)
  const exit = new Promise((resolve) => kids[0].once('exit', (code, sig) => resolve(sig)))
  p.signal('TERM')
  assert.equal(await exit, 'SIGTERM')
  assert.equal(p.isRunning(), false)
  assert.throws(() => p.signal(15), tether.NotFoundError)
})

test('a wait with a timeout, then the exit; the event loop keeps turning', async (t) => {
  const { kids } = sleepers(t, 1)
  const p = Process.open(kids[0].pid)
  let ticks = 0
  const timer = setInterval(() => ticks++, 5)
  t.after(() => clearInterval(timer))
  const r = await p.wait({ timeoutMs: 300 })
  assert.equal(r.timedOut, true)
  assert.equal(r.exited, false)
  assert.equal(r.pid, p.pid)
  assert.equal(r.identity, String(p.identity))
  assert.ok(r.waitedMs >= 250, String(r.waitedMs))
  // The interval kept firing during the wait: the loop was never blocked.
  assert.ok(ticks >= 10, `${ticks} ticks during a 300 ms wait`)
  const waiting = p.wait({ timeoutMs: 30_000 })
  setTimeout(() => kids[0].kill('SIGKILL'), 50)
  const done = await waiting
  assert.equal(done.exited, true)
  assert.equal(done.timedOut, false)
})

test('an AbortSignal ends a wait and leaves the process alone', async (t) => {
  const { kids } = sleepers(t, 1)
  const p = Process.open(kids[0].pid)
  const c = new AbortController()
  const waiting = p.wait({ signal: c.signal })
  setTimeout(() => c.abort(), 50)
  await assert.rejects(waiting, (e) => e === c.signal.reason && e.name === 'AbortError')
  assert.equal(p.isRunning(), true)
  await assert.rejects(p.wait({ signal: AbortSignal.abort('no') }), (e) => e === 'no')
})

test('terminateTree ends a tree this test started, every member of it', async (t) => {
  const sh = spawn('sh', ['-c', 'sleep 300 & sleep 300 & wait'], { stdio: 'ignore', detached: true })
  t.after(() => kill(sh))
  const p = Process.open(sh.pid)
  assert.ok(await eventually(() => p.children().length === 2), 'two children')
  const members = [p, ...p.children({ recursive: true })]
  const r = await p.terminateTree({ graceMs: 5000 })
  assert.equal(r.pid, sh.pid)
  assert.equal(r.alreadyGone, false)
  assert.deepEqual([...r.signalled].sort(), members.map((m) => m.pid).sort())
  assert.deepEqual(r.remaining, [])
  assert.equal(r.signal, 'TERM')
  for (const m of members) assert.equal(m.isRunning(), false, `${m.pid} is gone`)
  // Again: already gone is a success.
  assert.equal((await p.terminateTree()).alreadyGone, true)
})

test('Process: bad input gives the usual errors', async () => {
  const typeError = { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' }
  const rangeError = { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' }
  assert.throws(() => Process.open('1'), typeError)
  assert.throws(() => Process.open(1.5), rangeError)
  assert.throws(() => Process.open(0), tether.InvalidArgumentError)
  assert.throws(() => Process.open(-3), tether.InvalidArgumentError)
  assert.throws(() => Process.fromIdentity('garbage'), tether.InvalidArgumentError)
  assert.throws(() => Process.fromIdentity(42), typeError)
  const me = Process.current()
  assert.throws(() => me.signal('NOPE'), tether.InvalidArgumentError)
  assert.throws(() => me.info(['nope']), tether.InvalidArgumentError)
  assert.throws(() => me.children({ recursive: 'yes' }), typeError)
  await assert.rejects(me.wait({ timeoutMs: -1 }), rangeError)
  await assert.rejects(me.wait({ signal: 'no' }), typeError)
  await assert.rejects(me.terminateTree({ graceMs: 'long' }), typeError)
  await assert.rejects(me.terminateTree({ signal: 'NOPE' }), tether.InvalidArgumentError)
  // The rails refuse stopping this process itself.
  await assert.rejects(me.terminateTree({ graceMs: 10 }), tether.RefusedError)
})
