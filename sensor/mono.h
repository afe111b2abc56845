/* sensor/mono.h - the monotonic clock in the units the sensor's timers use
 * (wall-clock deadlines for retries, backoff and stats; never packet time). */
#ifndef MG_MONO_H
#define MG_MONO_H

#include <stdint.h>
#include <time.h>

static inline uint64_t
mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static inline double
mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#endif /* MG_MONO_H */
