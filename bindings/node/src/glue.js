// The parts of the binding that are JavaScript by nature: the error classes and AbortSignal
// listening. Evaluated once per Node environment (main thread, each worker) when the addon is
// loaded; the classes are exported, the helpers are kept by the native side only.
(() => {
  'use strict'

  /** Every error of the library: `kind` mirrors tether::ErrorKind, `code` is TETHER_<KIND>. */
  class TetherError extends Error {
    constructor(message, kind = 'system', errno = undefined) {
      super(message)
      this.kind = kind
      this.code = 'TETHER_' + kind.toUpperCase()
      if (errno != null) this.errno = errno
    }
  }

  // One subclass per kind of tether::ErrorKind, named after it.
  const kinds = {
    NotFoundError: 'not_found',
    PermissionDeniedError: 'permission_denied',
    IdentityMismatchError: 'identity_mismatch',
    RefusedError: 'refused',
    InvalidArgumentError: 'invalid_argument',
    TimedOutError: 'timed_out',
    NotSupportedError: 'not_supported',
    SystemError: 'system',
  }
  const classes = { TetherError }
  const byKind = {}
  for (const [name, kind] of Object.entries(kinds)) {
    // A computed name gives each class its own `name` (the class expression is anonymous).
    const cls = {
      [name]: class extends TetherError {
        constructor(message, errno = undefined) {
          super(message, kind, errno)
        }
      },
    }[name]
    classes[name] = cls
    byKind[kind] = cls
  }
  for (const cls of Object.values(classes)) {
    Object.defineProperty(cls.prototype, 'name', {
      value: cls.name,
      writable: true,
      configurable: true,
      enumerable: false,
    })
  }

  /** The error of a library error kind; a kind this version does not know gets the base class. */
  function tetherError(kind, message, errno) {
    const cls = byKind[kind]
    const e = cls ? new cls(message, errno) : new TetherError(message, kind, errno)
    // The stack starts where the binding was called, not in this helper.
    Error.captureStackTrace(e, tetherError)
    return e
  }

  /** A TypeError or RangeError with a Node-style code (ERR_INVALID_ARG_TYPE, ERR_OUT_OF_RANGE). */
  function argumentError(range, code, message) {
    const e = range ? new RangeError(message) : new TypeError(message)
    e.code = code
    Error.captureStackTrace(e, argumentError)
    return e
  }

  /**
   * Listen for `signal` to abort and call `cancel` when it does. Returns `{ aborted, reason }`
   * when it has aborted already, else a handle whose `done()` removes the listener and whose
   * `reason()` is the abort reason (what the promise rejects with, as fetch and timers do).
   */
  function watchAbort(signal, cancel) {
    if (
      signal === null ||
      typeof signal !== 'object' ||
      typeof signal.aborted !== 'boolean' ||
      typeof signal.addEventListener !== 'function'
    ) {
      const e = argumentError(false, 'ERR_INVALID_ARG_TYPE', 'options.signal must be an AbortSignal')
      Error.captureStackTrace(e, watchAbort)
      throw e
    }
    if (signal.aborted) return { aborted: true, reason: signal.reason }
    const onAbort = () => cancel()
    signal.addEventListener('abort', onAbort, { once: true })
    return {
      aborted: false,
      done: () => signal.removeEventListener('abort', onAbort),
      reason: () => signal.reason,
    }
  }

  return { classes, tetherError, argumentError, watchAbort }
})()
