'use strict'
const test = require('node:test')
const assert = require('node:assert/strict')
const dgram = require('node:dgram')
const { tether, listen } = require('./helpers')

test('who and ports see a TCP socket this process listens on', async (t) => {
  const server = await listen()
  t.after(() => server.close())
  const { port } = server.address()
  const me = tether.ProcessIdentity.of(process.pid).toString()

  const who = await tether.who(port)
  assert.equal(who.port, port)
  assert.deepEqual(who.protos, ['tcp', 'udp'])
  assert.ok(['sock_diag', 'proc_net'].includes(who.source))
  assert.equal(who.sockets.length, 1)
  const [s] = who.sockets
  assert.deepEqual(
    [s.proto, s.family, s.state, s.localAddr, s.localPort],
    ['tcp', 'ipv4', 'LISTEN', '127.0.0.1', port],
  )
  assert.ok(s.inode > 0)
  assert.equal(who.owners.length, 1)
  const [owner] = who.owners
  assert.equal(owner.pid, process.pid)
  assert.equal(owner.name, 'node')
  assert.equal(owner.identity, me)
  assert.ok(owner.fds.length >= 1 && owner.fds.every(Number.isInteger))
  assert.deepEqual(s.owners, who.owners)

  assert.equal((await tether.who(`${port}/tcp`)).owners[0].pid, process.pid)
  assert.deepEqual((await tether.who(`${port}/udp`)).sockets, [])

  const listed = await tether.ports({ port, protos: ['tcp'] })
  assert.equal(listed.sockets.length, 1)
  assert.equal(listed.sockets[0].inode, s.inode)
  assert.equal(listed.sockets[0].owners[0].pid, process.pid)
  const mine = await tether.ports({ pids: [process.pid], protos: ['tcp'] })
  assert.ok(mine.sockets.some((x) => x.localPort === port))
  const bare = await tether.ports({ port: `${port}/tcp`, owners: false })
  assert.deepEqual(bare.sockets.map((x) => [x.localPort, x.owners]), [[port, []]])
})

test('who sees a UDP socket, and nobody on a closed port', async (t) => {
  const sock = dgram.createSocket('udp4')
  await new Promise((r) => sock.bind(0, '127.0.0.1', r))
  t.after(() => sock.close())
  const { port } = sock.address()
  const who = await tether.who(`${port}/udp`)
  assert.deepEqual(who.protos, ['udp'])
  assert.deepEqual(who.sockets.map((s) => [s.proto, s.state, s.localPort]), [['udp', 'UNCONN', port]])
  assert.equal(who.owners[0].pid, process.pid)
  const server = await listen()
  const tcpPort = server.address().port
  await new Promise((r) => server.close(r))
  const nobody = await tether.who(tcpPort)
  assert.deepEqual([nobody.sockets, nobody.owners], [[], []])
})
