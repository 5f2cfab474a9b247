'use strict'
// Bad input gives the language's normal errors: TypeError and RangeError with Node's codes for
// wrong types and out-of-range numbers, and the library's typed errors for what it judges.
const test = require('node:test')
const assert = require('node:assert/strict')
const { tether } = require('./helpers')

const {
  TetherError,
  NotFoundError,
  PermissionDeniedError,
  IdentityMismatchError,
  RefusedError,
  InvalidArgumentError,
  TimedOutError,
  NotSupportedError,
  SystemError,
} = tether

const typeError = { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' }
const valueError = { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' }
const rangeError = { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' }
const invalid = (e) => {
  assert.ok(e instanceof InvalidArgumentError, String(e))
  assert.ok(e instanceof TetherError && e instanceof Error)
  assert.equal(e.code, 'TETHER_INVALID_ARGUMENT')
  assert.equal(e.kind, 'invalid_argument')
  assert.equal(e.name, 'InvalidArgumentError')
  return true
}

test('one error class per kind, under TetherError', () => {
  const kinds = [
    [NotFoundError, 'not_found'],
    [PermissionDeniedError, 'permission_denied'],
    [IdentityMismatchError, 'identity_mismatch'],
    [RefusedError, 'refused'],
    [InvalidArgumentError, 'invalid_argument'],
    [TimedOutError, 'timed_out'],
    [NotSupportedError, 'not_supported'],
    [SystemError, 'system'],
  ]
  for (const [cls, kind] of kinds) {
    const e = new cls('message', 3)
    assert.ok(e instanceof TetherError && e instanceof Error)
    assert.equal(e.kind, kind)
    assert.equal(e.code, 'TETHER_' + kind.toUpperCase())
    assert.equal(e.errno, 3)
    assert.equal(e.name, cls.name)
    assert.match(String(e), new RegExp(`^${cls.name}: message$`))
  }
})

test('get: wrong types, ranges, the rails and a missing process', () => {
  assert.throws(() => tether.get('1'), typeError)
  assert.throws(() => tether.get(), typeError)
  assert.throws(() => tether.get(1.5), rangeError)
  assert.throws(() => tether.get(NaN), rangeError)
  assert.throws(() => tether.get(process.pid, 'pid'), typeError)
  assert.throws(() => tether.get(process.pid, { fields: 'pid' }), typeError)
  assert.throws(() => tether.get(process.pid, { fields: ['bogus'] }), invalid)
  // PID 0, negative PIDs and PIDs beyond i32::MAX are refused by the library's rails.
  for (const pid of [0, -1, -42, 2 ** 31]) assert.throws(() => tether.get(pid), invalid)
  // A valid PID that names no process (above any pid_max).
  assert.throws(
    () => tether.get(2 ** 31 - 1),
    (e) => e instanceof NotFoundError && e.code === 'TETHER_NOT_FOUND' && /2147483647/.test(e.message),
  )
})

test('snapshot rejects bad options rather than throwing', async () => {
  const rejected = tether.snapshot('x')
  assert.ok(rejected instanceof Promise)
  await assert.rejects(rejected, typeError)
  await assert.rejects(tether.snapshot({ pids: 'x' }), typeError)
  await assert.rejects(tether.snapshot({ pids: [1.5] }), rangeError)
  await assert.rejects(tether.snapshot({ pids: [0] }), invalid)
  await assert.rejects(tether.snapshot({ fields: ['bogus'] }), invalid)
  await assert.rejects(tether.snapshot({ name: 'a', nameRegex: 'b' }), valueError)
  await assert.rejects(tether.snapshot({ nameRegex: '(' }), invalid)
  await assert.rejects(tether.snapshot({ states: ['flying'] }), invalid)
  await assert.rejects(tether.snapshot({ user: 'no-such-user-here' }), invalid)
  await assert.rejects(tether.snapshot({ cpuSampleMs: -1 }), rangeError)
  await assert.rejects(tether.snapshot({ minCpuPercent: -1 }), rangeError)
  assert.throws(() => tether.snapshotSync({ pids: 'x' }), typeError)
})

test('ports and who: bad ports', async () => {
  await assert.rejects(tether.who(70000), invalid)
  await assert.rejects(tether.who(0), invalid)
  await assert.rejects(tether.who('80/sctp'), invalid)
  await assert.rejects(tether.who(80.5), rangeError)
  await assert.rejects(tether.who({}), typeError)
  await assert.rejects(tether.ports({ protos: ['sctp'] }), invalid)
  await assert.rejects(tether.ports({ port: 'x' }), invalid)
  await assert.rejects(tether.ports(7), typeError)
})

test('waitFor: bad targets and options', async () => {
  await assert.rejects(tether.waitFor(42), typeError)
  await assert.rejects(tether.waitFor([]), invalid)
  await assert.rejects(tether.waitFor('nonsense'), invalid)
  await assert.rejects(tether.waitFor(':70000'), invalid)
  await assert.rejects(tether.waitFor('ftp://host/'), invalid)
  await assert.rejects(tether.waitFor(':80', { timeoutMs: -1 }), rangeError)
  await assert.rejects(tether.waitFor(':80', { intervalMs: 0 }), rangeError)
  await assert.rejects(tether.waitFor(':80', { timeoutMs: '5s' }), typeError)
  await assert.rejects(tether.waitFor(':80', { watchPid: 0 }), invalid)
  await assert.rejects(tether.waitFor('http://127.0.0.1:1/', { http: { method: 'FETCH' } }), invalid)
  await assert.rejects(tether.waitFor('http://127.0.0.1:1/', { http: { status: '700' } }), invalid)
  await assert.rejects(tether.waitFor(':80', { signal: {} }), typeError)
})

test('signals and identities: bad names and strings', () => {
  assert.throws(() => tether.signalNumber('FOO'), invalid)
  assert.throws(() => tether.signalNumber(0), invalid)
  assert.throws(() => tether.signalNumber(1.5), rangeError)
  assert.throws(() => tether.signalName(true), typeError)
  assert.throws(() => tether.ProcessIdentity.parse('1:2'), invalid)
  assert.throws(() => tether.ProcessIdentity.parse(42), typeError)
  assert.throws(() => tether.ProcessIdentity.of(0), invalid)
  assert.throws(
    () => tether.ProcessIdentity.of(2 ** 31 - 1),
    (e) => e instanceof NotFoundError && (e.errno === undefined || e.errno === 3),
  )
  assert.throws(() => new tether.ProcessIdentity(), Error)
})
