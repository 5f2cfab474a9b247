/*
 * Exercises every function of the C ABI, with each of its error paths, as a C program would
 * use it. Built with gcc and run by tests/c_program.rs twice: plain, and with AddressSanitizer,
 * LeakSanitizer and UBSan, which must find no error and no leak. Every string returned is
 * freed, so any leak is the library's.
 *
 * Signals go only to processes this program started itself.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tether.h"

static int passed, failed;
/* This program's command name, as the kernel keeps it (/proc/self/comm). */
static char comm[32];

#define CHECK(cond, ...)                                                                  \
    do {                                                                                  \
        if (cond) {                                                                       \
            passed++;                                                                     \
        } else {                                                                          \
            failed++;                                                                     \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);               \
            fprintf(stderr, __VA_ARGS__);                                                 \
            fprintf(stderr, " (last error %d: %s)\n", tether_last_error_code(),          \
                    tether_last_error_message() ? tether_last_error_message() : "none"); \
        }                                                                                 \
    } while (0)

/* A failed call: its code, a NULL result, and the thread's last error describing it. */
static void expect_error(int rc, char *out, int code, const char *kind, const char *what) {
    CHECK(rc == code, "%s: code %d, expected %d", what, rc, code);
    CHECK(out == NULL, "%s: out is not NULL after a failure", what);
    CHECK(tether_last_error_code() == code, "%s: last error code %d", what,
          tether_last_error_code());
    const char *msg = tether_last_error_message();
    CHECK(msg != NULL && msg[0] != '\0', "%s: no message", what);
    const char *json = tether_last_error_json();
    char want[64];
    snprintf(want, sizeof want, "\"kind\":\"%s\"", kind);
    CHECK(json != NULL && strstr(json, "\"schema\":\"tether.error/v1\"") && strstr(json, want),
          "%s: error document %s", what, json ? json : "(null)");
    tether_free_string(out);
}

/* The call runs before its out-pointer is read (C leaves the order of arguments open). */
#define EXPECT_ERROR(call, out, ...)        \
    do {                                    \
        int rc_ = (call);                   \
        expect_error(rc_, (out), __VA_ARGS__); \
    } while (0)

static void expect_ok(int rc, char *out, const char *schema, const char *what) {
    CHECK(rc == TETHER_OK, "%s: code %d", what, rc);
    CHECK(tether_last_error_code() == TETHER_OK && tether_last_error_message() == NULL &&
              tether_last_error_json() == NULL,
          "%s: the last error was not cleared", what);
    char want[64];
    snprintf(want, sizeof want, "{\"schema\":\"%s\"", schema);
    CHECK(out != NULL && strncmp(out, want, strlen(want)) == 0, "%s: %s", what,
          out ? out : "(null)");
}

#define EXPECT_OK(call, out, ...)       \
    do {                                \
        int rc_ = (call);               \
        expect_ok(rc_, (out), __VA_ARGS__); \
    } while (0)

/* The string value of "key" in a JSON document (first occurrence), copied into buf. */
static const char *json_string(const char *json, const char *key, char *buf, size_t len) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":\"", key);
    const char *p = json ? strstr(json, pat) : NULL;
    buf[0] = '\0';
    if (!p) return buf;
    p += strlen(pat);
    size_t i = 0;
    while (p[i] && p[i] != '"' && i + 1 < len) {
        buf[i] = p[i];
        i++;
    }
    buf[i] = '\0';
    return buf;
}

/* A child that sleeps until this program kills it. */
static pid_t start_sleeper(void) {
    pid_t pid = fork();
    if (pid == 0) {
        execlp("sleep", "sleep", "300", (char *)NULL);
        _exit(127);
    }
    return pid;
}

static void end_child(pid_t pid) {
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

/* The PID of a process that existed and has been reaped (free until the kernel reuses it). */
static pid_t dead_pid(void) {
    pid_t pid = fork();
    if (pid == 0) _exit(0);
    waitpid(pid, NULL, 0);
    return pid;
}

static void test_versions(void) {
    CHECK(tether_abi_version() == TETHER_ABI_VERSION, "abi %u", tether_abi_version());
    const char *v = tether_version();
    CHECK(v != NULL && v[0] >= '0' && v[0] <= '9' && strchr(v, '.'), "version %s", v);
    tether_free_string(NULL); /* allowed, does nothing */
    CHECK(tether_last_error_code() == TETHER_OK, "no error before any failure");
    CHECK(tether_last_error_message() == NULL && tether_last_error_json() == NULL, "none");
}

/* Each malformed document is an invalid argument, whatever the function. */
static void test_bad_documents(int (*fn)(const char *, char **), const char *schema,
                               const char *name) {
    char *out = (char *)1;
    char doc[256];
    EXPECT_ERROR(fn(NULL, &out), out, TETHER_E_INVALID_ARGUMENT, "invalid_argument", name);
    out = (char *)1;
    EXPECT_ERROR(fn("{\"schema\":\"\xff\"}", &out), out, TETHER_E_INVALID_ARGUMENT,
                 "invalid_argument", name);
    out = (char *)1;
    EXPECT_ERROR(fn("{", &out), out, TETHER_E_INVALID_ARGUMENT, "invalid_argument", name);
    out = (char *)1;
    EXPECT_ERROR(fn("[]", &out), out, TETHER_E_INVALID_ARGUMENT, "invalid_argument", name);
    out = (char *)1;
    EXPECT_ERROR(fn("{}", &out), out, TETHER_E_INVALID_ARGUMENT, "invalid_argument", name);
    out = (char *)1;
    EXPECT_ERROR(fn("{\"schema\":\"tether.ps/v1\"}", &out), out, TETHER_E_INVALID_ARGUMENT,
                 "invalid_argument", name);
    out = (char *)1;
    snprintf(doc, sizeof doc, "{\"schema\":\"%s\",\"bogus\":1}", schema);
    EXPECT_ERROR(fn(doc, &out), out, TETHER_E_INVALID_ARGUMENT, "invalid_argument", name);
    CHECK(strstr(tether_last_error_message(), "bogus") != NULL, "%s names the unknown field",
          name);
    snprintf(doc, sizeof doc, "{\"schema\":\"%s\"}", schema);
    CHECK(fn(doc, NULL) == TETHER_E_INVALID_ARGUMENT, "%s with a NULL out", name);
}

static void test_snapshot(void) {
    char *out = NULL;
    char doc[512];
    snprintf(doc, sizeof doc,
             "{\"schema\":\"tether.ps-query/v1\",\"fields\":[\"pid\",\"name\",\"identity\"],"
             "\"filter\":{\"pids\":[%d]}}",
             (int)getpid());
    int rc = tether_snapshot(doc, &out);
    expect_ok(rc, out, "tether.ps/v1", "snapshot of self");
    char want[64];
    snprintf(want, sizeof want, "{\"pid\":%d,\"name\":\"%s\"", (int)getpid(), comm);
    CHECK(out && strstr(out, want), "%s", out);
    tether_free_string(out);

    out = NULL;
    rc = tether_snapshot(
        "{\"schema\":\"tether.ps-query/v1\",\"fields\":[],\"filter\":{\"name\":{\"exact\":"
        "\"no-such-name-here\"}},\"cpu_sample_ms\":1}",
        &out);
    expect_ok(rc, out, "tether.ps/v1", "a snapshot that matches nothing");
    CHECK(out && strstr(out, "\"processes\":[]"), "%s", out);
    tether_free_string(out);

    test_bad_documents(tether_snapshot, "tether.ps-query/v1", "snapshot");
    const char *bad[] = {
        "{\"schema\":\"tether.ps-query/v1\",\"fields\":[\"colour\"]}",
        "{\"schema\":\"tether.ps-query/v1\",\"filter\":{\"pids\":[0]}}",
        "{\"schema\":\"tether.ps-query/v1\",\"filter\":{\"pids\":[-1]}}",
        "{\"schema\":\"tether.ps-query/v1\",\"filter\":{\"pids\":[\"1\"]}}",
        "{\"schema\":\"tether.ps-query/v1\",\"filter\":{\"cmdline\":\"(\"}}",
        "{\"schema\":\"tether.ps-query/v1\",\"filter\":{\"name\":{\"glob\":\"x\"}}}",
        "{\"schema\":\"tether.ps-query/v1\",\"filter\":{\"states\":[\"Q\"]}}",
        "{\"schema\":\"tether.ps-query/v1\",\"filter\":{\"uid\":0,\"user\":\"root\"}}",
        "{\"schema\":\"tether.ps-query/v1\",\"filter\":{\"user\":\"no-such-user-x\"}}",
        "{\"schema\":\"tether.ps-query/v1\",\"filter\":{\"pgid\":4294967295}}",
        "{\"schema\":\"tether.ps-query/v1\",\"filter\":{\"min_cpu_percent\":-1}}",
        "{\"schema\":\"tether.ps-query/v1\",\"filter\":{\"unknown\":1}}",
        "{\"schema\":\"tether.ps-query/v1\",\"cpu_sample_ms\":18446744073709551615}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        out = (char *)1;
        EXPECT_ERROR(tether_snapshot(bad[i], &out), out, TETHER_E_INVALID_ARGUMENT,
                     "invalid_argument", bad[i]);
    }
}

static void test_get_and_identity(void) {
    char *out = NULL;
    char doc[256], id[128], reused[160];
    snprintf(doc, sizeof doc, "{\"schema\":\"tether.get-query/v1\",\"target\":\"%d\"}",
             (int)getpid());
    int rc = tether_get(doc, &out);
    expect_ok(rc, out, "tether.info/v1", "get self");
    json_string(out, "identity_string", id, sizeof id);
    CHECK(strchr(id, ':') != NULL, "identity string %s", id);
    CHECK(out && strstr(out, "\"ancestors\":["), "%s", out);
    tether_free_string(out);

    /* By identity, with only some fields. */
    snprintf(doc, sizeof doc,
             "{\"schema\":\"tether.get-query/v1\",\"target\":\"%s\",\"fields\":[\"name\"]}", id);
    out = NULL;
    rc = tether_get(doc, &out);
    expect_ok(rc, out, "tether.info/v1", "get self by identity");
    char name[64];
    snprintf(name, sizeof name, "\"name\":\"%s\"", comm);
    CHECK(out && strstr(out, name) && !strstr(out, "\"rss_bytes\""), "%s", out);
    tether_free_string(out);

    /* tether_identity_of / _parse / _check on this process. */
    out = NULL;
    rc = tether_identity_of(getpid(), &out);
    expect_ok(rc, out, "tether.identity/v1", "identity of self");
    char again[128];
    json_string(out, "identity_string", again, sizeof again);
    CHECK(strcmp(id, again) == 0, "%s vs %s", id, again);
    tether_free_string(out);
    out = NULL;
    rc = tether_identity_parse(id, &out);
    expect_ok(rc, out, "tether.identity/v1", "parse an identity");
    char boot[64];
    json_string(out, "boot_id", boot, sizeof boot);
    CHECK(strlen(boot) == 8, "boot id %s", boot);
    tether_free_string(out);
    int state = -1;
    CHECK(tether_identity_check(id, &state) == TETHER_OK && state == TETHER_IDENTITY_SAME,
          "check self: %d", state);

    /* The same PID with another start time: a reused PID. */
    unsigned long long start = 0;
    char rest[64];
    int pid = 0;
    sscanf(id, "%d:%llu:%63s", &pid, &start, rest);
    snprintf(reused, sizeof reused, "%d:%llu:%s", pid, start + 1, rest);
    state = -1;
    CHECK(tether_identity_check(reused, &state) == TETHER_OK && state == TETHER_IDENTITY_REUSED,
          "check a reused PID: %d", state);
    snprintf(doc, sizeof doc, "{\"schema\":\"tether.get-query/v1\",\"target\":\"%s\"}", reused);
    out = (char *)1;
    EXPECT_ERROR(tether_get(doc, &out), out, TETHER_E_IDENTITY_MISMATCH, "identity_mismatch",
                 "get a reused identity");

    /* A child of ours, then gone. */
    pid_t child = start_sleeper();
    out = NULL;
    rc = tether_identity_of(child, &out);
    expect_ok(rc, out, "tether.identity/v1", "identity of a child");
    char child_id[128];
    json_string(out, "identity_string", child_id, sizeof child_id);
    tether_free_string(out);
    end_child(child);
    state = -1;
    CHECK(tether_identity_check(child_id, &state) == TETHER_OK && state == TETHER_IDENTITY_GONE,
          "check an exited child: %d", state);

    pid_t gone = dead_pid();
    snprintf(doc, sizeof doc, "{\"schema\":\"tether.get-query/v1\",\"target\":\"%d\"}",
             (int)gone);
    out = (char *)1;
    EXPECT_ERROR(tether_get(doc, &out), out, TETHER_E_NOT_FOUND, "not_found", "get a dead PID");
    out = (char *)1;
    EXPECT_ERROR(tether_identity_of(gone, &out), out, TETHER_E_NOT_FOUND, "not_found",
                 "identity of a dead PID");

    /* The rails: 0, negative and too large PIDs are refused before any lookup. */
    long long rails[] = {0, -1, -4242, 1LL << 40};
    for (size_t i = 0; i < sizeof rails / sizeof rails[0]; i++) {
        out = (char *)1;
        EXPECT_ERROR(tether_identity_of(rails[i], &out), out, TETHER_E_INVALID_ARGUMENT,
                     "invalid_argument", "identity of a refused PID");
    }
    CHECK(tether_identity_of(getpid(), NULL) == TETHER_E_INVALID_ARGUMENT, "NULL out");

    const char *bad_targets[] = {"abc", "0", "-1", "1:2", "1:2:zz", ""};
    for (size_t i = 0; i < sizeof bad_targets / sizeof bad_targets[0]; i++) {
        snprintf(doc, sizeof doc, "{\"schema\":\"tether.get-query/v1\",\"target\":\"%s\"}",
                 bad_targets[i]);
        out = (char *)1;
        EXPECT_ERROR(tether_get(doc, &out), out, TETHER_E_INVALID_ARGUMENT, "invalid_argument",
                     bad_targets[i]);
        out = (char *)1;
        EXPECT_ERROR(tether_identity_parse(bad_targets[i], &out), out,
                     TETHER_E_INVALID_ARGUMENT, "invalid_argument", bad_targets[i]);
        state = -1;
        CHECK(tether_identity_check(bad_targets[i], &state) == TETHER_E_INVALID_ARGUMENT &&
                  state == 0,
              "check %s: %d", bad_targets[i], state);
    }
    test_bad_documents(tether_get, "tether.get-query/v1", "get");
    out = (char *)1;
    EXPECT_ERROR(tether_identity_parse(NULL, &out), out, TETHER_E_INVALID_ARGUMENT,
                 "invalid_argument", "parse NULL");
    out = (char *)1;
    EXPECT_ERROR(tether_identity_parse("1:2:\xff", &out), out, TETHER_E_INVALID_ARGUMENT,
                 "invalid_argument", "parse invalid UTF-8");
    CHECK(tether_identity_parse(id, NULL) == TETHER_E_INVALID_ARGUMENT, "parse, NULL out");
    CHECK(tether_identity_check(NULL, &state) == TETHER_E_INVALID_ARGUMENT, "check NULL");
    CHECK(tether_identity_check(id, NULL) == TETHER_E_INVALID_ARGUMENT, "check, NULL out");
}

/* A listening TCP socket on 127.0.0.1 and its port; children started later inherit it. */
static int listen_tcp(int *port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 8) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        perror("listen_tcp");
        exit(2);
    }
    *port = ntohs(a.sin_port);
    return fd;
}

/* `holder` is a child that inherited the listening socket: the library's owner scan leaves
 * out the calling process itself, so a child holds the socket to be found. */
static void test_ports_and_who(int port, pid_t holder) {
    char *out = NULL;
    char doc[256], want[64], spec[32];
    snprintf(doc, sizeof doc,
             "{\"schema\":\"tether.ports-query/v1\",\"protos\":[\"tcp\"],\"port\":%d,"
             "\"pids\":[\"%d\"]}",
             port, (int)holder);
    int rc = tether_ports(doc, &out);
    expect_ok(rc, out, "tether.ports/v1", "ports of self");
    snprintf(want, sizeof want, "\"local_port\":%d", port);
    CHECK(out && strstr(out, want), "%s", out);
    snprintf(want, sizeof want, "\"pid\":%d", (int)holder);
    CHECK(out && strstr(out, want), "the owner is the child: %s", out);
    tether_free_string(out);

    test_bad_documents(tether_ports, "tether.ports-query/v1", "ports");
    const char *bad[] = {
        "{\"schema\":\"tether.ports-query/v1\",\"port\":0}",
        "{\"schema\":\"tether.ports-query/v1\",\"port\":65536}",
        "{\"schema\":\"tether.ports-query/v1\",\"protos\":[\"sctp\"]}",
        "{\"schema\":\"tether.ports-query/v1\",\"pids\":[\"0\"]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        out = (char *)1;
        EXPECT_ERROR(tether_ports(bad[i], &out), out, TETHER_E_INVALID_ARGUMENT,
                     "invalid_argument", bad[i]);
    }
    snprintf(doc, sizeof doc, "{\"schema\":\"tether.ports-query/v1\",\"pids\":[\"%d\"]}",
             (int)dead_pid());
    out = (char *)1;
    EXPECT_ERROR(tether_ports(doc, &out), out, TETHER_E_NOT_FOUND, "not_found",
                 "ports of a dead PID");

    snprintf(spec, sizeof spec, "%d/tcp", port);
    out = NULL;
    rc = tether_who(spec, &out);
    expect_ok(rc, out, "tether.who/v1", "who holds our port");
    snprintf(want, sizeof want, "\"pid\":%d", (int)holder);
    CHECK(out && strstr(out, want), "%s", out);
    tether_free_string(out);
    const char *bad_ports[] = {"0", "65536", "http", "80/sctp", "", "\xff"};
    for (size_t i = 0; i < sizeof bad_ports / sizeof bad_ports[0]; i++) {
        out = (char *)1;
        EXPECT_ERROR(tether_who(bad_ports[i], &out), out, TETHER_E_INVALID_ARGUMENT,
                     "invalid_argument", bad_ports[i]);
    }
    out = (char *)1;
    EXPECT_ERROR(tether_who(NULL, &out), out, TETHER_E_INVALID_ARGUMENT, "invalid_argument",
                 "who NULL");
    CHECK(tether_who(spec, NULL) == TETHER_E_INVALID_ARGUMENT, "who, NULL out");
}

struct canceller {
    TetherCancel *token;
    int delay_ms;
};

static void *trigger_later(void *arg) {
    struct canceller *c = arg;
    struct timespec ts = {c->delay_ms / 1000, (c->delay_ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    CHECK(tether_cancel_trigger(c->token) == TETHER_OK, "trigger from another thread");
    return NULL;
}

static int wait_for(const char *doc, TetherCancel *cancel, char **out) {
    return tether_wait_for(doc, cancel, out);
}

static int wait_for_no_cancel(const char *doc, char **out) { return wait_for(doc, NULL, out); }

static void test_wait_for(int port) {
    char *out = NULL;
    char doc[512];
    snprintf(doc, sizeof doc,
             "{\"schema\":\"tether.wait-for-query/v1\",\"targets\":[\":%d\"],"
             "\"timeout_ms\":10000}",
             port);
    int rc = wait_for(doc, NULL, &out);
    expect_ok(rc, out, "tether.wait-for/v1", "wait for a listening port");
    CHECK(out && strstr(out, "\"outcome\":\"ready\""), "%s", out);
    tether_free_string(out);

    /* Not ready by the deadline: still a success, with the outcome saying so. */
    out = NULL;
    rc = wait_for("{\"schema\":\"tether.wait-for-query/v1\",\"targets\":"
                  "[\"file:/nonexistent/tether-c-test\"],\"timeout_ms\":100}",
                  NULL, &out);
    expect_ok(rc, out, "tether.wait-for/v1", "a wait that times out");
    CHECK(out && strstr(out, "\"outcome\":\"timed_out\""), "%s", out);
    tether_free_string(out);

    /* Cancelled from another thread while a command runs: the command is ended and reaped. */
    TetherCancel *token = tether_cancel_new();
    CHECK(token != NULL, "a cancel token");
    struct canceller c = {token, 200};
    pthread_t t;
    pthread_create(&t, NULL, trigger_later, &c);
    out = (char *)1;
    rc = wait_for("{\"schema\":\"tether.wait-for-query/v1\",\"targets\":"
                  "[\"cmd:sleep 300\"]}",
                  token, &out);
    pthread_join(t, NULL);
    expect_error(rc, out, TETHER_E_CANCELLED, "timed_out", "a cancelled wait");
    CHECK(waitpid(-1, NULL, WNOHANG) == -1 && errno == ECHILD,
          "the cancelled wait's command was reaped");
    /* A token triggered before the call ends it at once. */
    out = (char *)1;
    rc = wait_for("{\"schema\":\"tether.wait-for-query/v1\",\"targets\":[\"file:/nonexistent/x\"]}",
                  token, &out);
    expect_error(rc, out, TETHER_E_CANCELLED, "timed_out", "an already cancelled token");
    CHECK(tether_cancel_trigger(token) == TETHER_OK, "triggering twice is allowed");
    tether_cancel_free(token);
    tether_cancel_free(NULL);
    CHECK(tether_cancel_trigger(NULL) == TETHER_E_INVALID_ARGUMENT, "trigger NULL");

    test_bad_documents(wait_for_no_cancel, "tether.wait-for-query/v1", "wait_for");
    const char *bad[] = {
        "{\"schema\":\"tether.wait-for-query/v1\",\"targets\":[]}",
        "{\"schema\":\"tether.wait-for-query/v1\",\"targets\":[\"nonsense\"]}",
        "{\"schema\":\"tether.wait-for-query/v1\",\"targets\":[\":0\"]}",
        "{\"schema\":\"tether.wait-for-query/v1\",\"targets\":[\":1\"],\"interval_ms\":0}",
        "{\"schema\":\"tether.wait-for-query/v1\",\"targets\":[\":1\"],\"watch\":\"0\"}",
        "{\"schema\":\"tether.wait-for-query/v1\",\"targets\":[\":1\"],\"http\":{\"x\":1}}",
        "{\"schema\":\"tether.wait-for-query/v1\",\"targets\":[\"file:/a\\u0000b\"]}",
        "{\"schema\":\"tether.wait-for-query/v1\",\"targets\":[\":1\"],"
        "\"timeout_ms\":18446744073709551615}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        out = (char *)1;
        EXPECT_ERROR(wait_for(bad[i], NULL, &out), out, TETHER_E_INVALID_ARGUMENT,
                     "invalid_argument", bad[i]);
    }
}

static void test_signals(void) {
    struct {
        const char *name;
        int number;
    } good[] = {{"TERM", 15}, {"sigkill", 9}, {"15", 15}, {"SIGHUP", 1}, {"RTMIN", SIGRTMIN}};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        int n = -1;
        CHECK(tether_signal_number(good[i].name, &n) == TETHER_OK && n == good[i].number,
              "%s -> %d", good[i].name, n);
    }
    const char *bad[] = {"FOO", "0", "-9", "32", "99", "", "\xff"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int n = -1;
        CHECK(tether_signal_number(bad[i], &n) == TETHER_E_INVALID_ARGUMENT && n == 0,
              "signal %s -> %d", bad[i], n);
    }
    CHECK(tether_signal_number(NULL, &(int){0}) == TETHER_E_INVALID_ARGUMENT, "NULL name");
    CHECK(tether_signal_number("TERM", NULL) == TETHER_E_INVALID_ARGUMENT, "NULL out");

    char *name = NULL;
    CHECK(tether_signal_name(15, &name) == TETHER_OK && name && strcmp(name, "TERM") == 0,
          "15 -> %s", name);
    tether_free_string(name);
    name = NULL;
    CHECK(tether_signal_name(SIGRTMIN + 1, &name) == TETHER_OK && name &&
              strcmp(name, "RTMIN+1") == 0,
          "RTMIN+1 -> %s", name);
    tether_free_string(name);
    int bad_numbers[] = {0, -1, 32, 33, 1000};
    for (size_t i = 0; i < sizeof bad_numbers / sizeof bad_numbers[0]; i++) {
        name = (char *)1;
        EXPECT_ERROR(tether_signal_name(bad_numbers[i], &name), name, TETHER_E_INVALID_ARGUMENT,
                     "invalid_argument", "signal name of a bad number");
    }
    CHECK(tether_signal_name(15, NULL) == TETHER_E_INVALID_ARGUMENT, "NULL out");
}

/* The last error belongs to the thread that failed. */
static void *fail_here(void *arg) {
    (void)arg;
    int n;
    CHECK(tether_signal_number("FOO", &n) == TETHER_E_INVALID_ARGUMENT, "fail in a thread");
    CHECK(tether_last_error_code() == TETHER_E_INVALID_ARGUMENT, "seen by that thread");
    return NULL;
}

static void test_last_error_is_per_thread(void) {
    int n;
    CHECK(tether_signal_number("TERM", &n) == TETHER_OK, "succeed here");
    pthread_t t;
    pthread_create(&t, NULL, fail_here, NULL);
    pthread_join(t, NULL);
    CHECK(tether_last_error_code() == TETHER_OK && tether_last_error_message() == NULL,
          "not seen by this thread");
}

/* The integer value of "key" in a JSON document (first occurrence), or -999 when absent. */
static long json_int(const char *json, const char *key) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = json ? strstr(json, pat) : NULL;
    if (!p || p[strlen(pat)] == 'n') return -999;
    return strtol(p + strlen(pat), NULL, 10);
}

static void test_process(void) {
    char me[32], *out = NULL;
    snprintf(me, sizeof me, "%d", (int)getpid());
    TetherProcess *self = NULL;
    CHECK(tether_process_open(me, &self) == TETHER_OK && self, "open self");
    int64_t pid = 0;
    CHECK(tether_process_pid(self, &pid) == TETHER_OK && pid == getpid(), "pid %ld", (long)pid);
    CHECK(tether_process_identity(self, &out) == TETHER_OK && out && strchr(out, ':'),
          "identity %s", out);
    /* Open again by identity: the same process. */
    TetherProcess *again = NULL;
    CHECK(tether_process_open(out, &again) == TETHER_OK && again, "open by identity");
    tether_free_string(out);
    tether_process_free(again);
    out = NULL;
    EXPECT_OK(tether_process_info(self, "[\"name\",\"ppid\"]", &out), out, "tether.info/v1",
              "info of self");
    char name[64];
    CHECK(strcmp(json_string(out, "name", name, sizeof name), comm) == 0, "name %s", name);
    tether_free_string(out);
    out = NULL;
    EXPECT_OK(tether_process_info(self, NULL, &out), out, "tether.info/v1", "all fields");
    tether_free_string(out);
    int running = -1;
    CHECK(tether_process_is_running(self, &running) == TETHER_OK && running == 1, "running");
    CHECK(tether_process_signal(self, SIGCONT) == TETHER_E_REFUSED, "signal self refused");
    CHECK(tether_process_signal(self, 0) == TETHER_E_INVALID_ARGUMENT, "signal 0");

    pid_t kid = start_sleeper();
    char kid_s[32];
    snprintf(kid_s, sizeof kid_s, "%d", (int)kid);
    TetherProcess *p = NULL;
    CHECK(tether_process_open(kid_s, &p) == TETHER_OK && p, "open the sleeper");
    out = NULL;
    EXPECT_OK(tether_process_children(self, 0, &out), out, "tether.children/v1", "children");
    CHECK(out && strstr(out, kid_s), "children %s", out);
    tether_free_string(out);
    out = NULL;
    EXPECT_OK(tether_process_children(self, 1, &out), out, "tether.children/v1", "descendants");
    tether_free_string(out);
    out = NULL;
    EXPECT_OK(tether_process_wait(p, 50, NULL, &out), out, "tether.wait/v1", "wait 50 ms");
    CHECK(out && strstr(out, "\"timed_out\":true"), "timed out: %s", out);
    tether_free_string(out);
    TetherCancel *token = tether_cancel_new();
    tether_cancel_trigger(token);
    out = (char *)1;
    EXPECT_ERROR(tether_process_wait(p, -1, token, &out), out, TETHER_E_CANCELLED, "timed_out",
                 "a cancelled wait");
    tether_cancel_free(token);

    /* A wrong identity (start time off by one, no inode): refused as reused, nothing sent. */
    char *id = NULL;
    tether_process_identity(p, &id);
    unsigned long long ticks = 0;
    char boot[16] = "";
    sscanf(id, "%*d:%llu:%8[0-9a-f]", &ticks, boot);
    char wrong[96];
    snprintf(wrong, sizeof wrong, "%d:%llu:%s", (int)kid, ticks + 1, boot);
    TetherProcess *w = (TetherProcess *)1;
    CHECK(tether_process_open(wrong, &w) == TETHER_E_IDENTITY_MISMATCH && w == NULL,
          "wrong identity %s", wrong);
    tether_free_string(id);

    out = NULL;
    EXPECT_OK(tether_process_terminate_tree(p, "{\"schema\":\"tether.stop-query/v1\",\"grace_ms\":5000}",
                                            &out),
              out, "tether.stop/v1", "terminate_tree");
    CHECK(out && strstr(out, "\"remaining\":[]"), "stopped: %s", out);
    tether_free_string(out);
    int status = 0;
    waitpid(kid, &status, 0);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM, "ended by TERM");
    CHECK(tether_process_is_running(p, &running) == TETHER_OK && running == 0, "not running");
    CHECK(tether_process_signal(p, SIGTERM) == TETHER_E_NOT_FOUND, "signal the gone");
    out = (char *)1;
    EXPECT_ERROR(tether_process_info(p, NULL, &out), out, TETHER_E_NOT_FOUND, "not_found",
                 "info of the gone");
    out = NULL;
    EXPECT_OK(tether_process_terminate_tree(p, NULL, &out), out, "tether.stop/v1",
              "stop the gone");
    CHECK(out && strstr(out, "\"already_gone\":true"), "already gone: %s", out);
    tether_free_string(out);
    tether_process_free(p);

    /* Bad input. */
    char dead[32];
    snprintf(dead, sizeof dead, "%d", (int)dead_pid());
    const struct {
        const char *target;
        int code;
    } bad[] = {{NULL, TETHER_E_INVALID_ARGUMENT}, {"0", TETHER_E_INVALID_ARGUMENT},
               {"x", TETHER_E_INVALID_ARGUMENT},  {"-1", TETHER_E_INVALID_ARGUMENT},
               {"1:2:zz", TETHER_E_INVALID_ARGUMENT}, {dead, TETHER_E_NOT_FOUND}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        TetherProcess *q = (TetherProcess *)1;
        CHECK(tether_process_open(bad[i].target, &q) == bad[i].code && q == NULL, "open %s",
              bad[i].target ? bad[i].target : "NULL");
    }
    CHECK(tether_process_open(me, NULL) == TETHER_E_INVALID_ARGUMENT, "NULL out");
    CHECK(tether_process_pid(NULL, &pid) == TETHER_E_INVALID_ARGUMENT && pid == 0, "NULL pid");
    out = (char *)1;
    EXPECT_ERROR(tether_process_identity(NULL, &out), out, TETHER_E_INVALID_ARGUMENT,
                 "invalid_argument", "NULL identity");
    const char *bad_fields[] = {"[\"nope\"]", "{}", "nope", "[1]"};
    for (size_t i = 0; i < sizeof bad_fields / sizeof bad_fields[0]; i++) {
        out = (char *)1;
        EXPECT_ERROR(tether_process_info(self, bad_fields[i], &out), out,
                     TETHER_E_INVALID_ARGUMENT, "invalid_argument", bad_fields[i]);
    }
    CHECK(tether_process_is_running(NULL, &running) == TETHER_E_INVALID_ARGUMENT, "NULL");
    CHECK(tether_process_signal(NULL, SIGTERM) == TETHER_E_INVALID_ARGUMENT, "NULL signal");
    out = (char *)1;
    EXPECT_ERROR(tether_process_wait(NULL, 0, NULL, &out), out, TETHER_E_INVALID_ARGUMENT,
                 "invalid_argument", "NULL wait");
    out = (char *)1;
    EXPECT_ERROR(tether_process_wait(self, 1LL << 62, NULL, &out), out,
                 TETHER_E_INVALID_ARGUMENT, "invalid_argument", "a timeout out of range");
    const char *bad_stop[] = {"{\"schema\":\"tether.stop-query/v1\",\"signal\":\"NOPE\"}",
                              "{\"schema\":\"tether.stop-query/v1\",\"grace\":1}",
                              "{\"schema\":\"tether.ps-query/v1\"}", "[]"};
    for (size_t i = 0; i < sizeof bad_stop / sizeof bad_stop[0]; i++) {
        out = (char *)1;
        EXPECT_ERROR(tether_process_terminate_tree(self, bad_stop[i], &out), out,
                     TETHER_E_INVALID_ARGUMENT, "invalid_argument", bad_stop[i]);
    }
    out = (char *)1;
    EXPECT_ERROR(tether_process_terminate_tree(self, NULL, &out), out, TETHER_E_REFUSED,
                 "refused", "terminate self");
    out = (char *)1;
    EXPECT_ERROR(tether_process_children(NULL, 0, &out), out, TETHER_E_INVALID_ARGUMENT,
                 "invalid_argument", "NULL children");
    tether_process_free(self);
    tether_process_free(NULL);
}

/* Another thread waits for a child while this one stops it. */
struct waiter {
    TetherChild *child;
    TetherCancel *cancel;
    int rc;
    char *out;
};

static void *wait_in_thread(void *arg) {
    struct waiter *w = arg;
    w->rc = tether_child_wait(w->child, -1, w->cancel, &w->out);
    return NULL;
}

#define CMD(argv, rest) "{\"schema\":\"tether.command-query/v1\",\"argv\":" argv rest "}"

static void test_child(void) {
    TetherChild *c = NULL;
    CHECK(tether_spawn(CMD("[\"sh\",\"-c\",\"sleep 300 & sleep 300 & wait\"]", ""), &c) ==
                  TETHER_OK && c,
          "spawn a tree");
    int64_t pid = 0;
    CHECK(tether_child_pid(c, &pid) == TETHER_OK && pid > 1, "pid %ld", (long)pid);
    char *out = NULL;
    CHECK(tether_child_identity(c, &out) == TETHER_OK && out && atol(out) == pid, "id %s", out);
    tether_free_string(out);
    out = NULL;
    CHECK(tether_child_containment(c, &out) == TETHER_OK && out && strstr(out, "mechanism"),
          "containment %s", out);
    tether_free_string(out);
    out = NULL;
    EXPECT_OK(tether_child_wait(c, 30, NULL, &out), out, "tether.child-wait/v1", "wait 30 ms");
    CHECK(out && strstr(out, "\"timed_out\":true"), "%s", out);
    tether_free_string(out);

    /* A wait forever in another thread; a cancelled one; then a stop from this thread. */
    struct waiter cancelled = {c, tether_cancel_new(), -1, NULL};
    pthread_t t;
    pthread_create(&t, NULL, wait_in_thread, &cancelled);
    struct timespec tick = {0, 50 * 1000 * 1000};
    nanosleep(&tick, NULL);
    tether_cancel_trigger(cancelled.cancel);
    pthread_join(t, NULL);
    CHECK(cancelled.rc == TETHER_E_CANCELLED && cancelled.out == NULL, "cancelled: %d",
          cancelled.rc);
    tether_cancel_free(cancelled.cancel);

    struct waiter w = {c, NULL, -1, NULL};
    pthread_create(&t, NULL, wait_in_thread, &w);
    nanosleep(&tick, NULL);
    size_t delivered = 0;
    CHECK(tether_child_signal(c, SIGCONT, &delivered) == TETHER_OK && delivered >= 3,
          "CONT to %zu", delivered);
    out = NULL;
    EXPECT_OK(tether_child_stop(c, "{\"schema\":\"tether.stop-query/v1\",\"grace_ms\":3000}", &out),
              out, "tether.stop/v1", "stop the tree");
    CHECK(out && strstr(out, "\"remaining\":[]") && json_int(out, "pid") == pid, "%s", out);
    tether_free_string(out);
    pthread_join(t, NULL);
    CHECK(w.rc == TETHER_OK && w.out && strstr(w.out, "\"exited\":true") &&
              json_int(w.out, "signal") == SIGTERM,
          "the waiter saw the end: %s", w.out);
    tether_free_string(w.out);
    size_t killed = 99;
    CHECK(tether_child_kill_tree(c, &killed) == TETHER_OK && killed == 0, "nothing left");
    tether_child_free(c);

    /* kill_tree, and a free that never blocks. */
    c = NULL;
    CHECK(tether_spawn(CMD("[\"sh\",\"-c\",\"sleep 300 & sleep 300\"]",
                           ",\"contain\":\"group\",\"stdin\":\"null\""),
                       &c) == TETHER_OK,
          "spawn in a group");
    /* The shell may not have forked yet: at least the shell itself. */
    CHECK(tether_child_kill_tree(c, &killed) == TETHER_OK && killed >= 1, "killed %zu", killed);
    tether_child_free(c);
    c = NULL;
    CHECK(tether_spawn(CMD("[\"sleep\",\"300\"]", ""), &c) == TETHER_OK, "spawn to free");
    tether_child_free(c);
    tether_child_free(NULL);

    /* The command's time limit, applied while it is waited for. */
    c = NULL;
    CHECK(tether_spawn(CMD("[\"sleep\",\"300\"]", ",\"timeout_ms\":100"), &c) == TETHER_OK,
          "spawn with a limit");
    out = NULL;
    EXPECT_OK(tether_child_wait(c, 30000, NULL, &out), out, "tether.child-wait/v1", "limit");
    CHECK(out && json_int(out, "signal") == SIGTERM, "%s", out);
    tether_free_string(out);
    tether_child_free(c);

    /* stdout to a descriptor of this program ({"fd": N}): the library takes a copy, so the
     * write end is closed here at once, and the read end sees "hi" then end of file once the
     * command has exited (nothing else holds the pipe). */
    int pfd[2];
    CHECK(pipe2(pfd, O_CLOEXEC) == 0, "pipe");
    char doc[256];
    snprintf(doc, sizeof doc, CMD("[\"sh\",\"-c\",\"echo hi\"]", ",\"stdout\":{\"fd\":%d}"),
             pfd[1]);
    c = NULL;
    CHECK(tether_spawn(doc, &c) == TETHER_OK && c, "spawn with stdout to fd %d", pfd[1]);
    close(pfd[1]);
    out = NULL;
    EXPECT_OK(tether_child_wait(c, 30000, NULL, &out), out, "tether.child-wait/v1", "fd wait");
    CHECK(out && json_int(out, "code") == 0, "%s", out);
    tether_free_string(out);
    char got[16] = {0};
    size_t have = 0;
    struct pollfd pl = {pfd[0], POLLIN, 0};
    for (;;) {
        if (poll(&pl, 1, 10000) != 1)
            break; /* 10 s without end of file: fails below */
        ssize_t n = read(pfd[0], got + have, sizeof got - 1 - have);
        if (n <= 0)
            break;
        have += (size_t)n;
    }
    CHECK(strcmp(got, "hi\n") == 0, "read back %s", got);
    /* A descriptor that is not open is bad input (a high number, closed: nothing takes it). */
    int closed = fcntl(pfd[0], F_DUPFD_CLOEXEC, 5000);
    CHECK(closed >= 5000, "F_DUPFD_CLOEXEC");
    close(closed);
    close(pfd[0]);
    tether_child_free(c);
    snprintf(doc, sizeof doc, CMD("[\"true\"]", ",\"stderr\":{\"fd\":%d}"), closed);
    c = (TetherChild *)1;
    CHECK(tether_spawn(doc, &c) == TETHER_E_INVALID_ARGUMENT && c == NULL, "closed fd");
    out = NULL;
    EXPECT_ERROR(tether_run(doc, NULL, &out), out, TETHER_E_INVALID_ARGUMENT, "invalid_argument",
                 "run with a closed fd");

    /* Bad input and start errors. */
    TetherChild *bad = (TetherChild *)1;
    CHECK(tether_spawn(CMD("[\"/nonexistent/tether-test\"]", ""), &bad) == TETHER_E_NOT_FOUND &&
              bad == NULL,
          "not found");
    const char *invalid[] = {
        CMD("[]", ""), CMD("[\"true\"]", ",\"stdout\":\"capture\""),
        CMD("[\"true\"]", ",\"contain\":\"box\""), CMD("[\"true\"]", ",\"argx\":1"),
        "{\"schema\":\"tether.run/v1\",\"argv\":[\"true\"]}", NULL, "\xff"};
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
        bad = (TetherChild *)1;
        CHECK(tether_spawn(invalid[i], &bad) == TETHER_E_INVALID_ARGUMENT && bad == NULL,
              "spawn %s", invalid[i] ? invalid[i] : "NULL");
    }
    CHECK(tether_spawn(CMD("[\"true\"]", ""), NULL) == TETHER_E_INVALID_ARGUMENT, "NULL out");
    CHECK(tether_child_pid(NULL, &pid) == TETHER_E_INVALID_ARGUMENT, "NULL pid");
    out = (char *)1;
    EXPECT_ERROR(tether_child_identity(NULL, &out), out, TETHER_E_INVALID_ARGUMENT,
                 "invalid_argument", "NULL identity");
    out = (char *)1;
    EXPECT_ERROR(tether_child_containment(NULL, &out), out, TETHER_E_INVALID_ARGUMENT,
                 "invalid_argument", "NULL containment");
    out = (char *)1;
    EXPECT_ERROR(tether_child_wait(NULL, 0, NULL, &out), out, TETHER_E_INVALID_ARGUMENT,
                 "invalid_argument", "NULL wait");
    CHECK(tether_child_signal(NULL, SIGTERM, &delivered) == TETHER_E_INVALID_ARGUMENT, "NULL");
    out = (char *)1;
    EXPECT_ERROR(tether_child_stop(NULL, NULL, &out), out, TETHER_E_INVALID_ARGUMENT,
                 "invalid_argument", "NULL stop");
    CHECK(tether_child_kill_tree(NULL, &killed) == TETHER_E_INVALID_ARGUMENT, "NULL kill");
}

static void test_run(void) {
    char *out = NULL;
    EXPECT_OK(tether_run(CMD("[\"sh\",\"-c\",\"echo hello; echo oops >&2; exit 3\"]", ""), NULL,
                         &out),
              out, "tether.run-output/v1", "run");
    char buf[64];
    CHECK(strcmp(json_string(out, "stdout", buf, sizeof buf), "aGVsbG8K") == 0, "stdout %s", buf);
    CHECK(strcmp(json_string(out, "stderr", buf, sizeof buf), "b29wcwo=") == 0, "stderr %s", buf);
    CHECK(json_int(out, "exit_code") == 3 && strstr(out, "\"timed_out\":false"), "%s", out);
    tether_free_string(out);

    out = NULL;
    EXPECT_OK(tether_run(CMD("[\"sh\",\"-c\",\"echo 0123456789\"]", ",\"capture_limit\":4"), NULL,
                         &out),
              out, "tether.run-output/v1", "run with a capture limit");
    CHECK(strcmp(json_string(out, "stdout", buf, sizeof buf), "Nzg5Cg==") == 0 &&
              json_int(out, "stdout_dropped") == 7,
          "%s", out);
    tether_free_string(out);

    out = NULL;
    EXPECT_OK(tether_run(CMD("[\"sh\",\"-c\",\"sleep 300 & sleep 300\"]",
                             ",\"timeout_ms\":200,\"kill_after_ms\":5000"),
                         NULL, &out),
              out, "tether.run-output/v1", "a run that times out");
    CHECK(out && strstr(out, "\"timed_out\":true") && json_int(out, "exit_code") == 124, "%s",
          out);
    tether_free_string(out);

    out = NULL;
    EXPECT_OK(tether_run(CMD("[\"/nonexistent/tether-test\"]", ""), NULL, &out), out,
              "tether.run-output/v1", "a run that cannot start");
    CHECK(json_int(out, "exit_code") == 127 && json_int(out, "pid") == -999, "%s", out);
    tether_free_string(out);

    TetherCancel *token = tether_cancel_new();
    tether_cancel_trigger(token);
    out = (char *)1;
    EXPECT_ERROR(tether_run(CMD("[\"sleep\",\"300\"]", ""), token, &out), out,
                 TETHER_E_CANCELLED, "timed_out", "a cancelled run");
    tether_cancel_free(token);
    out = (char *)1;
    EXPECT_ERROR(tether_run(CMD("[\"true\"]", ",\"stdin\":\"capture\""), NULL, &out), out,
                 TETHER_E_INVALID_ARGUMENT, "invalid_argument", "stdin captured");
    out = (char *)1;
    EXPECT_ERROR(tether_run(NULL, NULL, &out), out, TETHER_E_INVALID_ARGUMENT,
                 "invalid_argument", "NULL command");
}

static void test_pidfile(void) {
    pid_t kid = start_sleeper();
    char path[] = "/tmp/tether-c-test-XXXXXX";
    int fd = mkstemp(path);
    dprintf(fd, "%d\n", (int)kid);
    close(fd);
    char *out = NULL;
    EXPECT_OK(tether_pidfile_check(path, &out), out, "tether.alive/v1", "pidfile check");
    CHECK(out && strstr(out, "\"alive\":true") && json_int(out, "pid") == kid, "%s", out);
    tether_free_string(out);
    out = NULL;
    CHECK(tether_pidfile_read(path, &out) == TETHER_OK && out && strstr(out, "\"legacy\""),
          "read %s", out);
    tether_free_string(out);
    end_child(kid);
    out = NULL;
    EXPECT_OK(tether_pidfile_check(path, &out), out, "tether.alive/v1", "pidfile of the gone");
    CHECK(out && strstr(out, "\"alive\":false"), "%s", out);
    tether_free_string(out);
    unlink(path);
    out = (char *)1;
    EXPECT_ERROR(tether_pidfile_check(path, &out), out, TETHER_E_NOT_FOUND, "not_found",
                 "no pidfile");
    out = (char *)1;
    EXPECT_ERROR(tether_pidfile_read(path, &out), out, TETHER_E_NOT_FOUND, "not_found",
                 "read no pidfile");
    out = (char *)1;
    EXPECT_ERROR(tether_pidfile_check(NULL, &out), out, TETHER_E_INVALID_ARGUMENT,
                 "invalid_argument", "NULL path");
    out = (char *)1;
    EXPECT_ERROR(tether_pidfile_read(NULL, &out), out, TETHER_E_INVALID_ARGUMENT,
                 "invalid_argument", "NULL path");
}

/* Whether process pid has ended (gone, or a zombie), within ms milliseconds. Only signal 0,
 * which sends nothing, goes to it. */
static int pid_gone(pid_t pid, int ms) {
    for (int waited = 0;; waited += 10) {
        if (kill(pid, 0) == -1 && errno == ESRCH) return 1;
        char path[64], buf[512];
        snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
        FILE *f = fopen(path, "r");
        if (f) {
            size_t n = fread(buf, 1, sizeof buf - 1, f);
            fclose(f);
            buf[n] = '\0';
            const char *close_paren = strrchr(buf, ')');
            if (close_paren && close_paren[1] == ' ' && close_paren[2] == 'Z') return 1;
        }
        if (waited >= ms) return 0;
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

/* The number of lines in a file (0 when it does not exist). */
static int count_lines(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    int n = 0, c;
    while ((c = fgetc(f)) != EOF) n += c == '\n';
    fclose(f);
    return n;
}

/* The PID written in a file, waiting up to 5 s for it to appear. */
static pid_t read_pid_file(const char *path) {
    for (int i = 0; i < 500; i++) {
        FILE *f = fopen(path, "r");
        int pid = 0;
        if (f) {
            int ok = fscanf(f, "%d", &pid) == 1;
            fclose(f);
            if (ok && pid > 1) return pid;
        }
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    return 0;
}

static char job_state[64];

static int job_start_doc(const char *doc, char **out) {
    return tether_job_start(job_state, doc, NULL, NULL, out);
}

#define JOB(name, argv, rest) \
    "{\"schema\":\"tether.job-query/v1\",\"name\":\"" name "\",\"argv\":" argv rest "}"

/* A job's logs until they contain want (the supervisor writes them as the command prints),
 * up to 5 s; the last document read is left in *out. */
static int job_logs_until(const char *name, const char *stream, const char *want, char **out) {
    for (int i = 0; i < 500; i++) {
        *out = NULL;
        int rc = tether_job_logs(job_state, name, stream, 10, out);
        if (rc != TETHER_OK || strstr(*out, want)) return rc;
        tether_free_string(*out);
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    *out = NULL;
    return tether_job_logs(job_state, name, stream, 10, out);
}

/* Triggers a token once job `name`'s command runs (up to 10 s), and records its PID. */
struct job_canceller {
    const char *name;
    TetherCancel *token;
    long pid;
};

static void *cancel_when_running(void *arg) {
    struct job_canceller *c = arg;
    for (int i = 0; i < 1000 && c->pid <= 1; i++) {
        char *out = NULL, buf[32];
        if (tether_job_status(job_state, c->name, &out) == TETHER_OK &&
            strcmp(json_string(out, "status", buf, sizeof buf), "running") == 0)
            c->pid = json_int(out, "pid");
        tether_free_string(out);
        if (c->pid <= 1) {
            struct timespec ts = {0, 10 * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    CHECK(c->pid > 1, "job %s's command ran", c->name);
    CHECK(tether_cancel_trigger(c->token) == TETHER_OK, "trigger the job's start");
    return NULL;
}

/* What tether_job_logs_follow gave: every byte, and its first call apart (the last lines). */
struct follower {
    char got[256];
    size_t len;
    int calls;
    char first[64];
    const char *until; /* stop once got contains it (NULL: never) */
    const char *flag;  /* a file created at the first call (NULL: none) */
};

static int32_t follow_data(void *ctx, const uint8_t *data, size_t len) {
    struct follower *f = ctx;
    if (f->calls++ == 0) {
        snprintf(f->first, sizeof f->first, "%.*s", (int)len, (const char *)data);
        if (f->flag) close(open(f->flag, O_CREAT | O_WRONLY, 0600));
    }
    size_t n = len < sizeof f->got - 1 - f->len ? len : sizeof f->got - 1 - f->len;
    memcpy(f->got + f->len, data, n);
    f->len += n;
    f->got[f->len] = '\0';
    return f->until && strstr(f->got, f->until) ? 1 : 0;
}

/* Triggers token after 10 s unless done is set first: a follow that misses what it waits for
 * fails instead of hanging. */
struct watchdog {
    TetherCancel *token;
    _Atomic int done;
};

static void *watch(void *arg) {
    struct watchdog *w = arg;
    for (int i = 0; i < 1000 && !w->done; i++) {
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (!w->done) tether_cancel_trigger(w->token);
    return NULL;
}

/* Follow: the last lines, then what the job writes after them (here once the first call has
 * made the flag file), stopped by the callback, by a token, or by the job's end; then its
 * bad arguments. */
static void test_job_follow(const char *bin) {
    char flag[96], doc[512];
    snprintf(flag, sizeof flag, "%s-flag", job_state);
    snprintf(doc, sizeof doc,
             JOB("follow", "[\"sh\",\"-c\",\"echo one; echo two; echo three;"
                           " while [ ! -e %s ]; do sleep 0.05; done; echo four; exec sleep 300\"]",
                 ""),
             flag);
    char *out = NULL;
    EXPECT_OK(tether_job_start(job_state, doc, bin, NULL, &out), out, "tether.job/v1",
              "start a job to follow");
    tether_free_string(out);
    out = NULL;
    EXPECT_OK(job_logs_until("follow", "stdout", "three", &out), out, "tether.job-logs/v1",
              "the followed job's first lines");
    tether_free_string(out);

    struct watchdog w = {tether_cancel_new(), 0};
    pthread_t t;
    pthread_create(&t, NULL, watch, &w);
    struct follower f = {.until = "four\n", .flag = flag};
    int rc = tether_job_logs_follow(job_state, "follow", "stdout", 2, follow_data, &f, w.token);
    w.done = 1;
    pthread_join(t, NULL);
    tether_cancel_free(w.token);
    CHECK(rc == TETHER_OK && tether_last_error_code() == TETHER_OK, "follow: %d", rc);
    CHECK(strcmp(f.first, "two\nthree\n") == 0, "follow's first call: '%s'", f.first);
    CHECK(strcmp(f.got, "two\nthree\nfour\n") == 0, "followed: '%s' (%d calls)", f.got,
          f.calls);

    /* Cancelled from another thread: TETHER_E_CANCELLED, the job still running. */
    TetherCancel *token = tether_cancel_new();
    struct canceller c = {token, 300};
    pthread_create(&t, NULL, trigger_later, &c);
    struct follower g = {0};
    rc = tether_job_logs_follow(job_state, "follow", "stdout", 1, follow_data, &g, token);
    pthread_join(t, NULL);
    expect_error(rc, NULL, TETHER_E_CANCELLED, "timed_out", "a cancelled follow");
    CHECK(strcmp(g.got, "four\n") == 0, "the cancelled follow gave '%s'", g.got);
    /* A token triggered before the call: cancelled at once, nothing given. */
    struct follower h = {0};
    rc = tether_job_logs_follow(job_state, "follow", "stdout", 1, follow_data, &h, token);
    expect_error(rc, NULL, TETHER_E_CANCELLED, "timed_out", "a follow already cancelled");
    CHECK(h.calls == 0, "the cancelled follow called on_data %d times", h.calls);
    tether_cancel_free(token);
    out = NULL;
    EXPECT_OK(tether_job_status(job_state, "follow", &out), out, "tether.job/v1",
              "status of the followed job");
    CHECK(strcmp(json_string(out, "status", doc, sizeof doc), "running") == 0, "%s", out);
    tether_free_string(out);
    out = NULL;
    EXPECT_OK(tether_job_remove(job_state, "follow", 2000, &out), out, "tether.job/v1",
              "remove the followed job");
    tether_free_string(out);

    /* A job that exits: the follow gives all it wrote and returns by itself. */
    out = NULL;
    EXPECT_OK(tether_job_start(job_state,
                               JOB("follow-exit",
                                   "[\"sh\",\"-c\",\"echo a; echo b; sleep 0.5; echo c\"]", ""),
                               bin, NULL, &out),
              out, "tether.job/v1", "start a job that exits");
    tether_free_string(out);
    struct watchdog we = {tether_cancel_new(), 0};
    pthread_create(&t, NULL, watch, &we);
    struct follower e = {0};
    rc = tether_job_logs_follow(job_state, "follow-exit", "stdout", 10, follow_data, &e,
                                we.token);
    we.done = 1;
    pthread_join(t, NULL);
    tether_cancel_free(we.token);
    CHECK(rc == TETHER_OK, "follow of a job that exits: %d", rc);
    CHECK(strcmp(e.got, "a\nb\nc\n") == 0, "followed to the end: '%s'", e.got);
    out = NULL;
    EXPECT_OK(tether_job_remove(job_state, "follow-exit", 2000, &out), out, "tether.job/v1",
              "remove the job that exited");
    tether_free_string(out);

    /* Bad arguments, and no such job: on_data is never called. */
    struct follower b = {0};
    rc = tether_job_logs_follow(job_state, NULL, "stdout", 1, follow_data, &b, NULL);
    expect_error(rc, NULL, TETHER_E_INVALID_ARGUMENT, "invalid_argument", "follow, NULL name");
    rc = tether_job_logs_follow(job_state, "follow", "stdout", 1, NULL, &b, NULL);
    expect_error(rc, NULL, TETHER_E_INVALID_ARGUMENT, "invalid_argument",
                 "follow, NULL on_data");
    rc = tether_job_logs_follow(job_state, "follow", "stdin", 1, follow_data, &b, NULL);
    expect_error(rc, NULL, TETHER_E_INVALID_ARGUMENT, "invalid_argument", "follow, bad stream");
    rc = tether_job_logs_follow(job_state, "follow", "stdout", -1, follow_data, &b, NULL);
    expect_error(rc, NULL, TETHER_E_INVALID_ARGUMENT, "invalid_argument",
                 "follow, negative lines");
    rc = tether_job_logs_follow(job_state, "a/b", "stdout", 1, follow_data, &b, NULL);
    expect_error(rc, NULL, TETHER_E_INVALID_ARGUMENT, "invalid_argument", "follow, bad name");
    rc = tether_job_logs_follow(job_state, "nope", "stdout", 1, follow_data, &b, NULL);
    expect_error(rc, NULL, TETHER_E_NOT_FOUND, "not_found", "follow of no job");
    CHECK(b.calls == 0, "on_data was called %d times", b.calls);
    unlink(flag);
}

static void test_jobs(void) {
    const char *bin = getenv("TETHER_BIN");
    CHECK(bin != NULL && access(bin, X_OK) == 0,
          "TETHER_BIN names the tether program (scripts/test-c.sh sets it): %s",
          bin ? bin : "(unset)");
    snprintf(job_state, sizeof job_state, "/tmp/tether-c-jobs-XXXXXX");
    CHECK(mkdtemp(job_state) != NULL, "a temporary state dir");
    char *out = NULL;

    /* No jobs yet. */
    EXPECT_OK(tether_job_list(job_state, &out), out, "tether.jobs/v1", "list, empty");
    CHECK(out && strstr(out, "\"jobs\":[]") && strstr(out, job_state), "%s", out);
    tether_free_string(out);

    /* Start: running, with a live PID, its output in the logs. */
    out = NULL;
    EXPECT_OK(tether_job_start(job_state,
                               JOB("web", "[\"sh\",\"-c\",\"echo hello-out; echo hello-err >&2;"
                                          " exec sleep 300\"]", ""),
                               NULL, NULL, &out),
              out, "tether.job/v1", "job start");
    char buf[128];
    CHECK(strcmp(json_string(out, "status", buf, sizeof buf), "running") == 0, "%s", out);
    CHECK(out && strstr(out, "\"already_running\":false"), "%s", out);
    long pid = json_int(out, "pid");
    CHECK(pid > 1 && kill((pid_t)pid, 0) == 0, "the job's PID %ld is alive", pid);
    tether_free_string(out);

    out = NULL;
    EXPECT_OK(tether_job_status(job_state, "web", &out), out, "tether.job/v1", "job status");
    CHECK(strcmp(json_string(out, "status", buf, sizeof buf), "running") == 0 &&
              json_int(out, "pid") == pid && strstr(out, "\"startedAt\":\""),
          "%s", out);
    tether_free_string(out);

    out = NULL;
    EXPECT_OK(job_logs_until("web", "stdout", "hello-out", &out), out, "tether.job-logs/v1",
              "job logs");
    CHECK(out && strstr(out, "\"lines\":[\"hello-out\"]") && strstr(out, "\"stream\":\"stdout\""),
          "%s", out);
    tether_free_string(out);
    out = NULL;
    EXPECT_OK(job_logs_until("web", "stderr", "hello-err", &out), out, "tether.job-logs/v1",
              "job logs, stderr");
    CHECK(out && strstr(out, "\"lines\":[\"hello-err\"]"), "%s", out);
    tether_free_string(out);
    uint8_t *bytes = (uint8_t *)1;
    size_t len = 99;
    CHECK(tether_job_logs_bytes(job_state, "web", "stdout", 5, &bytes, &len) == TETHER_OK &&
              len == 10 && bytes && memcmp(bytes, "hello-out\n", 10) == 0,
          "log bytes (%zu)", len);
    tether_free_bytes(bytes, len);
    bytes = (uint8_t *)1;
    len = 99;
    CHECK(tether_job_logs_bytes(job_state, "web", "stdout", 0, &bytes, &len) == TETHER_OK &&
              len == 0 && bytes == NULL,
          "no lines asked: no bytes");
    tether_free_bytes(NULL, 0);

    /* Started again while it runs: nothing new, the same process. */
    out = NULL;
    EXPECT_OK(tether_job_start(job_state, JOB("web", "[\"sleep\",\"300\"]", ""), NULL, NULL,
                               &out),
              out, "tether.job/v1", "job start of a running name");
    CHECK(out && strstr(out, "\"already_running\":true") && json_int(out, "pid") == pid, "%s",
          out);
    tether_free_string(out);

    out = NULL;
    EXPECT_OK(tether_job_list(job_state, &out), out, "tether.jobs/v1", "list");
    CHECK(out && strstr(out, "\"name\":\"web\""), "%s", out);
    tether_free_string(out);

    /* Stop: stopped, the process gone; stopping again is a success that says so. */
    out = NULL;
    EXPECT_OK(tether_job_stop(job_state, "web", 2000, &out), out, "tether.job/v1", "job stop");
    CHECK(strcmp(json_string(out, "status", buf, sizeof buf), "stopped") == 0 &&
              strstr(out, "\"already_stopped\":false"),
          "%s", out);
    tether_free_string(out);
    CHECK(pid_gone((pid_t)pid, 3000), "the stopped job's PID %ld is gone", pid);
    out = NULL;
    EXPECT_OK(tether_job_status(job_state, "web", &out), out, "tether.job/v1", "status, stopped");
    CHECK(strcmp(json_string(out, "status", buf, sizeof buf), "stopped") == 0, "%s", out);
    tether_free_string(out);
    out = NULL;
    EXPECT_OK(tether_job_stop(job_state, "web", -1, &out), out, "tether.job/v1", "stop again");
    CHECK(out && strstr(out, "\"already_stopped\":true"), "%s", out);
    tether_free_string(out);

    /* Restart: running again, a new process. */
    out = NULL;
    EXPECT_OK(tether_job_restart(job_state, "web", 2000, bin, NULL, &out), out, "tether.job/v1",
              "job restart");
    long pid2 = json_int(out, "pid");
    CHECK(strcmp(json_string(out, "status", buf, sizeof buf), "running") == 0 && pid2 > 1 &&
              pid2 != pid && kill((pid_t)pid2, 0) == 0,
          "%s", out);
    tether_free_string(out);

    /* Remove: stopped and gone. */
    out = NULL;
    EXPECT_OK(tether_job_remove(job_state, "web", 2000, &out), out, "tether.job/v1",
              "job remove");
    CHECK(out && strstr(out, "\"removed\":true"), "%s", out);
    tether_free_string(out);
    CHECK(pid_gone((pid_t)pid2, 3000), "the removed job's PID %ld is gone", pid2);
    out = (char *)1;
    EXPECT_ERROR(tether_job_status(job_state, "web", &out), out, TETHER_E_NOT_FOUND, "not_found",
                 "status of a removed job");
    out = (char *)1;
    EXPECT_ERROR(tether_job_remove(job_state, "web", -1, &out), out, TETHER_E_NOT_FOUND,
                 "not_found", "remove a removed job");

    /* Readiness that never comes: a timeout, and the job is stopped. */
    out = (char *)1;
    EXPECT_ERROR(tether_job_start(job_state,
                                  JOB("never", "[\"sleep\",\"300\"]",
                                      ",\"ready\":[\"file:/nonexistent/tether-c-never\"],"
                                      "\"timeout_ms\":300"),
                                  bin, NULL, &out),
                 out, TETHER_E_TIMED_OUT, "timed_out", "a job never ready");
    out = NULL;
    EXPECT_OK(tether_job_status(job_state, "never", &out), out, "tether.job/v1",
              "status of the job never ready");
    json_string(out, "status", buf, sizeof buf);
    long never_pid = json_int(out, "pid");
    CHECK(strcmp(buf, "running") != 0 && strcmp(buf, "pending") != 0 &&
              (never_pid < 0 || pid_gone((pid_t)never_pid, 3000)),
          "%s", out);
    tether_free_string(out);
    out = NULL;
    EXPECT_OK(tether_job_remove(job_state, "never", -1, &out), out, "tether.job/v1",
              "remove the job never ready");
    tether_free_string(out);

    /* A start waiting for readiness that never comes, cancelled from another thread once the
     * command runs: TETHER_E_CANCELLED long before the timeout, the job stopped, its command
     * gone. */
    struct job_canceller jc = {"waiting", tether_cancel_new(), 0};
    pthread_t jt;
    pthread_create(&jt, NULL, cancel_when_running, &jc);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    out = (char *)1;
    EXPECT_ERROR(tether_job_start(job_state,
                                  JOB("waiting", "[\"sleep\",\"300\"]",
                                      ",\"ready\":[\"file:/nonexistent/tether-c-never\"],"
                                      "\"timeout_ms\":60000"),
                                  bin, jc.token, &out),
                 out, TETHER_E_CANCELLED, "timed_out", "a cancelled job start");
    clock_gettime(CLOCK_MONOTONIC, &t1);
    pthread_join(jt, NULL);
    CHECK(t1.tv_sec - t0.tv_sec < 10, "the start ended soon after the trigger (%lds)",
          (long)(t1.tv_sec - t0.tv_sec));
    CHECK(strstr(tether_last_error_message(), "cancelled") != NULL, "%s",
          tether_last_error_message());
    out = NULL;
    EXPECT_OK(tether_job_status(job_state, "waiting", &out), out, "tether.job/v1",
              "status of the cancelled start");
    CHECK(strcmp(json_string(out, "status", buf, sizeof buf), "stopped") == 0, "%s", out);
    tether_free_string(out);
    CHECK(jc.pid > 1 && pid_gone((pid_t)jc.pid, 3000), "the cancelled job's PID %ld is gone",
          jc.pid);
    tether_cancel_free(jc.token);
    /* The same for a restart (the stop is not interrupted, the start is). */
    struct job_canceller rj = {"waiting", tether_cancel_new(), 0};
    pthread_create(&jt, NULL, cancel_when_running, &rj);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    out = (char *)1;
    EXPECT_ERROR(tether_job_restart(job_state, "waiting", 2000, bin, rj.token, &out), out,
                 TETHER_E_CANCELLED, "timed_out", "a cancelled job restart");
    clock_gettime(CLOCK_MONOTONIC, &t1);
    pthread_join(jt, NULL);
    CHECK(t1.tv_sec - t0.tv_sec < 10, "the restart ended soon after the trigger (%lds)",
          (long)(t1.tv_sec - t0.tv_sec));
    out = NULL;
    EXPECT_OK(tether_job_status(job_state, "waiting", &out), out, "tether.job/v1",
              "status of the cancelled restart");
    CHECK(strcmp(json_string(out, "status", buf, sizeof buf), "stopped") == 0, "%s", out);
    tether_free_string(out);
    CHECK(rj.pid > 1 && rj.pid != jc.pid && pid_gone((pid_t)rj.pid, 3000),
          "the cancelled restart's PID %ld is gone", rj.pid);
    tether_cancel_free(rj.token);
    out = NULL;
    EXPECT_OK(tether_job_remove(job_state, "waiting", -1, &out), out, "tether.job/v1",
              "remove the cancelled job");
    tether_free_string(out);

    test_job_follow(bin);

    /* No tether program: not found, saying how to name one. */
    out = (char *)1;
    EXPECT_ERROR(tether_job_start(job_state, JOB("x", "[\"true\"]", ""), "/nonexistent/tether",
                                  NULL, &out),
                 out, TETHER_E_NOT_FOUND, "not_found", "no tether program");
    CHECK(strstr(tether_last_error_message(), "TETHER_BIN") != NULL, "the message names it");
    out = (char *)1;
    EXPECT_ERROR(tether_job_restart(job_state, "web", -1, "/nonexistent/tether", NULL, &out),
                 out,
                 TETHER_E_NOT_FOUND, "not_found", "restart, no job");

    /* Bad input. */
    test_bad_documents(job_start_doc, "tether.job-query/v1", "job_start");
    const char *bad[] = {
        JOB("a/b", "[\"true\"]", ""),
        JOB(".hidden", "[\"true\"]", ""),
        JOB("", "[\"true\"]", ""),
        JOB("ok", "[]", ""),
        JOB("ok", "[\"true\"]", ",\"restart\":\"sometimes\""),
        JOB("ok", "[\"true\"]", ",\"ready\":[\"nonsense\"]"),
        JOB("ok", "[\"true\"]", ",\"backoff_min_ms\":5,\"backoff_max_ms\":1"),
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        out = (char *)1;
        EXPECT_ERROR(tether_job_start(job_state, bad[i], bin, NULL, &out), out,
                     TETHER_E_INVALID_ARGUMENT, "invalid_argument", bad[i]);
    }
    const char *bad_names[] = {"a/b", "..", "", "x y"};
    for (size_t i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++) {
        out = (char *)1;
        EXPECT_ERROR(tether_job_status(job_state, bad_names[i], &out), out,
                     TETHER_E_INVALID_ARGUMENT, "invalid_argument", bad_names[i]);
    }
    out = (char *)1;
    EXPECT_ERROR(tether_job_status(job_state, NULL, &out), out, TETHER_E_INVALID_ARGUMENT,
                 "invalid_argument", "status, NULL name");
    out = (char *)1;
    EXPECT_ERROR(tether_job_stop(job_state, NULL, -1, &out), out, TETHER_E_INVALID_ARGUMENT,
                 "invalid_argument", "stop, NULL name");
    out = (char *)1;
    EXPECT_ERROR(tether_job_stop(job_state, "web", INT64_MAX, &out), out,
                 TETHER_E_INVALID_ARGUMENT, "invalid_argument", "stop, grace out of range");
    out = (char *)1;
    EXPECT_ERROR(tether_job_remove(job_state, NULL, -1, &out), out, TETHER_E_INVALID_ARGUMENT,
                 "invalid_argument", "remove, NULL name");
    out = (char *)1;
    EXPECT_ERROR(tether_job_restart(job_state, NULL, -1, NULL, NULL, &out), out,
                 TETHER_E_INVALID_ARGUMENT, "invalid_argument", "restart, NULL name");
    out = (char *)1;
    EXPECT_ERROR(tether_job_logs(job_state, "web", "stdin", 10, &out), out,
                 TETHER_E_INVALID_ARGUMENT, "invalid_argument", "logs, a bad stream");
    out = (char *)1;
    EXPECT_ERROR(tether_job_logs(job_state, "web", NULL, 10, &out), out,
                 TETHER_E_INVALID_ARGUMENT, "invalid_argument", "logs, NULL stream");
    out = (char *)1;
    EXPECT_ERROR(tether_job_logs(job_state, "web", "stdout", -1, &out), out,
                 TETHER_E_INVALID_ARGUMENT, "invalid_argument", "logs, negative lines");
    out = (char *)1;
    EXPECT_ERROR(tether_job_logs(job_state, "nope", "stdout", 10, &out), out, TETHER_E_NOT_FOUND,
                 "not_found", "logs of no job");
    CHECK(tether_job_status(job_state, "web", NULL) == TETHER_E_INVALID_ARGUMENT, "NULL out");
    CHECK(tether_job_list(job_state, NULL) == TETHER_E_INVALID_ARGUMENT, "NULL out");
    bytes = (uint8_t *)1;
    CHECK(tether_job_logs_bytes(job_state, "web", "stdout", 1, &bytes, NULL) ==
                  TETHER_E_INVALID_ARGUMENT && bytes == NULL,
          "NULL out_len");
    len = 7;
    CHECK(tether_job_logs_bytes(job_state, "nope", "stdout", 1, &bytes, &len) ==
                  TETHER_E_NOT_FOUND && bytes == NULL && len == 0,
          "log bytes of no job");

    /* A state dir that is a symbolic link is refused. */
    char link[96];
    snprintf(link, sizeof link, "%s-link", job_state);
    CHECK(symlink(job_state, link) == 0, "symlink %s", link);
    out = (char *)1;
    EXPECT_ERROR(tether_job_list(link, &out), out, TETHER_E_REFUSED, "refused",
                 "list in a symlinked state dir");
    out = (char *)1;
    EXPECT_ERROR(tether_job_start(link, JOB("x", "[\"true\"]", ""), bin, NULL, &out), out,
                 TETHER_E_REFUSED, "refused", "start in a symlinked state dir");
    unlink(link);

    /* Nothing may be left: remove whatever a failed check left behind, then the dir. */
    const char *names[] = {"web", "never", "waiting", "x", "ok", "follow", "follow-exit"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        out = NULL;
        tether_job_remove(job_state, names[i], 0, &out);
        tether_free_string(out);
    }
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", job_state);
    CHECK(system(cmd) == 0, "%s", cmd);
}

#define RETRY(argv, rest)                                                                   \
    "{\"schema\":\"tether.retry-query/v1\",\"command\":{\"argv\":" argv                      \
    ",\"stdout\":\"null\"},\"delay_ms\":10" rest "}"

static int retry_no_cancel(const char *doc, char **out) { return tether_retry(doc, NULL, out); }

static void test_retry(void) {
    char dir[] = "/tmp/tether-c-retry-XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "a temporary dir");
    char doc[1024], file[96], buf[64];
    char *out = NULL;

    /* Every attempt fails: 3 attempts, exhausted, the last code. */
    snprintf(file, sizeof file, "%s/count", dir);
    snprintf(doc, sizeof doc, RETRY("[\"sh\",\"-c\",\"echo x >> %s; exit 7\"]", ",\"attempts\":3"),
             file);
    EXPECT_OK(tether_retry(doc, NULL, &out), out, "tether.retry/v1", "retry, exhausted");
    CHECK(strcmp(json_string(out, "outcome", buf, sizeof buf), "exhausted") == 0 &&
              json_int(out, "exit_code") == 7,
          "%s", out);
    CHECK(out && strstr(out, "\"number\":3") && !strstr(out, "\"number\":4"), "%s", out);
    CHECK(count_lines(file) == 3, "3 attempts ran: %d", count_lines(file));
    tether_free_string(out);

    /* Succeeds on the 2nd attempt. */
    snprintf(file, sizeof file, "%s/second", dir);
    snprintf(doc, sizeof doc,
             RETRY("[\"sh\",\"-c\",\"echo x >> %s; [ $(wc -l < %s) -ge 2 ]\"]", ",\"attempts\":5"),
             file, file);
    out = NULL;
    EXPECT_OK(tether_retry(doc, NULL, &out), out, "tether.retry/v1", "retry, 2nd succeeds");
    CHECK(strcmp(json_string(out, "outcome", buf, sizeof buf), "succeeded") == 0 &&
              json_int(out, "exit_code") == 0 && strstr(out, "\"number\":2") &&
              !strstr(out, "\"number\":3"),
          "%s", out);
    CHECK(count_lines(file) == 2, "2 attempts ran: %d", count_lines(file));
    tether_free_string(out);

    /* A code never retried by default (2): one attempt. */
    out = NULL;
    EXPECT_OK(tether_retry(RETRY("[\"sh\",\"-c\",\"exit 2\"]", ""), NULL, &out), out,
              "tether.retry/v1", "retry, not retried");
    CHECK(strcmp(json_string(out, "outcome", buf, sizeof buf), "not_retried") == 0 &&
              strcmp(json_string(out, "rule", buf, sizeof buf), "default") == 0 &&
              json_int(out, "exit_code") == 2 && !strstr(out, "\"number\":2"),
          "%s", out);
    tether_free_string(out);

    /* Attempts that time out: code 124. */
    out = NULL;
    EXPECT_OK(tether_retry(RETRY("[\"sleep\",\"300\"]",
                                 ",\"attempts\":2,\"attempt_timeout_ms\":100"),
                           NULL, &out),
              out, "tether.retry/v1", "retry, attempt timeout");
    CHECK(strcmp(json_string(out, "outcome", buf, sizeof buf), "exhausted") == 0 &&
              json_int(out, "exit_code") == 124 &&
              strstr(out, "\"limit\":\"attempt_timeout\""),
          "%s", out);
    tether_free_string(out);

    /* A command that cannot start is an attempt (127), not an error. */
    out = NULL;
    EXPECT_OK(tether_retry(RETRY("[\"/nonexistent/tether-c-test\"]", ""), NULL, &out), out,
              "tether.retry/v1", "retry, no such program");
    CHECK(json_int(out, "exit_code") == 127, "%s", out);
    tether_free_string(out);

    /* Cancelled from another thread while an attempt runs: its whole tree ends at once. */
    snprintf(file, sizeof file, "%s/grandchild", dir);
    snprintf(doc, sizeof doc,
             RETRY("[\"sh\",\"-c\",\"sleep 300 & echo $! > %s; wait\"]", ",\"attempts\":3"),
             file);
    TetherCancel *token = tether_cancel_new();
    struct canceller c = {token, 300};
    pthread_t t;
    pthread_create(&t, NULL, trigger_later, &c);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    out = NULL;
    EXPECT_OK(tether_retry(doc, token, &out), out, "tether.retry/v1", "retry, cancelled");
    clock_gettime(CLOCK_MONOTONIC, &t1);
    pthread_join(t, NULL);
    CHECK(strcmp(json_string(out, "outcome", buf, sizeof buf), "cancelled") == 0 &&
              strcmp(json_string(out, "interrupted_during", buf, sizeof buf), "attempt") == 0 &&
              !strstr(out, "\"number\":2"),
          "%s", out);
    CHECK(t1.tv_sec - t0.tv_sec < 10, "cancelled at once (%lds)", (long)(t1.tv_sec - t0.tv_sec));
    pid_t grandchild = read_pid_file(file);
    CHECK(grandchild > 1 && pid_gone(grandchild, 3000), "the attempt's grandchild %d is gone",
          (int)grandchild);
    tether_free_string(out);
    /* Already triggered: no attempt runs to its end. */
    out = NULL;
    EXPECT_OK(tether_retry(RETRY("[\"sleep\",\"300\"]", ""), token, &out), out,
              "tether.retry/v1", "retry with a triggered token");
    CHECK(strcmp(json_string(out, "outcome", buf, sizeof buf), "cancelled") == 0, "%s", out);
    tether_free_string(out);
    tether_cancel_free(token);
    CHECK(waitpid(-1, NULL, WNOHANG) == -1 && errno == ECHILD, "every attempt was reaped");

    /* Bad input. */
    test_bad_documents(retry_no_cancel, "tether.retry-query/v1", "retry");
    const char *bad[] = {
        RETRY("[]", ""),
        RETRY("[\"true\"]", ",\"backoff\":\"cubic\""),
        RETRY("[\"true\"]", ",\"retry_on\":\"0\""),
        RETRY("[\"true\"]", ",\"retry_on\":\"3\",\"stop_on\":\"3\""),
        RETRY("[\"true\"]", ",\"delay_ms\":-1"),
        RETRY("[\"true\"]", ",\"attempts\":\"many\""),
        "{\"schema\":\"tether.retry-query/v1\",\"command\":{\"argv\":[\"true\"],"
        "\"stdout\":\"capture\"}}",
        "{\"schema\":\"tether.retry-query/v1\",\"command\":{\"argv\":[\"true\"],"
        "\"timeout_ms\":5}}",
        "{\"schema\":\"tether.retry-query/v1\",\"command\":{\"argv\":[\"true\"],\"bogus\":1}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        out = (char *)1;
        EXPECT_ERROR(tether_retry(bad[i], NULL, &out), out, TETHER_E_INVALID_ARGUMENT,
                     "invalid_argument", bad[i]);
    }
    char cmd[96];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0, "%s", cmd);
}

int main(void) {
    FILE *f = fopen("/proc/self/comm", "r");
    if (!f || !fgets(comm, sizeof comm, f)) {
        perror("/proc/self/comm");
        return 2;
    }
    fclose(f);
    comm[strcspn(comm, "\n")] = '\0';
    test_versions();
    test_snapshot();
    test_get_and_identity();
    int port = 0;
    int fd = listen_tcp(&port);
    pid_t holder = start_sleeper();
    test_ports_and_who(port, holder);
    end_child(holder);
    test_wait_for(port);
    close(fd);
    test_signals();
    test_last_error_is_per_thread();
    test_process();
    test_child();
    test_run();
    test_pidfile();
    test_jobs();
    test_retry();
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
