'use strict'
const test = require('node:test')
const assert = require('node:assert/strict')
const { mkdtempSync, writeFileSync, rmSync } = require('node:fs')
const { tmpdir } = require('node:os')
const path = require('node:path')
const { tether, freePort, listen, sleepers, kill, threadsNamed, eventually } = require('./helpers')

// The thread a wait runs on (its /proc comm: the name, cut to 15 bytes).
const WAIT_THREAD = 'tether-wait-for'

test('waitFor a port this test opens later, while the event loop keeps turning', async (t) => {
  const port = await freePort()
  let ticks = 0
  const timer = setInterval(() => ticks++, 5)
  t.after(() => clearInterval(timer))
  let server
  t.after(() => server?.close())
  // Opened from a timer: were the loop blocked by the wait, it would never open.
  const opening = new Promise((resolve) =>
    setTimeout(async () => {
      server = await listen(port)
      resolve(ticks)
    }, 300),
  )
  const r = await tether.waitFor(`127.0.0.1:${port}`, { timeoutMs: 30_000 })
  const ticksAtOpen = await opening
  assert.equal(r.outcome, 'ready', JSON.stringify(r))
  assert.equal(r.ready, true)
  assert.equal(r.targets.length, 1)
  const [target] = r.targets
  assert.deepEqual([target.target, target.kind, target.ready], [`127.0.0.1:${port}`, 'tcp', true])
  // Not ready before the port opened (300 ms after the call; the wait's clock starts when its
  // thread does, which a loaded machine may delay by tens of milliseconds).
  assert.ok(target.timeToReadyMs >= 150, String(target.timeToReadyMs))
  assert.ok(target.attempts > 1)
  assert.ok(r.elapsedMs >= target.timeToReadyMs)
  // The interval kept firing during the wait.
  assert.ok(ticksAtOpen >= 5, `${ticksAtOpen} ticks before the port opened`)
})

test('a timeout is an outcome, not an error', async () => {
  const port = await freePort()
  const r = await tether.waitFor([`:${port}`], { timeoutMs: 1000 })
  assert.equal(r.outcome, 'timed_out')
  assert.equal(r.ready, false)
  assert.equal(r.targets[0].ready, false)
  assert.match(r.targets[0].lastError, /nothing listens|refused/)
})

test('an AbortSignal ends the waits, and their threads', async () => {
  const port = await freePort()
  const before = threadsNamed(WAIT_THREAD)
  const controller = new AbortController()
  // No deadline: only the signal can end these.
  const waits = Array.from({ length: 6 }, () => tether.waitFor(`127.0.0.1:${port}`, { signal: controller.signal }))
  assert.ok(await eventually(() => threadsNamed(WAIT_THREAD) >= before + 6), 'six wait threads')
  controller.abort()
  for (const r of await Promise.allSettled(waits)) {
    assert.equal(r.status, 'rejected')
    assert.equal(r.reason, controller.signal.reason)
    assert.equal(r.reason.name, 'AbortError')
  }
  // The library stopped waiting: the threads are gone, not left polling.
  assert.ok(await eventually(() => threadsNamed(WAIT_THREAD) <= before), 'wait threads ended')
})

test('abort reasons: a custom one, an already aborted signal, AbortSignal.timeout', async () => {
  const port = await freePort()
  const c = new AbortController()
  const w = tether.waitFor(`:${port}`, { signal: c.signal })
  setTimeout(() => c.abort('stop'), 50)
  await assert.rejects(w, (e) => e === 'stop')

  const done = new AbortController()
  const reason = new Error('already')
  done.abort(reason)
  // (The thread of the wait above ends just after its promise settles.)
  assert.ok(await eventually(() => threadsNamed(WAIT_THREAD) === 0))
  const refused = tether.waitFor(`:${port}`, { signal: done.signal })
  assert.equal(threadsNamed(WAIT_THREAD), 0, 'no wait was started')
  await assert.rejects(refused, (e) => e === reason)

  await assert.rejects(
    tether.waitFor(`:${port}`, { signal: AbortSignal.timeout(50) }),
    (e) => e.name === 'TimeoutError',
  )
  // A wait that ends first leaves the signal alone (its listener is removed).
  const late = new AbortController()
  const r = await tether.waitFor(`:${port}`, { timeoutMs: 50, signal: late.signal })
  assert.equal(r.outcome, 'timed_out')
  late.abort()
})

test('any of several targets; files appear', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'tether-node-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const file = path.join(dir, 'ready.flag')
  const port = await freePort()
  setTimeout(() => writeFileSync(file, 'up'), 100)
  const r = await tether.waitFor([`:${port}`, `file:${file}`], {
    any: true,
    timeoutMs: 30_000,
    file: { nonEmpty: true },
  })
  assert.equal(r.outcome, 'ready')
  assert.equal(r.any, true)
  assert.deepEqual(r.targets.map((x) => [x.kind, x.ready]), [['tcp', false], ['file', true]])
})

test('reverse: until a port is freed', async () => {
  const server = await listen()
  const { port } = server.address()
  setTimeout(() => server.close(), 100)
  const r = await tether.waitFor(`127.0.0.1:${port}`, { reverse: true, timeoutMs: 30_000 })
  assert.equal(r.outcome, 'ready')
  assert.equal(r.reverse, true)
})

test('a watched process that dies ends the wait', async (t) => {
  const { kids } = sleepers(t, 1)
  const port = await freePort()
  const waiting = tether.waitFor(`:${port}`, { watchPid: kids[0].pid, timeoutMs: 30_000 })
  setTimeout(() => kill(kids[0]), 100)
  const r = await waiting
  assert.equal(r.outcome, 'process_died')
  assert.match(r.watched, new RegExp(`^${kids[0].pid}:`))
})

test('a worker terminated mid-wait leaves no wait behind', async () => {
  const { Worker } = require('node:worker_threads')
  const port = await freePort()
  assert.ok(await eventually(() => threadsNamed(WAIT_THREAD) === 0))
  const worker = new Worker(
    `const t = require(${JSON.stringify(require.resolve('..'))})
     t.waitFor(':${port}')  // no deadline, no signal
     require('node:worker_threads').parentPort.postMessage('waiting')`,
    { eval: true },
  )
  await new Promise((resolve, reject) => {
    worker.once('message', resolve)
    worker.once('error', reject)
  })
  assert.ok(await eventually(() => threadsNamed(WAIT_THREAD) === 1), 'the worker waits')
  await worker.terminate()
  // The environment's teardown cancelled the wait: its thread ends.
  assert.ok(await eventually(() => threadsNamed(WAIT_THREAD) === 0), 'the wait ended with its worker')
})
