// Compiled (not run) by scripts/test-node.sh with `tsc --noEmit --strict`: the generated
// index.d.ts describes the API, and wrong uses do not type-check.
import {
  checkPidfile,
  Child,
  Jobs,
  retry,
  RefusedError,
  TimedOutError,
  get,
  IdentityMismatchError,
  Process,
  readPidfile,
  run,
  spawn,
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
  type ExitResult,
  type RunResult,
  type StopResult,
  type WaitResult,
  type ProcessInfo,
  type WaitForResult,
  type JobRestartOptions,
  type JobStatus,
  type RetryResult,
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

async function round2(): Promise<void> {
  const me: Process = Process.current()
  const other: Process = Process.fromIdentity(me.identity)
  const again: Process = Process.fromIdentity(String(me.identity))
  const running: boolean = me.isRunning() && other.pid === again.pid
  const kids: Process[] = me.children({ recursive: true })
  const rss: number | undefined = me.info(['rss']).rssBytes
  me.signal('CONT')
  me.signal(18)
  const waited: WaitResult = await me.wait({ timeoutMs: 10, signal: AbortSignal.timeout(100) })
  const timedOut: boolean = waited.timedOut
  const stopped: StopResult = await kids[0].terminateTree({ graceMs: 100, signal: 'INT', killSignal: 9 })
  const remaining: number[] = stopped.remaining
  const r: RunResult = await run(['sh', '-c', 'exit 3'], {
    timeoutMs: 1000,
    killAfterMs: 100,
    timeoutSignal: 'INT',
    cwd: '/',
    env: { PATH: '/bin' },
    captureLimit: 1024,
    contain: 'group',
    signal: new AbortController().signal,
  })
  const out: Buffer = r.stdout
  const code: number = r.exitCode
  const sig: string | undefined = r.signal
  const child: Child = spawn(['sleep', '1'], { stdio: ['ignore', 'inherit', 'inherit'] })
  const exit: ExitResult | null = await child.wait({ timeoutMs: 10 })
  const reached: number[] = await child.signal('TERM')
  const s2: StopResult = await child.stop({ graceMs: 10 })
  const killed: number[] = await child.killTree()
  await child.close()
  const alive: boolean = checkPidfile('/run/x.pid').alive
  const format: string = readPidfile('/run/x.pid').format
  try {
    Process.open(1)
  } catch (e) {
    if (e instanceof IdentityMismatchError) void e.kind
  }
  // @ts-expect-error argv is a list
  void run('ls', { timeoutMs: '1s' })
  // @ts-expect-error stdio is inherit or ignore
  spawn(['true'], { stdio: 'pipe' })
  // @ts-expect-error a Process is opened, not constructed with a string
  Process.open('1')
  void [running, rss, timedOut, remaining, out, code, sig, exit, reached, s2, killed, alive, format]
}
async function round3(): Promise<void> {
  const jobs = new Jobs({ stateDir: '/tmp/state', program: '/usr/bin/tether' })
  const dir: string = jobs.stateDir
  const s: JobStatus = await jobs.start('web', ['python3', '-m', 'http.server'], {
    restart: 'on-failure',
    maxRestarts: 3,
    backoffMinMs: 100,
    backoffMaxMs: 5000,
    minUptimeMs: 1000,
    cwd: '/srv',
    env: { PORT: '8000' },
    logMaxSize: 1 << 20,
    logKeep: 2,
    ready: [':8000'],
    requires: 'db',
    timeoutMs: 10_000,
    pidfile: '/run/web.pid',
    signal: AbortSignal.timeout(60_000),
  })
  const state: 'pending' | 'running' | 'exited' | 'failed' | 'killed' | 'backoff' | 'stopped' = s.status
  const pid: number | undefined = s.pid
  const started: number | undefined = s.startedAtMs
  const again: boolean = s.alreadyRunning
  const all: JobStatus[] = await new Jobs().list()
  const stopped: boolean = (await jobs.stop('web', { graceMs: 2000 })).alreadyStopped
  const restartOptions: JobRestartOptions = { graceMs: 100, signal: new AbortController().signal }
  await jobs.restart('web', restartOptions)
  const removed: boolean = (await jobs.remove('web')).removed
  const log: Buffer = await jobs.logs('web', { stderr: true, lines: 20 })
  const exitCode: number | undefined = (await jobs.status('web')).exitCode
  const followed: void = await jobs.follow('web', (chunk: Buffer) => void chunk.length, {
    lines: 2,
    stderr: true,
    signal: AbortSignal.timeout(1000),
  })
  const r: RetryResult = await retry(['curl', '-f', 'http://x'], {
    attempts: 5,
    maxTimeMs: 60_000,
    backoff: 'exponential',
    delayMs: 200,
    maxDelayMs: 5000,
    jitter: true,
    retryOn: [6, 7, 28],
    stopOn: '22',
    attemptTimeoutMs: 10_000,
    killAfterMs: 1000,
    timeoutSignal: 'INT',
    cwd: '/',
    env: { PATH: '/bin' },
    contain: 'auto',
    stdio: 'ignore',
    signal: AbortSignal.timeout(1000),
  })
  const code: number = r.exitCode + r.attempts[0].code + r.elapsedMs
  const timedOut: boolean = r.attempts[0].timedOut
  try {
    await jobs.start('x', ['true'])
  } catch (e) {
    if (e instanceof TimedOutError || e instanceof RefusedError) void e.kind
  }
  // @ts-expect-error a restart policy is one of three
  void jobs.start('web', ['true'], { restart: 'sometimes' })
  // @ts-expect-error backoff is fixed, linear or exponential
  void retry(['true'], { backoff: 'cubic' })
  // @ts-expect-error a signal is an AbortSignal
  void jobs.start('web', ['true'], { signal: 'abort' })
  // @ts-expect-error stop takes no signal
  void jobs.stop('web', { signal: AbortSignal.abort() })
  // @ts-expect-error logs are bytes
  const text: string = await jobs.logs('web')
  // @ts-expect-error a follow gives chunks to a callback
  void jobs.follow('web', { lines: 2 })
  // @ts-expect-error the chunks are bytes
  void jobs.follow('web', (chunk: number) => chunk)
  void [followed, dir, state, pid, started, again, all, stopped, removed, log, exitCode, code, timedOut, text]
}
void round3
void round2
void use
