// Compiled (not run) by scripts/test-node.sh with `tsc --noEmit --strict`: the generated
// index.d.ts describes the API, and wrong uses do not type-check.
import {
  get,
  NotFoundError,
  ports,
  ProcessIdentity,
  signalName,
  signalNumber,
  signals,
  snapshot,
  snapshotSync,
  TetherError,
  version,
  waitFor,
  who,
  type ErrorKind,
  type ProcessInfo,
  type WaitForResult,
} from '..'

async function use(): Promise<void> {
  const v: string = version()
  const me: ProcessInfo = get(42, { fields: ['pid', 'name'] })
  const name: string | undefined = me.name
  const list: ProcessInfo[] = await snapshot({ nameRegex: '^node$', cpuSampleMs: 100, user: 0 })
  const sync: ProcessInfo[] = snapshotSync({ pids: [1], fields: ['identity'] })
  const held = await who('8080/tcp')
  const firstOwner: number | undefined = held.owners[0]?.pid
  const listed = await ports({ protos: ['tcp'], port: 8080, owners: false })
  const port: number | undefined = listed.sockets[0]?.localPort
  const controller = new AbortController()
  const r: WaitForResult = await waitFor([':8080', 'file:/tmp/x'], {
    timeoutMs: 1000,
    any: true,
    http: { status: '200-299', headers: { Accept: 'text/plain' } },
    file: { nonEmpty: true },
    watchPid: '1234:5678:9abcdef0',
    signal: controller.signal,
  })
  const outcome: string = r.outcome
  const id = ProcessIdentity.of(42)
  const check: 'same' | 'gone' | 'reused' = ProcessIdentity.parse(id.toString()).check()
  const n: number = signalNumber('TERM') + signals()[0].number
  const s: string = signalName(15)
  try {
    get(1)
  } catch (e) {
    if (e instanceof NotFoundError) {
      const kind: ErrorKind = e.kind
      const errno: number | undefined = e.errno
      const base: TetherError = e
      void [kind, errno, base]
    }
  }
  // @ts-expect-error a PID is a number
  get('1')
  // @ts-expect-error fields are a list
  snapshotSync({ fields: 'pid' })
  // @ts-expect-error a kind is a string
  r.targets[0].kind = 1
  void [v, name, list, sync, firstOwner, port, outcome, check, n, s]
}
void use
