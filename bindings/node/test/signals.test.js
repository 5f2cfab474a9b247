'use strict'
const test = require('node:test')
const assert = require('node:assert/strict')
const os = require('node:os')
const { tether } = require('./helpers')

test('signal names and numbers, in every spelling', () => {
  for (const s of ['TERM', 'SIGTERM', 'term', 'sigterm', 15, '15']) {
    assert.equal(tether.signalNumber(s), 15, String(s))
    assert.equal(tether.signalName(s), 'TERM', String(s))
  }
  assert.equal(tether.signalName(9), 'KILL')
  assert.equal(tether.signalName('RTMIN+2'), 'RTMIN+2')
  assert.equal(tether.signalNumber('RTMIN+2'), tether.signalNumber('RTMIN') + 2)
})

test('the signal table agrees with Node', () => {
  const all = tether.signals()
  for (let i = 1; i < all.length; i++) assert.ok(all[i - 1].number < all[i].number)
  const byName = new Map(all.map((s) => [s.name, s.number]))
  let compared = 0
  for (const [name, number] of Object.entries(os.constants.signals)) {
    const bare = name.replace(/^SIG/, '')
    if (byName.has(bare)) {
      assert.equal(byName.get(bare), number, name)
      compared++
    } else {
      // Node also lists aliases (SIGIOT, SIGPOLL…): tether names them by their number.
      assert.equal(tether.signalNumber(name), number, name)
    }
  }
  assert.ok(compared >= 28, `${compared} signals compared`)
})
