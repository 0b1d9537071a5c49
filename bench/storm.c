/* A syscall storm for the live benchmark: open() a missing file in a loop.
 *
 * Under one audit rule (filtered on this binary's exe) every call becomes one
 * audit event (SYSCALL, CWD, PATH, PROCTITLE, EOE). Prints the achieved rate
 * as JSON so the harness can compare consumers at the same offered load.
 *
 * usage: storm SECONDS [MAX_CALLS]
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 10.0;
    long max_calls = argc > 2 ? atol(argv[2]) : -1;
    long calls = 0, enoent = 0;
    double start = now(), t = start;
    while (t - start < seconds && (max_calls < 0 || calls < max_calls)) {
        for (int i = 0; i < 64 && (max_calls < 0 || calls < max_calls); i++) {
            if (open("/nonexistent/audit-heka-bench", O_RDONLY) < 0 && errno == ENOENT)
                enoent++;
            calls++;
        }
        t = now();
    }
    printf("{\"calls\": %ld, \"enoent\": %ld, \"seconds\": %.3f, \"rate\": %.1f}\n",
           calls, enoent, t - start, calls / (t - start));
    return 0;
}
