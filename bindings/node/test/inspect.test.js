'use strict'
const test = require('node:test')
const assert = require('node:assert/strict')
const { realpathSync } = require('node:fs')
const { tether, sleepers } = require('./helpers')

const STATIC = ['pid', 'ppid', 'pgid', 'sid', 'name', 'exe', 'cmdline', 'uid', 'user', 'start', 'identity']

test('get inspects this process', () => {
  const me = tether.get(process.pid, { fields: STATIC.concat(['state', 'rss', 'threads', 'cpu_time']) })
  assert.equal(me.pid, process.pid)
  assert.equal(me.ppid, process.ppid)
  assert.equal(me.name, 'node')
  assert.equal(me.exe, realpathSync(process.execPath))
  assert.equal(me.uid, process.getuid())
  assert.deepEqual(me.cmdline.slice(0, 1), [process.argv0])
  assert.ok(me.cmdline.length >= 2, JSON.stringify(me.cmdline))
  assert.ok(['running', 'sleeping'].includes(me.state), me.state)
  assert.ok(me.rssBytes > 1 << 20)
  assert.ok(me.threads >= 2)
  assert.ok(me.cpuUserMs >= 0 && me.cpuSystemMs >= 0)
  assert.ok(Math.abs(me.startTimeMs - (Date.now() - process.uptime() * 1000)) < 60_000)
  assert.equal(me.identity, tether.ProcessIdentity.of(process.pid).toString())
  assert.equal(me.denied, undefined)
})

test('get reads only the fields asked for', () => {
  assert.deepEqual(Object.keys(tether.get(process.pid, { fields: ['pid'] })), ['pid'])
  const p = tether.get(process.pid, { fields: ['name', 'rss'] })
  assert.deepEqual(Object.keys(p).sort(), ['name', 'pid', 'rssBytes'])
  // The default: tether ps's columns and the name.
  const d = tether.get(process.pid)
  for (const k of ['pid', 'ppid', 'name', 'user', 'state', 'cpuPercent', 'rssBytes', 'elapsedMs', 'cmdline']) {
    assert.ok(k in d, k)
  }
  assert.equal(d.exe, undefined)
})

test('a snapshot finds this process, as get reads it', async () => {
  const all = await tether.snapshot({ fields: STATIC })
  assert.ok(all.length > 1)
  for (let i = 1; i < all.length; i++) assert.ok(all[i - 1].pid < all[i].pid, 'sorted by PID')
  const mine = all.find((p) => p.pid === process.pid)
  // The snapshot's list comes through JSON, get's object through Node-API: the same record.
  assert.deepEqual(mine, tether.get(process.pid, { fields: STATIC }))
  assert.deepEqual(tether.snapshotSync({ pids: [process.pid], fields: STATIC }), [mine])
})

test('snapshot filters', async (t) => {
  const { kids, arg } = sleepers(t, 2)
  const pids = kids.map((k) => k.pid).sort((a, b) => a - b)
  const fields = ['pid', 'name', 'cmdline']
  const found = async (filters) => (await tether.snapshot({ fields, ...filters })).map((p) => p.pid)
  const cmd = `^sleep ${arg.replace('.', '\\.')}$`
  // Both children show up once they have exec'd sleep.
  for (let i = 0; i < 200 && (await found({ cmdline: cmd })).length < 2; i++) {
    await new Promise((r) => setTimeout(r, 10))
  }
  assert.deepEqual(await found({ cmdline: cmd }), pids)
  assert.deepEqual(await found({ cmdline: cmd, name: 'sleep' }), pids)
  assert.deepEqual(await found({ cmdline: cmd, nameContains: 'lee' }), pids)
  assert.deepEqual(await found({ cmdline: cmd, nameRegex: '^sle+p$' }), pids)
  assert.deepEqual(await found({ cmdline: cmd, name: 'node' }), [])
  assert.deepEqual(await found({ cmdline: cmd, ppid: process.pid }), pids)
  assert.deepEqual(await found({ cmdline: cmd, ppid: kids[0].pid }), [])
  assert.deepEqual(await found({ cmdline: cmd, user: process.getuid() }), pids)
  assert.deepEqual(await found({ cmdline: cmd, states: ['S', 'sleeping'] }), pids)
  assert.deepEqual(await found({ cmdline: cmd, states: ['zombie'] }), [])
  assert.deepEqual(await found({ cmdline: cmd, minAgeMs: 3_600_000 }), [])
  assert.deepEqual(await found({ pids: [pids[1], process.pid] }), [pids[1], process.pid].sort((a, b) => a - b))
  // Fields a filter needed are returned too.
  const [one] = await tether.snapshot({ pids: [pids[0]], fields: ['pid'], name: 'sleep' })
  assert.deepEqual(one, { pid: pids[0], name: 'sleep' })
})

test('a CPU sample runs off the event loop', async () => {
  let ticks = 0
  const timer = setInterval(() => ticks++, 5)
  try {
    const [me] = await tether.snapshot({ pids: [process.pid], fields: ['cpu'], cpuSampleMs: 300 })
    assert.equal(me.pid, process.pid)
    assert.ok(me.cpuPercent >= 0, String(me.cpuPercent))
    // The timer ran while the sample was taken (it could not, had the loop been blocked).
    assert.ok(ticks >= 3, `the event loop turned ${ticks} times`)
  } finally {
    clearInterval(timer)
  }
})
