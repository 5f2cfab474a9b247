'use strict'
// retry: attempts counted, success on a later attempt, codes that stop the retries, attempt
// timeouts and the overall deadline, the event loop turning meanwhile, and an AbortSignal that
// ends the running attempt's whole tree. Commands write to files, never to the inherited
// stdout (the test runner's).
const test = require('node:test')
const assert = require('node:assert/strict')
const { mkdtempSync, readFileSync, realpathSync, rmSync } = require('node:fs')
const { tmpdir } = require('node:os')
const path = require('node:path')
const { tether, eventually } = require('./helpers')

const { Process } = tether

/** A temporary directory, removed after the test. */
function tempDir(t) {
  const dir = realpathSync(mkdtempSync(path.join(tmpdir(), 'tether-retry-')))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** A `setInterval` counter, to prove the event loop turns while something waits. */
function ticker(t) {
  const c = { ticks: 0 }
  const timer = setInterval(() => c.ticks++, 5)
  t.after(() => clearInterval(timer))
  return c
}

const read = (f) => {
  try {
    return readFileSync(f, 'utf8')
  } catch {
    return ''
  }
}

test('retry: every attempt is made and counted, and the last code is the exit code', async (t) => {
  const f = path.join(tempDir(t), 'runs')
  const r = await tether.retry(['sh', '-c', `echo x >> ${f}; exit 7`], {
    attempts: 3,
    backoff: 'fixed',
    delayMs: 10,
  })
  assert.equal(read(f), 'x\nx\nx\n')
  assert.equal(r.outcome, 'exhausted')
  assert.equal(r.exitCode, 7)
  assert.deepEqual(r.attempts.map((a) => [a.number, a.code, a.delayMs]), [
    [1, 7, 10],
    [2, 7, 10],
    [3, 7, undefined],
  ])
  const [first, second] = r.attempts
  assert.equal(first.timedOut, false)
  assert.equal(first.signal, undefined)
  assert.equal(typeof first.pid, 'number')
  assert.ok(first.startedAtMs < 100, `${first.startedAtMs}`)
  assert.ok(second.startedAtMs >= first.durationMs + 10, 'the delay came between')
  assert.ok(r.elapsedMs >= 20)
  assert.deepEqual(r.command, ['sh', '-c', `echo x >> ${f}; exit 7`])
})

test('retry: success on the second attempt', async (t) => {
  const mark = path.join(tempDir(t), 'second')
  const r = await tether.retry(['sh', '-c', `[ -e ${mark} ] || { touch ${mark}; exit 7; }`], {
    delayMs: 10,
    jitter: true,
    maxDelayMs: 20,
  })
  assert.equal(r.outcome, 'succeeded')
  assert.equal(r.exitCode, 0)
  assert.deepEqual(r.attempts.map((a) => a.code), [7, 0])
  assert.ok(r.attempts[0].delayMs >= 5 && r.attempts[0].delayMs <= 10, `${r.attempts[0].delayMs}`)
})

test('retry: a code that means "do not retry" stops at once', async (t) => {
  const f = path.join(tempDir(t), 'runs')
  const usage = await tether.retry(['sh', '-c', `echo x >> ${f}; exit 2`], { delayMs: 10 })
  assert.equal(read(f), 'x\n')
  assert.equal(usage.outcome, 'not_retried')
  assert.equal(usage.rule, 'default')
  assert.equal(usage.exitCode, 2)
  assert.equal(usage.attempts.length, 1)
  const stopOn = await tether.retry(['sh', '-c', 'exit 5'], { delayMs: 10, stopOn: [5, 9] })
  assert.deepEqual([stopOn.outcome, stopOn.rule, stopOn.attempts.length], ['not_retried', 'stop_on', 1])
  const retryOn = await tether.retry(['sh', '-c', 'exit 4'], { delayMs: 10, retryOn: '1-3' })
  assert.deepEqual([retryOn.rule, retryOn.exitCode], ['not_in_retry_on', 4])
  const missing = await tether.retry(['/nonexistent/program'], { delayMs: 10 })
  assert.deepEqual([missing.outcome, missing.exitCode, missing.attempts.length], ['not_retried', 127, 1])
  assert.match(missing.attempts[0].error, /nonexistent/)
})

test('retry: an attempt timeout gives code 124; maxTimeMs ends the whole', async () => {
  const r = await tether.retry(['sleep', '30'], { attempts: 2, delayMs: 10, attemptTimeoutMs: 100 })
  assert.equal(r.outcome, 'exhausted')
  assert.equal(r.exitCode, 124)
  for (const a of r.attempts) {
    assert.deepEqual([a.code, a.timedOut, a.limit], [124, true, 'attempt_timeout'])
    assert.ok(a.durationMs < 5000)
  }
  const whole = await tether.retry(['sleep', '30'], { attempts: 0, maxTimeMs: 200 })
  assert.equal(whole.outcome, 'max_time')
  assert.equal(whole.exitCode, 124)
  assert.equal(whole.attempts.at(-1).limit, 'max_time')
  assert.ok(whole.elapsedMs < 5000)
})

test('retry: cwd, env and stdio as run and spawn take them', async (t) => {
  const dir = tempDir(t)
  const r = await tether.retry(['sh', '-c', 'echo "$X" > out; pwd >> out; echo noise'], {
    cwd: dir,
    env: { X: 'y', PATH: process.env.PATH },
    stdio: 'ignore',
  })
  assert.equal(r.outcome, 'succeeded')
  assert.equal(read(path.join(dir, 'out')), `y\n${dir}\n`)
  const alone = await tether.retry(['sh', '-c', `[ -z "$HOME" ] && echo ok > ${dir}/env`], {
    env: {},
    stdio: ['ignore', 'ignore', 'inherit'],
  })
  assert.equal(alone.exitCode, 0, 'the environment is exactly env')
})

test('retry: the event loop keeps turning', async (t) => {
  const c = ticker(t)
  const r = await tether.retry(['sh', '-c', 'sleep 0.2; exit 7'], { attempts: 2, delayMs: 100 })
  assert.equal(r.attempts.length, 2)
  assert.ok(c.ticks >= 20, `${c.ticks} ticks during a retry of at least 500 ms`)
})

test("retry: an AbortSignal ends the running attempt's tree, grandchild included", async (t) => {
  const dir = tempDir(t)
  const pids = path.join(dir, 'pids')
  const runs = path.join(dir, 'runs')
  const ac = new AbortController()
  const running = tether.retry(['sh', '-c', `echo x >> ${runs}; sleep 300 & echo $$ $! > ${pids}; wait`], {
    attempts: 5,
    delayMs: 10,
    signal: ac.signal,
  })
  assert.ok(await eventually(() => read(pids).trim().split(' ').length === 2), 'the tree started')
  const held = read(pids).trim().split(' ').map((p) => Process.open(Number(p)))
  const t0 = Date.now()
  ac.abort()
  await assert.rejects(running, (e) => e === ac.signal.reason)
  assert.ok(Date.now() - t0 < 3000, 'at once')
  for (const p of held) assert.equal(p.isRunning(), false, `${p.pid} is gone`)
  assert.equal(read(runs), 'x\n', 'nothing was retried')
})

test('retry: an AbortSignal ends the wait between attempts; an aborted one starts nothing', async (t) => {
  const runs = path.join(tempDir(t), 'runs')
  const ac = new AbortController()
  const running = tether.retry(['sh', '-c', `echo x >> ${runs}; exit 7`], { delayMs: 60_000, signal: ac.signal })
  assert.ok(await eventually(() => read(runs) === 'x\n'), 'the first attempt ran')
  await new Promise((r) => setTimeout(r, 50))
  const t0 = Date.now()
  ac.abort(new Error('enough'))
  await assert.rejects(running, /enough/)
  assert.ok(Date.now() - t0 < 3000, 'at once')
  await assert.rejects(tether.retry(['sh', '-c', `echo x >> ${runs}`], { signal: AbortSignal.abort('before') }), (e) => e === 'before')
  assert.equal(read(runs), 'x\n')
  await assert.rejects(tether.retry(['true'], { signal: 'no' }), TypeError)
})

test('retry: bad options', async () => {
  const invalid = tether.InvalidArgumentError
  await assert.rejects(tether.retry([]), invalid)
  await assert.rejects(tether.retry(['true'], { backoff: 'cubic' }), invalid)
  await assert.rejects(tether.retry(['true'], { retryOn: '3', stopOn: [3] }), invalid)
  await assert.rejects(tether.retry(['true'], { retryOn: '0' }), invalid)
  await assert.rejects(tether.retry(['true'], { contain: 'box' }), invalid)
  await assert.rejects(tether.retry(['true'], { timeoutSignal: 'NOPE' }), invalid)
  await assert.rejects(tether.retry(['true'], { delayMs: -1 }), RangeError)
  await assert.rejects(tether.retry(['true'], { attempts: 1.5 }), RangeError)
  await assert.rejects(tether.retry(['true'], { retryOn: [1.5] }), RangeError)
  await assert.rejects(tether.retry(['true'], { stdio: 'pipe' }), (e) => e.code === 'ERR_INVALID_ARG_VALUE')
  await assert.rejects(tether.retry(['true'], { jitter: 'yes' }), TypeError)
  await assert.rejects(tether.retry('true', 5), TypeError)
})

test('retry: a worker terminated mid-retry leaves no tree behind', async (t) => {
  const { Worker } = require('node:worker_threads')
  const pids = path.join(tempDir(t), 'pids')
  const argv = ['sh', '-c', `sleep 300 & echo $$ $! > ${pids}; wait`]
  const worker = new Worker(
    `const t = require(${JSON.stringify(require.resolve('..'))})
     t.retry(${JSON.stringify(argv)}, { stdio: 'ignore' })  // no signal
     require('node:worker_threads').parentPort.postMessage('started')`,
    { eval: true },
  )
  await new Promise((resolve, reject) => {
    worker.once('message', resolve)
    worker.once('error', reject)
  })
  assert.ok(await eventually(() => read(pids).trim().split(' ').length === 2), 'the tree started')
  const held = read(pids).trim().split(' ').map((p) => Process.open(Number(p)))
  await worker.terminate()
  // The environment's teardown cancelled the retry, which ended the attempt's tree.
  assert.ok(await eventually(() => held.every((p) => !p.isRunning()), 10_000), 'the tree is gone')
})
