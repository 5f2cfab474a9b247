'use strict'
// Background jobs: start → status → logs → stop round trips under a supervisor (the tether
// program named by TETHER_BIN, which scripts/test-node.sh builds), one copy per name, readiness
// that never comes, list and remove, the errors. Every test has a state directory of its own
// and removes its jobs afterwards, also when it fails, then checks that no process of that
// directory (supervisor or job) is left.
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const { tmpdir } = require('node:os')
const path = require('node:path')
const { tether, eventually, threadsNamed } = require('./helpers')

const { Jobs, Process } = tether

/** `s` as a regular expression matching it literally. */
function literal(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

/** The processes whose command line mentions `text` (supervisors name their state dir). */
async function mentioning(text) {
  const found = await tether.snapshot({ cmdline: literal(text), fields: ['pid', 'cmdline'] })
  return found.filter((p) => p.pid !== process.pid)
}

/**
 * A `Jobs` on a temporary state directory of its own. Afterwards: every job is removed, no
 * process naming the directory is left (checked), and the directory is deleted.
 */
function jobsIn(t, options = {}) {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(tmpdir(), 'tether-jobs-')))
  const stateDir = path.join(dir, 'state')
  const jobs = new Jobs({ stateDir, ...options })
  t.after(async () => {
    try {
      const all = await new Jobs({ stateDir }).list().catch(() => [])
      await Promise.all(all.map((j) => jobs.remove(j.name, { graceMs: 1000 }).catch(() => {})))
      const left = await mentioning(dir)
      assert.deepEqual(left.map((p) => p.cmdline), [], 'no supervisor or job process is left')
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
  return { jobs, dir, stateDir }
}

/** Poll an async condition every 20 ms until it holds or `ms` pass; resolves with its answer. */
async function until(cond, ms = 5000) {
  const end = Date.now() + ms
  for (;;) {
    const ok = await cond()
    if (ok || Date.now() > end) return ok
    await new Promise((r) => setTimeout(r, 20))
  }
}

// The thread a follow reads on (its /proc comm: the name, cut to 15 bytes).
const FOLLOW_THREAD = 'tether-job-foll'

/**
 * What a follow gave `onData`: `chunks` (Buffers), `text()`, and `upTo(want)`, which resolves
 * once the output so far contains `want` (and rejects after 10 s, showing what came).
 */
function followed() {
  const got = { chunks: [], waits: [] }
  got.text = () => Buffer.concat(got.chunks).toString()
  got.onData = (chunk) => {
    assert.ok(Buffer.isBuffer(chunk), 'a chunk is a Buffer')
    got.chunks.push(chunk)
    const text = got.text()
    got.waits = got.waits.filter((w) => !w(text))
  }
  got.upTo = (want, ms = 10_000) =>
    new Promise((resolve, reject) => {
      const late = () => reject(new Error(`no ${JSON.stringify(want)} in ${JSON.stringify(got.text())}`))
      const timer = setTimeout(late, ms)
      const w = (text) => text.includes(want) && (clearTimeout(timer), resolve(), true)
      if (!w(got.text())) got.waits.push(w)
    })
  return got
}

/** `promise`, or a rejection when it has not settled within `ms`. */
function within(promise, ms, what) {
  let timer
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not settled within ${ms} ms`)), ms)
  })
  return Promise.race([promise, late]).finally(() => clearTimeout(timer))
}

/** A `setInterval` counter, to prove the event loop turns while something waits. */
function ticker(t) {
  const c = { ticks: 0 }
  const timer = setInterval(() => c.ticks++, 5)
  t.after(() => clearInterval(timer))
  return c
}

test('jobs: start, status, logs, stop, status: the pid is alive, then gone', async (t) => {
  const { jobs, dir, stateDir } = jobsIn(t)
  assert.equal(jobs.stateDir, stateDir)
  const script = 'echo "out $GREETING"; pwd; echo oops >&2; exec sleep 300'
  const before = Date.now()
  const s = await jobs.start('web', ['sh', '-c', script], {
    cwd: dir,
    env: { GREETING: 'hello' },
    restart: 'on-failure',
    maxRestarts: 2,
    backoffMinMs: 50,
    backoffMaxMs: 500,
    minUptimeMs: 100,
    logMaxSize: 1 << 20,
    logKeep: 2,
    timeoutMs: 10_000,
  })
  assert.equal(s.name, 'web')
  assert.equal(s.status, 'running')
  assert.equal(s.alreadyRunning, false)
  assert.equal(s.alreadyStopped, false)
  assert.equal(s.restart, 'on-failure')
  assert.deepEqual(s.command, ['sh', '-c', script])
  assert.equal(typeof s.pid, 'number')
  assert.match(s.identity, new RegExp(`^${s.pid}:`))
  assert.equal(typeof s.id, 'string')
  assert.equal(typeof s.supervisor.pid, 'number')
  assert.match(s.startedAt, /^\d{4}-\d\d-\d\dT.*Z$/)
  assert.ok(Math.abs(s.startedAtMs - before) < 10_000, `${s.startedAtMs} is about ${before}`)
  assert.equal(s.history.length, 1)
  assert.equal(s.history[0].pid, s.pid)
  const held = Process.open(s.pid)
  assert.equal(held.isRunning(), true)

  const now = await jobs.status('web')
  assert.equal(now.status, 'running')
  assert.equal(now.pid, s.pid)
  assert.equal(now.id, s.id)
  assert.equal(typeof now.duration, 'string')
  assert.ok(now.durationMs >= 0, `durationMs ${now.durationMs}`)

  const out = await until(async () => {
    const b = await jobs.logs('web')
    return b.toString().includes(dir) && b
  })
  assert.ok(Buffer.isBuffer(out))
  assert.equal(out.toString(), `out hello\n${dir}\n`)
  assert.equal((await jobs.logs('web', { lines: 1 })).toString(), `${dir}\n`)
  assert.ok(await until(async () => (await jobs.logs('web', { stderr: true })).toString() === 'oops\n'))

  const stopped = await jobs.stop('web', { graceMs: 2000 })
  assert.equal(stopped.status, 'stopped')
  assert.equal(stopped.alreadyStopped, false)
  assert.equal(held.isRunning(), false, 'the job process is gone')
  const after = await jobs.status('web')
  assert.equal(after.status, 'stopped')
  const again = await jobs.stop('web')
  assert.equal(again.alreadyStopped, true)
  assert.equal(again.status, 'stopped')
})

test('jobs: starting a running name starts nothing (alreadyRunning)', async (t) => {
  const { jobs } = jobsIn(t)
  const marker = (300 + Math.random()).toFixed(6)
  const first = await jobs.start('one', ['sleep', marker])
  const starts = await Promise.all([1, 2, 3].map(() => jobs.start('one', ['sleep', marker])))
  for (const s of starts) {
    assert.equal(s.alreadyRunning, true)
    assert.equal(s.pid, first.pid)
    assert.equal(s.status, 'running')
  }
  const sleeps = (await mentioning(`sleep ${marker}`)).filter((p) => p.cmdline[0] === 'sleep')
  assert.deepEqual(sleeps.map((p) => p.pid), [first.pid], 'exactly one copy runs')
})

test('jobs: a ready target that never comes fails the start with a timeout and stops the job', async (t) => {
  const { jobs, dir } = jobsIn(t)
  const marker = (300 + Math.random()).toFixed(6)
  await assert.rejects(
    jobs.start('never', ['sleep', marker], { ready: `file:${dir}/never`, timeoutMs: 300 }),
    (e) => e instanceof tether.TimedOutError && e.code === 'TETHER_TIMED_OUT',
  )
  const s = await jobs.status('never')
  assert.ok(!['running', 'pending', 'backoff'].includes(s.status), `status ${s.status}`)
  assert.equal(s.ready, false)
  assert.ok(await until(async () => (await mentioning(`sleep ${marker}`)).length === 0), 'the command is gone')
})

test('jobs: the event loop turns while a start waits for readiness', async (t) => {
  const { jobs, dir } = jobsIn(t)
  const flag = path.join(dir, 'ready')
  const c = ticker(t)
  const s = await jobs.start('slow', ['sh', '-c', `sleep 0.4; touch ${flag}; exec sleep 300`], {
    ready: [`file:${flag}`],
    timeoutMs: 10_000,
  })
  assert.equal(s.status, 'running')
  assert.equal(s.ready, true)
  assert.ok(c.ticks >= 10, `${c.ticks} ticks during a start of at least 400 ms`)
})

test('jobs: list shows the jobs, restart runs a new copy, remove deletes one', async (t) => {
  const { jobs, stateDir } = jobsIn(t)
  assert.deepEqual(await jobs.list(), [], 'no state directory yet: no jobs')
  const a = await jobs.start('a', ['sleep', '300'])
  await jobs.start('b', ['sleep', '300'])
  const listed = await jobs.list()
  assert.deepEqual(listed.map((j) => [j.name, j.status]), [['a', 'running'], ['b', 'running']])

  const held = Process.open(a.pid)
  const r = await jobs.restart('a', { graceMs: 1000 })
  assert.equal(r.status, 'running')
  assert.equal(r.alreadyRunning, false)
  assert.notEqual(r.pid, a.pid)
  assert.equal(held.isRunning(), false)

  const heldB = Process.open((await jobs.status('b')).pid)
  const removed = await jobs.remove('b', { graceMs: 1000 })
  assert.equal(removed.removed, true)
  assert.equal(removed.name, 'b')
  assert.equal(heldB.isRunning(), false)
  assert.equal(fs.existsSync(path.join(stateDir, 'b')), false)
  assert.deepEqual((await jobs.list()).map((j) => j.name), ['a'])
  await assert.rejects(jobs.status('b'), tether.NotFoundError)
  await assert.rejects(jobs.logs('b'), tether.NotFoundError)
  await assert.rejects(jobs.stop('b'), tether.NotFoundError)
  await assert.rejects(jobs.remove('b'), tether.NotFoundError)
})

test('jobs: bad names, commands and options', async (t) => {
  const { jobs } = jobsIn(t)
  const invalid = (e) => e instanceof tether.InvalidArgumentError && e.code === 'TETHER_INVALID_ARGUMENT'
  await assert.rejects(jobs.start('a/b', ['true']), invalid)
  await assert.rejects(jobs.start('.hidden', ['true']), invalid)
  await assert.rejects(jobs.start('ok', []), invalid)
  await assert.rejects(jobs.start('ok', ['true'], { restart: 'sometimes' }), invalid)
  await assert.rejects(jobs.start('ok', ['true'], { ready: 'nonsense:' }), invalid)
  await assert.rejects(jobs.start('ok', ['true'], { backoffMinMs: 500, backoffMaxMs: 1 }), invalid)
  await assert.rejects(jobs.status('a/b'), invalid)
  await assert.rejects(jobs.start(42, ['true']), (e) => e instanceof TypeError && e.code === 'ERR_INVALID_ARG_TYPE')
  await assert.rejects(jobs.start('ok', ['true'], { timeoutMs: -1 }), RangeError)
  await assert.rejects(jobs.start('ok', ['true'], { maxRestarts: 1.5 }), RangeError)
  await assert.rejects(jobs.stop('ok', { graceMs: 'soon' }), TypeError)
  await assert.rejects(jobs.logs('ok', { lines: -1 }), RangeError)
  assert.throws(() => new Jobs('state'), TypeError)
  assert.deepEqual(await jobs.list(), [], 'nothing was started')
})

test('jobs: a state directory that is a symbolic link is refused', async (t) => {
  const { dir } = jobsIn(t)
  const real = path.join(dir, 'real')
  fs.mkdirSync(real, { mode: 0o700 })
  const link = path.join(dir, 'link')
  fs.symlinkSync(real, link)
  const jobs = new Jobs({ stateDir: link })
  const refused = (e) => e instanceof tether.RefusedError && /symbolic link/.test(e.message)
  await assert.rejects(jobs.start('x', ['sleep', '300']), refused)
  await assert.rejects(jobs.list(), refused)
  assert.deepEqual(fs.readdirSync(real), [], 'nothing was written through the link')
})

test('jobs: no tether program is a NotFoundError that names TETHER_BIN', async (t) => {
  const { stateDir, dir } = jobsIn(t)
  const jobs = new Jobs({ stateDir, program: path.join(dir, 'no-such-tether') })
  await assert.rejects(
    jobs.start('x', ['sleep', '300']),
    (e) => e instanceof tether.NotFoundError && /TETHER_BIN/.test(e.message),
  )
  const plain = path.join(dir, 'tether')
  fs.writeFileSync(plain, 'not a program')
  await assert.rejects(new Jobs({ stateDir, program: plain }).start('x', ['true']), tether.NotFoundError)
  assert.deepEqual(await jobs.list(), [])
})

test('jobs: on-failure restarts give up after maxRestarts; requires and pidfile', async (t) => {
  const { jobs, dir } = jobsIn(t)
  const flaky = await jobs.start('flaky', ['sh', '-c', 'sleep 0.05; exit 3'], {
    restart: 'on-failure',
    maxRestarts: 2,
    backoffMinMs: 10,
    backoffMaxMs: 20,
  })
  assert.equal(flaky.status, 'running')
  const gaveUp = await until(async () => {
    const s = await jobs.status('flaky')
    return s.status === 'failed' && s
  })
  assert.ok(gaveUp, 'the job gave up')
  assert.deepEqual([gaveUp.restarts, gaveUp.exitCode, gaveUp.history.length], [2, 3, 3])
  assert.match(gaveUp.lastExitReason, /gave up after 2 restarts/)

  const pidfile = path.join(dir, 'db.pid')
  const db = await jobs.start('db', ['sleep', '300'], { pidfile })
  const check = tether.checkPidfile(pidfile)
  assert.deepEqual([check.alive, check.pid], [true, db.pid])
  const web = await jobs.start('web', ['sleep', '300'], { requires: ['db'] })
  assert.equal(web.status, 'running')
  await assert.rejects(
    jobs.start('orphan', ['sleep', '300'], { requires: 'nope', timeoutMs: 200 }),
    tether.TimedOutError,
  )
})

/** Poll `jobs.status(name)` until the command of a new run (not `oldPid`) is running. */
async function runningRun(jobs, name, oldPid) {
  return until(async () => {
    const s = await jobs.status(name).catch(() => null)
    return s && s.status === 'running' && s.pid && s.pid !== oldPid && s
  }, 10_000)
}

test('jobs: an AbortSignal cancels a start waiting for readiness: the job is stopped, then it rejects', async (t) => {
  const { jobs, dir } = jobsIn(t)
  const ac = new AbortController()
  const reason = new Error('enough')
  const starting = jobs.start('never', ['sleep', '300'], {
    ready: `file:${dir}/never`,
    timeoutMs: 60_000,
    signal: ac.signal,
  })
  const running = await runningRun(jobs, 'never')
  assert.ok(running, 'the command runs while the start waits for readiness')
  assert.equal(running.ready, false)
  const held = Process.open(running.pid)
  const t0 = Date.now()
  ac.abort(reason)
  await assert.rejects(starting, (e) => e === reason)
  const took = Date.now() - t0
  assert.ok(took < 10_000, `rejected after ${took} ms, well before the 60 s timeout`)
  assert.equal(held.isRunning(), false, 'the job process is gone when the promise rejects')
  const s = await jobs.status('never')
  assert.equal(s.status, 'stopped')
  assert.equal(s.ready, false)
  assert.equal(s.pid, running.pid)
})

test('jobs: an aborted signal rejects at once and starts nothing', async (t) => {
  const { jobs } = jobsIn(t)
  const t0 = Date.now()
  await assert.rejects(
    jobs.start('x', ['sleep', '300'], { signal: AbortSignal.abort('before'), timeoutMs: 60_000 }),
    (e) => e === 'before',
  )
  await assert.rejects(jobs.restart('x', { signal: AbortSignal.abort('before') }), (e) => e === 'before')
  assert.ok(Date.now() - t0 < 1000, 'at once')
  assert.deepEqual(await jobs.list(), [], 'no job was started')
  await assert.rejects(jobs.start('x', ['true'], { signal: 'no' }), TypeError)
  await assert.rejects(jobs.restart('x', { signal: 42 }), TypeError)
})

test('jobs: an AbortSignal cancels a restart waiting for readiness', async (t) => {
  const { jobs, dir } = jobsIn(t)
  const flag = path.join(dir, 'ready')
  fs.writeFileSync(flag, '')
  const first = await jobs.start('web', ['sleep', '300'], { ready: `file:${flag}`, timeoutMs: 60_000 })
  fs.rmSync(flag)
  const ac = new AbortController()
  const restarting = jobs.restart('web', { graceMs: 1000, signal: ac.signal })
  const running = await runningRun(jobs, 'web', first.pid)
  assert.ok(running, 'the new run started')
  const held = Process.open(running.pid)
  const t0 = Date.now()
  ac.abort()
  await assert.rejects(restarting, (e) => e === ac.signal.reason && e.name === 'AbortError')
  assert.ok(Date.now() - t0 < 10_000, 'well before the 60 s timeout')
  assert.equal(held.isRunning(), false)
  assert.equal((await jobs.status('web')).status, 'stopped')
})

test('jobs: a worker terminated mid-start cancels the start: the job is stopped', async (t) => {
  const { Worker } = require('node:worker_threads')
  const { jobs, dir, stateDir } = jobsIn(t)
  const worker = new Worker(
    `const t = require(${JSON.stringify(require.resolve('..'))})
     new t.Jobs({ stateDir: ${JSON.stringify(stateDir)} })
       .start('w', ['sleep', '300'], { ready: ${JSON.stringify(`file:${dir}/never`)}, timeoutMs: 60_000 })
       .catch(() => {})  // no signal
     require('node:worker_threads').parentPort.postMessage('started')`,
    { eval: true },
  )
  await new Promise((resolve, reject) => {
    worker.once('message', resolve)
    worker.once('error', reject)
  })
  const running = await runningRun(jobs, 'w')
  assert.ok(running, 'the command runs')
  const held = Process.open(running.pid)
  await worker.terminate()
  // The environment's teardown cancelled the start; the supervisor stopped the job.
  assert.ok(await until(async () => (await jobs.status('w')).status === 'stopped', 10_000), 'stopped')
  assert.ok(await until(() => !held.isRunning(), 10_000), 'the job process is gone')
})

test('jobs: follow gives the last lines, then what the job writes later, until an abort', async (t) => {
  const { jobs, dir } = jobsIn(t)
  const go = path.join(dir, 'go')
  const script = `echo one; echo two; echo three; until [ -e ${go} ]; do sleep 0.05; done; echo later; exec sleep 300`
  await jobs.start('web', ['sh', '-c', script])
  assert.ok(await until(async () => (await jobs.logs('web')).toString() === 'one\ntwo\nthree\n', 10_000))
  const got = followed()
  const ac = new AbortController()
  const c = ticker(t)
  const following = jobs.follow('web', got.onData, { lines: 2, signal: ac.signal })
  t.after(() => (ac.abort(), following.catch(() => {})))
  await got.upTo('three\n')
  assert.deepEqual(got.chunks.map(String), ['two\nthree\n'], 'the last two lines, in one chunk')

  // The event loop turns while the follow waits: a timer fires before it settles.
  const ticks = c.ticks
  const first = await Promise.race([
    new Promise((resolve) => setTimeout(() => resolve('timer'), 100)),
    following.then(() => 'follow', () => 'follow'),
  ])
  assert.equal(first, 'timer')
  assert.ok(c.ticks > ticks, 'the interval kept firing')

  fs.writeFileSync(go, '')
  await got.upTo('later\n')
  assert.equal(got.text(), 'two\nthree\nlater\n', 'nothing lost or repeated')

  assert.equal(threadsNamed(FOLLOW_THREAD), 1, 'the follow reads on a thread of its own')
  const t0 = Date.now()
  ac.abort()
  const aborted = (e) => e === ac.signal.reason && e.name === 'AbortError'
  await assert.rejects(within(following, 10_000, 'the aborted follow'), aborted)
  assert.ok(Date.now() - t0 < 5000, 'promptly')
  const n = got.chunks.length
  assert.equal((await jobs.status('web')).status, 'running', 'an abort ends the follow, not the job')
  assert.ok(await eventually(() => threadsNamed(FOLLOW_THREAD) === 0, 10_000), 'its thread ended')
  assert.equal(got.chunks.length, n, 'onData is not called after the abort')
})

test('jobs: follow resolves by itself once the job exits, after all its output', async (t) => {
  const { jobs, dir } = jobsIn(t)
  const go = path.join(dir, 'go')
  const script = `echo first; echo oops >&2; until [ -e ${go} ]; do sleep 0.05; done; echo second; echo last`
  await jobs.start('short', ['sh', '-c', script])
  const got = followed()
  const following = jobs.follow('short', got.onData)
  await got.upTo('first\n')
  fs.writeFileSync(go, '')
  assert.equal(await within(following, 10_000, 'the follow of an exiting job'), undefined)
  assert.equal(got.text(), 'first\nsecond\nlast\n')
  assert.equal((await jobs.status('short')).status, 'exited')

  // A job that is not running: its last lines, then the promise resolves.
  const err = followed()
  await within(jobs.follow('short', err.onData, { stderr: true, lines: 5 }), 10_000, 'a follow of an ended job')
  assert.deepEqual(err.chunks.map(String), ['oops\n'])
  const none = followed()
  await within(jobs.follow('short', none.onData, { lines: 0 }), 10_000, 'a follow of no lines')
  assert.deepEqual(none.chunks, [])
})

test('jobs: follow: an onData that throws ends the follow with what it threw', async (t) => {
  const { jobs } = jobsIn(t)
  await jobs.start('web', ['sh', '-c', 'echo hi; exec sleep 300'])
  assert.ok(await until(async () => (await jobs.logs('web')).toString() === 'hi\n', 10_000))
  const boom = new Error('boom')
  let calls = 0
  const onData = () => {
    calls++
    throw boom
  }
  await assert.rejects(within(jobs.follow('web', onData), 10_000, 'the follow'), (e) => e === boom)
  assert.equal(calls, 1)
})

test('jobs: follow: an unknown job is a NotFoundError; bad arguments', async (t) => {
  const { jobs } = jobsIn(t)
  const never = () => assert.fail('onData is not called')
  const notFound = (e) => e instanceof tether.NotFoundError && e.code === 'TETHER_NOT_FOUND'
  await assert.rejects(jobs.follow('nope', never), notFound)
  await jobs.start('other', ['sleep', '300'])
  await assert.rejects(jobs.follow('nope', never), tether.NotFoundError, 'also beside a job')
  await assert.rejects(jobs.follow('a/b', never), tether.InvalidArgumentError)
  await assert.rejects(jobs.follow(42, never), (e) => e instanceof TypeError && e.code === 'ERR_INVALID_ARG_TYPE')
  await assert.rejects(jobs.follow('other', 'nope'), (e) => e instanceof TypeError && /onData/.test(e.message))
  await assert.rejects(jobs.follow('other'), TypeError)
  await assert.rejects(jobs.follow('other', never, { lines: -1 }), RangeError)
  await assert.rejects(jobs.follow('other', never, { lines: 1.5 }), RangeError)
  await assert.rejects(jobs.follow('other', never, 'all'), TypeError)
  await assert.rejects(jobs.follow('other', never, { signal: 'no' }), TypeError)
  await assert.rejects(jobs.follow('other', never, { signal: AbortSignal.abort('before') }), (e) => e === 'before')
})

test('jobs: a worker terminated mid-follow ends the follow and its thread', async (t) => {
  const { Worker } = require('node:worker_threads')
  const { jobs, stateDir } = jobsIn(t)
  await jobs.start('web', ['sh', '-c', 'echo hi; exec sleep 300'])
  const worker = new Worker(
    `const t = require(${JSON.stringify(require.resolve('..'))})
     const { parentPort } = require('node:worker_threads')
     new t.Jobs({ stateDir: ${JSON.stringify(stateDir)} })
       .follow('web', (chunk) => parentPort.postMessage(chunk.toString()))
       .catch(() => {})`,
    { eval: true },
  )
  t.after(() => worker.terminate())
  const first = await within(
    new Promise((resolve, reject) => {
      worker.once('message', resolve)
      worker.once('error', reject)
    }),
    10_000,
    'the first chunk in the worker',
  )
  assert.equal(first, 'hi\n')
  assert.equal(threadsNamed(FOLLOW_THREAD), 1)
  await worker.terminate()
  assert.ok(await eventually(() => threadsNamed(FOLLOW_THREAD) === 0, 10_000), 'the follow thread ended')
  assert.equal((await jobs.status('web')).status, 'running', 'the job runs on')
})
