'use strict'
// run and spawn: contained trees, GNU timeout's contract, bounded capture, waits that never
// block the event loop, and AbortSignals that end the whole tree.
const test = require('node:test')
const assert = require('node:assert/strict')
const { mkdtempSync, readFileSync, rmSync, realpathSync, writeFileSync } = require('node:fs')
const { tmpdir } = require('node:os')
const path = require('node:path')
const { tether, eventually } = require('./helpers')

const { Process } = tether

/** A temporary directory, removed after the test. */
function tempDir(t) {
  const dir = mkdtempSync(path.join(tmpdir(), 'tether-node-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** A contained `spawn` that the test closes (ending its tree) whatever happens. */
function contained(t, argv, opts = {}) {
  const child = tether.spawn(argv, { stdio: 'ignore', ...opts })
  t.after(() => child.close())
  return child
}

/** The members of a tree: its top and every descendant, held by pidfds. */
function members(pid) {
  const top = Process.open(pid)
  return [top, ...top.children({ recursive: true })]
}

/** A `setInterval` counter, to prove the event loop turns while something waits. */
function ticker(t) {
  const c = { ticks: 0 }
  const timer = setInterval(() => c.ticks++, 5)
  t.after(() => clearInterval(timer))
  return c
}

const TREE = ['sh', '-c', 'sleep 300 & sleep 300 & wait']

test('run: exit code, captured output, environment and directory', async (t) => {
  const dir = realpathSync(tempDir(t))
  const r = await tether.run(['sh', '-c', 'echo "out $FOO"; pwd; echo err >&2; exit 3'], {
    cwd: dir,
    env: { FOO: 'bar', PATH: process.env.PATH },
  })
  assert.equal(r.exitCode, 3)
  assert.equal(r.code, 3)
  assert.equal(r.signal, undefined)
  assert.equal(r.timedOut, false)
  assert.ok(Buffer.isBuffer(r.stdout))
  assert.equal(r.stdout.toString(), `out bar\n${dir}\n`)
  assert.equal(r.stderr.toString(), 'err\n')
  assert.equal(r.stdoutDropped, 0)
  assert.match(r.identity, new RegExp(`^${r.pid}:`))
  assert.ok(['cgroup', 'session'].includes(r.containment.mechanism), r.containment.mechanism)
})

test('run: the capture keeps the last bytes and counts the rest', async () => {
  const r = await tether.run(['sh', '-c', 'seq 1 1000'], { captureLimit: 16 })
  assert.equal(r.exitCode, 0)
  assert.equal(r.stdout.toString(), '97\n998\n999\n1000\n')
  assert.equal(r.stdoutDropped, 3893 - 16)
})

test('run: a time limit gives 124, and KILL after killAfterMs gives 137', async () => {
  const r = await tether.run(['sleep', '30'], { timeoutMs: 200 })
  assert.equal(r.timedOut, true)
  assert.equal(r.exitCode, 124)
  assert.equal(r.signal, 'TERM')
  assert.deepEqual(r.signals.map((s) => [s.signal, s.reason]), [['TERM', 'timeout']])
  // Long enough for the shell to have set its trap on a loaded machine.
  const stubborn = await tether.run(['sh', '-c', 'trap "" TERM; sleep 30'], {
    timeoutMs: 1000,
    killAfterMs: 200,
  })
  assert.equal(stubborn.timedOut, true)
  assert.equal(stubborn.escalated, true)
  assert.equal(stubborn.exitCode, 137)
  assert.equal(stubborn.signal, 'KILL')
  const quiet = await tether.run(['sleep', '30'], { timeoutMs: 100, timeoutSignal: 'INT' })
  assert.equal(quiet.signal, 'INT')
  assert.equal(quiet.exitCode, 124)
})

test('run: the event loop keeps turning', async (t) => {
  const c = ticker(t)
  const r = await tether.run(['sleep', '0.4'])
  assert.equal(r.exitCode, 0)
  assert.ok(c.ticks >= 10, `${c.ticks} ticks during a 400 ms run`)
})

test('run: an AbortSignal ends the whole tree', async (t) => {
  const dir = tempDir(t)
  const pids = path.join(dir, 'pids')
  const ac = new AbortController()
  const running = tether.run(['sh', '-c', `sleep 300 & echo $$ $! > ${pids}; wait`], { signal: ac.signal })
  assert.ok(await eventually(() => {
    try {
      return readFileSync(pids, 'utf8').trim().split(' ').length === 2
    } catch {
      return false
    }
  }), 'the tree started')
  const held = readFileSync(pids, 'utf8').trim().split(' ').map((p) => Process.open(Number(p)))
  ac.abort()
  await assert.rejects(running, (e) => e === ac.signal.reason)
  for (const p of held) assert.equal(p.isRunning(), false, `${p.pid} is gone`)
  // Aborted before the start: nothing runs.
  await assert.rejects(tether.run(['true'], { signal: AbortSignal.abort('before') }), (e) => e === 'before')
})

test('spawn a contained tree and end all of it', async (t) => {
  const child = contained(t, TREE)
  assert.equal(typeof child.pid, 'number')
  assert.equal(child.identity.pid, child.pid)
  assert.ok(['cgroup', 'session'].includes(child.containment.mechanism))
  assert.ok(await eventually(() => Process.open(child.pid).children().length === 2), 'two sleeps')
  const tree = members(child.pid)
  assert.equal(tree.length, 3)
  const r = await child.stop({ graceMs: 5000 })
  assert.deepEqual(r.remaining, [])
  assert.deepEqual([...r.signalled].sort(), tree.map((m) => m.pid).sort())
  for (const m of tree) assert.equal(m.isRunning(), false, `${m.pid} is gone`)
  const exit = await child.wait()
  assert.equal(exit.signal, 'TERM')
  assert.equal(exit.shellCode, 143)
  assert.deepEqual(await child.close(), [])
  // Closed: the handle refuses, closing again is a no-op.
  await assert.rejects(child.signal('TERM'), tether.InvalidArgumentError)
  assert.deepEqual(await child.close(), [])
})

test('spawn: a setsid escaper is ended with the tree by killTree', async (t) => {
  const child = contained(t, ['sh', '-c', 'setsid sleep 300 & wait'])
  assert.ok(await eventually(() => Process.open(child.pid).children().length === 1), 'escaper started')
  const tree = members(child.pid)
  const killed = await child.killTree()
  assert.ok(killed.includes(child.pid), JSON.stringify(killed))
  for (const m of tree) assert.equal(m.isRunning(), false, `${m.pid} is gone`)
  assert.equal((await child.wait()).signal, 'KILL')
})

test('Child.wait with a timeout resolves null; the event loop keeps turning', async (t) => {
  const child = contained(t, ['sleep', '300'])
  const c = ticker(t)
  assert.equal(await child.wait({ timeoutMs: 300 }), null)
  assert.ok(c.ticks >= 10, `${c.ticks} ticks during a 300 ms wait`)
  assert.equal(Process.open(child.pid).isRunning(), true)
})

test('calls go through while a wait is in progress', async (t) => {
  const child = contained(t, TREE)
  assert.ok(await eventually(() => Process.open(child.pid).children().length === 2))
  const waiting = child.wait()
  await new Promise((r) => setTimeout(r, 50))
  const reached = await child.signal('CONT')
  assert.equal(reached.length, 3)
  const stopped = await child.stop({ graceMs: 5000 })
  assert.deepEqual(stopped.remaining, [])
  assert.equal((await waiting).signal, 'TERM')
})

test('close during a wait: the tree is killed, the wait resolves with the exit', async (t) => {
  const child = contained(t, TREE)
  assert.ok(await eventually(() => Process.open(child.pid).children().length === 2))
  const tree = members(child.pid)
  const waiting = child.wait()
  const killed = await child.close()
  assert.deepEqual([...killed].sort(), tree.map((m) => m.pid).sort())
  assert.equal((await waiting).signal, 'KILL')
  for (const m of tree) assert.equal(m.isRunning(), false, `${m.pid} is gone`)
  // Closed: a wait still tells the exit; what would act on the tree is refused.
  assert.equal((await child.wait()).signal, 'KILL')
  await assert.rejects(child.killTree(), tether.InvalidArgumentError)
})

test('spawn with a time limit: applied while waiting', async (t) => {
  const child = contained(t, ['sleep', '300'], { timeoutMs: 200 })
  const exit = await child.wait({ timeoutMs: 30_000 })
  assert.equal(exit.signal, 'TERM')
})

test('an AbortSignal on Child.wait ends the whole tree', async (t) => {
  const child = contained(t, TREE)
  assert.ok(await eventually(() => Process.open(child.pid).children().length === 2))
  const tree = members(child.pid)
  const ac = new AbortController()
  const waiting = child.wait({ signal: ac.signal })
  setTimeout(() => ac.abort(), 50)
  await assert.rejects(waiting, (e) => e === ac.signal.reason && e.name === 'AbortError')
  for (const m of tree) assert.equal(m.isRunning(), false, `${m.pid} is gone`)
})

test("an AbortSignal given to spawn kills the tree when it aborts", async (t) => {
  const ac = new AbortController()
  const child = contained(t, TREE, { signal: ac.signal })
  assert.ok(await eventually(() => Process.open(child.pid).children().length === 2))
  const tree = members(child.pid)
  ac.abort()
  assert.ok(await eventually(() => tree.every((m) => !m.isRunning())), 'the tree is gone')
})

test('run and spawn: bad input gives the usual errors', async (t) => {
  const typeError = { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' }
  const valueError = { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' }
  const rangeError = { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' }
  await assert.rejects(tether.run([]), valueError)
  await assert.rejects(tether.run(42), typeError)
  await assert.rejects(tether.run(['true'], { timeoutMs: -5 }), rangeError)
  await assert.rejects(tether.run(['true'], { captureLimit: 1.5 }), rangeError)
  await assert.rejects(tether.run(['true'], { env: { A: 1 } }), typeError)
  await assert.rejects(tether.run(['true'], { stdio: 'ignore' }), valueError)
  await assert.rejects(tether.run(['true'], { contain: 'box' }), tether.InvalidArgumentError)
  await assert.rejects(tether.run(['true'], { timeoutSignal: 'NOPE' }), tether.InvalidArgumentError)
  await assert.rejects(tether.run(['/nonexistent/program']), (e) => {
    assert.ok(e instanceof tether.NotFoundError, String(e))
    assert.equal(e.errno, 2)
    return true
  })
  // A file without the execute bit: EACCES.
  const notExecutable = path.join(tempDir(t), 'script')
  writeFileSync(notExecutable, '#!/bin/sh\n', { mode: 0o644 })
  await assert.rejects(tether.run([notExecutable]), (e) => {
    assert.ok(e instanceof tether.PermissionDeniedError, String(e))
    assert.equal(e.errno, 13)
    return true
  })
  assert.throws(() => tether.spawn(['/nonexistent/program']), tether.NotFoundError)
  assert.throws(() => tether.spawn(['true'], { stdio: ['ignore'] }), valueError)
  assert.throws(() => tether.spawn(['true'], { stdio: 'pipe' }), valueError)
  const child = tether.spawn(['true'], { stdio: 'ignore' })
  try {
    await assert.rejects(child.signal('NOPE'), tether.InvalidArgumentError)
    await assert.rejects(child.wait({ timeoutMs: 'soon' }), typeError)
    await assert.rejects(child.stop({ graceMs: -1 }), rangeError)
  } finally {
    await child.close()
  }
})

test('a worker terminated mid-wait leaves no tree behind', async () => {
  const { Worker } = require('node:worker_threads')
  const worker = new Worker(
    `const t = require(${JSON.stringify(require.resolve('..'))})
     const c = t.spawn(${JSON.stringify(TREE)}, { stdio: 'ignore' })
     c.wait()  // no deadline, no signal
     require('node:worker_threads').parentPort.postMessage(c.pid)`,
    { eval: true },
  )
  const pid = await new Promise((resolve, reject) => {
    worker.once('message', resolve)
    worker.once('error', reject)
  })
  assert.ok(await eventually(() => Process.open(pid).children().length === 2), 'the tree started')
  const tree = members(pid)
  await worker.terminate()
  // The environment's teardown ended the wait, which killed the tree.
  assert.ok(await eventually(() => tree.every((m) => !m.isRunning()), 10_000), 'the tree is gone')
})
