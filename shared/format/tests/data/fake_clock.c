/* LD_PRELOAD shim used only by capture.sh: pins CLOCK_REALTIME to $FAKE_REALTIME
 * ("<secs>[.<nanos>]") so mosquitto_sub's time fields (%I %U %j @...) become reproducible.
 * Other clocks (the monotonic clock used for keepalive) are left alone. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <time.h>

static int (*real_clock_gettime)(clockid_t, struct timespec *);

int clock_gettime(clockid_t clk, struct timespec *ts)
{
    const char *fake = getenv("FAKE_REALTIME");
    if (clk == CLOCK_REALTIME && fake != NULL) {
        char *end = NULL;
        ts->tv_sec = (time_t)strtoll(fake, &end, 10);
        ts->tv_nsec = (end != NULL && *end == '.') ? strtol(end + 1, NULL, 10) : 0;
        return 0;
    }
    if (real_clock_gettime == NULL) {
        real_clock_gettime = (int (*)(clockid_t, struct timespec *))dlsym(RTLD_NEXT, "clock_gettime");
    }
    return real_clock_gettime(clk, ts);
}
